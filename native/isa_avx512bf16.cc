// AVX-512 with BF16 (Zen 4, Sapphire Rapids): the AVX-512 kernels plus a bf16 GEMM for the
// bf16-weight linear when M > 64 (prefill), on vdpbf16ps. A separate level so that tests and
// AIGC_NATIVE_ISA=avx512 can compare it with the exact fp32-activation path.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aigc.h"

#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 10
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,bmi,bmi2,f16c,popcnt")
namespace aigc {
namespace avx512bf16 {
#define VW 16
#define GEMM_MR 8
#define GEMM_NV 2
#define ISA_NAME "avx512bf16"
#define AIGC_BF16_GEMM 1
#define VSQRT(x) ((vf)_mm512_sqrt_ps((__m512)(x)))
#include "kernels.inc"
}  // namespace avx512bf16
const KernelTable* table_avx512bf16() { return &avx512bf16::kTable; }
}  // namespace aigc
#pragma GCC pop_options
#else
namespace aigc {
const KernelTable* table_avx512bf16() { return nullptr; }
}
#endif
