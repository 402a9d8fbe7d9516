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
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::net {

namespace detail {
struct socket_state;
}

// A deadline passed (Go's os.ErrDeadlineExceeded, "i/o timeout").
struct timeout_error : std::system_error {
  explicit timeout_error(const std::string& what)
      : std::system_error(ETIMEDOUT, std::generic_category(), what) {}
};

using deadline = std::chrono::steady_clock::time_point;  // {}: none

// A TCP connection. A handle: copies refer to the same socket, which is
// closed by close() or when the last handle goes.
class tcp_conn {
 public:
  tcp_conn() = default;  // no socket

  // Connects to host:port. host is a numeric IPv4 or IPv6 address or a name
  // (resolved with getaddrinfo inside goro::blocking). The connection
  // attempt parks the goroutine; `timeout` of zero means none.
  static tcp_conn dial(std::string_view host, std::uint16_t port,
                       std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());

  // Reads at most n bytes into buf, parking until at least one is there.
  // Returns 0 at end of stream (the peer shut down its side).
  std::size_t read(void* buf, std::size_t n);
  // Writes all n bytes, parking while the socket buffer is full. If it
  // fails partway, the exception says how many bytes were written.
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
  // moved. deadline{} removes it.
  void set_deadline(deadline t);
  void set_read_deadline(deadline t);
  void set_write_deadline(deadline t);

  int native_handle() const;
  std::string local_address() const;   // "127.0.0.1:4000", "[::1]:4000"
  std::string remote_address() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  friend class tcp_listener;
  explicit tcp_conn(std::shared_ptr<detail::socket_state> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::socket_state> s_;
};

// A listening TCP socket. A handle, as tcp_conn.
class tcp_listener {
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

  std::uint16_t port() const;
  std::string address() const;
  int native_handle() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  std::shared_ptr<detail::socket_state> s_;
};

}  // namespace goro::net
