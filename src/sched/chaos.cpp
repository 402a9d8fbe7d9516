// Chaos mode: see chaos.hpp. chaos_decide and chaos_site_id are defined in
// every build (tests use them); the points themselves only with GORO_CHAOS.
#include "sched/chaos.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace goro::detail {

namespace {
std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

chaos_decision chaos_decide(std::uint64_t seed, std::int64_t stream, std::uint32_t site,
                            std::uint64_t visit) noexcept {
  std::uint64_t x = splitmix64(
      seed ^ splitmix64(static_cast<std::uint64_t>(stream) ^ splitmix64(site ^ splitmix64(visit))));
  unsigned r = static_cast<unsigned>(x % 64);
  if (r == 0) return {chaos_action::yield, 0};
  if (r == 1) return {chaos_action::sleep, static_cast<std::uint32_t>((x >> 8) % 20000)};
  if (r < 8) return {chaos_action::spin, static_cast<std::uint32_t>((x >> 16) % 500)};
  return {};
}

std::uint32_t chaos_site_id(const char* file, int line) noexcept {
  // The base name: __FILE__ may be absolute, and build trees differ.
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (const char* c = base; *c; c++) h = (h ^ static_cast<unsigned char>(*c)) * 16777619u;
  h ^= static_cast<std::uint32_t>(line) * 0x9E3779B1u;
  return h ? h : 1;  // 0 marks an empty slot below
}

#if defined(GORO_MUTANT_RUNTIME) && defined(GORO_DETAIL_NO_NAMED_MUTANT)
mutant_id active_mutant() noexcept {
  // A function-local static: the first call (static initialization of
  // preempt.cpp's trampoline, or runtime start) is long before a signal
  // handler could make one.
  static const mutant_id active = [] {
    const char* env = std::getenv("GORO_MUTANT_ACTIVE");
    if (!env || !*env) return mutant_id::none;
    for (std::size_t i = 0; i < sizeof mutant_names / sizeof mutant_names[0]; i++)
      if (std::strcmp(env, mutant_names[i]) == 0) return static_cast<mutant_id>(i);
    std::fprintf(stderr,
                 "goro: GORO_MUTANT_ACTIVE=%s is not a mutant (build_config.hpp, mutant_names)\n",
                 env);
    std::_Exit(2);
  }();
  return active;
}
#endif

}  // namespace goro::detail

#ifdef GORO_CHAOS
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "sched/runtime.hpp"

namespace goro::detail {

std::uint64_t chaos_seed() noexcept {
  static const std::uint64_t seed = [] {
    const char* s = std::getenv("GORO_CHAOS_SEED");
    std::uint64_t v;
    if (s && *s) {
      v = std::strtoull(s, nullptr, 0);
    } else {
      // A fresh seed per process, so repeated runs explore new streams; it is
      // printed below so a failing run can be replayed.
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      v = static_cast<std::uint64_t>(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^
          static_cast<std::uint64_t>(ts.tv_sec) ^ static_cast<std::uint64_t>(getpid()) << 32;
    }
    std::fprintf(stderr, "goro: chaos mode, GORO_CHAOS_SEED=%llu\n", (unsigned long long)v);
    return v;
  }();
  return seed;
}

namespace {

// std::atomic, not detail::atomic: this is the checking machinery, not the
// runtime's protocol. Every chaos point already is one scheduling point of
// the simulation (chaos_point calls the controller); the hook and trace
// plumbing read here on the way would add points that no production
// operation has.
std::atomic<chaos_hook_fn> hook{nullptr};
std::atomic<void*> hook_arg{nullptr};

std::atomic<bool> tracing{false};
// Per-thread trace buffers, kept for the process's life (threads come and
// go; a buffer outlives its thread). Each has its own lock, so taking the
// trace while Ms still run is safe; taken only with tracing on.
struct trace_buf {
  std::mutex mu;
  std::vector<chaos_trace_entry> entries;
};
std::mutex bufs_mu;
std::vector<trace_buf*> bufs;

std::atomic<std::int64_t> foreign_streams{0};

// Per thread: the current stream and how often it has visited each site.
// Zero-initialized (no dynamic TLS init). Reached only inside chaos_point,
// which holds a nopreempt and never switches, so the address does not go
// stale (shared/design.md, "thread_local across a switch").
struct chaos_tls {
  const void* m;  // the M the stream belongs to (nullptr: foreign)
  const void* rt;
  std::uint64_t gen;
  std::int64_t stream;
  bool have_stream;
  static constexpr int nsites = 128;
  std::uint32_t site[nsites];  // open addressing on the site id; 0 = empty
  std::uint64_t visits[nsites];
  std::uint64_t overflow;  // visits of sites past the table (never in practice)
  trace_buf* buf;
};
thread_local chaos_tls tls;

void set_stream(chaos_tls& t, const m* mp) {
  // A new stream: an M we have not been (a new run's m0 is a new M even at
  // the same address: its runtime's generation differs), or no M now.
  const void* rt = mp ? static_cast<const void*>(mp->rt) : nullptr;
  std::uint64_t gen = mp ? mp->rt->gen : 0;
  if (t.have_stream && t.m == mp && t.rt == rt && t.gen == gen) return;
  t.have_stream = true;
  t.m = mp;
  t.rt = rt;
  t.gen = gen;
  // M streams: generation in the high bits, M id in the low ones.
  t.stream = mp ? static_cast<std::int64_t>(gen << 20 | static_cast<std::uint64_t>(mp->id))
                : -1 - foreign_streams.fetch_add(1, std::memory_order_relaxed);
  std::memset(t.site, 0, sizeof t.site);
  std::memset(t.visits, 0, sizeof t.visits);
  t.overflow = 0;
}

std::uint64_t next_visit(chaos_tls& t, std::uint32_t id) {
  for (int i = 0; i < chaos_tls::nsites; i++) {
    int k = static_cast<int>((id + static_cast<std::uint32_t>(i)) % chaos_tls::nsites);
    if (t.site[k] == id) return t.visits[k]++;
    if (t.site[k] == 0) {
      t.site[k] = id;
      return t.visits[k]++;
    }
  }
  return t.overflow++;
}

void record(chaos_tls& t, const chaos_trace_entry& e) {
  if (!t.buf) {
    t.buf = new trace_buf;
    std::lock_guard lk(bufs_mu);
    bufs.push_back(t.buf);
  }
  std::lock_guard lk(t.buf->mu);
  t.buf->entries.push_back(e);
}

}  // namespace

void chaos_point(const char* file, int line, chaos_site site) noexcept {
  // Called from goroutine code too (runqput, wait_group::add): not
  // preemptible here, so the M and the thread-local state stay ours.
  nopreempt np;
  const m* mp = getm_unchecked();
  if (chaos_hook_fn fn = hook.load(std::memory_order_acquire))
    fn(site, mp, hook_arg.load(std::memory_order_relaxed));
  chaos_tls& t = tls;
  set_stream(t, mp);
  std::uint32_t id = chaos_site_id(file, line);
  std::uint64_t visit = next_visit(t, id);
  chaos_decision d = chaos_decide(chaos_seed(), t.stream, id, visit);
  if (tracing.load(std::memory_order_relaxed)) record(t, {t.stream, id, visit, d});
  switch (d.action) {
    case chaos_action::none: break;
    case chaos_action::yield: sched_yield(); break;
    case chaos_action::sleep: {
      timespec ts{0, static_cast<long>(d.amount)};
      nanosleep(&ts, nullptr);
      break;
    }
    case chaos_action::spin:
      for (std::uint32_t i = 0; i < d.amount; i++) asm volatile("" ::: "memory");
      break;
  }
}

void chaos_set_hook(chaos_hook_fn fn, void* arg) noexcept {
  hook_arg.store(arg, std::memory_order_relaxed);
  hook.store(fn, std::memory_order_release);
}

void chaos_trace_enable(bool on) noexcept { tracing.store(on, std::memory_order_relaxed); }

std::vector<chaos_trace_entry> chaos_trace() {
  std::vector<chaos_trace_entry> out;
  std::lock_guard lk(bufs_mu);
  for (trace_buf* b : bufs) {
    std::lock_guard lk2(b->mu);
    out.insert(out.end(), b->entries.begin(), b->entries.end());
  }
  return out;
}

}  // namespace goro::detail
#endif
