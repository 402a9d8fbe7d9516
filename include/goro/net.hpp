// goro::net: TCP, UDP and Unix-domain sockets whose blocking calls park the
// goroutine, not the thread (Go's net.TCPListener / TCPConn / UDPConn /
// UnixListener / UnixConn over the runtime's netpoller), and
// wait_readable / wait_writable, which park a goroutine on any descriptor.
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
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "goro/context.hpp"
#include "goro/detail/export.hpp"
#include "goro/detail/saturate.hpp"

namespace goro::net {

namespace detail {
struct socket_state;
struct dial_interrupt;  // src/netpoll/net.cpp: a dial's link to its context
}  // namespace detail

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
  // Go's Dialer.DialContext: as dial, giving up when ctx is done. The
  // context's deadline bounds the attempt (with `timeout`, the earlier
  // wins) and fails it with timeout_error ("i/o timeout", as Go maps
  // context.DeadlineExceeded); a cancellation, before or during the
  // attempt, fails it with std::system_error whose code() is
  // goro::errc::canceled ("operation was canceled", Go's errCanceled). The
  // connection, once made, no longer depends on ctx.
  static tcp_conn dial(const goro::context& ctx, std::string_view host, std::uint16_t port,
                       std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());

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
  // Both dials; `intr` (null: none) links the attempt to a context.
  static tcp_conn dial_tcp(std::string_view host, std::uint16_t port,
                           std::chrono::nanoseconds timeout, detail::dial_interrupt* intr);
  std::shared_ptr<detail::socket_state> s_;
};

// A listening TCP socket. A handle, as tcp_conn.
class GORO_API tcp_listener {
 public:
  tcp_listener() = default;

  // Listens on host:port (port 0: the kernel picks one; port() tells which).
  // A wildcard host ("", "0.0.0.0", "::") listens dual-stack, as Go's
  // Listen("tcp", ...) does (favoriteAddrFamily): one AF_INET6 socket with
  // IPV6_V6ONLY off, which takes IPv4 clients too (their addresses read
  // "127.0.0.1:port", unmapped); address() then reads "[::]:port". On a
  // machine without IPv4-mapped IPv6 support "" and "0.0.0.0" listen on
  // IPv4 only ("::" still on IPv6). Go treats "0.0.0.0" as a wildcard too,
  // so it is dual-stack here as well. Every AF_INET6 socket has
  // IPV6_V6ONLY off, as Go sets it. SO_REUSEADDR is set, as Go does.
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

// A UDP socket (Go's net.UDPConn). A handle, as tcp_conn. Bound by
// listen_udp (a "packet listener": read_from / write_to any peer) or
// connected by dial_udp (read / write its one peer; read_from and write_to
// work too). Each call moves one datagram. Reads are serialized among
// themselves, writes too, as on tcp_conn.
class GORO_API udp_conn {
 public:
  udp_conn() = default;  // no socket

  // Binds host:port (Go's ListenUDP / ListenPacket("udp", ...)). Port 0:
  // the kernel picks one. A wildcard host is dual-stack, as
  // tcp_listener::listen. Throws std::system_error.
  static udp_conn listen(std::string_view host, std::uint16_t port);
  // Connects to host:port (Go's DialUDP): no packet is sent; the socket
  // then receives only from that peer. Throws std::system_error.
  static udp_conn dial(std::string_view host, std::uint16_t port);

  // One datagram from the connected peer, at most n bytes of it: a longer
  // one is truncated and the rest dropped, and n is returned with no error
  // (Go's Read). 0: an empty datagram, or n == 0, which returns at once
  // without reading, as Go's Read(nil) does.
  std::size_t read(void* buf, std::size_t n);
  // One datagram of n bytes (0 allowed) to the connected peer; returns n.
  // Throws timeout_error or write_error (EMSGSIZE for one too large,
  // ECONNREFUSED after an ICMP port unreachable, ...).
  std::size_t write(const void* buf, std::size_t n);
  std::size_t write(std::string_view s) { return write(s.data(), s.size()); }
  // One datagram and its sender as "ip:port" ("[::1]:53" for IPv6; an
  // IPv4 sender on a dual-stack socket reads "127.0.0.1:port", as Go
  // unmaps it). Truncated as read, n included: a zero-length buffer
  // consumes a datagram and returns 0 (Go's ReadFrom).
  std::pair<std::size_t, std::string> read_from(void* buf, std::size_t n);
  // One datagram to host:port (a numeric address or a name, resolved as
  // tcp_conn::dial does); an IPv4 host from a dual-stack socket is sent as
  // its IPv4-mapped form. Returns n. Errors as write.
  std::size_t write_to(const void* buf, std::size_t n, std::string_view host, std::uint16_t port);
  // The same, to an address as read_from returns it: "ip:port" or
  // "[ipv6]:port" (std::invalid_argument if it has no port).
  std::size_t write_to(const void* buf, std::size_t n, std::string_view address);
  // Closes the socket; parked calls fail with EBADF, as tcp_conn::close.
  void close();

  // As tcp_conn's.
  void set_deadline(deadline t);
  void set_read_deadline(deadline t);
  void set_write_deadline(deadline t);
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
  std::string local_address() const;   // "127.0.0.1:4000", "[::]:4000"
  std::string remote_address() const;  // "" unless connected (dial_udp)
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  explicit udp_conn(std::shared_ptr<detail::socket_state> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::socket_state> s_;
};

// Go's ListenUDP / DialUDP, as the static members.
GORO_API udp_conn listen_udp(std::string_view host, std::uint16_t port);
GORO_API udp_conn dial_udp(std::string_view host, std::uint16_t port);

// A Unix-domain stream connection (Go's net.UnixConn on "unix"): every
// member as tcp_conn's. Addresses are socket paths; an abstract name (Linux)
// reads "@name", and an unnamed socket (a dialer's own end, hence an
// accepted connection's peer) "@", as Go prints them on Linux.
class GORO_API unix_conn {
 public:
  unix_conn() = default;

  // Connects to the socket at path ("@name": the abstract name). A
  // listener whose backlog is full fails with EAGAIN, as in Go (Linux does
  // not queue Unix connects). Throws std::system_error.
  static unix_conn dial(std::string_view path);
  // As dial, giving up when ctx is done (see tcp_conn::dial(ctx, ...)).
  static unix_conn dial(const goro::context& ctx, std::string_view path);

  std::size_t read(void* buf, std::size_t n);
  void write(const void* buf, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void close_write();
  void close();

  void set_deadline(deadline t);
  void set_read_deadline(deadline t);
  void set_write_deadline(deadline t);
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
  std::string local_address() const;
  std::string remote_address() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  friend class unix_listener;
  explicit unix_conn(std::shared_ptr<detail::socket_state> s) : s_(std::move(s)) {}
  static unix_conn dial_unix_socket(std::string_view path, detail::dial_interrupt* intr);
  std::shared_ptr<detail::socket_state> s_;
};

// A listening Unix-domain stream socket (Go's net.UnixListener).
class GORO_API unix_listener {
 public:
  unix_listener() = default;

  // Binds and listens on path. An existing file there (a socket left
  // behind included) fails the call with EADDRINUSE, as in Go: it is not
  // removed. "@name" listens on the abstract name (nothing in the file
  // system); "" on an abstract name the kernel picks (autobind; address()
  // tells it). A path longer than the 107 bytes sockaddr_un holds fails
  // with EINVAL. Throws std::system_error.
  static unix_listener listen(std::string_view path, int backlog = 4096);

  unix_conn accept();
  // Closes the socket; a parked accept fails with EBADF. The first close
  // also removes the socket file this listener created (Go's
  // UnixListener.Close, which unlinks by default); a second close does
  // nothing, so a file put at the path meanwhile stays (Go's
  // TestUnixUnlink). The last handle going closes (and removes) too: the
  // end of a C++ handle is an explicit close, where Go's finalizer would
  // leave the file.
  void close();
  void set_deadline(deadline t);
  template <class Dur>
  void set_deadline(std::chrono::time_point<std::chrono::steady_clock, Dur> t) {
    set_deadline(goro::detail::saturating_time_point(t));
  }

  std::string address() const;  // the path, "@name" for an abstract one
  int native_handle() const;
  explicit operator bool() const { return static_cast<bool>(s_); }

 private:
  std::shared_ptr<detail::socket_state> s_;
};

// Go's ListenUnix("unix", ...) / DialUnix("unix", nil, ...).
GORO_API unix_listener listen_unix(std::string_view path);
GORO_API unix_conn dial_unix(std::string_view path);
GORO_API unix_conn dial_unix(const goro::context& ctx, std::string_view path);

// Parks the caller until fd, a non-blocking descriptor the caller owns (a
// pipe, libcurl's or libpq's socket, an eventfd), is readable (writable):
// a descriptor the runtime does not manage, so other libraries can drive
// their I/O from goroutines (Go has no such call; os.NewFile plus
// SyscallConn().Read(f) is the nearest). Returns at once when the
// readiness is already there; returns also on hang-up or error (POLLHUP,
// POLLERR), so the caller's next call reports it. May return spuriously
// only if the readiness went away again before the caller ran (another
// reader took the data): the caller retries its call and waits again.
//
// `deadline`: the time by which to give up, with timeout_error; one
// already past fails at once, even if fd is ready (as a socket's passed
// deadline does, Go's semantics). As every deadline here: deadline{} and
// time_point::max() are none, time_point::min() has passed.
//
// A regular file (which epoll refuses, EPERM) is always ready: return at
// once, as Go treats regular files. A closed or invalid fd: std::system_error
// EBADF. A goroutine waits in the runtime's netpoller: the call
// duplicates fd (F_DUPFD_CLOEXEC), registers the duplicate for the wait
// and deregisters and closes it afterwards, so a descriptor number the
// caller closes and the kernel reuses meanwhile is never touched. A thread
// outside the runtime, or a goroutine inside goro::blocking(), waits in
// poll(2) instead.
//
// Closing fd while a goroutine waits on it does not wake the wait, as on
// Linux it does not wake a poll(2) in another thread: the wait holds the
// open file (its duplicate), so it ends when the file becomes ready (a
// socket shut down, a pipe's other end closed) or at its deadline. Give
// such waits a deadline, or shut the file down (shutdown(2), close the
// other end) rather than only close the number. A goroutine abandoned in
// a wait at the runtime's teardown closes its duplicate there.
//
// Memory ordering: nothing beyond the kernel's: what the peer wrote before
// making fd ready is visible to the caller's next read through the
// descriptor itself, as with any system call.
GORO_API void wait_readable(int fd,
                            std::optional<std::chrono::steady_clock::time_point> deadline = {});
GORO_API void wait_writable(int fd,
                            std::optional<std::chrono::steady_clock::time_point> deadline = {});

}  // namespace goro::net
