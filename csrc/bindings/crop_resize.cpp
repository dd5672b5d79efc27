// Binding of the crop-resize kernel: CropResizeParams as a Python class, and crop_resize(params, device, stream).
#include <cstdint>

#include "bindings.h"

namespace mgfast::bindings {
namespace {

// The struct is filled field by field from Python, so every invariant the kernels rely on is checked here.
void check(const CropResizeParams& p) {
    require(p.N >= 0 && p.H > 0 && p.W > 0 && p.out_h > 0 && p.out_w > 0, "sizes must be positive");
    require(p.box_stride == 0 || p.box_stride == 4, "box_stride must be 0 (one box) or 4 (one box per frame)");
    require(p.out_dtype >= kFloat32 && p.out_dtype <= kBFloat16, "unknown output dtype");
    require(p.N == 0 || (p.frames != nullptr && p.boxes != nullptr && p.out != nullptr),
            "frames, boxes and out must be set");
}

void crop_resize(const CropResizeParams& p, int device, std::uintptr_t stream) {
    check(p);
    launch<CropResizeParams>(p, device, stream, crop_resize_cpu, MGFAST_CUDA_ENTRY(crop_resize_cuda));
}

}  // namespace

void bind_crop_resize(py::module_& m) {
    py::class_<CropResizeParams> cls(m, "CropResizeParams",
                                     "The crop-resize kernel's parameters (csrc/include/mgfast/crop_resize.h)");
    cls.def(py::init<>());
    def_address(cls, "frames", &CropResizeParams::frames);
    def_address(cls, "boxes", &CropResizeParams::boxes);
    def_address(cls, "out", &CropResizeParams::out);
    cls.def_readwrite("box_stride", &CropResizeParams::box_stride)
        .def_readwrite("N", &CropResizeParams::N)
        .def_readwrite("H", &CropResizeParams::H)
        .def_readwrite("W", &CropResizeParams::W)
        .def_readwrite("out_h", &CropResizeParams::out_h)
        .def_readwrite("out_w", &CropResizeParams::out_w)
        .def_readwrite("out_stride_n", &CropResizeParams::out_stride_n)
        .def_readwrite("out_stride_c", &CropResizeParams::out_stride_c)
        .def_readwrite("out_dtype", &CropResizeParams::out_dtype)
        .def_readwrite("num_threads", &CropResizeParams::num_threads);
    def_array(cls, "mean", &CropResizeParams::mean);
    def_array(cls, "inv_std", &CropResizeParams::inv_std);

    m.def("crop_resize", &crop_resize, py::arg("params"), py::arg("device"), py::arg("stream"),
          "Crops and resizes frames; device < 0 runs on the CPU, else on that CUDA device in `stream`");
}

}  // namespace mgfast::bindings
