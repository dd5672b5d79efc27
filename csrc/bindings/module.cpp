// The pybind11 module mgfast._C: what the build holds, and one binding per kernel (csrc/bindings/<op>.cpp).
//
// mgfast/ops validates the tensors, fills each kernel's parameter struct and registers the torch ops.
#include "bindings.h"

PYBIND11_MODULE(_C, m) {
    using namespace mgfast;
    namespace py = pybind11;
    m.doc() = "mgfast native kernels (parameter structs with raw data addresses; use mgfast.ops)";
#if defined(MGFAST_WITH_CUDA)
    m.attr("cuda_compiled") = true;
    m.attr("cuda_runtime_version") = cuda_runtime_version();
    m.def("cuda_device_count", &cuda_device_count, "CUDA devices visible to the extension's runtime (0 without a driver)");
#else
    m.attr("cuda_compiled") = false;
    m.attr("cuda_runtime_version") = py::none();
    m.def("cuda_device_count", [] { return 0; }, "CUDA devices visible to the extension's runtime (0 without a driver)");
#endif
    bindings::bind_heatmap(m);
    bindings::bind_crop_resize(m);
}
