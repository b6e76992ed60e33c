// AVX-512 (F/BW/VL/DQ) build of the generic kernels: 16-float vectors, 8x32 GEMM micro-kernel.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aigc.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2,f16c,popcnt")
namespace aigc {
namespace avx512 {
#define VW 16
#define GEMM_MR 8
#define GEMM_NV 2
#define ISA_NAME "avx512"
#define VSQRT(x) ((vf)_mm512_sqrt_ps((__m512)(x)))
#include "kernels.inc"
}  // namespace avx512
const KernelTable* table_avx512() { return &avx512::kTable; }
}  // namespace aigc
#pragma GCC pop_options
#else
namespace aigc {
const KernelTable* table_avx512() { return nullptr; }
}
#endif
