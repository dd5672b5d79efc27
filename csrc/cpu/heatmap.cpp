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

#include "mgfast/kernels.h"

namespace mgfast {
namespace {

void draw_plane(const HeatmapParams& p, int n, int c, int t, float* plane) {
    std::fill(plane, plane + static_cast<int64_t>(p.H) * p.W, 0.0f);
    const float inv_two_sigma2 = 1.0f / (2.0f * p.sigma * p.sigma);
    for (int m = 0; m < p.M; ++m) {
        Stroke s;
        if (!make_stroke(p, n, m, t, c, &s)) continue;
        for (int y = s.window.y0; y < s.window.y1; ++y) {
            float* row = plane + static_cast<int64_t>(y) * p.W;
            for (int x = s.window.x0; x < s.window.x1; ++x) row[x] = std::max(row[x], stroke_value(s, x, y, inv_two_sigma2));
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
