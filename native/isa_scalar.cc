// Portable build of the generic kernels: 4-float vectors (SSE2 on x86-64, generic vector code
// elsewhere), 4x8 GEMM micro-kernel. Runs on any CPU.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aigc.h"

namespace aigc {
namespace scalar {
#define VW 4
#define GEMM_MR 4
#define GEMM_NV 2
#define ISA_NAME "scalar"
template <class V>
static inline V vsqrt_generic(V x) {
  V r;
  for (int i = 0; i < 4; i++) r[i] = std::sqrt(x[i]);
  return r;
}
#define VSQRT(x) vsqrt_generic(x)
#include "kernels.inc"
}  // namespace scalar
const KernelTable* table_scalar() { return &scalar::kTable; }
}  // namespace aigc
