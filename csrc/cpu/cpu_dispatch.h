// Wider vectors for the CPU kernels' hot loops without raising the build's baseline instruction set.
//
// The extension is built for plain x86-64 (SSE2), which every user's CPU runs. A function marked
// MG_VECTOR_CLONES is compiled three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and the
// baseline, and the loader picks the best the CPU supports (GCC's target_clones, resolved once per process).
// Elsewhere (other compilers, other architectures) it is a plain function.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MG_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_VECTOR_CLONES
#endif
