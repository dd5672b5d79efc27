// CUDA heatmap renderer: one thread block per output plane (clip, channel, frame).
//
// The block's first threads build the plane's strokes (one per person) in shared memory; then every thread
// writes its share of the plane's pixels, taking the maximum over the strokes whose window covers the pixel.
// Consecutive threads write consecutive pixels, so stores coalesce; the kernel is bound by bytes written.
#include <cuda_runtime.h>

#include "cuda_util.cuh"
#include "mgfast/kernels.h"

namespace mgfast {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxPersonsPerPass = 64;  // strokes held in shared memory at once

__global__ void __launch_bounds__(kThreads) render_heatmaps_kernel(const HeatmapParams p) {
    __shared__ Stroke strokes[kMaxPersonsPerPass];
    __shared__ unsigned char drawn[kMaxPersonsPerPass];

    const int64_t plane = blockIdx.x;
    const int t = static_cast<int>(plane % p.T);
    const int c_out = static_cast<int>((plane / p.T) % p.C);
    const int n_out = static_cast<int>(plane / (static_cast<int64_t>(p.T) * p.C));
    int n, c;
    bool mirrored;
    source_plane(p, n_out, c_out, &n, &c, &mirrored);

    const int plane_size = p.H * p.W;
    const int64_t offset = plane * plane_size;
    const float inv_two_sigma2 = 1.0f / (2.0f * p.sigma * p.sigma);

    // Persons in passes of kMaxPersonsPerPass; the first pass writes, later passes (rare) combine by max.
    for (int m0 = 0; m0 < p.M || m0 == 0; m0 += kMaxPersonsPerPass) {
        const int persons = imin(p.M - m0, kMaxPersonsPerPass);
        if (threadIdx.x < persons) drawn[threadIdx.x] = make_stroke(p, n, m0 + threadIdx.x, t, c, &strokes[threadIdx.x]);
        __syncthreads();
        for (int i = threadIdx.x; i < plane_size; i += kThreads) {
            const int y = i / p.W;
            const int x_out = i - y * p.W;
            const int x = mirrored ? p.W - 1 - x_out : x_out;
            float value = m0 == 0 ? 0.0f : load_as_float(p.out, offset + i, p.out_dtype);
            for (int k = 0; k < persons; ++k) {
                if (drawn[k] && strokes[k].window.contains(x, y)) value = fmaxf(value, stroke_value(strokes[k], x, y, inv_two_sigma2));
            }
            store(p.out, offset + i, value, p.out_dtype);
        }
        __syncthreads();
    }
}

}  // namespace

std::string render_heatmaps_cuda(const HeatmapParams& p, int device, void* stream) {
    const int64_t planes = static_cast<int64_t>(heatmap_batch_out(p)) * p.C * p.T;
    if (planes == 0 || p.H * p.W == 0) return {};
    if (planes > 0x7FFFFFFF) return "render_heatmaps: too many planes for one launch";
    DeviceGuard guard(device);
    if (!guard.ok()) return guard.error();
    render_heatmaps_kernel<<<static_cast<unsigned>(planes), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
    return last_error("render_heatmaps");
}

}  // namespace mgfast
