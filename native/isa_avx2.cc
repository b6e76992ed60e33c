// AVX2 + FMA build of the generic kernels: 8-float vectors, 6x16 GEMM micro-kernel.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aigc.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,f16c,popcnt")
namespace aigc {
namespace avx2 {
#define VW 8
#define GEMM_MR 6
#define GEMM_NV 2
#define ISA_NAME "avx2"
#define VSQRT(x) ((vf)_mm256_sqrt_ps((__m256)(x)))
#include "kernels.inc"
}  // namespace avx2
const KernelTable* table_avx2() { return &avx2::kTable; }
}  // namespace aigc
#pragma GCC pop_options
#else
namespace aigc {
const KernelTable* table_avx2() { return nullptr; }
}
#endif
