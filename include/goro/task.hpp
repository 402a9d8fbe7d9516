// goro::task / goro::spawn: a goroutine with a join handle (no Go
// counterpart: Go joins through a channel or a WaitGroup; this is that
// pattern packaged, as std::thread's join and std::future's value).
#pragma once
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "goro/wait_group.hpp"

namespace goro {

// goro.hpp defines go after including this header; spawn names it here.
template <class F, class... A>
void go(F&& f, A&&... args);  // NOLINT(readability-redundant-declaration)

template <class T>
class task;
template <class F>
auto spawn(F&& f) -> task<std::invoke_result_t<F>>;

namespace detail {
template <class T>
struct task_state {
  wait_group wg;  // one count, done when the goroutine has finished
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  std::exception_ptr ex;
};
}  // namespace detail

// The handle of a goroutine started by spawn(f): join() parks the caller
// (or blocks a foreign thread) until f has returned, then returns f's value
// (moved out; move-only types work) or rethrows the exception that escaped
// f. Movable, not copyable. join() consumes the handle: a second join()
// (or a join on a moved-from or default-constructed task) throws
// std::logic_error. joinable() is true until then.
//
// An unjoined task that is destroyed is detached: the goroutine runs on,
// and its result, or its exception, is discarded with the last reference
// to the shared state (unlike goro::go, an exception escaping a spawned f
// never ends the process: it is caught into the state, joined or not).
//
// Memory ordering: everything f did happens before join() returns, and
// spawn() happens before f starts (as goro::go).
template <class T>
class task {
  static_assert(!std::is_reference_v<T>,
                "goro::task<T>: f returns a reference; return a pointer or std::reference_wrapper");

 public:
  task() noexcept = default;
  task(task&&) noexcept = default;
  task& operator=(task&&) noexcept = default;

  bool joinable() const noexcept { return static_cast<bool>(st_); }

  T join() {
    if (!st_)
      throw std::logic_error(
          "goro::task::join: not joinable (already joined, moved from or default-constructed)");
    std::shared_ptr<detail::task_state<T>> st = std::move(st_);
    st->wg.wait();
    if (st->ex) std::rethrow_exception(st->ex);
    if constexpr (!std::is_void_v<T>) return std::move(*st->value);
  }

 private:
  template <class F>
  friend auto spawn(F&& f) -> task<std::invoke_result_t<F>>;
  explicit task(std::shared_ptr<detail::task_state<T>> s) noexcept : st_(std::move(s)) {}
  std::shared_ptr<detail::task_state<T>> st_;
};

// Starts f() in a new goroutine (as goro::go: f is decay-copied, throws
// std::logic_error with no runtime running) and returns its handle.
template <class F>
auto spawn(F&& f) -> task<std::invoke_result_t<F>> {
  using T = std::invoke_result_t<F>;
  auto st = std::make_shared<detail::task_state<T>>();
  st->wg.add(1);
  go([st, f = std::forward<F>(f)]() mutable noexcept {
    try {
      if constexpr (std::is_void_v<T>) std::move(f)();
      else st->value.emplace(std::move(f)());
    } catch (...) {
      st->ex = std::current_exception();
    }
    st->wg.done();
  });
  return task<T>(std::move(st));
}

}  // namespace goro

#include "goro/goro.hpp"  // goro::go, declared above, defined there
