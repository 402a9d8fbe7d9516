// Go's schedtrace and scheddetail (GORO_DEBUG=schedtrace=MS,scheddetail=1):
// the scheduler's state as one SCHED line, and with scheddetail one line per
// P, M and G, in Go 1.26's exact format (runtime/proc.go, schedtrace), so
// tools and eyes trained on Go's output read goro's. sysmon calls it every
// MS milliseconds (sysmon.cpp); spec/metrics.md, "schedtrace", lists the
// fields and the ones goro prints a neutral value for.
//
// Reading the state as Go does: sched.lock for the lists (allm, the idle M
// list, the global queue's length, mcount), allg_mu for the goroutines (lock
// order: sched.lock before allg_mu), and racy reads of what the Ps, Ms and
// Gs change without those locks, each through an atomic with a relaxed load
// (or acquire, for a pointer whose target we then read: p::m_), so a line
// may mix two instants but never reads a torn or freed value (every M, P and
// g struct lives until the runtime is torn down, after sysmon has stopped).
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sched/internal.hpp"
#include "sysmon/sysmon.hpp"

namespace goro::detail {

namespace {

void appendf(std::string& s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& s, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) s.append(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

// Go's numbering of G states (runtime2.go: _Gidle 0 .. _Gdead 6; 5 is
// Go's unused _Gmoribund_unused).
int go_gstatus(gstatus s) {
  switch (s) {
    case gstatus::idle: return 0;
    case gstatus::runnable: return 1;
    case gstatus::running: return 2;
    case gstatus::syscall: return 3;
    case gstatus::waiting: return 4;
    case gstatus::dead: return 6;
  }
  return 0;
}

// Go's _Pidle 0, _Prunning 1, _Psyscall 2, _Pgcstop 3: goro's order. A P
// below gomaxprocs is stopped only by a stop-the-world, as Go's _Pgcstop.
int go_pstatus(pstatus s) { return static_cast<int>(s); }

const char* go_bool(bool b) { return b ? "true" : "false"; }

void write_stderr(const std::string& s) {
  // One write for the whole report where the pipe allows, so it does not
  // interleave with the program's own stderr lines.
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string schedtrace_text(runtime& rt, bool detailed, std::int64_t ms) {
  std::string out;
  std::uint32_t nprocs = rt.gomaxprocs.load(std::memory_order_acquire);
  sched_guard l(rt.sched);
  schedt& s = rt.sched;
  appendf(out,
          "SCHED %lldms: gomaxprocs=%u idleprocs=%d threads=%d spinningthreads=%d "
          "needspinning=%d idlethreads=%d runqueue=%d",
          (long long)ms, nprocs, s.npidle.load(std::memory_order_relaxed),
          // Go's mcount(): every M, sysmon's included (runtime_threads).
          l->mcount + 1 + l->ntemplate, s.nmspinning.load(std::memory_order_relaxed),
          s.needspinning.load(std::memory_order_relaxed) ? 1 : 0, l->nmidle,
          s.runqsize.load(std::memory_order_relaxed));
  if (detailed)
    appendf(out, " gcwaiting=%s nmidlelocked=%d stopwait=%d sysmonwait=false\n",
            go_bool(s.gcwaiting.load(std::memory_order_relaxed)), l->nmidlelocked, l->stopwait);
  std::vector<std::pair<const m*, std::int32_t>> m_of_p;  // Ps' holders, for the M lines
  for (std::uint32_t i = 0; i < nprocs; i++) {
    p* pp = rt.allp[i].load(std::memory_order_acquire);  // pairs with its release store
    std::uint32_t qlen = pp->runq.size();
    if (detailed) {
      appendf(out, "  P%u: status=%d schedtick=%u syscalltick=%u m=", i,
              go_pstatus(pp->status.load(std::memory_order_relaxed)),
              pp->schedtick.load(std::memory_order_relaxed),
              pp->syscalltick.load(std::memory_order_relaxed));
      // acquire, pairing with acquirep's release store: the M's id.
      if (const m* mp = pp->m_.load(std::memory_order_acquire)) {
        appendf(out, "%lld", (long long)mp->id);
        m_of_p.emplace_back(mp, pp->id);
      } else {
        out += "nil";
      }
      // gfreecnt: the holder's plain count, not readable from here; Go's
      // neutral 0 (spec/metrics.md).
      appendf(out, " runqsize=%u gfreecnt=0 timerslen=%u\n", qlen,
              (unsigned)pp->timers.count.load(std::memory_order_relaxed));
    } else {
      out += ' ';
      if (i == 0) out += "[ ";
      appendf(out, "%u", qlen);
      if (i == nprocs - 1) out += " ]";
    }
  }
  if (!detailed) {
    out += " schedticks=[ ";
    for (std::uint32_t i = 0; i < nprocs; i++)
      appendf(
          out, "%u ",
          rt.allp[i].load(std::memory_order_acquire)->schedtick.load(std::memory_order_relaxed));
    out += "]\n";
    return out;
  }
  // allg_mu (after sched.lock, the lock order) from here on, for the M
  // lines too: a G seen through m::curg or m::lockedg (relaxed loads) was
  // pushed on allgs under allg_mu after it was constructed, so taking the
  // lock orders its construction before our reads of it. Both locks are
  // held to the end, as Go holds sched.lock: a G's lockedm is an M that
  // exists, since newm needs sched.lock.
  std::lock_guard gl(rt.allg_mu);
  // Ms asleep on their note (Go's m.blocked): the idle list and stoplockedm.
  std::vector<const m*> blocked;
  for (m* mp = l->midle; mp; mp = mp->schedlink) blocked.push_back(mp);
  std::vector<std::pair<const g*, std::int64_t>> m_of_g;  // Gs on an M, for the G lines
  for (const m* mp : l->allm) {
    appendf(out, "  M%lld: p=", (long long)mp->id);
    const char* pnil = "nil";
    for (auto& [hm, pid] : m_of_p)
      if (hm == mp) {
        appendf(out, "%d", pid);
        pnil = nullptr;
      }
    if (pnil) out += pnil;
    out += " curg=";
    const g* cg = mp->curg.load(std::memory_order_relaxed);
    if (cg) {
      appendf(out, "%llu", (unsigned long long)cg->goid_racy.load(std::memory_order_relaxed));
      m_of_g.emplace_back(cg, mp->id);
    } else {
      out += "nil";
    }
    bool is_blocked = mp->idlelocked;
    for (const m* b : blocked) is_blocked |= b == mp;
    // locks: the runtime-code depth of the M's goroutine (goro keeps Go's
    // m.locks per G: g::preemptoff). mallocing, throwing, preemptoff (a
    // string in Go), dying: goro has none; Go's neutral values. spinning:
    // the M's own plain flag, not readable from here (the total is
    // spinningthreads above): Go's neutral false.
    appendf(out,
            " mallocing=0 throwing=0 preemptoff= locks=%u dying=0 spinning=false blocked=%s "
            "lockedg=",
            cg ? cg->preemptoff.load(std::memory_order_relaxed) : 0u, go_bool(is_blocked));
    if (const g* lg = mp->lockedg.load(std::memory_order_relaxed))
      appendf(out, "%llu\n", (unsigned long long)lg->goid_racy.load(std::memory_order_relaxed));
    else out += "nil\n";
  }
  for (const g* gp : rt.allgs) {
    gstatus st = gp->status.load(std::memory_order_relaxed);
    // Go prints the wait reason it keeps, cleared when the G stops
    // waiting: only a waiting G's reason shows.
    const char* why = st == gstatus::waiting
                          ? wait_reason_name(gp->waitreason.load(std::memory_order_relaxed))
                          : "";
    appendf(out, "  G%llu: status=%d(%s) m=",
            (unsigned long long)gp->goid_racy.load(std::memory_order_relaxed), go_gstatus(st), why);
    const char* mnil = "nil";
    for (auto& [g_on, mid] : m_of_g)
      if (g_on == gp) {
        appendf(out, "%lld", (long long)mid);
        mnil = nullptr;
        break;
      }
    if (mnil) out += mnil;
    out += " lockedm=";
    if (const m* lm = gp->lockedm.load(std::memory_order_relaxed))
      appendf(out, "%lld\n", (long long)lm->id);
    else out += "nil\n";
  }
  return out;
}

void schedtrace(runtime& rt, bool detailed, std::int64_t ms) {
  write_stderr(schedtrace_text(rt, detailed, ms));
}

}  // namespace goro::detail
