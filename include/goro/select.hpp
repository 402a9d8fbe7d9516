// goro::select: Go's select statement (runtime/select.go).
//
//   std::size_t i = goro::select(
//       goro::on_recv(in, [&](std::optional<int> v) { ... }),
//       goro::on_send(out, 42, [&] { ... }),
//       goro::on_default([&] { ... }));
//
// spec/channels.md describes the protocol (lock order, the three passes, the
// select_done claim) and why no value is ever lost or duplicated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "goro/chan.hpp"
#include "goro/detail/export.hpp"

namespace goro {

namespace detail {

// One channel case in the type-erased form selectgo takes.
struct scase {
  chan_header* c;  // nullptr: a nil channel, never ready
  void* elem;      // send: the T to move from; receive: the std::optional<T> to fill
  bool send;
};

// Runs select over cases[0..n): returns the index of the case that ran, or
// -1 if none was ready and block is false (the default case). Throws
// closed_channel if the chosen case is a send on a closed channel.
GORO_API std::ptrdiff_t selectgo(scase* cases, std::size_t n, bool block);

struct chan_access {
  template <class T>
  static chan_header* get(const chan<T>& ch) noexcept {
    return ch.h_;
  }
};

struct noop {
  void operator()() const noexcept {}
};

template <class T, class F>
struct recv_case {
  chan_header* c;
  F f;
  std::optional<T> slot;

  scase erase() { return {c, &slot, false}; }
  void run() {
    if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) std::invoke(f, std::move(slot));
    else std::invoke(f);
  }
};

template <class T, class F>
struct send_case {
  chan_header* c;
  T value;
  F f;

  scase erase() { return {c, &value, true}; }
  void run() { std::invoke(f); }
};

template <class F>
struct default_case {
  F f;
  void run() { std::invoke(f); }
};

template <class C>
struct is_default_case : std::false_type {};
template <class F>
struct is_default_case<default_case<F>> : std::true_type {};

}  // namespace detail

// A receive case: when it runs, f gets the value (std::nullopt: the channel
// is closed and drained). f may also take no argument.
template <class T, class F = detail::noop>
detail::recv_case<T, std::decay_t<F>> on_recv(const chan<T>& ch, F&& f = {}) {
  static_assert(std::is_invocable_v<std::decay_t<F>&, std::optional<T>&&> ||
                    std::is_invocable_v<std::decay_t<F>&>,
                "goro::on_recv: f must be callable with std::optional<T> or with nothing");
  return {detail::chan_access::get(ch), std::forward<F>(f), std::nullopt};
}

// A send case: when it runs, value has been delivered and f() is called.
// If another case runs, value is not sent (and is destroyed with the case).
template <class T, class V, class F = detail::noop>
detail::send_case<T, std::decay_t<F>> on_send(const chan<T>& ch, V&& value, F&& f = {}) {
  static_assert(std::is_constructible_v<T, V&&>, "goro::on_send: value must convert to T");
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::on_send: f must take no argument");
  return {detail::chan_access::get(ch), T(std::forward<V>(value)), std::forward<F>(f)};
}

// The default case: runs when no other case is ready; makes select never park.
template <class F = detail::noop>
detail::default_case<std::decay_t<F>> on_default(F&& f = {}) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::on_default: f must take no argument");
  return {std::forward<F>(f)};
}

// Go's select: if some cases are ready, runs one of them chosen uniformly at
// random; otherwise runs the default case if there is one, else parks (the
// goroutine, or blocks the thread) on every channel at once until one case
// can run. Returns the argument index of the case that ran. Cases on nil
// (moved-from) channels never run; a select of only those and no default
// blocks forever, as in Go. Throws closed_channel if the case chosen is a
// send on a closed channel. The callbacks run after every channel lock has
// been released; an exception from one propagates.
//
// Memory ordering: a case that runs gives exactly the guarantee of the
// operation it stands for (chan.hpp): a send case's send happens before the
// receive that gets the value completes, a receive case completes after the
// send it took the value from, or after the close that made it return
// std::nullopt, and the capacity rule holds for both. Cases that did not
// run order nothing.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n = sizeof...(Cases);
  static_assert(n > 0, "goro::select: needs at least one case");
  constexpr std::size_t ndefault = (std::size_t{0} + ... +
                                    detail::is_default_case<std::decay_t<Cases>>::value);
  static_assert(ndefault <= 1, "goro::select: at most one on_default");
  constexpr std::size_t nchan = n - ndefault;

  detail::scase sc[nchan ? nchan : 1]{};
  std::size_t argi[nchan ? nchan : 1]{};
  std::size_t default_index = n;
  {
    std::size_t i = 0, k = 0;
    (
        [&](auto& c) {
          if constexpr (detail::is_default_case<std::decay_t<decltype(c)>>::value) {
            default_index = i;
          } else {
            sc[k] = c.erase();
            argi[k] = i;
            k++;
          }
          i++;
        }(cases),
        ...);
  }
  std::ptrdiff_t r = detail::selectgo(sc, nchan, ndefault == 0);
  std::size_t chosen = r < 0 ? default_index : argi[r];
  {
    std::size_t i = 0;
    (
        [&](auto& c) {
          if (i++ == chosen) c.run();
        }(cases),
        ...);
  }
  return chosen;
}

}  // namespace goro
