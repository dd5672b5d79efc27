// Shared definitions for the host (C++) and device (CUDA) kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MG_HD __host__ __device__ __forceinline__
#else
#define MG_HD inline
#endif

namespace mgfast {

// Element type of an op's output tensor; the numbering is part of the Python <-> C++ contract.
enum OutDtype : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

MG_HD int imin(int a, int b) { return a < b ? a : b; }
MG_HD int imax(int a, int b) { return a > b ? a : b; }

MG_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, sizeof(u));
    return u;
#endif
}

MG_HD float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, sizeof(f));
    return f;
#endif
}

// Bit test rather than std::isfinite: one spelling for host and device, immune to fast-math flags.
MG_HD bool is_finite(float f) { return (float_bits(f) & 0x7F800000u) != 0x7F800000u; }

// e^x for x <= 0, within 2 ulp of expf, branch-free so loops over pixels vectorise (libm's expf is an
// opaque call the compiler cannot vectorise, and it was 40% of the limb renderer's time). Cephes' method:
// e^x = 2^n * e^r with n = round(x / ln 2) and a degree-6 polynomial for e^r. Below -87 (and for NaN) the
// result is 0: the true value is under 2^-125, far below any tolerance and below float16's range.
MG_HD float exp_nonpositive(float x) {
    const bool zero = !(x >= -87.0f);
    const float v = zero ? 0.0f : x;
    // Round to nearest by adding and subtracting 1.5 * 2^23 (the compilers never reassociate this).
    const float n = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (v - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 split in two: r stays exact
    float poly = 1.9875691500e-4f;
    poly = poly * r + 1.3981999507e-3f;
    poly = poly * r + 8.3334519073e-3f;
    poly = poly * r + 4.1665795894e-2f;
    poly = poly * r + 1.6666665459e-1f;
    poly = poly * r + 5.0000001201e-1f;
    const float er = poly * r * r + r + 1.0f;
    const float scale = float_from_bits(static_cast<uint32_t>(static_cast<int>(n) + 127) << 23);  // 2^n, n >= -126
    return zero ? 0.0f : er * scale;
}

// float -> bfloat16, round to nearest even (NaN stays a quiet NaN). Written with integer arithmetic so the
// CPU and CUDA kernels store bit-identical values.
MG_HD uint16_t float_to_bf16_bits(float f) {
    const uint32_t u = float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
    return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// float -> IEEE binary16, round to nearest even, with subnormals, overflow to infinity and quiet NaN.
MG_HD uint16_t float_to_half_bits(float f) {
    const uint32_t u = float_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u | (a > 0x7F800000u ? 0x0200u : 0u));
    if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
    if (a < 0x38800000u) {                                                // below 2^-14: subnormal half
        if (a < 0x33000000u) return static_cast<uint16_t>(sign);           // below 2^-25: rounds to zero
        const uint32_t exponent = a >> 23;
        const uint32_t mantissa = (a & 0x007FFFFFu) | 0x00800000u;
        const uint32_t shift = 126u - exponent;  // in [14, 24]
        uint32_t m = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1u);
        const uint32_t halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (m & 1u))) ++m;
        return static_cast<uint16_t>(sign | m);
    }
    const uint32_t rebased = a - 0x38000000u;  // exponent bias 127 -> 15
    return static_cast<uint16_t>(sign | ((rebased + 0x0FFFu + ((rebased >> 13) & 1u)) >> 13));
}

MG_HD float half_bits_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x03FFu;
    if (exponent == 0x1Fu) return float_from_bits(sign | 0x7F800000u | (mantissa << 13));
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Writes `value` as element `index` of an output buffer of the given dtype.
MG_HD void store(void* out, int64_t index, float value, int dtype) {
    if (dtype == kFloat32) {
        static_cast<float*>(out)[index] = value;
    } else if (dtype == kFloat16) {
        static_cast<uint16_t*>(out)[index] = float_to_half_bits(value);
    } else {
        static_cast<uint16_t*>(out)[index] = float_to_bf16_bits(value);
    }
}

// Reads element `index` of a buffer of the given dtype as float.
MG_HD float load_as_float(const void* buffer, int64_t index, int dtype) {
    if (dtype == kFloat32) return static_cast<const float*>(buffer)[index];
    const uint16_t bits = static_cast<const uint16_t*>(buffer)[index];
    return dtype == kFloat16 ? half_bits_to_float(bits) : float_from_bits(static_cast<uint32_t>(bits) << 16);
}

}  // namespace mgfast
