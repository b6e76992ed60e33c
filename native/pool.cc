// Persistent thread pool and scratch memory.
//
// Workers are created once (on first use), detached, and never destroyed: at process exit they
// are blocked on a condition variable and simply vanish with the process, so they neither keep
// the event loop alive nor race with static destructors. A worker that finishes a job spins for
// a short while (AIGC_SPIN_US, default 100 µs) waiting for the next one, then sleeps on a
// condition variable: no endless spinning that would steal the core from the main thread.
// Parallel regions are serialized by the kernel lock held by the N-API glue.
#include "aigc.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

namespace aigc {
namespace {

constexpr int kMaxThreads = 64;

// Per-worker job slot. state = (job id << 2) | status, status 0 = published, 1 = started by
// the worker, 2 = cancelled by the caller (a dynamic job whose tasks were all taken before this
// worker woke up: the caller need not wait for a descheduled worker).
struct alignas(64) Slot {
  std::atomic<uint64_t> state{0};
  std::atomic<uint64_t> done{0};
};

struct Pool {
  int created = 1;
  int active = 1;
  long spin_ns = 100000;  // 100 us: covers the JS work between two kernels of a decode step (measured: int8 decode +15-20%)
  // current job (written by the caller before publishing, read only by its participants)
  void (*fn)(void*, int) = nullptr;
  void* ctx = nullptr;
  uint64_t jobid = 0;
  Slot slots[kMaxThreads];
  std::mutex m;
  std::condition_variable cv;  // workers sleep here
  std::mutex dm;
  std::condition_variable dcv;  // the caller sleeps here
};

Pool* g_pool = nullptr;
std::once_flag g_once;

inline long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void worker_main(Pool* p, int tid) {
  Slot& slot = p->slots[tid];
  uint64_t seen = 0;
  for (;;) {
    uint64_t s = slot.state.load(std::memory_order_acquire);
    if ((s >> 2) == seen) {
      long t0 = now_ns();
      int it = 0;
      while (((s = slot.state.load(std::memory_order_acquire)) >> 2) == seen) {
        CPU_RELAX();
        if ((++it & 63) == 0 && now_ns() - t0 > p->spin_ns) {
          std::unique_lock<std::mutex> lk(p->m);
          while (((s = slot.state.load(std::memory_order_acquire)) >> 2) == seen) p->cv.wait(lk);
          break;
        }
      }
    }
    const uint64_t id = s >> 2;
    if ((s & 3) == 0 && slot.state.compare_exchange_strong(s, (id << 2) | 1, std::memory_order_acq_rel)) {
      p->fn(p->ctx, tid);
      slot.done.store(id, std::memory_order_release);
      std::lock_guard<std::mutex> lk(p->dm);
      p->dcv.notify_all();
    }
    seen = id;
  }
}

int detect_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int)n : 1;
}

void init_pool() {
  Pool* p = new Pool();
  int n = detect_cpus();
  if (const char* e = std::getenv("AIGC_THREADS")) {
    int v = std::atoi(e);
    if (v > 0) n = v;
  }
  if (const char* e = std::getenv("AIGC_SPIN_US")) {
    long v = std::atol(e);
    if (v >= 0) p->spin_ns = v * 1000;
  }
  n = std::max(1, std::min(n, kMaxThreads));
  p->created = 1;
  for (int i = 1; i < n; i++) {
    std::thread(worker_main, p, i).detach();
    p->created = i + 1;
  }
  p->active = p->created;
  g_pool = p;
}

Pool* pool() {
  std::call_once(g_once, init_pool);
  return g_pool;
}

}  // namespace

int pool_threads() { return pool()->active; }

void pool_set_threads(int n) {
  Pool* p = pool();
  p->active = std::max(1, std::min(n, p->created));
}

void pool_run(int nt, void (*fn)(void*, int), void* ctx, bool dynamic) {
  Pool* p = pool();
  nt = std::min(nt, p->active);
  if (nt <= 1) { fn(ctx, 0); return; }
  p->fn = fn;
  p->ctx = ctx;
  const uint64_t id = ++p->jobid;
  for (int i = 1; i < nt; i++) p->slots[i].state.store(id << 2, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p->m);
    p->cv.notify_all();
  }
  fn(ctx, 0);
  for (int i = 1; i < nt; i++) {
    Slot& slot = p->slots[i];
    if (dynamic) {
      uint64_t expect = id << 2;
      if (slot.state.compare_exchange_strong(expect, (id << 2) | 2, std::memory_order_acq_rel)) continue;
    }
    if (slot.done.load(std::memory_order_acquire) == id) continue;
    long t0 = now_ns();
    int it = 0;
    while (slot.done.load(std::memory_order_acquire) != id) {
      CPU_RELAX();
      if ((++it & 63) == 0 && now_ns() - t0 > 200000) {
        std::unique_lock<std::mutex> lk(p->dm);
        while (slot.done.load(std::memory_order_acquire) != id) p->dcv.wait(lk);
        break;
      }
    }
  }
}

// ---- scratch ----
namespace {
constexpr int kSlots = 6;
struct Buf {
  float* p = nullptr;
  size_t n = 0;
};
Buf g_bufs[kMaxThreads + 1][kSlots];

float* grow(Buf& b, size_t floats) {
  if (floats > b.n) {
    std::free(b.p);
    size_t n = std::max(floats + 64, b.n + b.n / 2);
    size_t bytes = ((n * sizeof(float)) + 63) & ~size_t(63);
    b.p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!b.p) {
      std::fprintf(stderr, "aigc native: out of memory allocating %zu bytes of scratch\n", bytes);
      std::abort();
    }
    b.n = bytes / sizeof(float);
  }
  return b.p;
}
}  // namespace

float* scratch(int tid, int slot, size_t floats) { return grow(g_bufs[tid + 1][slot], floats); }
float* shared_scratch(int slot, size_t floats) { return grow(g_bufs[0][slot], floats); }

}  // namespace aigc
