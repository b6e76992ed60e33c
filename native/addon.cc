// N-API glue of the aigc native kernels. Arguments are parsed with the raw N-API C calls (no
// per-call allocation), every typed array is checked for its element type and minimal length
// (TypeError naming the kernel, the argument and the expected vs actual length), and its data
// pointer already includes the view's byte offset, so subarray views work. Kernels run under a
// global lock, so calls from several worker_threads are serialized.
#include <napi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "aigc.h"

namespace {
using namespace aigc;

std::mutex g_lock;
const KernelTable* g_tab = nullptr;
int g_level = 0;      // 0 scalar, 1 avx2, 2 avx512, 3 avx512bf16
int g_max_level = 0;  // best level the CPU (and this build) supports

const int kLevels = 4;
const char* kLevelNames[kLevels] = {"scalar", "avx2", "avx512", "avx512bf16"};

const KernelTable* table_for(int level) {
  if (level >= 3 && table_avx512bf16()) return table_avx512bf16();
  if (level >= 2 && table_avx512()) return table_avx512();
  if (level >= 1 && table_avx2()) return table_avx2();
  return table_scalar();
}

int detect_level() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (table_avx512() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return table_avx512bf16() && __builtin_cpu_supports("avx512bf16") ? 3 : 2;
  if (table_avx2() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
  return 0;
}

int level_from_name(const std::string& s) {
  for (int i = 0; i < kLevels; i++)
    if (s == kLevelNames[i]) return i;
  return -1;
}

// ---- argument helpers ----
struct Args {
  napi_env env;
  const char* kernel;
  napi_value v[16];
  size_t argc = 16;
  bool ok = true;

  Args(napi_env e, napi_callback_info info, const char* k, size_t want) : env(e), kernel(k) {
    napi_get_cb_info(env, info, &argc, v, nullptr, nullptr);
    if (argc < want) fail_type(std::string("expected ") + std::to_string(want) + " arguments, got " + std::to_string(argc));
    for (size_t i = argc; i < 16; i++) napi_get_undefined(env, &v[i]);
  }
  void fail_type(const std::string& msg) {
    if (!ok) return;
    ok = false;
    std::string m = std::string(kernel) + ": " + msg;
    napi_throw_type_error(env, nullptr, m.c_str());
  }
  void fail_range(const std::string& msg) {
    if (!ok) return;
    ok = false;
    std::string m = std::string(kernel) + ": " + msg;
    napi_throw_range_error(env, nullptr, m.c_str());
  }
  bool is_nullish(int i) {
    napi_valuetype t;
    napi_typeof(env, v[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // Typed array of the given type; need < 0 means no length requirement; *len gets the length.
  void* arr(int i, napi_typedarray_type type, const char* tname, const char* name, int64_t need, bool nullable,
            int64_t* len = nullptr) {
    if (!ok) return nullptr;
    if (nullable && is_nullish(i)) return nullptr;
    napi_typedarray_type t;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v[i], &t, &length, &data, nullptr, nullptr) != napi_ok || t != type) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value e;
        napi_get_and_clear_last_exception(env, &e);
      }
      fail_type(std::string(name) + " must be a " + tname + (nullable ? " or null" : ""));
      return nullptr;
    }
    if (need >= 0 && int64_t(length) < need) {
      fail_type(std::string(name) + " is too short: expected at least " + std::to_string(need) +
                " elements, got " + std::to_string(length));
      return nullptr;
    }
    if (len) *len = int64_t(length);
    // Never hand out a null pointer for a valid (possibly empty) array.
    static float dummy[16];
    return data ? data : static_cast<void*>(dummy);
  }
  float* f32(int i, const char* name, int64_t need, bool nullable = false, int64_t* len = nullptr) {
    return static_cast<float*>(arr(i, napi_float32_array, "Float32Array", name, need, nullable, len));
  }
  int64_t integer(int i, const char* name, int64_t lo = 0, int64_t hi = (int64_t(1) << 40)) {
    if (!ok) return 0;
    double d;
    if (napi_get_value_double(env, v[i], &d) != napi_ok) { fail_type(std::string(name) + " must be a number"); return 0; }
    if (!(d >= double(lo) && d <= double(hi)) || d != double(int64_t(d))) {
      fail_range(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                 "], got " + std::to_string(d));
      return 0;
    }
    return int64_t(d);
  }
  double number(int i, const char* name) {
    if (!ok) return 0;
    double d;
    if (napi_get_value_double(env, v[i], &d) != napi_ok) { fail_type(std::string(name) + " must be a number"); return 0; }
    return d;
  }
  bool boolean(int i, const char* name) {
    if (!ok) return false;
    bool b;
    if (napi_get_value_bool(env, v[i], &b) == napi_ok) return b;
    double d;
    if (napi_get_value_double(env, v[i], &d) == napi_ok) return d != 0;
    fail_type(std::string(name) + " must be a boolean");
    return false;
  }
};

// Saturating products: a length requirement that overflows becomes unsatisfiable.
inline int64_t smul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return INT64_MAX;
  return r;
}
inline int64_t need_batched(int64_t batch, int64_t stride, int64_t size) {
  if (batch <= 0 || size <= 0) return 0;
  int64_t r;
  if (__builtin_add_overflow(smul(batch - 1, stride), size, &r)) return INT64_MAX;
  return r;
}

napi_value Matmul(napi_env env, napi_callback_info info) {
  Args A(env, info, "matmul", 13);
  int64_t batch = A.integer(3, "batch"), m = A.integer(4, "m"), n = A.integer(5, "n"), k = A.integer(6, "k");
  bool ta = A.boolean(7, "transA"), tb = A.boolean(8, "transB");
  int64_t sa = A.integer(9, "strideA"), sb = A.integer(10, "strideB"), sc = A.integer(11, "strideC");
  bool acc = A.boolean(12, "accumulate");
  if (!A.ok) return nullptr;
  if (m * k > (int64_t(1) << 40) || k * n > (int64_t(1) << 40) || m * n > (int64_t(1) << 40)) {
    A.fail_range("matrix too large");
    return nullptr;
  }
  const float* a = A.f32(0, "a", need_batched(batch, sa, m * n > 0 ? smul(m, k) : 0));
  const float* b = A.f32(1, "b", need_batched(batch, sb, m * n > 0 ? smul(k, n) : 0));
  float* c = A.f32(2, "c", need_batched(batch, sc, m * n));
  if (!A.ok) return nullptr;
  MatmulArgs args{a, b, c, long(batch), long(m), long(n), long(k), ta, tb, long(sa), long(sb), long(sc), acc};
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->matmul(args);
  return nullptr;
}

// wtype: 0 = bf16, 1 = int8 (+ per-row scales), 2 = fp32; w in row-panel layout.
napi_value LinearImpl(napi_env env, napi_callback_info info, int wtype) {
  static const char* const kNames[3] = {"linearBf16", "linearInt8", "linearF32"};
  static const int64_t kBytes[3] = {2, 1, 4};
  const char* kname = kNames[wtype];
  const int o = wtype == 1 ? 1 : 0;  // int8 has the extra scales argument
  Args A(env, info, kname, 7 + o);
  int64_t m = A.integer(4 + o, "m"), n = A.integer(5 + o, "n"), k = A.integer(6 + o, "k");
  if (!A.ok) return nullptr;
  if (m * k > (int64_t(1) << 40) || k * n > (int64_t(1) << 40) || m * n > (int64_t(1) << 40)) {
    A.fail_range("matrix too large");
    return nullptr;
  }
  const float* x = A.f32(0, "x", m * k);
  // w is in row-panel layout (src/engine/panels.ts): N rounded up to 8 rows, K to 64 bytes.
  const int64_t ch = 64 / kBytes[wtype], wlen = (n + 7) / 8 * 8 * ((k + ch - 1) / ch * ch);
  const void* w = wtype == 0   ? A.arr(1, napi_uint16_array, "Uint16Array", "w", wlen, false)
                  : wtype == 1 ? A.arr(1, napi_int8_array, "Int8Array", "w", wlen, false)
                               : A.f32(1, "w", wlen);
  const float* scales = wtype == 1 ? A.f32(2, "scales", n) : nullptr;
  const float* bias = A.f32(2 + o, "bias", n, true);
  float* y = A.f32(3 + o, "y", m * n);
  if (!A.ok) return nullptr;
  LinearArgs args{x, w, scales, bias, y, long(m), long(n), long(k), wtype};
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->linear(args);
  return nullptr;
}
napi_value LinearBf16(napi_env env, napi_callback_info info) { return LinearImpl(env, info, 0); }

// attentionDecode(qkv, k, v, y, keyMask, batch, heads, headDim, capacity, length, scale)
napi_value AttentionDecode(napi_env env, napi_callback_info info) {
  Args A(env, info, "attentionDecode", 11);
  int64_t B = A.integer(5, "batch"), H = A.integer(6, "heads"), D = A.integer(7, "headDim");
  int64_t cap = A.integer(8, "capacity"), L = A.integer(9, "length");
  double scale = A.number(10, "scale");
  if (!A.ok) return nullptr;
  if (L >= cap) {
    A.fail_range("length " + std::to_string(L) + " leaves no room in a cache of capacity " + std::to_string(cap));
    return nullptr;
  }
  const float* qkv = A.f32(0, "qkv", smul(B, smul(3, smul(H, D))));
  float* k = A.f32(1, "k", smul(B, smul(H, smul(cap, D))));
  float* v = A.f32(2, "v", smul(B, smul(H, smul(cap, D))));
  float* y = A.f32(3, "y", smul(B, smul(H, D)));
  const uint8_t* mask = static_cast<const uint8_t*>(A.arr(4, napi_uint8_array, "Uint8Array", "keyMask", smul(B, cap), true));
  if (!A.ok) return nullptr;
  AttnDecodeArgs args{qkv, k, v, y, mask, long(B), long(H), long(D), long(cap), long(L), float(scale)};
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->attn_decode(args);
  return nullptr;
}
napi_value LinearInt8(napi_env env, napi_callback_info info) { return LinearImpl(env, info, 1); }
napi_value LinearF32(napi_env env, napi_callback_info info) { return LinearImpl(env, info, 2); }

// Geometry comes as an Int32Array (or any numeric typed array read through doubles is not
// supported: the TS glue always passes an Int32Array of 13 values).
bool read_geom(Args& A, int i, ConvGeom& g) {
  const int32_t* v = static_cast<const int32_t*>(A.arr(i, napi_int32_array, "Int32Array", "geometry", 13, false));
  if (!A.ok) return false;
  const char* names[13] = {"batch", "cIn", "hIn", "wIn", "cOut", "hOut", "wOut", "kH", "kW",
                           "strideH", "strideW", "padTop", "padLeft"};
  for (int j = 0; j < 13; j++) {
    int64_t lo = j >= 11 ? 0 : 1;
    if (v[j] < lo) {
      A.fail_range(std::string("geometry.") + names[j] + " must be >= " + std::to_string(lo) + ", got " +
                   std::to_string(v[j]));
      return false;
    }
  }
  g = ConvGeom{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  // keep every buffer index well inside int64 / sane memory
  double big = double(g.batch) * double(g.cIn + g.cOut) * double((g.hIn + g.kH + g.hOut * g.sH) * (g.wIn + g.kW + g.wOut * g.sW)) *
               double(g.kH * g.kW);
  if (big > 1e13) { A.fail_range("geometry too large"); return false; }
  return true;
}

napi_value ConvForward(napi_env env, napi_callback_info info) {
  Args A(env, info, "conv2dForward", 5);
  ConvGeom g;
  if (!read_geom(A, 4, g)) return nullptr;
  const float* x = A.f32(0, "x", g.batch * g.cIn * g.hIn * g.wIn);
  const float* w = A.f32(1, "w", g.cOut * g.cIn * g.kH * g.kW);
  const float* bias = A.f32(2, "bias", g.cOut, true);
  float* y = A.f32(3, "y", g.batch * g.cOut * g.hOut * g.wOut);
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->conv_fwd(x, w, bias, y, g);
  return nullptr;
}

napi_value ConvBackwardInput(napi_env env, napi_callback_info info) {
  Args A(env, info, "conv2dBackwardInput", 4);
  ConvGeom g;
  if (!read_geom(A, 3, g)) return nullptr;
  const float* dy = A.f32(0, "dy", g.batch * g.cOut * g.hOut * g.wOut);
  const float* w = A.f32(1, "w", g.cOut * g.cIn * g.kH * g.kW);
  float* dx = A.f32(2, "dx", g.batch * g.cIn * g.hIn * g.wIn);
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->conv_bwd_in(dy, w, dx, g);
  return nullptr;
}

napi_value ConvBackwardWeight(napi_env env, napi_callback_info info) {
  Args A(env, info, "conv2dBackwardWeight", 5);
  ConvGeom g;
  if (!read_geom(A, 3, g)) return nullptr;
  const float* x = A.f32(0, "x", g.batch * g.cIn * g.hIn * g.wIn);
  const float* dy = A.f32(1, "dy", g.batch * g.cOut * g.hOut * g.wOut);
  float* dw = A.f32(2, "dw", g.cOut * g.cIn * g.kH * g.kW);
  bool acc = A.boolean(4, "accumulate");
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->conv_bwd_w(x, dy, dw, g, acc);
  return nullptr;
}

napi_value SoftmaxForward(napi_env env, napi_callback_info info) {
  Args A(env, info, "softmaxForward", 4);
  int64_t rows = A.integer(2, "rows"), cols = A.integer(3, "cols");
  const float* x = A.f32(0, "x", smul(rows, cols));
  float* y = A.f32(1, "y", smul(rows, cols));
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->softmax_fwd(x, y, long(rows), long(cols));
  return nullptr;
}

napi_value SoftmaxBackward(napi_env env, napi_callback_info info) {
  Args A(env, info, "softmaxBackward", 5);
  int64_t rows = A.integer(3, "rows"), cols = A.integer(4, "cols");
  const float* y = A.f32(0, "y", smul(rows, cols));
  const float* dy = A.f32(1, "dy", smul(rows, cols));
  float* dx = A.f32(2, "dx", smul(rows, cols));
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->softmax_bwd(y, dy, dx, long(rows), long(cols));
  return nullptr;
}

napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  Args A(env, info, "layerNormForward", 9);
  int64_t rows = A.integer(6, "rows"), cols = A.integer(7, "cols");
  double eps = A.number(8, "eps");
  const float* x = A.f32(0, "x", smul(rows, cols));
  const float* gamma = A.f32(1, "gamma", cols, true);
  const float* beta = A.f32(2, "beta", cols, true);
  float* y = A.f32(3, "y", smul(rows, cols));
  float* mean = A.f32(4, "mean", rows);
  float* rstd = A.f32(5, "rstd", rows);
  if (!A.ok) return nullptr;
  if (cols == 0) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->ln_fwd(x, gamma, beta, y, mean, rstd, long(rows), long(cols), float(eps));
  return nullptr;
}

napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  Args A(env, info, "layerNormBackward", 10);
  int64_t rows = A.integer(8, "rows"), cols = A.integer(9, "cols");
  const float* dy = A.f32(0, "dy", smul(rows, cols));
  const float* x = A.f32(1, "x", smul(rows, cols));
  const float* gamma = A.f32(2, "gamma", cols, true);
  const float* mean = A.f32(3, "mean", rows);
  const float* rstd = A.f32(4, "rstd", rows);
  float* dx = A.f32(5, "dx", smul(rows, cols));
  float* dgamma = A.f32(6, "dgamma", cols, true);
  float* dbeta = A.f32(7, "dbeta", cols, true);
  if (!A.ok) return nullptr;
  if (cols == 0) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->ln_bwd(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, long(rows), long(cols));
  return nullptr;
}

napi_value GeluForward(napi_env env, napi_callback_info info) {
  Args A(env, info, "geluForward", 2);
  int64_t n = 0;
  const float* x = A.f32(0, "x", -1, false, &n);
  float* y = A.f32(1, "y", n);
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->gelu_fwd(x, y, long(n));
  return nullptr;
}

// activationForward(kind, x, y, slope) / activationBackward(kind, y, g, dx, slope);
// kind: 0 relu, 1 leaky relu, 2 sigmoid, 3 tanh.
napi_value ActivationForward(napi_env env, napi_callback_info info) {
  Args A(env, info, "activationForward", 4);
  const int64_t kind = A.integer(0, "kind", 0, 3);
  int64_t n = 0;
  const float* x = A.f32(1, "x", -1, false, &n);
  float* y = A.f32(2, "y", n);
  const double slope = A.number(3, "slope");
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->act_fwd(int(kind), x, y, long(n), float(slope));
  return nullptr;
}

napi_value ActivationBackward(napi_env env, napi_callback_info info) {
  Args A(env, info, "activationBackward", 5);
  const int64_t kind = A.integer(0, "kind", 0, 3);
  int64_t n = 0;
  const float* y = A.f32(1, "y", -1, false, &n);
  const float* g = A.f32(2, "g", n);
  float* dx = A.f32(3, "dx", n);
  const double slope = A.number(4, "slope");
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->act_bwd(int(kind), y, g, dx, long(n), float(slope));
  return nullptr;
}

// channelBiasAdd(y, bias, batch, channels, hw): y (batch, channels, hw) += bias[channel];
// channelSums(dy, out, batch, channels, hw): out[c] = sum of dy over batch and hw.
napi_value ChannelImpl(napi_env env, napi_callback_info info, bool sums) {
  Args A(env, info, sums ? "channelSums" : "channelBiasAdd", 5);
  const int64_t B = A.integer(2, "batch"), C = A.integer(3, "channels"), HW = A.integer(4, "hw");
  float* t = A.f32(0, sums ? "dy" : "y", smul(B, smul(C, HW)));
  float* c = A.f32(1, sums ? "out" : "bias", C);
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  if (sums) g_tab->channel_sums(t, c, long(B), long(C), long(HW));
  else g_tab->channel_bias_add(t, c, long(B), long(C), long(HW));
  return nullptr;
}
napi_value ChannelBiasAdd(napi_env env, napi_callback_info info) { return ChannelImpl(env, info, false); }
napi_value ChannelSums(napi_env env, napi_callback_info info) { return ChannelImpl(env, info, true); }

napi_value GeluBackward(napi_env env, napi_callback_info info) {
  Args A(env, info, "geluBackward", 3);
  int64_t n = 0;
  const float* x = A.f32(0, "x", -1, false, &n);
  const float* dy = A.f32(1, "dy", n);
  float* dx = A.f32(2, "dx", n);
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->gelu_bwd(x, dy, dx, long(n));
  return nullptr;
}

napi_value AdamStep(napi_env env, napi_callback_info info) {
  Args A(env, info, "adamStep", 11);
  int64_t n = 0;
  float* p = A.f32(0, "p", -1, false, &n);
  const float* g = A.f32(1, "g", n);
  float* m = A.f32(2, "m", n);
  float* v = A.f32(3, "v", n);
  double lr = A.number(4, "lr"), b1 = A.number(5, "beta1"), b2 = A.number(6, "beta2"), eps = A.number(7, "eps");
  double wd = A.number(8, "weightDecay"), step = A.number(9, "step");
  bool dec = A.boolean(10, "decoupled");
  if (!A.ok) return nullptr;
  std::lock_guard<std::mutex> lk(g_lock);
  g_tab->adam(p, g, m, v, long(n), lr, b1, b2, eps, wd, step, dec);
  return nullptr;
}

napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value GetIsa(napi_env env, napi_callback_info) { return make_string(env, kLevelNames[g_level]); }

napi_value SetIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v;
  napi_get_cb_info(env, info, &argc, &v, nullptr, nullptr);
  char buf[32] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "setIsa: expected a string: avx512, avx2 or scalar");
    return nullptr;
  }
  int lv = level_from_name(buf);
  if (lv < 0) {
    napi_throw_range_error(env, nullptr, (std::string("setIsa: unknown ISA \"") + buf + "\" (avx512, avx2, scalar)").c_str());
    return nullptr;
  }
  if (lv > g_max_level) {
    napi_throw_error(env, nullptr,
                     (std::string("setIsa: ") + buf + " is not supported by this CPU (best: " + kLevelNames[g_max_level] + ")").c_str());
    return nullptr;
  }
  std::lock_guard<std::mutex> lk(g_lock);
  g_level = lv;
  g_tab = table_for(lv);
  return make_string(env, kLevelNames[g_level]);
}

napi_value AvailableIsas(napi_env env, napi_callback_info) {
  napi_value arr;
  napi_create_array(env, &arr);
  for (int i = g_max_level, j = 0; i >= 0; i--, j++) napi_set_element(env, arr, j, make_string(env, kLevelNames[i]));
  return arr;
}

// The bytes of the typed array passed as the only argument (any element type); false, with a
// TypeError thrown, when it is not one.
bool typed_array_bytes(napi_env env, napi_callback_info info, const char* fn, void** data, size_t* bytes) {
  static const size_t kElem[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8};  // napi_typedarray_type: int8 .. bigUint64
  size_t argc = 1;
  napi_value v;
  napi_get_cb_info(env, info, &argc, &v, nullptr, nullptr);
  napi_typedarray_type t;
  size_t length = 0;
  bool is_ta = false;
  if (argc < 1 || napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &t, &length, data, nullptr, nullptr) != napi_ok) {
    napi_throw_type_error(env, nullptr, (std::string(fn) + ": expected a typed array").c_str());
    return false;
  }
  *bytes = length * (size_t(t) < sizeof kElem / sizeof kElem[0] ? kElem[t] : 1);
  return true;
}

// adviseHugePages(view): asks Linux for transparent huge pages (MADV_HUGEPAGE) over the 2 MiB
// aligned part of the view's memory; returns the bytes advised (0 elsewhere). Call it before the
// first write, so the pages are faulted in huge: streamed weights then read ~5% faster (fewer
// TLB misses, no prefetcher stop every 4 KiB), where THP is in "madvise" mode as here.
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  size_t bytes = 0;
  if (!typed_array_bytes(env, info, "adviseHugePages", &data, &bytes)) return nullptr;
  double advised = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = uintptr_t(1) << 21, lo = (uintptr_t(data) + huge - 1) & ~(huge - 1),
                  hi = (uintptr_t(data) + bytes) & ~(huge - 1);
  if (data && hi > lo && madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE) == 0) advised = double(hi - lo);
#endif
  napi_value r;
  napi_create_double(env, advised, &r);
  return r;
}

// streamSum(view): the sum of the view's bytes read as little-endian 32-bit words, mod 2^32
// (a partial last word zero-padded), read once by all threads: a read-only pass at the speed
// memory allows, which the benchmarks use as the roofline of a weight-streaming GEMV.
napi_value StreamSum(napi_env env, napi_callback_info info) {
  void* data = nullptr;
  size_t bytes = 0;
  if (!typed_array_bytes(env, info, "streamSum", &data, &bytes)) return nullptr;
  uint32_t s = 0;
  {
    std::lock_guard<std::mutex> lk(g_lock);
    s = g_tab->stream_sum(static_cast<const uint8_t*>(data), long(bytes));
  }
  napi_value r;
  napi_create_uint32(env, s, &r);
  return r;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, pool_threads(), &v);
  return v;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v;
  napi_get_cb_info(env, info, &argc, &v, nullptr, nullptr);
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, v, &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, nullptr, "setThreads: expected a positive integer");
    return nullptr;
  }
  std::lock_guard<std::mutex> lk(g_lock);
  pool_set_threads(n);
  napi_value r;
  napi_create_int32(env, pool_threads(), &r);
  return r;
}

std::once_flag g_init_once;

void global_init() {
  g_max_level = detect_level();
  g_level = g_max_level;
  if (const char* e = std::getenv("AIGC_NATIVE_ISA")) {
    int lv = level_from_name(e);
    if (lv >= 0 && lv < g_level) g_level = lv;
    else if (lv < 0 && e[0])
      std::fprintf(stderr, "aigc native: ignoring AIGC_NATIVE_ISA=%s (expected avx512, avx2 or scalar)\n", e);
  }
  g_tab = table_for(g_level);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::call_once(g_init_once, global_init);
  struct Fn {
    const char* name;
    napi_callback cb;
  };
  const Fn fns[] = {
      {"matmul", Matmul},
      {"linearBf16", LinearBf16},
      {"linearF32", LinearF32},
      {"attentionDecode", AttentionDecode},
      {"linearInt8", LinearInt8},
      {"conv2dForward", ConvForward},
      {"conv2dBackwardInput", ConvBackwardInput},
      {"conv2dBackwardWeight", ConvBackwardWeight},
      {"softmaxForward", SoftmaxForward},
      {"softmaxBackward", SoftmaxBackward},
      {"layerNormForward", LayerNormForward},
      {"layerNormBackward", LayerNormBackward},
      {"geluForward", GeluForward},
      {"activationForward", ActivationForward},
      {"channelBiasAdd", ChannelBiasAdd},
      {"channelSums", ChannelSums},
      {"activationBackward", ActivationBackward},
      {"geluBackward", GeluBackward},
      {"adamStep", AdamStep},
      {"getIsa", GetIsa},
      {"setIsa", SetIsa},
      {"availableIsas", AvailableIsas},
      {"threads", Threads},
      {"adviseHugePages", AdviseHugePages},
      {"streamSum", StreamSum},
      {"setThreads", SetThreads},
  };
  for (const Fn& f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(aigc_native, Init)
