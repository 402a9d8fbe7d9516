// goro::once: Go's sync.Once, and Go 1.21's sync.OnceFunc / OnceValue.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "goro/mutex.hpp"

namespace goro {

// Performs exactly one action (Go's sync.Once). The first call() runs f;
// calls made while f runs wait for it to return (parking a goroutine, or
// blocking a thread outside the runtime, on a goro::mutex as Go does), and
// calls after it return at once, with one acquire load. Different calls may
// pass different functions: only the first runs.
//
// An exception from f propagates out of the call() that ran it, and the
// once is done all the same (Go: "if f panics, Do considers it to have
// returned"): later calls return without calling anything.
//
// Calling call() on the same once from inside f, directly or through
// another goroutine f waits for, deadlocks, as in Go (f holds the once's
// mutex; goro's deadlock detection reports it when every goroutine is
// blocked). Not copyable or movable. A once may be created before goro::run
// and used after it, from goroutines and threads alike.
//
// Memory ordering: the return (or exit by exception) of the f that ran
// happens before every call() returns, so what f wrote is visible to
// every caller once its call() has returned.
class once {
 public:
  once() = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  template <class F>
  void call(F&& f) {
    // acquire: pairs with the release store that marks the once done
    // (call_slow), so f's writes are visible when we see done.
    if (done_.load(std::memory_order_acquire) != 0) [[likely]]
      return;
    call_slow(std::forward<F>(f));
  }

 private:
  template <class F>
  [[gnu::noinline]] void call_slow(F&& f) {
    std::lock_guard lk(m_);
    // relaxed: done_ is written only with m_ held, which we hold.
    if (done_.load(std::memory_order_relaxed) != 0) return;
    // Marks the once done as f returns or throws, before m_ is unlocked
    // (members of this frame are destroyed before lk).
    struct mark_done {
      std::atomic<std::uint32_t>& d;
      // release: pairs with call()'s acquire load; the unlock of m_ orders
      // f for the callers that wait on m_ instead.
      ~mark_done() { d.store(1, std::memory_order_release); }
    } mark{done_};
    std::invoke(std::forward<F>(f));
  }

  std::atomic<std::uint32_t> done_{0};
  mutex m_;
};

// Go's sync.OnceFunc: returns a function that calls f the first time it is
// called (from any number of goroutines or threads at once; the others wait
// for it) and does nothing on later calls. If f throws, the first call
// rethrows the exception and so does every later call, with the same
// exception object (std::exception_ptr), as Go re-panics with the same
// value. The returned function is copyable; copies share the one state. f
// is destroyed right after it has run, releasing what it captured (Go drops
// f so the collector can reclaim it). Throws std::bad_alloc.
//
// Memory ordering: f's return happens before every call of the returned
// function returns (goro::once).
template <class F>
auto once_func(F&& f) {
  using fn_type = std::decay_t<F>;
  static_assert(std::is_invocable_v<fn_type&>,
                "goro::once_func: f must be callable with no arguments");
  struct state {
    goro::once o;
    std::optional<fn_type> fn;
    std::exception_ptr exc;  // written in o's f, read after o.call returns
  };
  auto s = std::make_shared<state>();
  s->fn.emplace(std::forward<F>(f));
  return [s = std::move(s)]() {
    s->o.call([&] {
      try {
        std::invoke(*s->fn);
      } catch (...) {
        s->exc = std::current_exception();
      }
      s->fn.reset();
    });
    if (s->exc) std::rethrow_exception(s->exc);
  };
}

// Go's sync.OnceValue: as once_func, for an f that returns a value. Every
// call returns a copy of the value the one call of f returned (Go returns
// the value itself), or rethrows f's exception. For Go's OnceValues (two
// results), let f return a std::pair or std::tuple. The value type is f's
// result without references or cv-qualifiers, and must be copyable.
//
// Memory ordering: as once_func; the value is written before f's return.
template <class F>
auto once_value(F&& f) {
  using fn_type = std::decay_t<F>;
  static_assert(std::is_invocable_v<fn_type&>,
                "goro::once_value: f must be callable with no arguments");
  using value_type = std::remove_cvref_t<std::invoke_result_t<fn_type&>>;
  static_assert(!std::is_void_v<value_type>, "goro::once_value: f returns nothing; use once_func");
  static_assert(
      std::is_copy_constructible_v<value_type>,
      "goro::once_value: f's result must be copy constructible (every call returns a copy)");
  struct state {
    goro::once o;
    std::optional<fn_type> fn;
    std::optional<value_type> value;
    std::exception_ptr exc;
  };
  auto s = std::make_shared<state>();
  s->fn.emplace(std::forward<F>(f));
  return [s = std::move(s)]() -> value_type {
    s->o.call([&] {
      try {
        s->value.emplace(std::invoke(*s->fn));
      } catch (...) {
        s->exc = std::current_exception();
      }
      s->fn.reset();
    });
    if (s->exc) std::rethrow_exception(s->exc);
    return *s->value;
  };
}

}  // namespace goro
