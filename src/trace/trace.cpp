// The execution trace writer: Go's trace format (version go 1.23, one
// generation), written from per-thread buffers. spec/observability.md has
// the format choice, the event mapping and the costs; the wire format is
// Go's internal/trace (tracev2/events.go, generation.go, batchcursor.go) and
// what it accepts is its validator (internal/trace/order.go).
//
// File layout. "go 1.23 trace\0\0\0" then batches:
//   EvEventBatch gen m time size [data]    all uvarints after the type byte
// A batch of events belongs to one thread (m) and holds events
//   type dt args...
// where dt is the timestamp's distance from the previous event of the batch
// (from `time`, the batch's base, for the first). The string table, the
// stack table and the frequency are batches too, written at trace_stop.
// Everything is in generation 1: the reader keeps a generation in memory,
// which bounds a trace by memory rather than time (spec: "Gaps").
//
// Statuses. A trace may start while goroutines run, wait and sit in queues,
// so a G or P is described the first time the trace mentions it (Go's
// eventWriter does the same for each generation): GoStatus / ProcStatus
// with the state it is in, then the event. g_state / p_state::session
// records that it has been described in this trace.
//
// Buffers and the stop protocol. Each thread that is an M writes into its
// own buffer, taken from a registry the first time and given back when the
// thread exits; only that thread writes it. A buffer's `seq` is odd while
// its thread is writing an event. A writer increments seq (seq_cst RMW),
// then loads `on` (seq_cst); trace_stop stores on = false (seq_cst), then
// waits for every buffer's seq to be even and only then reads the buffers.
// A Dekker pair: either the writer sees `on` false and writes nothing, or
// trace_stop sees its odd seq and waits for it (release increment, acquire
// load), so trace_stop never reads a buffer while its thread writes it.
// Threads without an M (sysmon, foreign threads) write into one shared
// buffer under a mutex: their events are rare (a retake, a go() or a ready
// from outside), and one pseudo-thread for all of them is what Go's format
// needs (spec: "Goroutines from threads without a P").
#include "trace/trace.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <sched.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "goro/trace.hpp"
#include "sched/runtime.hpp"

namespace goro::detail::trace {

constinit detail::atomic<bool> on{false};

namespace {

// Go's event types (internal/trace/tracev2/events.go).
enum ev : std::uint8_t {
  EvEventBatch = 1,
  EvStacks = 2,
  EvStack = 3,
  EvStrings = 4,
  EvString = 5,
  EvFrequency = 8,
  EvProcsChange = 9,
  EvProcStart = 10,
  EvProcStop = 11,
  EvProcSteal = 12,
  EvProcStatus = 13,
  EvGoCreate = 14,
  EvGoCreateSyscall = 15,
  EvGoStart = 16,
  EvGoDestroy = 17,
  EvGoStop = 19,
  EvGoBlock = 20,
  EvGoUnblock = 21,
  EvGoSyscallBegin = 22,
  EvGoSyscallEnd = 23,
  EvGoSyscallEndBlocked = 24,
  EvGoStatus = 25,
  EvGoLabel = 39,
};
// tracev2.GoStatus and tracev2.ProcStatus.
enum go_status : std::uint8_t { GoRunnable = 1, GoRunning = 2, GoSyscall = 3, GoWaiting = 4 };
enum proc_status : std::uint8_t {
  ProcRunning = 1,
  ProcIdle = 2,
  ProcSyscall = 3,
  ProcSyscallAbandoned = 4
};

constexpr char header[16] = {'g', 'o', ' ', '1', '.', '2', '3', ' ',
                             't', 'r', 'a', 'c', 'e', 0,   0,   0};
constexpr std::uint64_t generation = 1;
constexpr std::uint64_t no_thread = ~std::uint64_t{0};
// The pseudo-thread of the events of threads without an M. M ids are small
// (runtime::mnext counts from 0), so this one cannot collide.
constexpr std::uint64_t foreign_tid = std::uint64_t{1} << 32;
// Go's limits (tracev2: MaxBatchSize, MaxEventTrailerDataSize).
constexpr std::size_t max_batch = 64 << 10;
constexpr std::size_t max_string = 1 << 10;
// A batch's data: below max_batch, with room for the largest event.
constexpr std::size_t buf_cap = max_batch - 256;
constexpr std::size_t max_event = 1 + 10 * 6;

std::uint64_t nanotime_raw() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::size_t put_uvarint(unsigned char* p, std::uint64_t v) noexcept {
  std::size_t n = 0;
  while (v >= 0x80) {
    p[n++] = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  p[n++] = static_cast<unsigned char>(v);
  return n;
}

struct tbuf {
  // Odd while the owner thread writes an event (see the stop protocol).
  detail::atomic<std::uint64_t> seq{0};
  // The rest is the owner's, and trace_stop's once seq is even with `on`
  // false. session: the trace whose events data holds.
  std::uint64_t session = 0;
  std::uint64_t tid = 0;
  std::uint64_t base_ts = 0, last_ts = 0;
  std::size_t len = 0;
  tbuf* next_all = nullptr;   // the registry's list; set once, under reg_mu
  tbuf* next_free = nullptr;  // under reg_mu
  unsigned char data[buf_cap];
};

// Lock order: ctl_mu, then reg_mu, then foreign_mu, then file_mu; intern_mu
// is a leaf (taken by writers with seq odd, so trace_stop takes it only
// after every seq is even).
std::mutex ctl_mu;  // trace_start / trace_stop
std::mutex reg_mu;  // the registry, active_session
tbuf* all_bufs = nullptr;
tbuf* free_bufs = nullptr;
std::uint64_t active_session = 0;  // under reg_mu: the trace exiting threads flush into

std::mutex file_mu;
std::FILE* out = nullptr;  // under file_mu
std::string out_path;
bool write_failed = false;
int write_errno = 0;

std::mutex foreign_mu;
tbuf foreign_buf;  // the pseudo-thread's, under foreign_mu

// The current trace's number, stored before `on` becomes true (so a writer
// that sees `on` sees it).
detail::atomic<std::uint64_t> cur_session{0};
std::uint64_t last_session = 0;  // under ctl_mu

// Test-only fault injection (GORO_TRACE_FAULT=skip_unblock, read at start):
// the writer drops the first GoUnblock, an impossible trace that Go's
// parser must reject (tests: trace.fault_detected).
detail::atomic<bool> fault_skip_unblock{false};

// Strings: the wait and stop reasons have fixed ids (1 + their enum value,
// then the stop reasons), so that the hot sites need no lookup; labels and
// the stack table's names are interned under intern_mu.
std::mutex intern_mu;
std::unordered_map<std::string, std::uint64_t> strings;  // under intern_mu
std::uint64_t next_string = 1;
constexpr std::uint64_t n_wait_reasons = static_cast<std::uint64_t>(wait_reason::count_);
std::uint64_t reason_string(wait_reason r) { return 1 + static_cast<std::uint64_t>(r); }
std::uint64_t stop_string(stop_reason r) {
  return 1 + n_wait_reasons + static_cast<std::uint64_t>(r);
}

struct stack_entry {
  std::uint64_t pc;
  const std::type_info* type;
};
// One-frame stacks: a goroutine's start function, by the type of its task.
std::unordered_map<const std::type_info*, std::uint64_t> stack_ids;  // under intern_mu
std::vector<stack_entry> stack_list;                                 // index + 1 = id

std::uint64_t intern_string_locked(std::string s) {
  if (s.size() > max_string) s.resize(max_string);
  auto [it, inserted] = strings.emplace(std::move(s), next_string);
  if (inserted) next_string++;
  return it->second;
}

void reset_tables() {
  std::lock_guard lk(intern_mu);
  strings.clear();
  next_string = 1;
  for (std::uint64_t i = 0; i < n_wait_reasons; i++) {
    const char* name = wait_reason_name(static_cast<wait_reason>(i));
    // Go's name for a block without a reason.
    std::string s = *name ? name : "unspecified";
    // Distinct ids even if two reasons shared a name: fixed by position.
    strings.emplace(s + std::string(1, '\0') + std::to_string(i), next_string);
    next_string++;
  }
  // Go's traceGoStopReason strings.
  strings.emplace("runtime.Gosched", next_string++);
  strings.emplace("preempted", next_string++);
  stack_ids.clear();
  stack_list.clear();
}

// The id of the one-frame stack of t's start function. The frame's PC is
// the task's invoke() (slot 0 of its vtable, Itanium C++ ABI), a real code
// address in the program, so two tasks of one type share a frame.
std::uint64_t stack_for(task* t) {
  if (!t) return 0;
  const std::type_info* ti = &typeid(*t);
  std::lock_guard lk(intern_mu);
  auto it = stack_ids.find(ti);
  if (it != stack_ids.end()) return it->second;
  void** vtable = *reinterpret_cast<void***>(t);
  stack_list.push_back({reinterpret_cast<std::uint64_t>(vtable[0]), ti});
  std::uint64_t id = stack_list.size();
  stack_ids.emplace(ti, id);
  return id;
}

// --- writing batches ---

void file_write_locked(const void* p, std::size_t n) {
  if (!out || write_failed) return;
  if (std::fwrite(p, 1, n, out) != n) {
    write_failed = true;
    write_errno = errno;
  }
}

// Writes one batch: header (gen, thread, base time, size) and data.
void write_batch(std::uint64_t tid, std::uint64_t base_ts, const unsigned char* data,
                 std::size_t len) {
  unsigned char hdr[1 + 4 * 10];
  std::size_t n = 0;
  hdr[n++] = EvEventBatch;
  n += put_uvarint(hdr + n, generation);
  n += put_uvarint(hdr + n, tid);
  n += put_uvarint(hdr + n, base_ts);
  n += put_uvarint(hdr + n, len);
  std::lock_guard lk(file_mu);
  file_write_locked(hdr, n);
  file_write_locked(data, len);
}

void flush(tbuf* b) {
  if (b->len == 0) return;
  write_batch(b->tid, b->base_ts, b->data, b->len);
  b->len = 0;
}

// Appends one event (type, then dt and args as uvarints) to b, flushing
// a full buffer first.
template <class... A>
void emit(tbuf* b, ev type, A... args) {
  if (b->len + max_event > buf_cap) flush(b);
  std::uint64_t now = nanotime_raw();
  if (b->len == 0) b->base_ts = b->last_ts = now;
  if (now < b->last_ts) now = b->last_ts;  // one thread's clock reads never go back; be sure
  unsigned char* p = b->data + b->len;
  std::size_t n = 0;
  p[n++] = type;
  n += put_uvarint(p + n, now - b->last_ts);
  ((n += put_uvarint(p + n, static_cast<std::uint64_t>(args))), ...);
  b->last_ts = now;
  b->len += n;
}

// Makes b hold the current trace's events (a buffer last used in an older
// trace, or never).
void own(tbuf* b, std::uint64_t session, std::uint64_t tid) {
  if (b->session == session) return;
  b->session = session;
  b->tid = tid;
  b->len = 0;
}

// A thread's own buffer, given back to the registry when the thread exits
// (after its events are written out, if its trace still runs).
struct tls_buf {
  tbuf* b = nullptr;
  ~tls_buf() {
    if (!b) return;
    std::lock_guard lk(reg_mu);
    if (b->session != 0 && b->session == active_session) flush(b);
    b->session = 0;
    b->next_free = free_bufs;
    free_bufs = b;
  }
};
thread_local tls_buf tls;

__attribute__((noinline)) tbuf* my_buf() {
  asm volatile("" ::: "memory");  // re-read the thread pointer: see getm()
  if (tbuf* b = tls.b) return b;
  std::lock_guard lk(reg_mu);
  tbuf* b = free_bufs;
  if (b) {
    free_bufs = b->next_free;
  } else {
    b = new tbuf;
    b->next_all = all_bufs;
    all_bufs = b;
  }
  tls.b = b;
  return b;
}

// The writer of one site's events: the M's own buffer under the seq
// protocol, or the pseudo-thread's under foreign_mu. ok() false: no trace
// (any more); write nothing.
class writer {
 public:
  // foreign: the pseudo-thread's buffer even on an M (a goroutine inside
  // blocking() creating one: its M's context holds the G in its call).
  explicit writer(bool foreign = false) {
    mp_ = foreign ? nullptr : getm_unchecked();
    if (mp_) {
      b_ = my_buf();
      b_->seq.fetch_add(1, std::memory_order_seq_cst);  // odd: see the stop protocol
      if (!on.load(std::memory_order_seq_cst)) return;
      own(b_, cur_session.load(std::memory_order_relaxed), static_cast<std::uint64_t>(mp_->id));
    } else {
      foreign_mu.lock();
      b_ = &foreign_buf;
      if (!on.load(std::memory_order_seq_cst)) return;
      own(b_, cur_session.load(std::memory_order_relaxed), foreign_tid);
    }
    ok_ = true;
  }
  ~writer() {
    if (mp_) b_->seq.fetch_add(1, std::memory_order_release);  // even: trace_stop may read
    else foreign_mu.unlock();
  }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  bool ok() const { return ok_; }
  m* mp() const { return mp_; }
  std::uint64_t tid() const { return b_->tid; }
  std::uint64_t session() const { return b_->session; }
  template <class... A>
  void event(ev type, A... args) {
    emit(b_, type, args...);
  }

  // Describes pp (once per trace) as being in state st, before an event
  // that needs its state known (Go's eventWriter).
  void ensure_p(p* pp, proc_status st) {
    if (!pp || pp->trace.session.load(std::memory_order_relaxed) == session()) return;
    pp->trace.session.store(session(), std::memory_order_relaxed);
    pp->trace.seq.store(0, std::memory_order_relaxed);
    event(EvProcStatus, pp->id, st);
  }
  void ensure_g(g* gp, go_status st) {
    if (!gp || gp->trace.session.load(std::memory_order_relaxed) == session()) return;
    gp->trace.session.store(session(), std::memory_order_relaxed);
    gp->trace.seq.store(0, std::memory_order_relaxed);
    event(EvGoStatus, gp->goid, st == GoSyscall ? tid() : no_thread, st);
  }
  // The M's P and G, as running (before an event of a running goroutine).
  void ensure_running() {
    ensure_p(mp_->p_, ProcRunning);
    ensure_g(mp_->curg.load(std::memory_order_relaxed), GoRunning);
  }

 private:
  m* mp_ = nullptr;
  tbuf* b_ = nullptr;
  bool ok_ = false;
};

std::uint64_t next_seq(detail::atomic<std::uint64_t>& s) {
  std::uint64_t v = s.load(std::memory_order_relaxed) + 1;
  s.store(v, std::memory_order_relaxed);
  return v;
}

// --- stop: the tables and the file's end ---

std::string demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : name;
  std::free(d);
  return s;
}

// A goroutine's start function as the trace names it: the closure's type
// (goro::detail::task_impl<F>: F, which for a lambda names the function it
// is in), and the object file that holds its code.
void symbolize(const stack_entry& e, std::string& fn, std::string& file) {
  fn = demangle(e.type->name());
  // task_impl<F>: F. And goro::go<F>(F&&)::{lambda()#1}, the wrapper go()
  // builds around the caller's F: F, the function the goroutine runs.
  for (const char* wrapper : {"goro::detail::task_impl<", "goro::go<"}) {
    std::size_t n = std::strlen(wrapper);
    if (fn.compare(0, n, wrapper) != 0) continue;
    int depth = 1;
    std::size_t k = n;
    for (; k < fn.size() && depth > 0; k++) {
      if (fn[k] == '<') depth++;
      else if (fn[k] == '>') depth--;
    }
    if (depth == 0) {
      fn.erase(k - 1);
      fn.erase(0, n);
    }
  }
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(e.pc), &info) && info.dli_fname) file = info.dli_fname;
  else file = "?";
}

// A structural batch (strings, stacks, frequency): thread 0, time 0.
void write_struct_batch(const std::vector<unsigned char>& data) {
  if (data.size() > 1) write_batch(0, 0, data.data(), data.size());
}

void write_tables_locked() {
  // Frame names go into the string table first.
  struct frame {
    std::uint64_t id, pc, fn, file;
  };
  std::vector<frame> frames;
  for (std::size_t i = 0; i < stack_list.size(); i++) {
    std::string fn, file;
    symbolize(stack_list[i], fn, file);
    frames.push_back(
        {i + 1, stack_list[i].pc, intern_string_locked(fn), intern_string_locked(file)});
  }
  // Strings, in batches under Go's batch size.
  std::vector<std::pair<std::uint64_t, const std::string*>> byid;
  for (auto& [s, id] : strings) byid.push_back({id, &s});
  std::vector<unsigned char> data{EvStrings};
  unsigned char tmp[32];
  for (auto& [id, sp] : byid) {
    // The reasons carry a position suffix after a NUL (reset_tables).
    std::string s = sp->substr(0, sp->find('\0'));
    if (data.size() + s.size() + 32 > buf_cap) {
      write_struct_batch(data);
      data.assign(1, EvStrings);
    }
    data.push_back(EvString);
    data.insert(data.end(), tmp, tmp + put_uvarint(tmp, id));
    data.insert(data.end(), tmp, tmp + put_uvarint(tmp, s.size()));
    data.insert(data.end(), s.begin(), s.end());
  }
  write_struct_batch(data);
  data.assign(1, EvStacks);
  for (const frame& f : frames) {
    if (data.size() + 64 > buf_cap) {
      write_struct_batch(data);
      data.assign(1, EvStacks);
    }
    data.push_back(EvStack);
    for (std::uint64_t v : {f.id, std::uint64_t{1}, f.pc, f.fn, f.file, std::uint64_t{0}})
      data.insert(data.end(), tmp, tmp + put_uvarint(tmp, v));
  }
  write_struct_batch(data);
  // Timestamps are CLOCK_MONOTONIC nanoseconds.
  data.assign(1, EvFrequency);
  data.insert(data.end(), tmp, tmp + put_uvarint(tmp, 1'000'000'000));
  write_batch(0, 0, data.data(), data.size());
}

}  // namespace

// --- the sites' slow paths ---

void go_create_slow(g* newg) {
  writer w;
  if (!w.ok()) return;
  // On g0 (a timer's callback, say) the M has a P and no G: GoCreate needs
  // only the P.
  w.ensure_running();
  newg->trace.session.store(w.session(), std::memory_order_relaxed);
  newg->trace.seq.store(0, std::memory_order_relaxed);
  w.event(EvGoCreate, newg->goid, stack_for(newg->fn), 0);
}

void go_create_foreign_slow(g* newg) {
  // Go's form for a goroutine that appears from a thread outside the
  // scheduler (a cgo callback): created in a syscall on that thread, which
  // then leaves the syscall without a P, so the goroutine is runnable and
  // waits for a P like any other (spec/observability.md).
  writer w(true);
  if (!w.ok()) return;
  newg->trace.session.store(w.session(), std::memory_order_relaxed);
  newg->trace.seq.store(0, std::memory_order_relaxed);
  w.event(EvGoCreateSyscall, newg->goid);
  w.event(EvGoSyscallEndBlocked);
}

void go_start_slow(g* gp) {
  writer w;
  if (!w.ok()) return;
  w.ensure_p(w.mp()->p_, ProcRunning);
  w.ensure_g(gp, GoRunnable);
  w.event(EvGoStart, gp->goid, next_seq(gp->trace.seq));
  // A named goroutine's label, the first time it runs in this trace (it may
  // have been named before the trace began, or by go() before it ran). Read
  // without allg_mu: only the G itself (or go(), before the G was runnable)
  // writes it, and the G is not running yet; the run queue's hand-off
  // orders those writes before this read.
  if (std::string* label = gp->label) [[unlikely]] {
    if (gp->trace.label_session.load(std::memory_order_relaxed) != w.session()) {
      gp->trace.label_session.store(w.session(), std::memory_order_relaxed);
      std::uint64_t id;
      {
        std::lock_guard lk(intern_mu);
        id = intern_string_locked(*label);
      }
      w.event(EvGoLabel, id);
    }
  }
}

void go_stop_slow(stop_reason r) {
  writer w;
  if (!w.ok()) return;
  w.ensure_running();
  w.event(EvGoStop, stop_string(r), 0);
}

void go_block_slow(wait_reason r) {
  writer w;
  if (!w.ok()) return;
  w.ensure_running();
  w.event(EvGoBlock, reason_string(r), 0);
}

void go_unblock_slow(g* gp) {
  writer w;
  if (!w.ok()) return;
  if (fault_skip_unblock.exchange(false, std::memory_order_relaxed)) [[unlikely]]
    return;  // GORO_TRACE_FAULT=skip_unblock: an impossible trace, on purpose
  // Anyone may unblock a goroutine (Go's GoUnblock needs no P or G): no
  // status of ours is needed, only the waiting G's.
  w.ensure_g(gp, GoWaiting);
  w.event(EvGoUnblock, gp->goid, next_seq(gp->trace.seq), 0);
}

void go_destroy_slow() {
  writer w;
  if (!w.ok()) return;
  w.ensure_running();
  w.event(EvGoDestroy);
}

void go_syscall_begin_slow(p* pp) {
  writer w;
  if (!w.ok()) return;
  w.ensure_running();
  w.event(EvGoSyscallBegin, next_seq(pp->trace.seq), 0);
  pp->trace.syscall_m.store(w.tid(), std::memory_order_relaxed);
}

void go_syscall_end_slow(g* gp, bool lost_p) {
  writer w;
  if (!w.ok()) return;
  p* pp = w.mp()->p_;
  std::uint64_t in_call = pp->trace.syscall_m.load(std::memory_order_relaxed);
  if (!lost_p && pp->trace.session.load(std::memory_order_relaxed) == w.session() &&
      in_call != w.tid()) {
    // The fast path's CAS took back our old P, but the P is in another M's
    // blocking call: it was retaken from ours, ran elsewhere and went into
    // that M's call. We take it from that M (Go's exitsyscallfast_reacquired:
    // ProcSteal, ProcStart) and our call counts as having lost its P.
    w.event(EvProcSteal, pp->id, next_seq(pp->trace.seq), in_call);
    pp->trace.syscall_m.store(no_thread, std::memory_order_relaxed);
    w.event(EvProcStart, pp->id, next_seq(pp->trace.seq));
    lost_p = true;
  }
  if (!lost_p) {
    // Our own P, taken back by the fast path's CAS: still bound to this M
    // in the trace, in its syscall state (or, first seen now, in a call
    // that began before the trace).
    w.ensure_p(pp, ProcSyscall);
    w.ensure_g(gp, GoSyscall);
    w.event(EvGoSyscallEnd);
    pp->trace.syscall_m.store(no_thread, std::memory_order_relaxed);
    return;
  }
  // A P from the idle list (acquirep wrote its ProcStart): the call lost
  // its P, and the G starts again on this one (as Go's exitsyscall: the
  // GoSyscallEndBlocked, then GoStart).
  w.ensure_g(gp, GoSyscall);
  w.event(EvGoSyscallEndBlocked);
  w.event(EvGoStart, gp->goid, next_seq(gp->trace.seq));
}

void go_syscall_end_blocked_slow(g* gp) {
  writer w;
  if (!w.ok()) return;
  w.ensure_g(gp, GoSyscall);
  w.event(EvGoSyscallEndBlocked);
}

void proc_start_slow(p* pp) {
  writer w;
  if (!w.ok()) return;
  w.ensure_p(pp, ProcIdle);
  w.event(EvProcStart, pp->id, next_seq(pp->trace.seq));
}

void proc_stop_slow(p* pp) {
  writer w;
  if (!w.ok()) return;
  w.ensure_p(pp, ProcRunning);
  w.event(EvProcStop);
  pp->trace.syscall_m.store(no_thread, std::memory_order_relaxed);
}

void proc_steal_slow(p* pp) {
  writer w;
  if (!w.ok()) return;
  std::uint64_t from = pp->trace.syscall_m.load(std::memory_order_relaxed);
  if (pp->trace.session.load(std::memory_order_relaxed) != w.session() || from == no_thread) {
    // The call began before the trace did: Go's "syscall, abandoned" (the
    // parser then does not look for the M that made the call).
    pp->trace.session.store(w.session(), std::memory_order_relaxed);
    pp->trace.seq.store(0, std::memory_order_relaxed);
    w.event(EvProcStatus, pp->id, ProcSyscallAbandoned);
    from = 0;
  }
  w.event(EvProcSteal, pp->id, next_seq(pp->trace.seq), from);
  pp->trace.syscall_m.store(no_thread, std::memory_order_relaxed);
}

void procs_change_slow(std::uint32_t n) {
  writer w;
  if (!w.ok() || !w.mp()->p_ || !w.mp()->curg.load(std::memory_order_relaxed)) return;
  w.ensure_running();
  w.event(EvProcsChange, n, 0);
}

// --- start and stop ---

namespace {

void start_locked(const std::string& path) {
  if (on.load(std::memory_order_relaxed))
    throw std::logic_error("goro::trace_start(\"" + path +
                           "\"): a trace is already being written to \"" + out_path +
                           "\"; call goro::trace_stop first");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f)
    throw std::system_error(errno, std::generic_category(),
                            "goro::trace_start: cannot open the trace file \"" + path + "\"");
  const char* fault = std::getenv("GORO_TRACE_FAULT");
  fault_skip_unblock.store(fault && std::strcmp(fault, "skip_unblock") == 0,
                           std::memory_order_relaxed);
  reset_tables();
  std::uint64_t s = ++last_session;
  {
    std::lock_guard lk(file_mu);
    out = f;
    out_path = path;
    write_failed = false;
    file_write_locked(header, sizeof header);
  }
  {
    std::lock_guard lk(reg_mu);
    active_session = s;
  }
  cur_session.store(s, std::memory_order_relaxed);
  // seq_cst: the stop protocol's store (and it publishes cur_session and
  // the tables to every writer that sees it).
  on.store(true, std::memory_order_seq_cst);
}

void stop_locked() {
  if (!on.load(std::memory_order_relaxed)) return;
  // seq_cst: the Dekker pair with the writers' seq increment (top of file).
  on.store(false, std::memory_order_seq_cst);
  std::uint64_t s = cur_session.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(reg_mu);
    for (tbuf* b = all_bufs; b; b = b->next_all) {
      // acquire: pairs with the writer's release increment; its event is
      // complete in data. A writer is never long between the two (no lock
      // but intern_mu and file_mu, which we do not hold here).
      while (b->seq.load(std::memory_order_acquire) & 1) sched_yield();
      if (b->session == s) flush(b);
    }
    active_session = 0;
  }
  {
    std::lock_guard lk(foreign_mu);
    if (foreign_buf.session == s) flush(&foreign_buf);
  }
  std::FILE* f;
  bool failed;
  int err;
  {
    std::lock_guard lk(intern_mu);
    write_tables_locked();
  }
  {
    std::lock_guard lk(file_mu);
    f = out;
    out = nullptr;
    failed = write_failed;
    err = write_errno;
  }
  if (std::fclose(f) != 0 && !failed) {
    failed = true;
    err = errno;
  }
  if (failed)
    throw std::system_error(err, std::generic_category(),
                            "goro::trace_stop: writing the trace file \"" + out_path + "\" failed");
}

}  // namespace

void env_start_at_run() {
  const char* path = std::getenv("GORO_TRACE");
  if (!path || !*path) return;
  std::lock_guard lk(ctl_mu);
  // A trace started with trace_start before run keeps going.
  if (on.load(std::memory_order_relaxed)) return;
  try {
    start_locked(path);
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), std::string("GORO_TRACE=") + path + ": " + e.what());
  }
}

void stop_at_run_end() {
  if (!on.load(std::memory_order_relaxed)) return;
  std::lock_guard lk(ctl_mu);
  try {
    stop_locked();
  } catch (const std::exception& e) {
    // run() has finished its work: say so rather than throw from teardown.
    std::fprintf(stderr, "goro: %s\n", e.what());
  }
}

}  // namespace goro::detail::trace

namespace goro::detail {

void trace_go_label(g* gp, std::string_view label) {
  if (!trace::enabled()) return;
  nopreempt np;
  trace::writer w;
  if (!w.ok() || !w.mp() || !w.mp()->p_ || w.mp()->curg.load(std::memory_order_relaxed) != gp)
    return;
  w.ensure_running();
  gp->trace.label_session.store(w.session(), std::memory_order_relaxed);
  std::uint64_t id;
  {
    std::lock_guard lk(trace::intern_mu);
    id = trace::intern_string_locked(std::string(label));
  }
  w.event(trace::EvGoLabel, id);
}

}  // namespace goro::detail

namespace goro {

void trace_start(const std::string& path) {
  std::lock_guard lk(detail::trace::ctl_mu);
  detail::trace::start_locked(path);
}

void trace_stop() {
  std::lock_guard lk(detail::trace::ctl_mu);
  detail::trace::stop_locked();
}

bool trace_running() noexcept { return detail::trace::on.load(std::memory_order_relaxed); }

}  // namespace goro
