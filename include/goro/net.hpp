// goro::net: TCP sockets whose blocking calls park the goroutine, not the
// thread (Go's net.TCPListener / net.TCPConn over the runtime's netpoller).
//
//   auto ln = goro::net::tcp_listener::listen("127.0.0.1", 0);
//   goro::go([ln]() mutable {
//     for (;;) {
//       goro::net::tcp_conn c = ln.accept();
//       goro::go([c]() mutable {
//         char buf[4096];
//         while (std::size_t n = c.read(buf, sizeof buf)) c.write(buf, n);
//       });
//     }
//   });
//
// Errors are std::system_error carrying the errno, with the operation and
// the address in the message ("goro::net: read 127.0.0.1:4000: Connection
// reset by peer"). A deadline that passes fails the call with
// goro::net::timeout_error (ETIMEDOUT, Go's "i/o timeout"); a call on a
// closed socket, or one waiting while another goroutine closes it, fails
// with EBADF ("use of closed network connection").
//
// From a goroutine a call that would block parks the goroutine (its M runs
// others). From a thread outside the runtime, or inside goro::blocking(),
// it blocks the calling thread in poll(2) instead. A socket may be read by
// one goroutine while another writes it; two concurrent reads (or two
// writes) are serialized.
#pragma once
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "goro/detail/export.hpp"
#include "goro/detail/saturate.hpp"

namespace goro::net {

namespace detail {
struct socket_state;
}

// A deadline passed (Go's os.ErrDeadlineExceeded, "i/o timeout"). From a
// write, bytes_written() tells how many bytes went out before it (Go's n
// of (n, err)); 0 from every other call.
struct GORO_API timeout_error : std::system_error {
  explicit timeout_error(const std::string& what, std::size_t written = 0)
      : std::system_error(ETIMEDOUT, std::generic_category(), what), written_(written) {}
  std::size_t bytes_written() const noexcept { return written_; }

 private:
  std::size_t written_;
};

// Every other failure of tcp_conn::write (EPIPE, ECONNRESET, EBADF, ...):
// the errno, and how many bytes went out before it (the peer receives
// exactly those). A write that hits its deadline throws timeout_error,
// which carries the count too.
struct GORO_API write_error : std::system_error {
  write_error(int err, const std::string& what, std::size_t written)
      : std::system_error(err, std::generic_category(), what), written_(written) {}
  std::size_t bytes_written() const noexcept { return written_; }

 private:
  std::size_t written_;
};

// A point on steady_clock. {} (the epoch): none. Saturating, as every
// deadline in goro: time_point::max() (or any time point beyond the
// nanosecond range) is none too, since it never comes; one already past,
// time_point::min() included, fails the calls at once.
using deadline = std::chrono::steady_clock::time_point;

// A TCP connection. A handle: copies refer to the same socket, which is
// closed by close() or when the last handle goes.
class GORO_API tcp_conn {
 public:
  tcp_conn() = default;  // no socket

  // Connects to host:port. host is a numeric IPv4 or IPv6 address or a name
  // (resolved with getaddrinfo inside goro::blocking). The connection
  // attempt parks the goroutine. `timeout` as Go's Dialer.Timeout: zero
  // means none; a negative one has passed (timeout_error at once); a long
  // one saturates (nanoseconds::max(), or hours::max() through the
  // overload below, is none in effect, never an overflow).
  static tcp_conn dial(std::string_view host, std::uint16_t port,
                       std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());
  template <class Rep, class Period>
  static tcp_conn dial(std::string_view host, std::uint16_t port,
                       std::chrono::duration<Rep, Period> timeout) {
    return dial(host, port, goro::detail::saturating_ns(timeout));
  }

  // Reads at most n bytes into buf, parking until at least one is there.
  // Returns 0 at end of stream (the peer shut down its side).
  std::size_t read(void* buf, std::size_t n);
  // Writes all n bytes, parking while the socket buffer is full. On
  // failure it throws timeout_error (the write deadline passed) or
  // write_error (anything else), whose bytes_written() says how many
  // bytes were written before it (Go's (n, err)).
  void write(const void* buf, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Shuts down the writing side (the peer reads end of stream); reading
  // continues.
  void close_write();
  // Closes the socket; goroutines parked on it fail with EBADF. Closing
  // twice is allowed (a no-op).
  void close();

  // Deadlines (Go's SetDeadline / SetReadDeadline / SetWriteDeadline): a
  // call that has not finished by then fails with timeout_error, including
  // one already parked; later calls fail at once until the deadline is
  // moved. deadline{} (or time_point::max()) removes it; one already past
  // fails a parked call and later ones at once. A socket keeps at most one
  // timer per direction however often its deadlines change, and none once
  // closed.
  void set_deadline(deadline t);
  void set_read_deadline(deadline t);
  void set_write_deadline(deadline t);
  // Time points of other precisions, converted without overflow.
  template <class Dur>
  void set_deadline(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
    set_deadline(goro::detail::saturating_time_point(t));
  }
  template <class Dur>
  void set_read_deadline(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
    set_read_deadline(goro::detail::saturating_time_point(t));
  }
  template <class Dur>
  void set_write_deadline(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
    set_write_deadline(goro::detail::saturating_time_point(t));
  }

  int native_handle() const;
  std::string local_address() const;  // "127.0.0.1:4000", "[::1]:4000"
  std::string remote_address() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  friend class tcp_listener;
  explicit tcp_conn(std::shared_ptr<detail::socket_state> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::socket_state> s_;
};

// A listening TCP socket. A handle, as tcp_conn.
class GORO_API tcp_listener {
 public:
  tcp_listener() = default;

  // Listens on host:port (port 0: the kernel picks one; port() tells which).
  // host "" or "0.0.0.0" listens on every IPv4 address, "::" on every IPv6
  // one. SO_REUSEADDR is set, as Go does.
  static tcp_listener listen(std::string_view host, std::uint16_t port, int backlog = 4096);

  // Waits for the next connection, parking the goroutine.
  tcp_conn accept();
  // Closes the socket; goroutines parked in accept fail with EBADF.
  void close();
  // Fails accept with timeout_error once t passes (Go's SetDeadline).
  void set_deadline(deadline t);
  template <class Dur>
  void set_deadline(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
    set_deadline(goro::detail::saturating_time_point(t));
  }

  std::uint16_t port() const;
  std::string address() const;
  int native_handle() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  std::shared_ptr<detail::socket_state> s_;
};

}  // namespace goro::net
