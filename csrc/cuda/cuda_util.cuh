// Small CUDA runtime helpers for the launchers.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace mgfast {

// Makes `device` current for the launch and restores the previous device afterwards. The extension links
// its own (static) CUDA runtime, whose current device is independent of torch's, so every launch sets it.
class DeviceGuard {
   public:
    explicit DeviceGuard(int device) {
        status_ = cudaGetDevice(&previous_);
        if (status_ == cudaSuccess && previous_ != device) {
            status_ = cudaSetDevice(device);
            switched_ = status_ == cudaSuccess;
        }
    }
    ~DeviceGuard() {
        if (switched_) cudaSetDevice(previous_);
    }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

    bool ok() const { return status_ == cudaSuccess; }
    std::string error() const { return std::string("CUDA device selection failed: ") + cudaGetErrorString(status_); }

   private:
    int previous_ = 0;
    cudaError_t status_ = cudaSuccess;
    bool switched_ = false;
};

// The launch error of the last kernel, as a message naming the op; empty when the launch succeeded.
inline std::string last_error(const char* op) {
    const cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) return {};
    return std::string(op) + ": CUDA launch failed: " + cudaGetErrorString(status);
}

}  // namespace mgfast
