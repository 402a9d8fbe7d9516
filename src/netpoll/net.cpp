// goro::net: TCP sockets over the netpoller (Go's internal/poll.FD and
// net.TCPConn, reduced). Every socket is non-blocking; a call that gets
// EAGAIN waits on the socket's poll descriptor (poll_wait) and retries.
#include "goro/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "goro/blocking.hpp"
#include "goro/mutex.hpp"
#include "netpoll/netpoll.hpp"
#include "time/timer.hpp"

namespace goro::net::detail {

namespace gd = goro::detail;

struct socket_state {
  int fd = -1;
  gd::polldesc* pd = nullptr;
  bool listener = false;
  // Serialize the readers (read, accept) and the writers (write, connect),
  // as Go's fdMutex does, so at most one goroutine waits per direction;
  // close takes both to wait for calls in flight before the fd number can
  // be reused.
  goro::mutex rmu, wmu;
  std::atomic<bool> closed{false};

  socket_state(int f, bool is_listener) : fd(f), listener(is_listener) {
    try {
      pd = gd::poll_open(f);
    } catch (...) {
      ::close(f);
      throw;
    }
  }
  ~socket_state() {
    close(false);
    gd::poll_free(pd);
  }
  // wait_calls: false from the destructor. The last handle is gone, so no
  // live caller can be in flight (each holds a handle): only an abandoned
  // goroutine's call (its closure, destroyed at teardown, held the last
  // handle), which never ends, so waiting for it would hang teardown.
  void close(bool wait_calls = true) {
    if (closed.exchange(true, std::memory_order_acq_rel)) return;
    // Parked callers wake and fail with EBADF. A direction whose parked
    // caller was abandoned keeps its lock held for ever: do not wait for it.
    unsigned abandoned = gd::poll_close(pd);
    std::unique_lock r(rmu, std::defer_lock), w(wmu, std::defer_lock);
    if (wait_calls && !(abandoned & gd::poll_abandoned_read)) r.lock();
    if (wait_calls && !(abandoned & gd::poll_abandoned_write)) w.lock();
    ::close(fd);
  }
};

namespace {

std::string format_sockaddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    port = ntohs(a.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    port = ntohs(a.sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

std::string sock_name(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return r == 0 ? format_sockaddr(ss) : "?";
}

// "goro::net: read 127.0.0.1:4000", naming the peer (or the local address
// of a listener) so a log line tells which connection failed.
std::string op_name(const socket_state& s, const char* op) {
  std::string where = s.closed.load(std::memory_order_relaxed) ? std::string("(closed)")
                                                               : sock_name(s.fd, !s.listener);
  return std::string("goro::net: ") + op + " " + where;
}

[[noreturn]] void throw_errno(const socket_state& s, int err, const char* op) {
  if (err == ETIMEDOUT) throw timeout_error(op_name(s, op) + ": i/o timeout");
  if (err == EBADF)
    throw std::system_error(EBADF, std::generic_category(),
                            std::string("goro::net: ") + op + ": use of closed network connection");
  throw std::system_error(err, std::generic_category(), op_name(s, op));
}

// A write's failure, carrying the bytes written before it (done of n).
[[noreturn]] void throw_write(const socket_state& s, int err, std::size_t done, std::size_t n) {
  std::string op = done == 0 ? std::string("write")
                             : "write (" + std::to_string(done) + " of " + std::to_string(n) +
                                   " bytes written)";
  if (err == ETIMEDOUT) throw timeout_error(op_name(s, op.c_str()) + ": i/o timeout", done);
  if (err == EBADF)
    throw write_error(EBADF, "goro::net: " + op + ": use of closed network connection", done);
  throw write_error(err, op_name(s, op.c_str()), done);
}

socket_state& state_of(const std::shared_ptr<socket_state>& s, const char* op) {
  if (!s)
    throw std::system_error(EBADF, std::generic_category(),
                            std::string("goro::net: ") + op + ": no socket (default-constructed)");
  return *s;
}

std::int64_t to_nanotime(deadline t) {
  if (t == deadline{}) return 0;
  // steady_clock is CLOCK_MONOTONIC, nanotime()'s clock, and its duration
  // is nanoseconds: no conversion that could overflow. max() stays
  // INT64_MAX, which poll_set_deadline takes as none.
  std::int64_t ns = t.time_since_epoch().count();
  return ns <= 0 ? 1 : ns;  // 0 means "none"; anything earlier has passed
}

// Resolves host:port to addresses: numeric ones directly, names with
// getaddrinfo inside goro::blocking (it may wait on DNS).
struct resolved {
  addrinfo* list = nullptr;
  ~resolved() {
    if (list) freeaddrinfo(list);
  }
};

void resolve(std::string_view host, std::uint16_t port, bool passive, resolved& out) {
  std::string h(host);
  std::string service = std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const char* node = h.empty() ? nullptr : h.c_str();
  if (passive && h.empty()) hints.ai_family = AF_INET;  // Go's ":port" listens on IPv4 too
  hints.ai_flags |= AI_NUMERICHOST;
  int rc = getaddrinfo(node, service.c_str(), &hints, &out.list);
  if (rc == EAI_NONAME && node) {
    hints.ai_flags &= ~AI_NUMERICHOST;
    rc = goro::blocking([&] { return getaddrinfo(node, service.c_str(), &hints, &out.list); });
  }
  if (rc != 0) {
    int err = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
    throw std::system_error(err, std::generic_category(),
                            "goro::net: lookup " + h + ": " + gai_strerror(rc));
  }
}

int new_socket(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "goro::net: socket");
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Go's default
}

}  // namespace
}  // namespace goro::net::detail

namespace goro::net {

using namespace detail;
namespace gd = goro::detail;

tcp_conn tcp_conn::dial(std::string_view host, std::uint16_t port,
                        std::chrono::nanoseconds timeout) {
  std::string where = std::string(host) + ":" + std::to_string(port);
  // Go's Dialer: a zero Timeout is none, a negative one has passed already.
  if (timeout.count() < 0) throw timeout_error("goro::net: dial " + where + ": i/o timeout");
  resolved addrs;
  resolve(host, port, false, addrs);
  // Saturated: nanoseconds::max() gives INT64_MAX, which is none.
  std::int64_t dl = timeout.count() > 0 ? gd::saturating_deadline(gd::nanotime(), timeout.count())
                                        : 0;
  if (dl == INT64_MAX) dl = 0;
  int last_err = EHOSTUNREACH;
  for (addrinfo* ai = addrs.list; ai; ai = ai->ai_next) {
    auto s = std::make_shared<socket_state>(new_socket(ai->ai_family), false);
    set_nodelay(s->fd);
    if (dl) gd::poll_set_deadline(s->pd, dl, false, true);
    int err = 0;
    {
      std::lock_guard lk(s->wmu);
      if (::connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0) err = errno;
      while (err == EINPROGRESS || err == EINTR || err == EALREADY) {
        if (int e = gd::poll_wait(s->pd, gd::poll_mode::write)) {
          err = e;
          break;
        }
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        // Woken without a result yet (a spurious readiness): wait again.
        if (err == 0) {
          sockaddr_storage peer{};
          socklen_t plen = sizeof peer;
          if (getpeername(s->fd, reinterpret_cast<sockaddr*>(&peer), &plen) < 0) err = EINPROGRESS;
        }
      }
    }
    if (err == 0) {
      if (dl) gd::poll_set_deadline(s->pd, 0, false, true);
      return tcp_conn(std::move(s));
    }
    last_err = err;
    if (err == ETIMEDOUT || err == EBADF) break;  // the deadline covers every address
  }
  if (last_err == ETIMEDOUT) throw timeout_error("goro::net: dial " + where + ": i/o timeout");
  throw std::system_error(last_err, std::generic_category(), "goro::net: dial " + where);
}

std::size_t tcp_conn::read(void* buf, std::size_t n) {
  socket_state& s = state_of(s_, "read");
  std::lock_guard lk(s.rmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::read)) throw_errno(s, e, "read");
    ssize_t r = ::read(s.fd, buf, n);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno(s, errno, "read");
    if (int e = gd::poll_wait(s.pd, gd::poll_mode::read)) throw_errno(s, e, "read");
  }
}

void tcp_conn::write(const void* buf, std::size_t n) {
  socket_state& s = state_of(s_, "write");
  std::lock_guard lk(s.wmu);
  const char* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  auto fail = [&](int err) { throw_write(s, err, done, n); };
  while (done < n) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::write)) fail(e);
    // MSG_NOSIGNAL: a peer that went away is an EPIPE error, not a SIGPIPE.
    ssize_t r = ::send(s.fd, p + done, n - done, MSG_NOSIGNAL);
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) fail(errno);
    if (int e = gd::poll_wait(s.pd, gd::poll_mode::write)) fail(e);
  }
}

void tcp_conn::close_write() {
  socket_state& s = state_of(s_, "close_write");
  std::lock_guard lk(s.wmu);
  if (s.closed.load(std::memory_order_acquire)) throw_errno(s, EBADF, "close_write");
  if (::shutdown(s.fd, SHUT_WR) < 0) throw_errno(s, errno, "close_write");
}

void tcp_conn::close() {
  if (s_) s_->close();
}

void tcp_conn::set_deadline(deadline t) {
  gd::poll_set_deadline(state_of(s_, "set_deadline").pd, to_nanotime(t), true, true);
}
void tcp_conn::set_read_deadline(deadline t) {
  gd::poll_set_deadline(state_of(s_, "set_read_deadline").pd, to_nanotime(t), true, false);
}
void tcp_conn::set_write_deadline(deadline t) {
  gd::poll_set_deadline(state_of(s_, "set_write_deadline").pd, to_nanotime(t), false, true);
}

int tcp_conn::native_handle() const { return s_ ? s_->fd : -1; }
std::string tcp_conn::local_address() const { return s_ ? sock_name(s_->fd, false) : ""; }
std::string tcp_conn::remote_address() const { return s_ ? sock_name(s_->fd, true) : ""; }

tcp_listener tcp_listener::listen(std::string_view host, std::uint16_t port, int backlog) {
  if (backlog < 1)
    throw std::invalid_argument("goro::net::tcp_listener::listen: backlog = " +
                                std::to_string(backlog) + ": must be at least 1");
  resolved addrs;
  resolve(host, port, true, addrs);
  int last_err = EADDRNOTAVAIL;
  for (addrinfo* ai = addrs.list; ai; ai = ai->ai_next) {
    int fd = new_socket(ai->ai_family);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, backlog) < 0) {
      last_err = errno;
      ::close(fd);
      continue;
    }
    tcp_listener l;
    l.s_ = std::make_shared<socket_state>(fd, true);
    return l;
  }
  throw std::system_error(last_err, std::generic_category(),
                          "goro::net: listen " + std::string(host) + ":" + std::to_string(port));
}

tcp_conn tcp_listener::accept() {
  socket_state& s = state_of(s_, "accept");
  std::lock_guard lk(s.rmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::read)) throw_errno(s, e, "accept");
    int fd = ::accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      return tcp_conn(std::make_shared<socket_state>(fd, false));
    }
    // A connection reset before we took it: take the next (as Go does).
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) throw_errno(s, errno, "accept");
    if (int e = gd::poll_wait(s.pd, gd::poll_mode::read)) throw_errno(s, e, "accept");
  }
}

void tcp_listener::close() {
  if (s_) s_->close();
}

void tcp_listener::set_deadline(deadline t) {
  gd::poll_set_deadline(state_of(s_, "set_deadline").pd, to_nanotime(t), true, false);
}

std::uint16_t tcp_listener::port() const {
  if (!s_) return 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(s_->fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port);
}

std::string tcp_listener::address() const { return s_ ? sock_name(s_->fd, false) : ""; }
int tcp_listener::native_handle() const { return s_ ? s_->fd : -1; }

}  // namespace goro::net
