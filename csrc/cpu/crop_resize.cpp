// CPU crop-resize. The sampling grid is separable, so each frame is resampled in two passes: the box's rows
// to the output width, then those rows to the output height. The intermediate holds only the box's rows at
// output width, never a float copy of the frame. Frames are spread over OpenMP threads.
#include <atomic>
#include <new>
#include <vector>

#include "mgfast/kernels.h"

namespace mgfast {
namespace {

// For each output pixel along one axis, the contiguous run of input pixels it reads and their weights
// (already divided by the axis's sample count).
struct AxisWeights {
    std::vector<int> first, count, offset;
    std::vector<float> weights;
    int lo = 0, hi = 0;  // union of all runs: [lo, hi)
};

AxisWeights axis_weights(const RoiAxis& a, int out_size) {
    AxisWeights aw;
    aw.lo = a.size;
    const float inv_grid = 1.0f / static_cast<float>(a.grid);
    for (int o = 0; o < out_size; ++o) {
        int first = a.size, last = -1;
        for (int i = 0; i < a.grid; ++i) {
            const AxisTap tap = axis_tap(roi_sample(a, o, i), a.size);
            if (!tap.valid()) continue;
            first = imin(first, tap.lo);
            last = imax(last, tap.hi);
        }
        const int count = imax(last - first + 1, 0);
        aw.first.push_back(count ? first : 0);
        aw.count.push_back(count);
        aw.offset.push_back(static_cast<int>(aw.weights.size()));
        aw.weights.resize(aw.weights.size() + count, 0.0f);
        float* w = aw.weights.data() + aw.offset.back();
        for (int i = 0; i < a.grid && count; ++i) {
            const AxisTap tap = axis_tap(roi_sample(a, o, i), a.size);
            if (!tap.valid()) continue;
            w[tap.lo - first] += tap.w_lo * inv_grid;
            w[tap.hi - first] += tap.w_hi * inv_grid;
        }
        if (count) {
            aw.lo = imin(aw.lo, first);
            aw.hi = imax(aw.hi, first + count);
        }
    }
    if (aw.hi <= aw.lo) aw.lo = aw.hi = 0;
    return aw;
}

void crop_resize_frame(const CropResizeParams& p, int n) {
    RoiAxis ax, ay;
    box_axes(p, n, &ax, &ay);
    const AxisWeights wx = axis_weights(ax, p.out_w);
    const AxisWeights wy = axis_weights(ay, p.out_h);
    const uint8_t* frame = p.frames + static_cast<int64_t>(n) * p.H * p.W * 3;

    // Pass 1: the rows the output reads, resampled to the output width (interleaved RGB).
    const int rows = wy.hi - wy.lo;
    std::vector<float> resampled(static_cast<size_t>(rows) * p.out_w * 3, 0.0f);
    for (int r = 0; r < rows; ++r) {
        const uint8_t* src = frame + static_cast<int64_t>(wy.lo + r) * p.W * 3;
        float* dst = resampled.data() + static_cast<size_t>(r) * p.out_w * 3;
        for (int x = 0; x < p.out_w; ++x) {
            const float* w = wx.weights.data() + wx.offset[x];
            const uint8_t* px = src + wx.first[x] * 3;
            float acc[3] = {0.0f, 0.0f, 0.0f};
            for (int k = 0; k < wx.count[x]; ++k, px += 3) {
                acc[0] += w[k] * px[0];
                acc[1] += w[k] * px[1];
                acc[2] += w[k] * px[2];
            }
            dst[3 * x] = acc[0];
            dst[3 * x + 1] = acc[1];
            dst[3 * x + 2] = acc[2];
        }
    }

    // Pass 2: resample those rows to the output height, normalise and store.
    std::vector<float> row(static_cast<size_t>(p.out_w) * 3);
    for (int y = 0; y < p.out_h; ++y) {
        std::fill(row.begin(), row.end(), 0.0f);
        const float* w = wy.weights.data() + wy.offset[y];
        for (int k = 0; k < wy.count[y]; ++k) {
            const float* src = resampled.data() + static_cast<size_t>(wy.first[y] + k - wy.lo) * p.out_w * 3;
            for (int i = 0; i < p.out_w * 3; ++i) row[i] += w[k] * src[i];
        }
        for (int x = 0; x < p.out_w; ++x) store_rgb(p, n, y, x, &row[3 * x]);
    }
}

}  // namespace

void crop_resize_cpu(const CropResizeParams& p) {
    // A frame's buffers are allocated inside the parallel region; an exception must not leave it (that
    // aborts the process), so a failed allocation is recorded and rethrown after the region.
    std::atomic<bool> out_of_memory{false};
#pragma omp parallel for schedule(dynamic) num_threads(p.num_threads)
    for (int n = 0; n < p.N; ++n) {
        if (out_of_memory.load(std::memory_order_relaxed)) continue;
        try {
            crop_resize_frame(p, n);
        } catch (const std::bad_alloc&) {
            out_of_memory.store(true, std::memory_order_relaxed);
        }
    }
    if (out_of_memory) throw std::bad_alloc();
}

}  // namespace mgfast
