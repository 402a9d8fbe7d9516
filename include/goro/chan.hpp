// goro::chan: Go's channels (runtime/chan.go).
//
//   goro::chan<int> c;          // unbuffered
//   goro::go([c]() mutable { c.send(42); });
//   std::optional<int> v = c.recv();
//
// The template is a thin typed handle; the channel itself (lock, ring buffer,
// wait queues) is one type-erased implementation in src/sync/chan.cpp that
// moves elements through the function pointers of detail::elem_ops.
// spec/channels.md describes the protocol and its invariants.
#pragma once
#include <atomic>
#include <cstddef>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "goro/detail/export.hpp"

namespace goro {

// Thrown by a send on (or a second close of) a closed channel, where Go
// panics.
struct GORO_API closed_channel : std::logic_error {
  closed_channel() : std::logic_error("goro: send on closed channel") {}
  explicit closed_channel(const char* what) : std::logic_error(what) {}
};

namespace detail {

// How the channel core moves elements of one type T without knowing it.
// Every function is noexcept: chan<T> requires nothrow move and destruction,
// so a transfer never fails halfway while wait queues are locked.
struct elem_ops {
  std::size_t size;
  std::size_t align;
  // ::new (dst) T(std::move(*src)): into a buffer slot.
  void (*construct)(void* dst, void* src) noexcept;
  // static_cast<std::optional<T>*>(slot)->emplace(std::move(*src)): into a
  // receiver's result, so a hand-off moves the value exactly once.
  void (*deliver)(void* slot, void* src) noexcept;
  // src->~T(): a buffer slot that has been moved out of, or a channel freed
  // with elements still buffered.
  void (*destroy)(void* p) noexcept;
};

template <class T>
inline constexpr elem_ops elem_ops_for = {
    sizeof(T),
    alignof(T),
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* slot, void* src) noexcept {
      static_cast<std::optional<T>*>(slot)->emplace(std::move(*static_cast<T*>(src)));
    },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); },
};

// The part of a channel the handle touches inline; the rest (hchan) is in
// src/sync/chan.hpp.
struct chan_header {
  // Handles referring to this channel. relaxed increment (a new handle is
  // made from an existing one, which already keeps the channel alive);
  // acq_rel decrement (the last owner must see every other owner's writes
  // before freeing).
  std::atomic<std::size_t> refs{1};
  const std::size_t cap;
  // Buffered elements. Written under the channel's lock, read without it by
  // size() (relaxed: a snapshot, as Go's len(ch)).
  std::atomic<std::size_t> qcount{0};
  explicit chan_header(std::size_t c) : cap(c) {}
};

GORO_API chan_header* chan_make(const elem_ops* ops, std::size_t cap);
GORO_API void chan_free(chan_header* c) noexcept;
GORO_API void chan_send(chan_header* c, void* elem);
GORO_API bool chan_recv(chan_header* c, void* slot);
GORO_API bool chan_try_send(chan_header* c, void* elem);
GORO_API bool chan_try_recv(chan_header* c, void* slot);
GORO_API void chan_close(chan_header* c);

// How select reaches a handle's channel.
struct chan_access;

}  // namespace detail

// A channel of T: a handle, copies refer to the same channel (as Go's chan
// values). Semantics are Go's: an unbuffered send waits for a receiver and
// hands the value over directly; a buffered channel queues up to capacity
// values; waiters are served first come, first served; close wakes every
// waiter (receivers get std::nullopt once the buffer is drained, senders
// throw closed_channel).
//
// Works from goroutines (parks the goroutine) and from threads outside the
// runtime (blocks the thread on a futex), so a thread pool can feed
// goroutines and the other way round.
//
// T must be nothrow move constructible and nothrow destructible (a value is
// moved while wait queues are locked). A moved-from chan is a nil channel, as
// in Go: send and recv on it block forever, select never picks its cases,
// try_send / try_recv fail, close throws std::logic_error.
//
// Memory ordering (Go's memory model, in happens-before terms): a send
// happens before the receive that gets its value completes; closing a
// channel happens before any receive that returns std::nullopt because the
// channel is closed; on a channel of capacity C, the k-th receive happens
// before the (k+C)-th send completes (so an unbuffered channel also orders
// the receive before the send's return, and a buffered one can serve as a
// counting semaphore). Everything a goroutine wrote before the earlier
// operation is visible to the one that does the later. try_send and
// try_recv give the same guarantees when they succeed.
template <class T>
class chan {
  static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T> &&
                    !std::is_array_v<T>,
                "goro::chan<T>: T must be a non-const, non-array object type");
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "goro::chan<T>: T must be nothrow move constructible and nothrow destructible");

 public:
  using value_type = T;

  // capacity 0: unbuffered. Throws std::bad_alloc / std::length_error.
  explicit chan(std::size_t capacity = 0)
      : h_(detail::chan_make(&detail::elem_ops_for<T>, capacity)) {}
  chan(const chan& o) noexcept : h_(o.h_) {
    // relaxed: see chan_header::refs.
    if (h_) h_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  chan(chan&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  chan& operator=(chan o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~chan() {
    // acq_rel: see chan_header::refs.
    if (h_ && h_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::chan_free(h_);
  }

  // Sends v: parks until a receiver has taken it or there is room in the
  // buffer. Throws closed_channel if the channel is closed (also when it is
  // closed while we wait; then v was not delivered).
  void send(T v) { detail::chan_send(h_, &v); }

  // Receives a value, parking until there is one. std::nullopt once the
  // channel is closed and its buffer drained.
  std::optional<T> recv() {
    std::optional<T> r;
    detail::chan_recv(h_, &r);
    return r;
  }

  // Sends without parking (Go's select with a default). Returns true if v
  // was delivered to a waiting receiver or buffered. Moves from v only on
  // success: a failed try_send leaves v (an lvalue or an rvalue argument)
  // untouched, so a move-only value such as std::unique_ptr stays with the
  // caller. A const lvalue is copied first. Throws closed_channel if the
  // channel is closed, as Go's non-blocking send panics.
  [[nodiscard]] bool try_send(T& v) { return detail::chan_try_send(h_, &v); }
  [[nodiscard]] bool try_send(T&& v) { return detail::chan_try_send(h_, &v); }
  [[nodiscard]] bool try_send(const T& v) requires std::is_copy_constructible_v<T> {
    T copy(v);
    return detail::chan_try_send(h_, &copy);
  }

  // Receives without parking: a value if one is ready, else std::nullopt
  // (nothing ready, or closed and drained; recv or select tell these apart).
  [[nodiscard]] std::optional<T> try_recv() {
    std::optional<T> r;
    detail::chan_try_recv(h_, &r);
    return r;
  }

  // Closes the channel. Throws closed_channel if it is already closed.
  void close() { detail::chan_close(h_); }

  // Buffered elements now (Go's len), and the capacity (Go's cap).
  std::size_t size() const noexcept {
    // relaxed: see chan_header::qcount.
    return h_ ? h_->qcount.load(std::memory_order_relaxed) : 0;
  }
  std::size_t capacity() const noexcept { return h_ ? h_->cap : 0; }

  // Two handles are equal when they refer to the same channel.
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.h_ == b.h_; }

 private:
  friend struct detail::chan_access;
  detail::chan_header* h_;
};

}  // namespace goro
