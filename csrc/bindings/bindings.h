// What the binding files share: helpers to bind a kernel's parameter struct and to launch its kernel.
//
// Only csrc/bindings/ sees pybind11. Each kernel takes one parameter struct; its binding exposes the struct to
// Python once (a class with one attribute per field), mgfast/ops fills it from the tensors and passes it
// with a device index and a stream handle. Nothing here links libtorch: data pointers travel as integer
// addresses (tensor.data_ptr()), so one build serves any torch.
//
// Errors are C++ exceptions that pybind11 turns into Python exceptions at the call boundary
// (std::invalid_argument -> ValueError, std::runtime_error -> RuntimeError); the CUDA launchers report
// failures as strings, which become runtime_error here, so no exception crosses into nvcc-compiled code.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mgfast/kernels.h"

namespace mgfast::bindings {

namespace py = pybind11;

void bind_heatmap(py::module_& m);
void bind_crop_resize(py::module_& m);

// A second line of defence against out-of-bounds access; the user-facing checks are in mgfast/ops.
inline void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

// Binds a pointer field as an integer address (0 is nullptr).
template <typename Params, typename T>
void def_address(py::class_<Params>& cls, const char* name, T* Params::*field) {
    cls.def_property(
        name, [field](const Params& p) { return reinterpret_cast<std::uintptr_t>(p.*field); },
        [field](Params& p, std::uintptr_t address) { p.*field = reinterpret_cast<T*>(address); });
}

// Binds a fixed-size array field as a list of exactly N values.
template <typename Params, typename T, std::size_t N>
void def_array(py::class_<Params>& cls, const char* name, T (Params::*field)[N]) {
    const std::string label = name;
    cls.def_property(
        name, [field](const Params& p) { return std::vector<T>(p.*field, p.*field + N); },
        [field, label](Params& p, const std::vector<T>& values) {
            require(values.size() == N, label + " must hold " + std::to_string(N) + " values");
            for (std::size_t i = 0; i < N; ++i) (p.*field)[i] = values[i];
        });
}

// A CUDA launcher: returns an error message, empty on success (see mgfast/kernels.h).
template <typename Params>
using CudaEntry = std::string (*)(const Params&, int device, void* stream);

// The CUDA launcher `name`, or nullptr in a build without CUDA kernels (where `name` is not declared).
#if defined(MGFAST_WITH_CUDA)
#define MGFAST_CUDA_ENTRY(name) (&name)
#else
#define MGFAST_CUDA_ENTRY(name) nullptr
#endif

// Runs a kernel on the CPU (device < 0) or on CUDA device `device` in stream `stream`, without the GIL.
template <typename Params>
void launch(const Params& p, int device, std::uintptr_t stream, void (*cpu)(const Params&), CudaEntry<Params> cuda) {
    py::gil_scoped_release release;
    if (device < 0) return cpu(p);
    if (cuda == nullptr) {
        throw std::runtime_error(
            "mgfast was built without CUDA kernels; reinstall with nvcc on PATH (see README: Building for a GPU)");
    }
    const std::string error = cuda(p, device, reinterpret_cast<void*>(stream));
    if (!error.empty()) throw std::runtime_error(error);
}

}  // namespace mgfast::bindings
