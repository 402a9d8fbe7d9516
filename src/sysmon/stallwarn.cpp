// GORO_DEBUG parsing and the stall warning (sysmon/stallwarn.hpp).
#include "sysmon/stallwarn.hpp"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "sched/dump.hpp"

namespace goro::detail {

namespace {

std::atomic<std::uint64_t> nstall_reports{0};

[[noreturn]] void bad(std::string_view key, std::string_view value, const char* want) {
  throw std::invalid_argument("goro::run: GORO_DEBUG: " + std::string(key) + "=\"" +
                              std::string(value) + "\" is invalid: " + want);
}

}  // namespace

bool parse_stallwarn_key(std::string_view key, std::string_view value, debug_settings& out) {
  if (key == "stallwarn") {
    // Milliseconds, 1 .. 1 hour (0: off, as unset).
    constexpr std::int64_t max_ms = 3'600'000;
    std::int64_t ms = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 0 || ms > max_ms)
      bad(key, value, "must be a whole number of milliseconds in 0..3600000 (0: off)");
    out.stallwarn_ns = ms * 1'000'000;
    return true;
  }
  if (key == "sigquit") {
    if (value == "0") out.sigquit = false;
    else if (value == "1") out.sigquit = true;
    else bad(key, value, "must be 0 (no goroutine dump on SIGQUIT) or 1 (the default)");
    return true;
  }
  return false;
}

debug_settings parse_goro_debug(const char* env) {
  debug_settings d;
  if (!env) return d;
  std::string_view s(env);
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view kv = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (kv.empty()) continue;
    std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument("goro::run: GORO_DEBUG: \"" + std::string(kv) +
                                  "\" is not key=value (keys: stallwarn, sigquit)");
    std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
    // The lead merges the other GORO_DEBUG parsers here (schedtrace...).
    if (parse_stallwarn_key(key, value, d)) continue;
    throw std::invalid_argument("goro::run: GORO_DEBUG: unknown key \"" + std::string(key) +
                                "\" (in \"" + std::string(kv) + "\"; keys: stallwarn, sigquit)");
  }
  return d;
}

std::uint64_t stall_reports() noexcept { return nstall_reports.load(std::memory_order_relaxed); }

void stallwarn_check(runtime& rt, std::int64_t now) {
  const std::int64_t limit = rt.stallwarn_ns;
  if (limit == 0) return;
  // With asynchronous preemption on, a G is preempted after a time slice
  // unless the handler refuses (an unsafe point, every time): report only
  // what has outlived the slice twice over, so a preemption in progress is
  // not called a stall.
  std::int64_t need = limit;
  if (rt.opts.async_preempt) need = std::max(need, 2 * rt.opts.time_slice.count());
  std::uint32_t n = rt.gomaxprocs.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < n; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);
    auto& pd = pp->sysmontick;  // sysmon's own (retake updated it this tick)
    if (pp->status.load(std::memory_order_acquire) != pstatus::running) continue;
    if (pp->schedtick.load(std::memory_order_relaxed) != pd.schedtick) continue;
    if (now - pd.schedwhen < need || pd.stall_reported == pd.schedwhen) continue;
    m* mp = pp->m_.load(std::memory_order_acquire);  // pairs with acquirep: tid, curg
    if (!mp || mp->tid == 0) continue;
    g* gp = mp->curg.load(std::memory_order_relaxed);
    if (!gp) continue;
    pd.stall_reported = pd.schedwhen;  // once per stall (per time slice)
    pcstack stk;
    bool ok = capture_thread_stack(mp->tid, stk, 100'000'000);
    // The G may have moved on while we asked; the stack is the thread's.
    char head[160];
    std::snprintf(head, sizeof head,
                  "goro: stall: goroutine %llu has run %lld ms without a scheduling point "
                  "(asynchronous preemption %s)\n",
                  (unsigned long long)gp->goid, (long long)((now - pd.schedwhen) / 1'000'000),
                  rt.opts.async_preempt ? "refused" : "off");
    std::fputs(head, stderr);
    print_goroutine_stack(gp, "running", stk, ok);
    std::fputc('\n', stderr);
    nstall_reports.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace goro::detail
