// Binding of the heatmap kernel: HeatmapParams as a Python class, and render_heatmaps(params, device, stream).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"

namespace mgfast::bindings {
namespace {

constexpr size_t kTableSize = kMaxHeatmapChannels;

const std::string kTooManyChannels = "at most " + std::to_string(kMaxHeatmapChannels) + " channels";

uint16_t table_entry(int value, const char* out_of_range) {
    require(value >= 0 && value <= 0xFFFF, out_of_range);
    return static_cast<uint16_t>(value);
}

// The struct is filled field by field from Python, so every invariant the kernels rely on is checked here.
void check(const HeatmapParams& p) {
    require(p.N >= 0 && p.M >= 0 && p.T >= 0 && p.V >= 0 && p.H >= 0 && p.W >= 0 && p.C >= 0,
            "sizes must be non-negative");
    require(p.sigma > 0.0f, "sigma must be positive");
    require(p.C <= kMaxHeatmapChannels, kTooManyChannels);
    require(p.mode == kJoints || p.mode == kLimbs, "unknown heatmap mode");
    require(p.mode == kLimbs || p.C == p.V, "joint heatmaps have one channel per joint (C = V)");
    if (p.mode == kLimbs) {
        for (int c = 0; c < p.C; ++c) require(p.limbs[c][0] < p.V && p.limbs[c][1] < p.V, "limb index out of range");
    }
    require(p.flip == 0 || p.flip == 1, "flip must be 0 or 1");
    if (p.flip) {
        for (int c = 0; c < p.C; ++c) require(p.flip_perm[c] < p.C, "flip_perm entry out of range");
    }
    require(p.out_dtype >= kFloat32 && p.out_dtype <= kBFloat16, "unknown output dtype");
    const int64_t inputs = static_cast<int64_t>(p.N) * p.M * p.T * p.V;
    const int64_t outputs = static_cast<int64_t>(heatmap_batch_out(p)) * p.C * p.T * p.H * p.W;
    require(p.keypoints != nullptr || inputs == 0, "keypoints must be set");
    require(p.out != nullptr || outputs == 0, "out must be set");
}

void render_heatmaps(const HeatmapParams& p, int device, std::uintptr_t stream) {
    check(p);
    launch<HeatmapParams>(p, device, stream, render_heatmaps_cpu, MGFAST_CUDA_ENTRY(render_heatmaps_cuda));
}

}  // namespace

void bind_heatmap(py::module_& m) {
    m.attr("max_heatmap_channels") = kMaxHeatmapChannels;

    py::class_<HeatmapParams> cls(m, "HeatmapParams",
                                  "The heatmap kernel's parameters (csrc/include/mgfast/heatmap.h)");
    cls.def(py::init<>());
    cls.attr("JOINTS") = static_cast<int>(kJoints);
    cls.attr("LIMBS") = static_cast<int>(kLimbs);
    def_address(cls, "keypoints", &HeatmapParams::keypoints);
    def_address(cls, "scores", &HeatmapParams::scores);
    def_address(cls, "out", &HeatmapParams::out);
    cls.def_readwrite("N", &HeatmapParams::N)
        .def_readwrite("M", &HeatmapParams::M)
        .def_readwrite("T", &HeatmapParams::T)
        .def_readwrite("V", &HeatmapParams::V)
        .def_readwrite("H", &HeatmapParams::H)
        .def_readwrite("W", &HeatmapParams::W)
        .def_readwrite("C", &HeatmapParams::C)
        .def_readwrite("sigma", &HeatmapParams::sigma)
        .def_readwrite("eps", &HeatmapParams::eps)
        .def_readwrite("scaling", &HeatmapParams::scaling)
        .def_readwrite("mode", &HeatmapParams::mode)
        .def_readwrite("flip", &HeatmapParams::flip)
        .def_readwrite("out_dtype", &HeatmapParams::out_dtype)
        .def_readwrite("num_threads", &HeatmapParams::num_threads);
    // The channel tables are sized for the largest case: a shorter list fills the first entries and zeroes
    // the rest; reading gives the whole table.
    cls.def_property(
        "limbs",
        [](const HeatmapParams& p) {
            std::vector<std::array<int, 2>> pairs(kTableSize);
            for (size_t c = 0; c < kTableSize; ++c) pairs[c] = {p.limbs[c][0], p.limbs[c][1]};
            return pairs;
        },
        [](HeatmapParams& p, const std::vector<std::array<int, 2>>& pairs) {
            require(pairs.size() <= kTableSize, kTooManyChannels);
            for (size_t c = 0; c < kTableSize; ++c) {
                p.limbs[c][0] = c < pairs.size() ? table_entry(pairs[c][0], "limb index out of range") : 0;
                p.limbs[c][1] = c < pairs.size() ? table_entry(pairs[c][1], "limb index out of range") : 0;
            }
        });
    cls.def_property(
        "flip_perm",
        [](const HeatmapParams& p) { return std::vector<int>(p.flip_perm, p.flip_perm + kTableSize); },
        [](HeatmapParams& p, const std::vector<int>& perm) {
            require(perm.size() <= kTableSize, kTooManyChannels);
            for (size_t c = 0; c < kTableSize; ++c) {
                p.flip_perm[c] = c < perm.size() ? table_entry(perm[c], "flip_perm entry out of range") : 0;
            }
        });

    m.def("render_heatmaps", &render_heatmaps, py::arg("params"), py::arg("device"), py::arg("stream"),
          "Renders heatmap volumes; device < 0 runs on the CPU, else on that CUDA device in `stream`");
}

}  // namespace mgfast::bindings
