// CUDA crop-resize, separable, as the CPU kernel: one thread block per tile of kTileH x kTileW output pixels
// of one frame. The block first builds the tile's tap tables in shared memory (one run of input pixels and
// weights per output column and per output row, from the shared math in mgfast/crop_resize.h). Then, in
// chunks of kChunk input rows, a horizontal pass resamples the rows the tile reads to its columns into a
// shared tile of intermediate rows, and a vertical pass blends those into the output pixels, one thread per
// pixel. The order and the sums are those of the CPU kernel (x first, taps in order; the library is
// compiled without fused multiply-add). Frames stay uint8 in memory: no float copy is ever made.
//
// A tile whose runs are longer than kMaxTaps (downscales beyond about 14x) falls back to the direct form:
// each thread averages its bin's grid of bilinear samples.
#include <cuda_runtime.h>

#include "cuda_util.cuh"
#include "mgfast/kernels.h"

namespace mgfast {
namespace {

constexpr int kTileW = 32;
constexpr int kTileH = 8;
constexpr int kThreads = kTileW * kTileH;
constexpr int kMaxTaps = 16;                // longest run the shared tap tables hold
constexpr int kChunk = 16;                  // input rows per pass over the intermediate tile
constexpr int kMaxFramesPerLaunch = 65535;  // gridDim.z limit; frames beyond it loop

// Output pixel (n, y, x) straight from its grid of samples.
__device__ void grid_pixel(const CropResizeParams& p, int n, int y, int x, const RoiAxis& ax, const RoiAxis& ay) {
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
                rgb[c] += w1 * row_lo[3 * tx.lo + c] + w2 * row_lo[3 * tx.hi + c] + w3 * row_hi[3 * tx.lo + c] +
                          w4 * row_hi[3 * tx.hi + c];
            }
        }
    }
    const float inv_count = 1.0f / static_cast<float>(ax.grid * ay.grid);
    for (int c = 0; c < 3; ++c) rgb[c] *= inv_count;
    store_rgb(p, n, y, x, rgb);
}

// The run and weights of output pixel o along one axis (an empty run past the output's edge). Returns false
// when the run is too long for the table.
__device__ bool build_run(const RoiAxis& a, int o, int out_size, int* first, int* count, float* weights) {
    if (o >= out_size) {
        *first = 0;
        *count = 0;
        return true;
    }
    const AxisRun run = axis_run(a, o);
    *first = run.first;
    *count = run.count;
    if (run.count > kMaxTaps) return false;
    axis_run_weights(a, o, run.first, run.count, weights);
    return true;
}

__global__ void __launch_bounds__(kThreads) crop_resize_kernel(const CropResizeParams p) {
    __shared__ int first_x[kTileW], count_x[kTileW], first_y[kTileH], count_y[kTileH];
    __shared__ float weights_x[kTileW][kMaxTaps], weights_y[kTileH][kMaxTaps];
    __shared__ float rows[kChunk][kTileW][3];  // intermediate rows: the horizontal pass over one row chunk
    __shared__ int row_lo, row_hi;             // input rows the tile reads: [row_lo, row_hi)

    const int tid = threadIdx.x;
    const int ty = tid / kTileW, tx = tid % kTileW;
    const int x0 = blockIdx.x * kTileW, y0 = blockIdx.y * kTileH;
    const int x = x0 + tx, y = y0 + ty;
    for (int n = blockIdx.z; n < p.N; n += gridDim.z) {
        RoiAxis ax, ay;
        box_axes(p, n, &ax, &ay);
        bool fits = true;
        if (tid < kTileW) {
            fits = build_run(ax, x0 + tid, p.out_w, &first_x[tid], &count_x[tid], weights_x[tid]);
        } else if (tid < kTileW + kTileH) {
            const int k = tid - kTileW;
            fits = build_run(ay, y0 + k, p.out_h, &first_y[k], &count_y[k], weights_y[k]);
        }
        if (__syncthreads_or(!fits)) {
            if (x < p.out_w && y < p.out_h) grid_pixel(p, n, y, x, ax, ay);
            __syncthreads();  // the tables are rebuilt for the next frame
            continue;
        }
        if (tid == 0) {
            int lo = p.H, hi = 0;
            for (int k = 0; k < kTileH; ++k) {
                if (count_y[k] == 0) continue;
                lo = imin(lo, first_y[k]);
                hi = imax(hi, first_y[k] + count_y[k]);
            }
            row_lo = lo;
            row_hi = hi;
        }
        __syncthreads();

        const uint8_t* frame = p.frames + static_cast<int64_t>(n) * p.H * p.W * 3;
        float rgb[3] = {0.0f, 0.0f, 0.0f};
        for (int chunk = row_lo; chunk < row_hi; chunk += kChunk) {
            // Horizontal pass: entry (input row chunk + r, tile column c) of the intermediate tile;
            // consecutive threads take consecutive columns.
            for (int e = tid; e < kChunk * kTileW; e += kThreads) {
                const int r = e / kTileW, c = e % kTileW;
                float sum[3] = {0.0f, 0.0f, 0.0f};
                if (chunk + r < row_hi) {
                    const uint8_t* src = frame + static_cast<int64_t>(chunk + r) * p.W * 3 + first_x[c] * 3;
                    for (int k = 0; k < count_x[c]; ++k, src += 3) {
                        const float w = weights_x[c][k];
                        for (int ch = 0; ch < 3; ++ch) sum[ch] += w * static_cast<float>(src[ch]);
                    }
                }
                for (int ch = 0; ch < 3; ++ch) rows[r][c][ch] = sum[ch];
            }
            __syncthreads();
            // Vertical pass: this thread's output pixel takes the part of its run inside the chunk.
            const int begin = imax(first_y[ty], chunk), end = imin(first_y[ty] + count_y[ty], chunk + kChunk);
            for (int input_row = begin; input_row < end; ++input_row) {
                const float w = weights_y[ty][input_row - first_y[ty]];
                for (int ch = 0; ch < 3; ++ch) rgb[ch] += w * rows[input_row - chunk][tx][ch];
            }
            __syncthreads();
        }
        if (x < p.out_w && y < p.out_h) store_rgb(p, n, y, x, rgb);
        __syncthreads();  // the tables are rebuilt for the next frame
    }
}

}  // namespace

std::string crop_resize_cuda(const CropResizeParams& p, int device, void* stream) {
    if (static_cast<int64_t>(p.N) * p.out_h * p.out_w == 0) return {};
    const int64_t tiles_y = (static_cast<int64_t>(p.out_h) + kTileH - 1) / kTileH;
    if (tiles_y > 65535) return "crop_resize: output height too large for one launch";
    DeviceGuard guard(device);
    if (!guard.ok()) return guard.error();
    const dim3 grid(static_cast<unsigned>((p.out_w + kTileW - 1) / kTileW), static_cast<unsigned>(tiles_y),
                    static_cast<unsigned>(imin(p.N, kMaxFramesPerLaunch)));
    crop_resize_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
    return last_error("crop_resize");
}

}  // namespace mgfast
