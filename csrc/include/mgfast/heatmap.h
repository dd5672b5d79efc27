// PoseC3D heatmap volumes: the parameter struct and the per-pixel math shared by the CPU and CUDA kernels.
//
// Semantics follow PoseC3D's GeneratePoseTarget: for each (clip, channel, frame) plane every person draws one
// stroke (a Gaussian around a keypoint, or around a limb segment), and strokes combine by maximum.
#pragma once

#include "mgfast/common.h"

namespace mgfast {

// Upper bound on output channels (joints or limbs). The limb table and flip permutation travel inside the
// parameter struct, passed by value to the CUDA kernel, so a launch needs no device allocation or copy and
// is safe to capture in a CUDA graph.
constexpr int kMaxHeatmapChannels = 512;

enum HeatmapMode : int { kJoints = 0, kLimbs = 1 };

struct HeatmapParams {
    const float* keypoints = nullptr;  // [N, M, T, V, 2] (x, y) in input pixels, contiguous
    const float* scores = nullptr;     // [N, M, T, V], contiguous; nullptr: every peak is 1
    void* out = nullptr;               // [N * (1 + flip), C, T, H, W], contiguous, dtype out_dtype
    int N = 0, M = 0, T = 0, V = 0;
    int H = 0, W = 0;  // output plane size, already scaled
    int C = 0;         // channels: V for joints, number of limbs for limbs
    float sigma = 0.6f;
    float eps = 1e-3f;
    float scaling = 1.0f;  // multiplies every coordinate
    int mode = kJoints;
    int flip = 0;  // also write the mirrored copy: out[N + n, c] = mirror_x(out[n, flip_perm[c]])
    int out_dtype = kFloat32;
    int num_threads = 1;  // CPU only
    uint16_t limbs[kMaxHeatmapChannels][2] = {};
    uint16_t flip_perm[kMaxHeatmapChannels] = {};
};

// Half-open pixel window [x0, x1) x [y0, y1).
struct Window {
    int x0, x1, y0, y1;
    MG_HD bool empty() const { return x0 >= x1 || y0 >= y1; }
    MG_HD bool contains(int x, int y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

// PoseC3D's window bounds: start = max(trunc(lo), 0), end = min(trunc(hi) + 1, size), truncating toward zero.
// The coordinate is first clamped to [-2, size + 1], which leaves both results unchanged and keeps the
// float -> int conversion defined for huge inputs.
MG_HD int window_start(float lo, int size) {
    return imax(static_cast<int>(fminf(fmaxf(lo, -2.0f), size + 1.0f)), 0);
}
MG_HD int window_end(float hi, int size) {
    return imin(static_cast<int>(fminf(fmaxf(hi, -2.0f), size + 1.0f)) + 1, size);
}

// One person's contribution to one plane: a point (b unused) or a segment A-B with peak value `peak`.
struct Stroke {
    float ax, ay, bx, by;
    float inv_ab2;  // 1 / |AB|^2 (a multiply per pixel instead of a divide); 0 for a point
    float peak;
    bool segment;
    Window window;
};

// Coordinates beyond this many pixels (after scaling) count as missing: they are detector garbage, and
// squaring them would overflow float.
constexpr float kMaxCoordinate = 1e6f;

MG_HD bool usable(float v) { return is_finite(v) && fabsf(v) <= kMaxCoordinate; }
MG_HD bool usable2(float x, float y) { return usable(x) && usable(y); }

MG_HD Window bounding_window(float x_min, float x_max, float y_min, float y_max, float radius, int W, int H) {
    return Window{window_start(x_min - radius, W), window_end(x_max + radius, W),
                  window_start(y_min - radius, H), window_end(y_max + radius, H)};
}

MG_HD bool point_stroke(float x, float y, float peak, const HeatmapParams& p, Stroke* s) {
    // `!(peak >= eps)` also drops NaN scores.
    if (!(peak >= p.eps) || !usable2(x, y)) return false;
    const float radius = 3.0f * p.sigma;
    *s = Stroke{x, y, x, y, 0.0f, peak, false, bounding_window(x, x, y, y, radius, p.W, p.H)};
    return !s->window.empty();
}

MG_HD bool segment_stroke(float ax, float ay, float bx, float by, float score_a, float score_b,
                          const HeatmapParams& p, Stroke* s) {
    const float weight = fminf(score_a, score_b);
    if (!(weight >= p.eps) || !usable2(ax, ay) || !usable2(bx, by)) return false;
    const float dx = bx - ax, dy = by - ay;
    const float ab2 = dx * dx + dy * dy;
    if (ab2 < 1.0f) return point_stroke(ax, ay, score_a, p, s);  // degenerate limb: a keypoint at A
    const float radius = 3.0f * p.sigma;
    *s = Stroke{ax, ay, bx, by, 1.0f / ab2, weight, true,
                bounding_window(fminf(ax, bx), fmaxf(ax, bx), fminf(ay, by), fmaxf(ay, by), radius, p.W, p.H)};
    return !s->window.empty();
}

// The stroke that person m draws on plane (n, c, t) of the unflipped volume; false when it draws nothing.
MG_HD bool make_stroke(const HeatmapParams& p, int n, int m, int t, int c, Stroke* s) {
    const int64_t frame = ((static_cast<int64_t>(n) * p.M + m) * p.T + t) * p.V;
    const float* xy = p.keypoints + frame * 2;
    const float* score = p.scores ? p.scores + frame : nullptr;
    const float k = p.scaling;
    if (p.mode == kJoints) {
        return point_stroke(xy[2 * c] * k, xy[2 * c + 1] * k, score ? score[c] : 1.0f, p, s);
    }
    const int a = p.limbs[c][0], b = p.limbs[c][1];
    return segment_stroke(xy[2 * a] * k, xy[2 * a + 1] * k, xy[2 * b] * k, xy[2 * b + 1] * k,
                          score ? score[a] : 1.0f, score ? score[b] : 1.0f, p, s);
}

// Squared distance from pixel P to segment AB: to an end when P projects beyond it, else to P's projection.
// The projection is measured from the nearer end, so a far endpoint costs no precision (expanding
// |PA|^2 - |PB|^2, or A + t * AB from a far A, loses most of float's digits on long limbs).
// Written with selects instead of branches so the renderers' pixel loops vectorise. A projection beyond an
// end clamps t to 0 at that end (which is then the nearer one, as along_a + along_b = |AB|^2 > 0), and
// 0 * dx - pax is exactly -pax: the result equals the distance to that end bit for bit.
MG_HD float segment_distance2(float px, float py, const Stroke& s) {
    const float dx = s.bx - s.ax, dy = s.by - s.ay;
    const float pax = px - s.ax, pay = py - s.ay;
    const float pbx = px - s.bx, pby = py - s.by;
    const float along_a = pax * dx + pay * dy;     // <= 0: P projects before A
    const float along_b = -(pbx * dx + pby * dy);  // <= 0: P projects past B
    const bool from_a = along_a <= along_b;
    const float along = from_a ? along_a : along_b;
    const float t = (along > 0.0f ? along : 0.0f) * s.inv_ab2;
    const float qx = from_a ? t * dx - pax : -t * dx - pbx;  // projection minus P
    const float qy = from_a ? t * dy - pay : -t * dy - pby;
    return qx * qx + qy * qy;
}

// Squared distance from pixel centre (px, py) to a stroke's centre line.
MG_HD float stroke_distance2(const Stroke& s, float px, float py) {
    return s.segment ? segment_distance2(px, py, s) : (px - s.ax) * (px - s.ax) + (py - s.ay) * (py - s.ay);
}

// A stroke's value at squared distance d2 from its centre line.
MG_HD float stroke_falloff(const Stroke& s, float d2, float inv_two_sigma2) {
    return s.peak * exp_nonpositive(-d2 * inv_two_sigma2);
}

// Value of a stroke at pixel centre (x, y), which must lie inside its window.
MG_HD float stroke_value(const Stroke& s, int x, int y, float inv_two_sigma2) {
    return stroke_falloff(s, stroke_distance2(s, static_cast<float>(x), static_cast<float>(y)), inv_two_sigma2);
}

MG_HD int heatmap_batch_out(const HeatmapParams& p) { return p.flip ? 2 * p.N : p.N; }

// Which plane of the unflipped volume an output plane shows, and whether it is mirrored in x.
MG_HD void source_plane(const HeatmapParams& p, int n_out, int c_out, int* n, int* c, bool* mirrored) {
    *mirrored = n_out >= p.N;
    *n = *mirrored ? n_out - p.N : n_out;
    *c = *mirrored ? p.flip_perm[c_out] : c_out;
}

}  // namespace mgfast
