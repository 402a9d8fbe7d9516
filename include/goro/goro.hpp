// goro: Go's G/M/P goroutine scheduler in C++20.
//
//   goro::run([] {
//     goro::wait_group wg;
//     for (int i = 0; i < 10; ++i) { wg.add(1); goro::go([&] { work(); wg.done(); }); }
//     wg.wait();
//   });
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "goro/blocking.hpp"
#include "goro/chan.hpp"
#include "goro/cond.hpp"
#include "goro/context.hpp"
#include "goro/deadlock.hpp"
#include "goro/debug.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/task.hpp"
#include "goro/errgroup.hpp"
#include "goro/metrics.hpp"
#include "goro/mutex.hpp"
#include "goro/net.hpp"
#include "goro/once.hpp"
#include "goro/options.hpp"
#include "goro/rw_mutex.hpp"
#include "goro/select.hpp"
#include "goro/semaphore.hpp"
#include "goro/task.hpp"
#include "goro/time.hpp"
#include "goro/timer.hpp"
#include "goro/trace.hpp"
#include "goro/wait_group.hpp"

namespace goro {

// Runs `main` as the main goroutine (id 1) on a new runtime and returns its
// result once it returns, like Go's main: goroutines still alive then are
// abandoned (they are never resumed, their frames are not unwound, and no
// wait queue keeps their waiters; see spec/scheduler.md, "Process model").
// The calling thread runs no goroutine: it waits for main to return, and run
// returns without waiting for blocking calls in flight. Throws std::invalid_argument for a
// bad option, std::logic_error if a runtime is already running, and rethrows
// an exception that escaped `main` after the runtime has stopped.
template <class F>
std::invoke_result_t<F> run(F&& main, options opts = {}) {
  using R = std::invoke_result_t<F>;
  if constexpr (std::is_void_v<R>) {
    auto call = [&] { std::invoke(std::forward<F>(main)); };
    detail::run_main({&call, [](void* c) { (*static_cast<decltype(call)*>(c))(); }}, opts);
  } else if constexpr (std::is_reference_v<R>) {
    std::remove_reference_t<R>* result = nullptr;
    auto call = [&] { result = &std::invoke(std::forward<F>(main)); };
    detail::run_main({&call, [](void* c) { (*static_cast<decltype(call)*>(c))(); }}, opts);
    return static_cast<R>(*result);
  } else {
    std::optional<R> result;
    auto call = [&] { result.emplace(std::invoke(std::forward<F>(main))); };
    detail::run_main({&call, [](void* c) { (*static_cast<decltype(call)*>(c))(); }}, opts);
    return std::move(*result);
  }
}

namespace detail {
// The body of both go()s: the closure into the new G's storage, then the
// G made runnable. `name` (null: unnamed) is set before the G is published.
// Always inlined into go(), which is always inlined into its caller.
template <class F, class... A>
[[gnu::always_inline]] inline void spawn(const std::string_view* name, F&& f, A&&... args) {
  // The closure's move throws when moving f or an argument does; the move
  // into the G's storage below catches that and aborts the spawn.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  auto fn = [f = std::forward<F>(f), ... args = std::forward<A>(args)]() mutable {
    std::invoke(std::move(f), std::move(args)...);
  };
  using T = task_impl<decltype(fn)>;
  newg_handle h = newg_begin(sizeof(T), alignof(T));
  T* t;
  try {
    if (name) newg_set_label(h, *name);
    t = new (h.storage) T(std::move(fn));
  } catch (...) {
    newg_abort(h);
    throw;
  }
  newg_commit(h, t);
}
}  // namespace detail

// Starts f(args...) in a new goroutine (Go's `go` statement). f and args are
// decay-copied now, on the calling thread, like std::thread. From a goroutine
// the new G goes to the current P's runnext; from a thread outside the runtime
// (while one runs) it is injected into the global run queue. Throws
// std::logic_error when no runtime is running, and std::system_error
// (ENOMEM) when guarded stacks would exceed vm.max_map_count (the message
// names the limit and options::stack_guard). An exception escaping f ends the
// process with a message naming the goroutine, as an unrecovered Go panic.
//
// Memory ordering: the go() call happens before the new goroutine starts,
// so it sees everything the caller wrote before go(), including the copies
// of f and args.
//
// Always inlined (a debug build too), so that newg_begin's return address
// lies in the function with the go statement: dumps name it in "created by".
template <class F, class... A>
[[gnu::always_inline]] inline void go(F&& f, A&&... args) {
  detail::spawn(nullptr, std::forward<F>(f), std::forward<A>(args)...);
}

// go(named("reader"), f, args...): as go(f, args...), and the new goroutine
// carries the name (goro/debug.hpp: dumps, profiles, traces, label()).
template <class F, class... A>
[[gnu::always_inline]] inline void go(named name, F&& f, A&&... args) {
  detail::spawn(&name.name, std::forward<F>(f), std::forward<A>(args)...);
}

// runtime.Gosched: lets other goroutines run; the caller stays runnable and
// runs again later. Outside a goroutine it yields the thread.
GORO_API void yield();

// runtime.LockOSThread: wires the calling goroutine to the OS thread (M) it
// runs on now. Until it has called unlock_os_thread as many times as
// lock_os_thread, it runs only on that thread and that thread runs no other
// goroutine: when it parks, yields, is preempted or sleeps, the thread hands
// its P to another M and sleeps until the goroutine is runnable again, and
// whoever then finds it hands it a P (Go's stoplockedm/startlockedm). Calls
// nest (Go 1.10+). A goroutine that exits while locked takes its thread
// with it: the thread exits instead of running other goroutines, since it
// may hold state they must not inherit (a thread-local, a name, a signal
// mask, a namespace). The locked thread is additional to the Ps' threads:
// the number of threads may exceed procs (it counts in options::max_threads).
// Inside blocking() it locks the thread the call runs on, as in Go. Outside
// a goroutine it does nothing: a foreign thread already is its own thread.
// Throws std::logic_error after 2^32-1 nested calls (Go's "nesting
// overflow").
//
// Memory ordering: none beyond program order; the goroutine's code before
// and after the call runs on the same thread as ever.
GORO_API void lock_os_thread();

// runtime.UnlockOSThread: undoes one lock_os_thread call; when the count
// reaches zero the goroutine may run on any thread again (and its thread
// runs other goroutines). With no lock_os_thread outstanding it does
// nothing, as in Go; so does a call outside a goroutine. Before the last
// unlock, the goroutine must have undone any change to the thread that
// other goroutines must not see (or stay locked and exit).
//
// Memory ordering: none beyond program order.
GORO_API void unlock_os_thread();

// runtime.GOMAXPROCS: n > 0 sets the number of Ps (1..1024), moving the
// goroutines of removed Ps to the global queue; returns the previous value.
// n == 0 only returns the current value. Setting it requires a goroutine.
GORO_API unsigned gomaxprocs(unsigned n = 0);

// Live goroutines in the running runtime, main included (0 if none runs).
GORO_API std::size_t num_goroutine();

// The current goroutine's id (main is 1); 0 outside a goroutine.
GORO_API std::uint64_t goid();

// True when called from goroutine code (not from a foreign thread).
GORO_API bool in_goroutine();

}  // namespace goro
