// goro::read_metrics (include/goro/metrics.hpp): the scheduler's counters
// (sched_counters, summed by read_sched_stats) and a census of the
// goroutines, under Go's runtime/metrics names where Go has the metric.
// spec/metrics.md lists them with their cost.
#include <cmath>
#include <limits>
#include <mutex>

#include "goro/metrics.hpp"
#include "sched/internal.hpp"

namespace goro::detail {

namespace {

// /goro/sched/parks/<slug>:events, one per wait reason (zero is no reason:
// gopark is never called with it).
const char* wait_reason_slug(wait_reason r) {
  switch (r) {
    case wait_reason::zero: return nullptr;
    case wait_reason::chan_receive: return "chan-receive";
    case wait_reason::chan_send: return "chan-send";
    case wait_reason::chan_receive_nil: return "chan-receive-nil";
    case wait_reason::chan_send_nil: return "chan-send-nil";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select-no-cases";
    case wait_reason::sync_mutex_lock: return "mutex-lock";
    case wait_reason::sync_wait_group_wait: return "wait-group-wait";
    case wait_reason::sync_cond_wait: return "cond-wait";
    case wait_reason::sync_rw_mutex_rlock: return "rw-mutex-rlock";
    case wait_reason::sync_rw_mutex_lock: return "rw-mutex-lock";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::sleep: return "sleep";
    case wait_reason::io_wait: return "io-wait";
    case wait_reason::count_: break;
  }
  return nullptr;
}

// A census of the goroutines by status (Go's /sched/goroutines/*, which Go
// also calls approximate): relaxed loads, since each G's status moves
// without allg_mu, which only keeps the list itself still.
struct census {
  std::uint64_t runnable = 0, running = 0, waiting = 0, syscall = 0;
};
census take_census(runtime& rt) {
  census c;
  std::lock_guard lk(rt.allg_mu);
  for (g* gp : rt.allgs) {
    switch (gp->status.load(std::memory_order_relaxed)) {
      case gstatus::runnable: c.runnable++; break;
      case gstatus::running: c.running++; break;
      case gstatus::waiting: c.waiting++; break;
      case gstatus::syscall: c.syscall++; break;
      case gstatus::idle:
      case gstatus::dead: break;
    }
  }
  return c;
}

// The histogram's boundaries in seconds (latency_bucket, runtime.hpp):
// 0, then each bucket's lower bound, then +Inf.
std::vector<double> latency_boundaries() {
  std::vector<double> b;
  b.reserve(latency_buckets + 1);
  b.push_back(0);
  constexpr std::size_t subs = std::size_t(1) << latency_sub_bits;
  for (std::size_t i = 1; i < latency_buckets; i++) {
    int e = latency_min_exp + static_cast<int>((i - 1) / subs);
    double lo = std::ldexp(1.0 + static_cast<double>((i - 1) % subs) / subs, e);
    b.push_back(lo * 1e-9);
  }
  b.push_back(std::numeric_limits<double>::infinity());
  return b;
}

struct values {
  sched_stats st;
  census cen;
  std::uint64_t gomaxprocs = 0, threads = 0;
};

void read_values(runtime& rt, values& v) {
  v.st = read_sched_stats(rt);
  v.cen = take_census(rt);
  v.gomaxprocs = rt.gomaxprocs.load(std::memory_order_relaxed);
  v.threads = runtime_threads(rt);
}

}  // namespace

std::uint64_t runtime_threads(runtime& rt) {
  sched_guard l(rt.sched);
  // Go's mcount counts every M, sysmon's and the template thread's
  // included; here those two are plain threads beside the Ms.
  return static_cast<std::uint64_t>(l->mcount) + 1 + static_cast<std::uint64_t>(l->ntemplate);
}

}  // namespace goro::detail

namespace goro::metrics {

const sample* find(const std::vector<sample>& samples, std::string_view name) {
  for (const sample& s : samples)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace goro::metrics

namespace goro {

using namespace detail;

std::vector<metrics::sample> read_metrics() {
  values v;
  {
    nopreempt np;
    m* mp = getm();
    runtime* rt = mp ? mp->rt : acquire_active();
    if (rt) {
      read_values(*rt, v);
      if (!mp) rt->release();
    }
  }
  const sched_stats& st = v.st;
  std::vector<metrics::sample> out;
  auto u64 = [&out](const char* name, const char* desc, bool cumulative, std::uint64_t value) {
    metrics::sample s;
    s.name = name;
    s.description = desc;
    s.kind = metrics::value_kind::uint64;
    s.cumulative = cumulative;
    s.uint64 = value;
    out.push_back(std::move(s));
  };
  // Go's metrics, Go's names and descriptions (Go 1.26's runtime/metrics).
  u64("/sched/gomaxprocs:threads",
      "The current runtime.GOMAXPROCS setting, or the number of operating system threads that "
      "can execute user-level Go code simultaneously.",
      false, v.gomaxprocs);
  u64("/sched/goroutines-created:goroutines", "Count of goroutines created since program start.",
      true, st.goroutines_created);
  u64("/sched/goroutines/not-in-go:goroutines",
      "Approximate count of goroutines running or blocked in a system call (goro::blocking). Not "
      "guaranteed to add up to /sched/goroutines:goroutines with other goroutine metrics.",
      false, v.cen.syscall);
  u64("/sched/goroutines/runnable:goroutines",
      "Approximate count of goroutines ready to execute, but not executing. Not guaranteed to add "
      "up to /sched/goroutines:goroutines with other goroutine metrics.",
      false, v.cen.runnable);
  u64("/sched/goroutines/running:goroutines",
      "Approximate count of goroutines executing. Always less than or equal to "
      "/sched/gomaxprocs:threads. Not guaranteed to add up to /sched/goroutines:goroutines with "
      "other goroutine metrics.",
      false, v.cen.running);
  u64("/sched/goroutines/waiting:goroutines",
      "Approximate count of goroutines waiting on a resource (I/O or sync primitives). Not "
      "guaranteed to add up to /sched/goroutines:goroutines with other goroutine metrics.",
      false, v.cen.waiting);
  u64("/sched/goroutines:goroutines", "Count of live goroutines.", false,
      st.goroutines < 0 ? 0 : static_cast<std::uint64_t>(st.goroutines));
  {
    metrics::sample s;
    s.name = "/sched/latencies:seconds";
    s.description =
        "Distribution of the time goroutines have spent in the scheduler in a runnable state "
        "before actually running. Bucket counts increase monotonically. Sampled: one in 64 of "
        "each goroutine's entries into runnable is timed.";
    s.kind = metrics::value_kind::float64_histogram;
    s.cumulative = true;
    s.histogram.counts.assign(std::begin(st.latency), std::end(st.latency));
    s.histogram.buckets = latency_boundaries();
    out.push_back(std::move(s));
  }
  u64("/sched/threads/total:threads",
      "The current count of live threads that are owned by the goro runtime (its Ms, sysmon and "
      "the template thread).",
      false, v.threads);
  // goro's own.
  u64("/goro/sched/goroutines-exited:goroutines", "Count of goroutines that have returned.", true,
      st.goroutines_exited);
  u64("/goro/sched/schedules:events",
      "Count of times a goroutine was given a P to run on (Go's execute).", true, st.schedules);
  u64("/goro/sched/steals:goroutines",
      "Count of goroutines an idle P took from another P's local run queue (runqsteal).", true,
      st.steals);
  u64("/goro/sched/readies:events",
      "Count of goroutines made runnable after a park (goready: waiting to runnable).", true,
      st.readies);
  u64("/goro/sched/parks:events", "Count of gopark calls (running to waiting), every reason.", true,
      st.parks);
  for (std::size_t i = 0; i < wait_reasons; i++) {
    const char* slug = wait_reason_slug(static_cast<wait_reason>(i));
    if (!slug) continue;
    metrics::sample s;
    s.name = std::string("/goro/sched/parks/") + slug + ":events";
    s.description = std::string("Count of gopark calls with wait reason \"") +
                    wait_reason_name(static_cast<wait_reason>(i)) + "\".";
    s.kind = metrics::value_kind::uint64;
    s.cumulative = true;
    s.uint64 = st.parks_by_reason[i];
    out.push_back(std::move(s));
  }
  u64("/goro/sched/preemptions/cooperative:events",
      "Count of preemption requests a goroutine served at a preemption point (a yield forced "
      "by sysmon or a stop-the-world).",
      true, st.preempts_cooperative);
  u64("/goro/sched/preemptions/async:events",
      "Count of goroutines preempted asynchronously (SIGURG) at an arbitrary instruction.", true,
      st.preempts_async);
  u64("/goro/sched/syscalls:calls",
      "Count of blocking calls entered holding a P (goro::blocking: entersyscall), including "
      "/goro/sched/syscalls/kernel-detaches:calls.",
      true, st.syscalls);
  u64("/goro/sched/syscalls/kernel-detaches:calls",
      "Count of entersyscalls the SIGURG handler made for a goroutine whose thread slept in the "
      "kernel on something goro cannot see (a lock another goroutine holds).",
      true, st.kernel_detaches);
  u64("/goro/sched/handoffs:events",
      "Count of handoffp calls: a P released by a blocking call given to another M or to the "
      "idle list.",
      true, st.handoffs);
  u64("/goro/sched/retakes:events",
      "Count of Ps sysmon took back from a blocking call that held them too long (part of "
      "/goro/sched/handoffs:events).",
      true, st.retakes);
  u64("/goro/netpoll/blocks:calls",
      "Count of times an M with no work blocked in netpoll, waiting for the network or the next "
      "timer.",
      true, st.netpoll_blocks);
  return out;
}

}  // namespace goro
