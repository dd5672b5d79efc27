// Entry points of the native kernels. The CPU functions always exist; the CUDA ones only when the library
// is built with CUDA (MGFAST_WITH_CUDA), and they return an error message, empty on success, instead of
// throwing, so the CUDA library needs no C++ exception or Python machinery.
#pragma once

#include <string>

#include "mgfast/crop_resize.h"
#include "mgfast/heatmap.h"

namespace mgfast {

void render_heatmaps_cpu(const HeatmapParams& p);
void crop_resize_cpu(const CropResizeParams& p);

#if defined(MGFAST_WITH_CUDA)
// `stream` is a cudaStream_t (the caller's current stream); `device` the index the tensors live on.
std::string render_heatmaps_cuda(const HeatmapParams& p, int device, void* stream);
std::string crop_resize_cuda(const CropResizeParams& p, int device, void* stream);
int cuda_device_count();
std::string cuda_runtime_version();
#endif

}  // namespace mgfast
