// CUDA crop-resize: one thread per output pixel, all three channels, straight from the uint8 frame.
//
// Each thread averages its bin's grid of bilinear samples (the taps come from the shared per-axis math in
// mgfast/crop_resize.h), normalises and stores. Frames stay uint8 in memory: no float copy is ever made.
#include <cuda_runtime.h>

#include "cuda_util.cuh"
#include "mgfast/kernels.h"

namespace mgfast {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) crop_resize_kernel(const CropResizeParams p) {
    const int64_t pixels_per_frame = static_cast<int64_t>(p.out_h) * p.out_w;
    const int64_t total = pixels_per_frame * p.N;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int n = static_cast<int>(i / pixels_per_frame);
        const int y = static_cast<int>((i % pixels_per_frame) / p.out_w);
        const int x = static_cast<int>(i % p.out_w);
        RoiAxis ax, ay;
        box_axes(p, n, &ax, &ay);
        const uint8_t* frame = p.frames + static_cast<int64_t>(n) * p.H * p.W * 3;
        float rgb[3] = {0.0f, 0.0f, 0.0f};
        for (int iy = 0; iy < ay.grid; ++iy) {
            const AxisTap ty = axis_tap(roi_sample(ay, y, iy), p.H);
            if (!ty.valid()) continue;
            const uint8_t* row_lo = frame + static_cast<int64_t>(ty.lo) * p.W * 3;
            const uint8_t* row_hi = frame + static_cast<int64_t>(ty.hi) * p.W * 3;
            for (int ix = 0; ix < ax.grid; ++ix) {
                const AxisTap tx = axis_tap(roi_sample(ax, x, ix), p.W);
                if (!tx.valid()) continue;
                const float w1 = ty.w_lo * tx.w_lo, w2 = ty.w_lo * tx.w_hi;
                const float w3 = ty.w_hi * tx.w_lo, w4 = ty.w_hi * tx.w_hi;
                for (int c = 0; c < 3; ++c) {
                    rgb[c] += w1 * row_lo[3 * tx.lo + c] + w2 * row_lo[3 * tx.hi + c] +
                              w3 * row_hi[3 * tx.lo + c] + w4 * row_hi[3 * tx.hi + c];
                }
            }
        }
        const float inv_count = 1.0f / static_cast<float>(ax.grid * ay.grid);
        for (int c = 0; c < 3; ++c) rgb[c] *= inv_count;
        store_rgb(p, n, y, x, rgb);
    }
}

}  // namespace

std::string crop_resize_cuda(const CropResizeParams& p, int device, void* stream) {
    const int64_t total = static_cast<int64_t>(p.N) * p.out_h * p.out_w;
    if (total == 0) return {};
    DeviceGuard guard(device);
    if (!guard.ok()) return guard.error();
    const int64_t blocks = (total + kThreads - 1) / kThreads;
    const unsigned grid = static_cast<unsigned>(blocks < 65535 * 32 ? blocks : 65535 * 32);
    crop_resize_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
    return last_error("crop_resize");
}

}  // namespace mgfast
