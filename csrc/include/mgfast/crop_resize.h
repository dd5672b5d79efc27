// Saliency crop-resize: the parameter struct and the sampling math shared by the CPU and CUDA kernels.
//
// Each output pixel is the average of a grid of bilinear samples inside its bin of the box, exactly as
// torchvision.ops.roi_align(aligned=True, sampling_ratio=-1): the grid adapts to the box/output ratio, so
// large downscales do not alias. Sampling is separable: a sample's weight is the product of one weight per
// axis, and a sample outside the image on either axis contributes zero.
#pragma once

#include "mgfast/common.h"

namespace mgfast {

struct CropResizeParams {
    const uint8_t* frames = nullptr;  // [N, H, W, 3] RGB, contiguous
    const float* boxes = nullptr;     // (x0, y0, x1, y1) per frame, in input pixels
    int box_stride = 4;               // 4: one box per frame; 0: one box for all frames
    void* out = nullptr;              // element (n, c, y, x) at n * out_stride_n + c * out_stride_c + y * out_w + x
    int N = 0, H = 0, W = 0;
    int out_h = 0, out_w = 0;
    int64_t out_stride_n = 0, out_stride_c = 0;
    float mean[3] = {0.0f, 0.0f, 0.0f};  // output = (sample - mean) * inv_std, per channel
    float inv_std[3] = {1.0f, 1.0f, 1.0f};
    int out_dtype = kFloat32;
    int num_threads = 1;  // CPU only
};

// Sampling along one axis of one box.
struct RoiAxis {
    float start;  // box start, shifted by half a pixel (aligned=True)
    float bin;    // box extent per output pixel
    int grid;     // samples per output pixel along this axis
    int size;     // input extent along this axis
};

MG_HD RoiAxis roi_axis(float lo, float hi, int out_size, int in_size) {
    const float start = lo - 0.5f;
    const float extent = (hi - 0.5f) - start;
    const int grid = static_cast<int>(ceilf(extent / static_cast<float>(out_size)));
    return RoiAxis{start, extent / static_cast<float>(out_size), imax(grid, 1), in_size};
}

// Coordinate of sample i (0 <= i < grid) of output pixel o.
MG_HD float roi_sample(const RoiAxis& a, int o, int i) {
    return a.start + static_cast<float>(o) * a.bin +
           (static_cast<float>(i) + 0.5f) * a.bin / static_cast<float>(a.grid);
}

// Linear interpolation taps of one sample along one axis: weight w_lo on pixel lo, w_hi on pixel hi.
// Beyond one pixel outside the image the sample reads zero; within it, the coordinate clamps to the edge.
struct AxisTap {
    int lo, hi;
    float w_lo, w_hi;
    MG_HD bool valid() const { return w_lo != 0.0f || w_hi != 0.0f; }
};

MG_HD AxisTap axis_tap(float v, int size) {
    if (v < -1.0f || v > static_cast<float>(size)) return AxisTap{0, 0, 0.0f, 0.0f};
    if (v <= 0.0f) v = 0.0f;
    int lo = static_cast<int>(v);
    int hi = lo + 1;
    if (lo >= size - 1) {
        lo = hi = size - 1;
        v = static_cast<float>(lo);
    }
    const float l = v - static_cast<float>(lo);
    return AxisTap{lo, hi, 1.0f - l, l};
}

// The contiguous run of input pixels [first, first + count) that output pixel o reads along one axis: from
// the first tap of non-zero weight of its samples to the last (sample positions and taps increase with the
// sample index). count is 0 when every sample lies outside; first is then the image's
// edge on that side, so first never decreases with o.
struct AxisRun {
    int first, count;
};

MG_HD AxisRun axis_run(const RoiAxis& a, int o) {
    int first = a.size, last = -1;
    for (int i = 0; i < a.grid; ++i) {
        const AxisTap tap = axis_tap(roi_sample(a, o, i), a.size);
        // A tap of weight 0 (a sample on a pixel centre) reads nothing: leaving it out of the run keeps a
        // pixel-aligned box at one tap per output pixel instead of two.
        if (tap.w_lo != 0.0f) first = imin(first, tap.lo), last = imax(last, tap.lo);
        if (tap.w_hi != 0.0f) first = imin(first, tap.hi), last = imax(last, tap.hi);
    }
    if (last < 0) return AxisRun{roi_sample(a, o, 0) < 0.0f ? 0 : a.size - 1, 0};
    return AxisRun{first, last - first + 1};
}

// An upper bound on any run's count along an axis, without visiting the samples: a bin's samples span less
// than one bin, so its taps cover fewer than bin + 3 pixels; no run is longer than the axis.
MG_HD int axis_run_bound(const RoiAxis& a) {
    return imax(imin(static_cast<int>(ceilf(a.bin)) + 2, a.size), 1);
}

// The weight of each input pixel of the run starting at `first` (w[j] for pixel first + j, j < width, zero
// where no sample reads): the bilinear weights of output pixel o's samples, summed per pixel and divided
// by the sample count. The run may be placed earlier than axis_run's first, within [first, first + width).
// The averaged sample along both axes is then sum_j sum_i wy[j] * wx[i] * pixel(y_first + j, x_first + i).
MG_HD void axis_run_weights(const RoiAxis& a, int o, int first, int width, float* w) {
    for (int j = 0; j < width; ++j) w[j] = 0.0f;
    const float inv_grid = 1.0f / static_cast<float>(a.grid);
    for (int i = 0; i < a.grid; ++i) {
        const AxisTap tap = axis_tap(roi_sample(a, o, i), a.size);
        if (!tap.valid()) continue;
        // The bounds checks never fail for a run from axis_run (or a bound from axis_run_bound); they keep
        // memory safe whatever the caller passes.
        const int lo = tap.lo - first, hi = tap.hi - first;
        if (lo >= 0 && lo < width) w[lo] += tap.w_lo * inv_grid;
        if (hi >= 0 && hi < width) w[hi] += tap.w_hi * inv_grid;
    }
}

MG_HD void box_axes(const CropResizeParams& p, int n, RoiAxis* ax, RoiAxis* ay) {
    const float* box = p.boxes + static_cast<int64_t>(n) * p.box_stride;
    *ax = roi_axis(box[0], box[2], p.out_w, p.W);
    *ay = roi_axis(box[1], box[3], p.out_h, p.H);
}

// Normalises an averaged RGB sample and stores it at output pixel (n, y, x).
MG_HD void store_rgb(const CropResizeParams& p, int n, int y, int x, const float rgb[3]) {
    const int64_t base = static_cast<int64_t>(n) * p.out_stride_n + static_cast<int64_t>(y) * p.out_w + x;
    for (int c = 0; c < 3; ++c) store(p.out, base + c * p.out_stride_c, (rgb[c] - p.mean[c]) * p.inv_std[c], p.out_dtype);
}

}  // namespace mgfast
