// Queries about the CUDA runtime the extension was built with.
#include <cuda_runtime.h>

#include "mgfast/kernels.h"

namespace mgfast {

int cuda_device_count() {
    int count = 0;
    // Without a driver or a GPU this fails; clear the sticky error and report no devices.
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

std::string cuda_runtime_version() {
    int version = 0;
    cudaRuntimeGetVersion(&version);
    return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

}  // namespace mgfast
