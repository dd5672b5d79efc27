// CPU crop-resize, separable: per box, one tap table per axis (each output pixel's run of input pixels and
// their weights, from the shared math in mgfast/crop_resize.h). Per band of output rows, a horizontal pass
// resamples each input row the band reads to the output width (all three channels in one 4-float vector
// per tap), then a vertical pass blends those rows into each output row (contiguous floats: it vectorises)
// and stores it normalised. The order and the sums are those of the CUDA kernel and of the pure-PyTorch
// fallback (x first, taps in order, no fused multiply-add), so they agree to float32 rounding.
//
// Work items are (frame, band of output rows), spread over OpenMP threads. Every buffer is allocated
// before the parallel region (an exception inside one cannot be caught and aborts the process), so a
// failed allocation throws std::bad_alloc to the caller.
#include <algorithm>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_dispatch.h"
#include "mgfast/kernels.h"

namespace mgfast {
namespace {

constexpr int kBandRows = 16;  // output rows per work item: enough to amortise a frame's x table

using Float4 = float __attribute__((vector_size(16)));

Float4 load4(const float* p) {
    Float4 v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// One axis of one box as a table: output pixel out_begin + k reads `taps` input pixels from first[k], weight
// weights[k * taps + j] on pixel first[k] + j. Every run has the same length (the longest, zero-padded,
// moved left where it would pass the edge), so the inner loops have a fixed trip count.
struct TapTable {
    int taps = 1;
    const int* first = nullptr;
    const float* weights = nullptr;
};

// `capacity` (>= axis_run_bound) is the run length the buffers hold.
TapTable build_table(const RoiAxis& a, int out_begin, int out_end, int capacity, int* first, float* weights) {
    int taps = 1;
    for (int o = out_begin; o < out_end; ++o) taps = imax(taps, axis_run(a, o).count);
    taps = imin(taps, capacity);
    for (int o = out_begin; o < out_end; ++o) {
        const int k = o - out_begin;
        first[k] = imax(imin(axis_run(a, o).first, a.size - taps), 0);
        axis_run_weights(a, o, first[k], taps, weights + static_cast<int64_t>(k) * taps);
    }
    return TapTable{taps, first, weights};
}

// Buffers of one thread, sized for the longest run and the most input rows per band any box needs.
struct Workspace {
    int capacity_x, capacity_y, capacity_rows;
    std::vector<int> first_x, first_y;
    std::vector<float> weights_x, weights_y;
    std::vector<float> row;        // one input row's box columns as float, interleaved RGB, + 1 pad
    std::vector<float> resampled;  // the band's input rows after the horizontal pass: out_w x (RGB + 1)
    std::vector<float> pixels;     // one output row after the vertical pass, as `resampled`
    int64_t x_box = -1;         // the box whose x table is in first_x / weights_x
    TapTable x;

    Workspace(const CropResizeParams& p, int taps_x, int taps_y, int rows)
        : capacity_x(taps_x), capacity_y(taps_y), capacity_rows(rows), first_x(p.out_w), first_y(kBandRows),
          weights_x(static_cast<size_t>(p.out_w) * taps_x), weights_y(static_cast<size_t>(kBandRows) * taps_y),
          row(static_cast<size_t>(p.W) * 3 + 4, 0.0f), resampled(static_cast<size_t>(rows) * p.out_w * 4),
          pixels(static_cast<size_t>(p.out_w) * 4) {}
};

// Normalises channel c of the row's pixels and stores it as output row (n, c, y).
template <int Dtype>
__attribute__((always_inline)) inline void store_channel(const CropResizeParams& p, int n, int c, int y, const float* pixels) {
    const float mean = p.mean[c], inv_std = p.inv_std[c];
    const int64_t index = static_cast<int64_t>(n) * p.out_stride_n + c * p.out_stride_c + static_cast<int64_t>(y) * p.out_w;
    if (Dtype == kFloat32) {
        float* dst = static_cast<float*>(p.out) + index;
        for (int x = 0; x < p.out_w; ++x) dst[x] = (pixels[4 * x + c] - mean) * inv_std;
    } else {
        uint16_t* dst = static_cast<uint16_t*>(p.out) + index;
        for (int x = 0; x < p.out_w; ++x) {
            const float value = (pixels[4 * x + c] - mean) * inv_std;
            dst[x] = Dtype == kFloat16 ? float_to_half_bits(value) : float_to_bf16_bits(value);
        }
    }
}

// Stores the row's pixels, one channel plane at a time. Always inlined, so it is compiled for each of
// crop_resize_band's instruction sets.
__attribute__((always_inline)) inline void store_pixels(const CropResizeParams& p, int n, int y, const float* pixels) {
    for (int c = 0; c < 3; ++c) {
        if (p.out_dtype == kFloat32) {
            store_channel<kFloat32>(p, n, c, y, pixels);
        } else if (p.out_dtype == kFloat16) {
            store_channel<kFloat16>(p, n, c, y, pixels);
        } else {
            store_channel<kBFloat16>(p, n, c, y, pixels);
        }
    }
}

// Blends one input row (float, interleaved RGB from column x_lo) into out_w pixels (RGB + 1 unused lane).
// Taps is the table's run length, or 0 for any length. Always inlined, as store_pixels.
template <int Taps>
__attribute__((always_inline)) inline void horizontal_pass(const TapTable& tx, const float* row, int x_lo, int out_w, float* pixels) {
    const int taps = Taps ? Taps : tx.taps;
    for (int x = 0; x < out_w; ++x) {
        const float* wx = tx.weights + static_cast<int64_t>(x) * taps;
        const float* px = row + (tx.first[x] - x_lo) * 3;  // lane 3 reads the next pixel's red: discarded
        Float4 acc = wx[0] * load4(px);
        for (int j = 1; j < taps; ++j) acc += wx[j] * load4(px + 3 * j);
        std::memcpy(pixels + 4 * x, &acc, sizeof(acc));
    }
}

// Output rows [y_begin, y_end) of frame n.
MG_VECTOR_CLONES void crop_resize_band(const CropResizeParams& p, int n, int y_begin, int y_end, Workspace& ws) {
    RoiAxis ax, ay;
    box_axes(p, n, &ax, &ay);
    const int64_t box = static_cast<int64_t>(n) * p.box_stride;  // every frame shares box 0 when the stride is 0
    if (ws.x_box != box) {
        ws.x = build_table(ax, 0, p.out_w, ws.capacity_x, ws.first_x.data(), ws.weights_x.data());
        ws.x_box = box;
    }
    const TapTable ty = build_table(ay, y_begin, y_end, ws.capacity_y, ws.first_y.data(), ws.weights_y.data());
    const int r0 = ty.first[0];  // runs start in order: the band reads input rows [r0, r0 + rows)
    const int rows = ty.first[y_end - 1 - y_begin] + ty.taps - r0;
    if (rows > ws.capacity_rows) {  // beyond the bound crop_resize_cpu sized for; never expected
        const int mid = y_begin + (y_end - y_begin) / 2;  // a single row reads ty.taps <= capacity rows
        crop_resize_band(p, n, y_begin, mid, ws);
        crop_resize_band(p, n, mid, y_end, ws);
        return;
    }

    const TapTable& tx = ws.x;
    const int x_lo = tx.first[0];
    const int span = (tx.first[p.out_w - 1] + tx.taps - x_lo) * 3;  // floats in a row: the box's columns
    const uint8_t* frame = p.frames + static_cast<int64_t>(n) * p.H * p.W * 3 + static_cast<int64_t>(x_lo) * 3;
    const int floats = p.out_w * 4;
    float* row = ws.row.data();
    float* resampled = ws.resampled.data();
    for (int r = 0; r < rows; ++r) {
        const uint8_t* src = frame + static_cast<int64_t>(r0 + r) * p.W * 3;
        for (int i = 0; i < span; ++i) row[i] = static_cast<float>(src[i]);
        float* into = resampled + static_cast<int64_t>(r) * floats;
        switch (tx.taps) {  // short runs (upscales, mild downscales) unrolled: the loop overhead dominated
            case 1: horizontal_pass<1>(tx, row, x_lo, p.out_w, into); break;
            case 2: horizontal_pass<2>(tx, row, x_lo, p.out_w, into); break;
            case 3: horizontal_pass<3>(tx, row, x_lo, p.out_w, into); break;
            case 4: horizontal_pass<4>(tx, row, x_lo, p.out_w, into); break;
            case 5: horizontal_pass<5>(tx, row, x_lo, p.out_w, into); break;
            case 6: horizontal_pass<6>(tx, row, x_lo, p.out_w, into); break;
            default: horizontal_pass<0>(tx, row, x_lo, p.out_w, into); break;
        }
    }
    float* pixels = ws.pixels.data();
    for (int y = y_begin; y < y_end; ++y) {
        const int k = y - y_begin;
        const float* wy = ty.weights + static_cast<int64_t>(k) * ty.taps;
        const float* src = resampled + static_cast<int64_t>(ty.first[k] - r0) * floats;
        for (int i = 0; i < floats; ++i) pixels[i] = wy[0] * src[i];
        for (int j = 1; j < ty.taps; ++j) {
            const float* next = src + static_cast<int64_t>(j) * floats;
            const float w = wy[j];
            for (int i = 0; i < floats; ++i) pixels[i] += w * next[i];
        }
        store_pixels(p, n, y, pixels);
    }
}

}  // namespace

void crop_resize_cpu(const CropResizeParams& p) {
    if (p.N == 0) return;
    int taps_x = 1, taps_y = 1, rows = 1;
    for (int n = 0; n < (p.box_stride ? p.N : 1); ++n) {
        RoiAxis ax, ay;
        box_axes(p, n, &ax, &ay);
        taps_x = imax(taps_x, axis_run_bound(ax));
        taps_y = imax(taps_y, axis_run_bound(ay));
        // A band's runs start at most ceil(bin) + 1 rows apart from one output row to the next.
        const int64_t band_rows = static_cast<int64_t>(kBandRows - 1) * (static_cast<int64_t>(ceilf(ay.bin)) + 1) + axis_run_bound(ay);
        rows = imax(rows, static_cast<int>(band_rows < p.H ? band_rows : p.H));
    }
    const int threads = imax(p.num_threads, 1);
    std::vector<Workspace> workspaces;
    workspaces.reserve(threads);
    for (int t = 0; t < threads; ++t) workspaces.emplace_back(p, taps_x, taps_y, rows);
    const int bands = (p.out_h + kBandRows - 1) / kBandRows;
    const int64_t items = static_cast<int64_t>(p.N) * bands;
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (int64_t item = 0; item < items; ++item) {
#ifdef _OPENMP
        Workspace& ws = workspaces[omp_get_thread_num()];
#else
        Workspace& ws = workspaces[0];
#endif
        const int n = static_cast<int>(item / bands);
        const int y_begin = static_cast<int>(item % bands) * kBandRows;
        crop_resize_band(p, n, y_begin, imin(y_begin + kBandRows, p.out_h), ws);
    }
}

}  // namespace mgfast
