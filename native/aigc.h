// Shared declarations of the aigc native kernels: argument structs, the per-ISA kernel table,
// the persistent thread pool and per-thread scratch memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <atomic>
#include <type_traits>

namespace aigc {

struct MatmulArgs {
  const float* a; const float* b; float* c;
  long batch, m, n, k;
  bool transA, transB;
  long strideA, strideB, strideC;
  bool accumulate;
};

// wtype: 0 = bf16 (uint16 bits), 1 = int8 with per-row scales, 2 = fp32; w in row-panel layout
// (src/engine/panels.ts).
struct LinearArgs {
  const float* x; const void* w; const float* scales; const float* bias; float* y;
  long m, n, k;
  int wtype;
};

// One new token per sequence attending over a KV cache; see attn_decode in kernels.inc.
struct AttnDecodeArgs {
  const float* qkv; float* k; float* v; float* y; const uint8_t* keyMask;
  long batch, heads, headDim, cap, length;
  float scale;
};

struct ConvGeom {
  long batch, cIn, hIn, wIn, cOut, hOut, wOut, kH, kW, sH, sW, pT, pL;
};

struct KernelTable {
  const char* name;
  void (*matmul)(const MatmulArgs&);
  void (*linear)(const LinearArgs&);
  void (*conv_fwd)(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g);
  void (*conv_bwd_in)(const float* dy, const float* w, float* dx, const ConvGeom& g);
  void (*conv_bwd_w)(const float* x, const float* dy, float* dw, const ConvGeom& g, bool accumulate);
  void (*softmax_fwd)(const float* x, float* y, long rows, long cols);
  void (*softmax_bwd)(const float* y, const float* dy, float* dx, long rows, long cols);
  void (*ln_fwd)(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                 long rows, long cols, float eps);
  void (*ln_bwd)(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                 float* dx, float* dgamma, float* dbeta, long rows, long cols);
  void (*gelu_fwd)(const float* x, float* y, long n);
  void (*gelu_bwd)(const float* x, const float* dy, float* dx, long n);
  void (*adam)(float* p, const float* g, float* m, float* v, long n, double lr, double beta1, double beta2,
               double eps, double wd, double step, bool decoupled);
  void (*attn_decode)(const AttnDecodeArgs&);
  // kind: 0 relu, 1 leaky relu (slope), 2 sigmoid, 3 tanh
  void (*act_fwd)(int kind, const float* x, float* y, long n, float slope);
  void (*act_bwd)(int kind, const float* y, const float* g, float* dx, long n, float slope);
  void (*channel_bias_add)(float* y, const float* b, long batch, long channels, long hw);
  void (*channel_sums)(const float* dy, float* out, long batch, long channels, long hw);
  // Sum of the 32-bit little-endian words mod 2^32 (a partial last word zero-padded): a read pass.
  uint32_t (*stream_sum)(const uint8_t* p, long bytes);
};

// Per-ISA tables (nullptr when the ISA is not compiled for this target).
const KernelTable* table_avx512bf16();
const KernelTable* table_avx512();
const KernelTable* table_avx2();
const KernelTable* table_scalar();

// ---- thread pool ----
int pool_threads();                 // threads available (caller included)
void pool_set_threads(int n);       // limit used threads (1..created)
// Runs fn(ctx, tid) for tid in [0, nt); the caller runs tid 0. Blocks until all are done.
// With dynamic = true, fn must be a work-claiming loop (any participant may do any share):
// workers that have not started by the time the caller's fn returns are cancelled.
void pool_run(int nt, void (*fn)(void*, int), void* ctx, bool dynamic = false);

template <class F>
inline void parallel(int nt, F&& f, bool dynamic = false) {
  if (nt <= 1) { f(0); return; }
  pool_run(nt, [](void* c, int t) { (*static_cast<typename std::remove_reference<F>::type*>(c))(t); }, &f, dynamic);
}

// 64-byte aligned scratch memory, grow-only, one set of slots per thread id. Contents are not
// preserved across growth. Only valid while the global kernel lock is held.
float* scratch(int tid, int slot, size_t floats);
// Shared (not per-thread) scratch, for buffers all threads read or write disjoint parts of.
float* shared_scratch(int slot, size_t floats);

}  // namespace aigc
