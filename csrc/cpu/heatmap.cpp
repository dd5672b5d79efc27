// CPU heatmap renderer: one output plane per loop iteration, planes spread over OpenMP threads.
//
// A plane is zeroed, then each person's stroke is drawn into its window only, so the cost is close to that
// of writing the output once. Planes that cannot be drawn in place (half-precision output, mirrored copies)
// are drawn into a per-thread float scratch plane and converted on store.
#include <algorithm>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_dispatch.h"
#include "mgfast/kernels.h"

namespace mgfast {
namespace {

// Draws a stroke's part of one row by maximum. The kind of stroke is a template parameter so the pixel loop
// has no control flow and the compiler vectorises it (the shared math selects, never branches). The loop
// runs over whole blocks of kBlock pixels around the window (rows are short: an epilogue would cost as much
// as the body); pixels outside the window take value 0, which leaves the plane (>= 0) as it is. Always
// inlined, so that it is compiled for each of draw_plane's instruction sets.
constexpr int kBlock = 8;

template <bool Segment>
__attribute__((always_inline)) inline void draw_row(const Stroke& s, int y, int width, float inv_two_sigma2, float* row) {
    const float py = static_cast<float>(y);
    const int x0 = s.window.x0, x1 = s.window.x1;
    const int begin = x0 - x0 % kBlock;
    const int end = std::min(begin + (x1 - begin + kBlock - 1) / kBlock * kBlock, width);
    for (int x = begin; x < end; ++x) {
        const float px = static_cast<float>(x);
        const float d2 = Segment ? segment_distance2(px, py, s) : (px - s.ax) * (px - s.ax) + (py - s.ay) * (py - s.ay);
        const float value = x >= x0 && x < x1 ? stroke_falloff(s, d2, inv_two_sigma2) : 0.0f;
        row[x] = value > row[x] ? value : row[x];
    }
}

// Draws plane (n, c, t) of the unflipped volume into `plane`, which must be zero.
MG_VECTOR_CLONES void draw_plane(const HeatmapParams& p, int n, int c, int t, float* plane) {
    const float inv_two_sigma2 = 1.0f / (2.0f * p.sigma * p.sigma);
    for (int m = 0; m < p.M; ++m) {
        Stroke s;
        if (!make_stroke(p, n, m, t, c, &s)) continue;
        for (int y = s.window.y0; y < s.window.y1; ++y) {
            float* row = plane + static_cast<int64_t>(y) * p.W;
            if (s.segment) {
                draw_row<true>(s, y, p.W, inv_two_sigma2, row);
            } else {
                draw_row<false>(s, y, p.W, inv_two_sigma2, row);
            }
        }
    }
}

}  // namespace

void render_heatmaps_cpu(const HeatmapParams& p) {
    const int n_out = heatmap_batch_out(p);
    const int64_t plane_size = static_cast<int64_t>(p.H) * p.W;
    const int64_t planes = static_cast<int64_t>(n_out) * p.C * p.T;
    // Only half-precision output and mirrored copies need a float scratch plane per thread. It is allocated
    // here, outside the parallel region: an exception thrown inside one cannot be caught and aborts.
    const bool needs_scratch = p.out_dtype != kFloat32 || p.flip;
    const int threads = std::max(p.num_threads, 1);
    std::vector<float> scratch(needs_scratch ? static_cast<size_t>(threads) * plane_size : 0);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        float* own = needs_scratch ? scratch.data() + static_cast<int64_t>(omp_get_thread_num()) * plane_size : nullptr;
#else
        float* own = needs_scratch ? scratch.data() : nullptr;
#endif
        // Each thread zeroes its share of the output in one pass first: one large fill costs less than a
        // fill per plane (the first touch of fresh pages dominates either way). Mirrored and low-precision
        // planes are drawn into the scratch plane instead, each zeroed before use.
        // The unmirrored planes come first in the output.
        const int64_t direct_planes = p.out_dtype == kFloat32 ? static_cast<int64_t>(p.N) * p.C * p.T : 0;
#pragma omp for schedule(static)
        for (int64_t plane = 0; plane < direct_planes; ++plane) {
            std::fill_n(static_cast<float*>(p.out) + plane * plane_size, plane_size, 0.0f);
        }
#pragma omp for schedule(static)
        for (int64_t plane = 0; plane < planes; ++plane) {
            const int t = static_cast<int>(plane % p.T);
            const int c_out = static_cast<int>((plane / p.T) % p.C);
            const int n_o = static_cast<int>(plane / (static_cast<int64_t>(p.T) * p.C));
            int n, c;
            bool mirrored;
            source_plane(p, n_o, c_out, &n, &c, &mirrored);
            const int64_t offset = plane * plane_size;
            if (p.out_dtype == kFloat32 && !mirrored) {
                draw_plane(p, n, c, t, static_cast<float*>(p.out) + offset);
                continue;
            }
            std::fill_n(own, plane_size, 0.0f);
            draw_plane(p, n, c, t, own);
            for (int y = 0; y < p.H; ++y) {
                const float* row = own + static_cast<int64_t>(y) * p.W;
                const int64_t out_row = offset + static_cast<int64_t>(y) * p.W;
                for (int x = 0; x < p.W; ++x) store(p.out, out_row + x, row[mirrored ? p.W - 1 - x : x], p.out_dtype);
            }
        }
    }
}

}  // namespace mgfast
