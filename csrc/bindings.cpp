// Python bindings: the only file that sees pybind11.
//
// The functions take raw data pointers, sizes, a device index and a stream handle; mgfast/ops.py validates
// the tensors and registers the torch ops. Nothing here links libtorch, so one build serves any torch.
// The checks below are a second line of defence against out-of-bounds access, not the user-facing errors.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mgfast/kernels.h"

namespace py = pybind11;

namespace mgfast {
namespace {

template <typename T>
T* as_ptr(std::uintptr_t address) {
    return reinterpret_cast<T*>(address);
}

void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

#if defined(MGFAST_WITH_CUDA)
void check_cuda(const std::string& error) {
    if (!error.empty()) throw std::runtime_error(error);
}
#else
[[noreturn]] void no_cuda() {
    throw std::runtime_error("mgfast was built without CUDA kernels; reinstall with nvcc on PATH (see README: Building for a GPU)");
}
#endif

void render_heatmaps(std::uintptr_t keypoints, std::uintptr_t scores, std::uintptr_t out, int N, int M, int T, int V,
                     int H, int W, float sigma, float eps, float scaling, const std::vector<int>& limbs,
                     const std::vector<int>& flip_perm, int out_dtype, int num_threads, int device,
                     std::uintptr_t stream) {
    HeatmapParams p;
    p.keypoints = as_ptr<const float>(keypoints);
    p.scores = as_ptr<const float>(scores);
    p.out = as_ptr<void>(out);
    p.N = N, p.M = M, p.T = T, p.V = V, p.H = H, p.W = W;
    p.sigma = sigma, p.eps = eps, p.scaling = scaling;
    p.mode = limbs.empty() ? kJoints : kLimbs;
    p.C = limbs.empty() ? V : static_cast<int>(limbs.size() / 2);
    p.flip = flip_perm.empty() ? 0 : 1;
    p.out_dtype = out_dtype;
    p.num_threads = num_threads;

    require(N >= 0 && M >= 0 && T >= 0 && V >= 0 && H >= 0 && W >= 0, "sizes must be non-negative");
    require(sigma > 0.0f, "sigma must be positive");
    require(limbs.size() % 2 == 0, "limbs must hold index pairs");
    require(p.C <= kMaxHeatmapChannels, "at most " + std::to_string(kMaxHeatmapChannels) + " channels");
    require(p.flip == 0 || static_cast<int>(flip_perm.size()) == p.C, "flip_perm must have one entry per channel");
    require(out_dtype >= kFloat32 && out_dtype <= kBFloat16, "unknown output dtype");
    for (size_t i = 0; i < limbs.size(); ++i) {
        require(limbs[i] >= 0 && limbs[i] < V, "limb index out of range");
        p.limbs[i / 2][i % 2] = static_cast<uint16_t>(limbs[i]);
    }
    for (size_t i = 0; i < flip_perm.size(); ++i) {
        require(flip_perm[i] >= 0 && flip_perm[i] < p.C, "flip_perm entry out of range");
        p.flip_perm[i] = static_cast<uint16_t>(flip_perm[i]);
    }

    py::gil_scoped_release release;
    if (device < 0) return render_heatmaps_cpu(p);
#if defined(MGFAST_WITH_CUDA)
    check_cuda(render_heatmaps_cuda(p, device, as_ptr<void>(stream)));
#else
    (void)stream;
    no_cuda();
#endif
}

void crop_resize(std::uintptr_t frames, std::uintptr_t boxes, bool box_per_frame, std::uintptr_t out, int N, int H,
                 int W, int out_h, int out_w, std::int64_t out_stride_n, std::int64_t out_stride_c,
                 const std::array<float, 3>& mean, const std::array<float, 3>& std_dev, int out_dtype,
                 int num_threads, int device, std::uintptr_t stream) {
    CropResizeParams p;
    p.frames = as_ptr<const uint8_t>(frames);
    p.boxes = as_ptr<const float>(boxes);
    p.box_stride = box_per_frame ? 4 : 0;
    p.out = as_ptr<void>(out);
    p.N = N, p.H = H, p.W = W, p.out_h = out_h, p.out_w = out_w;
    p.out_stride_n = out_stride_n, p.out_stride_c = out_stride_c;
    for (int c = 0; c < 3; ++c) {
        require(std_dev[c] != 0.0f, "std must be non-zero");
        p.mean[c] = mean[c];
        p.inv_std[c] = 1.0f / std_dev[c];
    }
    p.out_dtype = out_dtype;
    p.num_threads = num_threads;
    require(N >= 0 && H > 0 && W > 0 && out_h > 0 && out_w > 0, "sizes must be positive");
    require(out_dtype >= kFloat32 && out_dtype <= kBFloat16, "unknown output dtype");

    py::gil_scoped_release release;
    if (device < 0) return crop_resize_cpu(p);
#if defined(MGFAST_WITH_CUDA)
    check_cuda(crop_resize_cuda(p, device, as_ptr<void>(stream)));
#else
    (void)stream;
    no_cuda();
#endif
}

}  // namespace
}  // namespace mgfast

PYBIND11_MODULE(_C, m) {
    using namespace mgfast;
    m.doc() = "mgfast native kernels (raw-pointer interface; use mgfast.ops)";
#if defined(MGFAST_WITH_CUDA)
    m.attr("cuda_compiled") = true;
    m.attr("cuda_runtime_version") = cuda_runtime_version();
    m.def("cuda_device_count", &cuda_device_count, "CUDA devices visible to the extension's runtime (0 without a driver)");
#else
    m.attr("cuda_compiled") = false;
    m.attr("cuda_runtime_version") = py::none();
    m.def("cuda_device_count", [] { return 0; }, "CUDA devices visible to the extension's runtime (0 without a driver)");
#endif
    m.attr("max_heatmap_channels") = kMaxHeatmapChannels;
    m.def("render_heatmaps", &render_heatmaps, py::arg("keypoints"), py::arg("scores"), py::arg("out"), py::arg("N"),
          py::arg("M"), py::arg("T"), py::arg("V"), py::arg("H"), py::arg("W"), py::arg("sigma"), py::arg("eps"),
          py::arg("scaling"), py::arg("limbs"), py::arg("flip_perm"), py::arg("out_dtype"), py::arg("num_threads"),
          py::arg("device"), py::arg("stream"));
    m.def("crop_resize", &crop_resize, py::arg("frames"), py::arg("boxes"), py::arg("box_per_frame"), py::arg("out"),
          py::arg("N"), py::arg("H"), py::arg("W"), py::arg("out_h"), py::arg("out_w"), py::arg("out_stride_n"),
          py::arg("out_stride_c"), py::arg("mean"), py::arg("std"), py::arg("out_dtype"), py::arg("num_threads"),
          py::arg("device"), py::arg("stream"));
}
