// goro::net: TCP sockets over the netpoller (Go's internal/poll.FD and
// net.TCPConn, reduced). Every socket is non-blocking; a call that gets
// EAGAIN waits on the socket's poll descriptor (poll_wait) and retries.
#include "goro/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
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
  // Errors name the local address (a listener, an unconnected UDP socket),
  // else the peer's.
  bool listener = false;
  int family = AF_UNSPEC;
  // A Unix listener's socket file, removed by the first close (Go's
  // unlink-on-close); empty for every other socket.
  std::string unlink_path;
  // Serialize the readers (read, accept) and the writers (write, connect),
  // as Go's fdMutex does, so at most one goroutine waits per direction;
  // close takes both to wait for calls in flight before the fd number can
  // be reused.
  goro::mutex rmu, wmu;
  gd::atomic<bool> closed{false};

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
    // Before the fd goes, as Go: the path is ours until then.
    if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
    ::close(fd);
  }
};

namespace {

std::string format_sockaddr(const sockaddr_storage& ss, socklen_t len = sizeof(sockaddr_storage)) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (ss.ss_family == AF_UNIX) {
    auto& a = reinterpret_cast<const sockaddr_un&>(ss);
    constexpr socklen_t off = offsetof(sockaddr_un, sun_path);
    // Unnamed (a dialer's end, an accepted connection's peer): "@", as Go
    // prints it on Linux (its leading NUL rewritten, nothing after it).
    if (len <= off) return "@";
    std::size_t n = len - off;
    if (n > sizeof a.sun_path) n = sizeof a.sun_path;
    // Abstract (Linux): a leading NUL, shown as '@' as Go does.
    if (a.sun_path[0] == '\0') return "@" + std::string(a.sun_path + 1, n - 1);
    return std::string(a.sun_path, strnlen(a.sun_path, n));
  }
  if (ss.ss_family == AF_INET6) {
    // An IPv4 peer of a dual-stack socket: shown as IPv4, as Go does.
    auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss);
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
      inet_ntop(AF_INET, a6.sin6_addr.s6_addr + 12, host, sizeof host);
      return std::string(host) + ":" + std::to_string(ntohs(a6.sin6_port));
    }
  }
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
  if (r != 0) return peer && errno == ENOTCONN ? "" : "?";
  return format_sockaddr(ss, len);
}

// "goro::net: read 127.0.0.1:4000", naming the peer (or the local address
// of a listener) so a log line tells which connection failed.
std::string op_name(const socket_state& s, const char* op) {
  std::string where = "(closed)";
  if (!s.closed.load(std::memory_order_relaxed)) {
    where = s.listener ? "" : sock_name(s.fd, true);
    // Unconnected (UDP), or an unnamed Unix peer: our own address says more.
    if (where.empty() || where == "@") where = sock_name(s.fd, false);
  }
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
[[noreturn]] void throw_write(const socket_state& s, int err, std::size_t done, std::size_t n,
                              const char* name = "write") {
  std::string op = done == 0 ? std::string(name)
                             : std::string(name) + " (" + std::to_string(done) + " of " +
                                   std::to_string(n) + " bytes written)";
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

void resolve(std::string_view host, std::uint16_t port, bool passive, resolved& out,
             int socktype = SOCK_STREAM) {
  std::string h(host);
  std::string service = std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = socktype;
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

int new_socket(int family, int socktype = SOCK_STREAM) {
  int proto = family == AF_UNIX ? 0 : socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
  int fd = ::socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "goro::net: socket");
  if (family == AF_INET6) {
    // Go sets it on every IPv6 socket it makes (setDefaultSockopts): off,
    // so an IPv6 wildcard takes IPv4 too whatever net.ipv6.bindv6only says.
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  return fd;
}

// Go's probes (net/ipsock_posix.go, supportsIPv4map / supportsIPv4): can an
// IPv6 socket with IPV6_V6ONLY off bind an IPv4-mapped address; can an
// IPv4 socket be made. Asked once.
bool probe_bind(int family, const sockaddr* a, socklen_t len) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return false;
  int zero = 0;
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  bool ok = ::bind(fd, a, len) == 0;
  ::close(fd);
  return ok;
}
bool supports_ipv4map() {
  static const bool yes = [] {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr);
    return probe_bind(AF_INET6, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }();
  return yes;
}
bool supports_ipv4() {
  static const bool yes = [] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  }();
  return yes;
}

// A wildcard listen address: "" or an unspecified IPv4 or IPv6 address.
bool is_wildcard(std::string_view host) {
  if (host.empty()) return true;
  std::string h(host);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return a4.s_addr == INADDR_ANY;
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return IN6_IS_ADDR_UNSPECIFIED(&a6);
  return false;
}

// A listening or bound IP socket on host:port: Go's favoriteAddrFamily for
// "tcp"/"udp" in listen mode: a wildcard is one dual-stack IPv6 socket when
// the machine maps IPv4 into IPv6 (or has no IPv4), else IPv4 for "" and
// the address's own family otherwise. Calls setup(fd, addr, len) for each
// candidate address until one succeeds (returns 0, else an errno); returns
// the fd. Throws std::system_error naming `op`.
template <class Setup>
int bind_ip(std::string_view host, std::uint16_t port, int socktype, const char* op,
            Setup&& setup) {
  std::string where = std::string(op) + " " + std::string(host) + ":" + std::to_string(port);
  int last_err = EADDRNOTAVAIL;
  bool wild = is_wildcard(host);
  if (wild && (supports_ipv4map() || !supports_ipv4())) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(port);
    int fd = new_socket(AF_INET6, socktype);
    int err = setup(fd, reinterpret_cast<sockaddr*>(&a), static_cast<socklen_t>(sizeof a));
    if (err == 0) return fd;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "goro::net: " + where);
  }
  resolved addrs;
  // "" with no IPv4 mapping: IPv4 only (resolve's AI_PASSIVE null node).
  resolve(host, port, true, addrs, socktype);
  for (addrinfo* ai = addrs.list; ai; ai = ai->ai_next) {
    int fd = new_socket(ai->ai_family, socktype);
    int err = setup(fd, ai->ai_addr, ai->ai_addrlen);
    if (err == 0) return fd;
    last_err = err;
    ::close(fd);
  }
  throw std::system_error(last_err, std::generic_category(), "goro::net: " + where);
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Go's default
}

// The one wait of each direction for every socket call: the socket's own
// deadline (pd's rd / wd) and its closing end the wait. A context-taking
// form would wait here too, with its context's deadline.
int wait_read(socket_state& s) { return gd::poll_wait(s.pd, gd::poll_mode::read); }
int wait_write(socket_state& s) { return gd::poll_wait(s.pd, gd::poll_mode::write); }

// Stream reads and writes, shared by tcp_conn and unix_conn.
std::size_t stream_read(socket_state& s, void* buf, std::size_t n) {
  std::lock_guard lk(s.rmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::read)) throw_errno(s, e, "read");
    ssize_t r = ::read(s.fd, buf, n);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno(s, errno, "read");
    if (int e = wait_read(s)) throw_errno(s, e, "read");
  }
}

void stream_write(socket_state& s, const void* buf, std::size_t n) {
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
    if (int e = wait_write(s)) fail(e);
  }
}

void stream_close_write(socket_state& s) {
  std::lock_guard lk(s.wmu);
  if (s.closed.load(std::memory_order_acquire)) throw_errno(s, EBADF, "close_write");
  if (::shutdown(s.fd, SHUT_WR) < 0) throw_errno(s, errno, "close_write");
}

// The next connection's fd.
int accept_fd(socket_state& s) {
  std::lock_guard lk(s.rmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::read)) throw_errno(s, e, "accept");
    int fd = ::accept4(s.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    // A connection reset before we took it: take the next (as Go does).
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) throw_errno(s, errno, "accept");
    if (int e = wait_read(s)) throw_errno(s, e, "accept");
  }
}

// One datagram in; from (if not null) gets the sender. Truncation is not
// an error (no MSG_TRUNC: the count is what fitted), as Go's ReadFrom.
std::size_t dgram_read(socket_state& s, void* buf, std::size_t n, sockaddr_storage* from,
                       socklen_t* fromlen, const char* op) {
  std::lock_guard lk(s.rmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::read)) throw_errno(s, e, op);
    if (fromlen) *fromlen = sizeof *from;
    ssize_t r = ::recvfrom(s.fd, buf, n, 0, reinterpret_cast<sockaddr*>(from), fromlen);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno(s, errno, op);
    if (int e = wait_read(s)) throw_errno(s, e, op);
  }
}

// One datagram out, to `to` (null: the connected peer).
std::size_t dgram_write(socket_state& s, const void* buf, std::size_t n, const sockaddr* to,
                        socklen_t tolen, const char* op) {
  std::lock_guard lk(s.wmu);
  for (;;) {
    if (int e = gd::poll_check(s.pd, gd::poll_mode::write)) throw_write(s, e, 0, n, op);
    ssize_t r = ::sendto(s.fd, buf, n, MSG_NOSIGNAL, to, tolen);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_write(s, errno, 0, n, op);
    if (int e = wait_write(s)) throw_write(s, e, 0, n, op);
  }
}

void set_deadlines(const std::shared_ptr<socket_state>& s, deadline t, bool r, bool w,
                   const char* op) {
  gd::poll_set_deadline(state_of(s, op).pd, to_nanotime(t), r, w);
}

// A numeric address (fast, no getaddrinfo) or a resolved name, as a
// sockaddr for a socket of `family`: an IPv4 one is mapped into IPv6 for
// an AF_INET6 socket, as Go's ipToSockaddr does.
socklen_t udp_target(std::string_view host, std::uint16_t port, int family, sockaddr_storage& out) {
  out = {};
  std::string h(host);
  in_addr a4{};
  in6_addr a6{};
  bool is4 = false, is6 = false;
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    is4 = true;
  } else if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    is6 = true;
  } else {
    resolved addrs;
    resolve(host, port, false, addrs, SOCK_DGRAM);
    addrinfo* pick = addrs.list;
    for (addrinfo* ai = addrs.list; ai; ai = ai->ai_next)
      if (ai->ai_family == family) {
        pick = ai;
        break;
      }
    if (pick->ai_family == AF_INET) {
      a4 = reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr;
      is4 = true;
    } else {
      a6 = reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr;
      is6 = true;
    }
  }
  if (is4 && family == AF_INET) {
    auto& a = reinterpret_cast<sockaddr_in&>(out);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr = a4;
    return sizeof a;
  }
  auto& a = reinterpret_cast<sockaddr_in6&>(out);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  if (is6) {
    a.sin6_addr = a6;
  } else {  // IPv4 from an IPv6 socket: ::ffff:a.b.c.d
    a.sin6_addr.s6_addr[10] = a.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(a.sin6_addr.s6_addr + 12, &a4, 4);
  }
  return sizeof a;
}

// A Unix socket address: a path, "@name" (abstract), or "" (autobind, when
// binding). EINVAL for a path that does not fit.
socklen_t unix_sockaddr(std::string_view path, sockaddr_un& out, const char* op) {
  out = {};
  out.sun_family = AF_UNIX;
  if (path.size() >= sizeof out.sun_path && !(path[0] == '@' && path.size() == sizeof out.sun_path))
    throw std::system_error(EINVAL, std::generic_category(),
                            std::string("goro::net: ") + op + " unix " + std::string(path) +
                                ": path too long (" + std::to_string(path.size()) +
                                " bytes, at most " + std::to_string(sizeof out.sun_path - 1) + ")");
  std::memcpy(out.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (!path.empty() && path[0] == '@') {
    out.sun_path[0] = '\0';  // abstract: the name's bytes, no trailing NUL (as Go)
    return len;
  }
  return path.empty() ? len : len + 1;
}

}  // namespace
}  // namespace goro::net::detail

namespace goro::net {

using namespace detail;
namespace gd = goro::detail;

// ---------------------------------------------------------------------------
// TCP

namespace detail {

// A dial's link to its context (Go's DialContext, which does the same with
// aLongTimeAgo): once ctx is done, its after_func moves the write deadline of
// the socket being connected into the past, which fails the connect wait
// with ETIMEDOUT, and the dial then reports the context's error. `mu`
// orders the callback against the dial moving on to the next address's
// socket: whichever comes second sees the other's write.
struct dial_interrupt {
  // A goro::mutex (the callback runs in a goroutine and calls
  // poll_set_deadline, which must hold no runtime lock); clang cannot
  // check it (goro::mutex is not an annotated capability), hence no
  // GORO_GUARDED_BY on the two fields it guards.
  goro::mutex mu;
  std::shared_ptr<socket_state> current;  // guarded by mu
  bool fired = false;                     // guarded by mu
  // Receives once the callback has returned: a dial whose stop() came too
  // late waits for it before clearing the deadline the callback set.
  goro::chan<std::monostate> finished{1};

  void attach(const std::shared_ptr<socket_state>& s) {
    std::lock_guard lk(mu);
    current = s;
    if (fired) gd::poll_set_deadline(s->pd, 1, false, true);
  }
  void fire() {
    {
      std::lock_guard lk(mu);
      fired = true;
      if (current) gd::poll_set_deadline(current->pd, 1, false, true);
    }
    (void)finished.try_send(std::monostate{});
  }
};

// Runs dial(intr) under ctx: fails at once if ctx is done, registers the
// interrupt for the attempt, and translates a failure that ctx caused into
// the context's error (Go's mapErr: DeadlineExceeded is "i/o timeout",
// Canceled is "operation was canceled").
template <class Conn, class Dial, class Clear>
Conn dial_with_context(const goro::context& ctx, const std::string& where, Dial&& dial,
                       Clear&& clear_deadline) {
  auto ctx_error = [&](std::error_code ec) -> Conn {
    if (ec == goro::errc::deadline_exceeded) throw timeout_error(where + ": i/o timeout");
    throw std::system_error(ec, where + ": operation was canceled");
  };
  if (std::error_code ec = ctx.err()) return ctx_error(ec);
  auto intr = std::make_shared<dial_interrupt>();
  std::function<bool()> stop = goro::after_func(ctx, [intr] { intr->fire(); });
  std::optional<Conn> conn;
  std::exception_ptr failure;
  try {
    conn.emplace(dial(*intr));
  } catch (...) {
    failure = std::current_exception();
  }
  if (!stop()) {
    // The callback ran or is running: let it finish before deciding.
    intr->finished.recv();
    if (!conn) return ctx_error(ctx.err());
    // Connected, but the callback has set the deadline: the connection
    // no longer depends on ctx, so clear it (Go does the same).
    clear_deadline(*conn);
  }
  if (failure) std::rethrow_exception(failure);
  return std::move(*conn);
}

}  // namespace detail

tcp_conn tcp_conn::dial(std::string_view host, std::uint16_t port,
                        std::chrono::nanoseconds timeout) {
  return dial_tcp(host, port, timeout, nullptr);
}

tcp_conn tcp_conn::dial(const goro::context& ctx, std::string_view host, std::uint16_t port,
                        std::chrono::nanoseconds timeout) {
  std::string where = "goro::net: dial " + std::string(host) + ":" + std::to_string(port);
  if (std::optional<deadline> d = ctx.deadline()) {
    // The earlier of the two bounds; the context's, when it comes first,
    // fails the attempt through its own timer (ctx_error above).
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        *d - std::chrono::steady_clock::now());
    if (left.count() > 0 && (timeout.count() == 0 || left < timeout)) timeout = left;
  }
  return dial_with_context<tcp_conn>(
      ctx, where, [&](dial_interrupt& intr) { return dial_tcp(host, port, timeout, &intr); },
      [](tcp_conn& c) { gd::poll_set_deadline(c.s_->pd, 0, false, true); });
}

tcp_conn tcp_conn::dial_tcp(std::string_view host, std::uint16_t port,
                            std::chrono::nanoseconds timeout, dial_interrupt* intr) {
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
    s->family = ai->ai_family;
    set_nodelay(s->fd);
    if (dl) gd::poll_set_deadline(s->pd, dl, false, true);
    if (intr) intr->attach(s);
    int err = 0;
    {
      std::lock_guard lk(s->wmu);
      if (::connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0) err = errno;
      while (err == EINPROGRESS || err == EINTR || err == EALREADY) {
        if (int e = wait_write(*s)) {
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
  return stream_read(state_of(s_, "read"), buf, n);
}
void tcp_conn::write(const void* buf, std::size_t n) {
  stream_write(state_of(s_, "write"), buf, n);
}
void tcp_conn::close_write() { stream_close_write(state_of(s_, "close_write")); }
void tcp_conn::close() {
  if (s_) s_->close();
}
void tcp_conn::set_deadline(deadline t) { set_deadlines(s_, t, true, true, "set_deadline"); }
void tcp_conn::set_read_deadline(deadline t) {
  set_deadlines(s_, t, true, false, "set_read_deadline");
}
void tcp_conn::set_write_deadline(deadline t) {
  set_deadlines(s_, t, false, true, "set_write_deadline");
}
int tcp_conn::native_handle() const { return s_ ? s_->fd : -1; }
std::string tcp_conn::local_address() const { return s_ ? sock_name(s_->fd, false) : ""; }
std::string tcp_conn::remote_address() const { return s_ ? sock_name(s_->fd, true) : ""; }

tcp_listener tcp_listener::listen(std::string_view host, std::uint16_t port, int backlog) {
  if (backlog < 1)
    throw std::invalid_argument("goro::net::tcp_listener::listen: backlog = " +
                                std::to_string(backlog) + ": must be at least 1");
  int fd = bind_ip(host, port, SOCK_STREAM, "listen", [&](int f, const sockaddr* a, socklen_t len) {
    int one = 1;
    setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(f, a, len) < 0 || ::listen(f, backlog) < 0) return errno;
    return 0;
  });
  tcp_listener l;
  l.s_ = std::make_shared<socket_state>(fd, true);
  return l;
}

tcp_conn tcp_listener::accept() {
  int fd = accept_fd(state_of(s_, "accept"));
  set_nodelay(fd);
  return tcp_conn(std::make_shared<socket_state>(fd, false));
}
void tcp_listener::close() {
  if (s_) s_->close();
}
void tcp_listener::set_deadline(deadline t) { set_deadlines(s_, t, true, false, "set_deadline"); }

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

// ---------------------------------------------------------------------------
// UDP

namespace {
int socket_family(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return AF_UNSPEC;
  return ss.ss_family;
}
}  // namespace

udp_conn udp_conn::listen(std::string_view host, std::uint16_t port) {
  int fd = bind_ip(
      host, port, SOCK_DGRAM, "listen udp",
      [](int f, const sockaddr* a, socklen_t len) { return ::bind(f, a, len) < 0 ? errno : 0; });
  auto s = std::make_shared<socket_state>(fd, true);
  s->family = socket_family(fd);
  return udp_conn(std::move(s));
}

udp_conn udp_conn::dial(std::string_view host, std::uint16_t port) {
  std::string where = "goro::net: dial udp " + std::string(host) + ":" + std::to_string(port);
  resolved addrs;
  resolve(host, port, false, addrs, SOCK_DGRAM);
  int last_err = EHOSTUNREACH;
  for (addrinfo* ai = addrs.list; ai; ai = ai->ai_next) {
    int fd = new_socket(ai->ai_family, SOCK_DGRAM);
    // A datagram connect only sets the peer: it never blocks.
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
      last_err = errno;
      ::close(fd);
      continue;
    }
    auto s = std::make_shared<socket_state>(fd, false);
    s->family = ai->ai_family;
    return udp_conn(std::move(s));
  }
  throw std::system_error(last_err, std::generic_category(), where);
}

std::size_t udp_conn::read(void* buf, std::size_t n) {
  socket_state& s = state_of(s_, "read");
  if (n == 0) return 0;  // Go's Read(nil): nothing read, no datagram taken
  return dgram_read(s, buf, n, nullptr, nullptr, "read");
}

std::size_t udp_conn::write(const void* buf, std::size_t n) {
  return dgram_write(state_of(s_, "write"), buf, n, nullptr, 0, "write");
}

std::pair<std::size_t, std::string> udp_conn::read_from(void* buf, std::size_t n) {
  socket_state& s = state_of(s_, "read_from");
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  std::size_t got = dgram_read(s, buf, n, &from, &len, "read_from");
  return {got, format_sockaddr(from, len)};
}

std::size_t udp_conn::write_to(const void* buf, std::size_t n, std::string_view host,
                               std::uint16_t port) {
  socket_state& s = state_of(s_, "write_to");
  sockaddr_storage to{};
  socklen_t len = udp_target(host, port, s.family, to);
  return dgram_write(s, buf, n, reinterpret_cast<sockaddr*>(&to), len, "write_to");
}

std::size_t udp_conn::write_to(const void* buf, std::size_t n, std::string_view address) {
  // "host:port" or "[v6]:port", as Go's SplitHostPort.
  auto bad = [&](const char* why) {
    return std::invalid_argument("goro::net::udp_conn::write_to: address \"" +
                                 std::string(address) + "\": " + why);
  };
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) throw bad("missing port");
  std::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    throw bad("too many colons (an IPv6 address goes in brackets)");
  unsigned long p = 0;
  if (port.empty() || port.size() > 5) throw bad("bad port");
  for (char c : port) {
    if (c < '0' || c > '9') throw bad("bad port");
    p = p * 10 + static_cast<unsigned long>(c - '0');
  }
  if (p > 65535) throw bad("bad port");
  return write_to(buf, n, host, static_cast<std::uint16_t>(p));
}

void udp_conn::close() {
  if (s_) s_->close();
}
void udp_conn::set_deadline(deadline t) { set_deadlines(s_, t, true, true, "set_deadline"); }
void udp_conn::set_read_deadline(deadline t) {
  set_deadlines(s_, t, true, false, "set_read_deadline");
}
void udp_conn::set_write_deadline(deadline t) {
  set_deadlines(s_, t, false, true, "set_write_deadline");
}
int udp_conn::native_handle() const { return s_ ? s_->fd : -1; }
std::string udp_conn::local_address() const { return s_ ? sock_name(s_->fd, false) : ""; }
std::string udp_conn::remote_address() const { return s_ ? sock_name(s_->fd, true) : ""; }

udp_conn listen_udp(std::string_view host, std::uint16_t port) {
  return udp_conn::listen(host, port);
}
udp_conn dial_udp(std::string_view host, std::uint16_t port) { return udp_conn::dial(host, port); }

// ---------------------------------------------------------------------------
// Unix

unix_conn unix_conn::dial(std::string_view path) { return dial_unix_socket(path, nullptr); }

unix_conn unix_conn::dial(const goro::context& ctx, std::string_view path) {
  return dial_with_context<unix_conn>(
      ctx, "goro::net: dial unix " + std::string(path),
      [&](dial_interrupt& intr) { return dial_unix_socket(path, &intr); },
      [](unix_conn& c) { gd::poll_set_deadline(c.s_->pd, 0, false, true); });
}

unix_conn unix_conn::dial_unix_socket(std::string_view path, dial_interrupt* intr) {
  sockaddr_un a;
  socklen_t len = unix_sockaddr(path, a, "dial");
  auto s = std::make_shared<socket_state>(new_socket(AF_UNIX), false);
  s->family = AF_UNIX;
  if (intr) intr->attach(s);
  int err = 0;
  {
    std::lock_guard lk(s->wmu);
    if (::connect(s->fd, reinterpret_cast<sockaddr*>(&a), len) < 0) err = errno;
    // Linux completes a Unix connect at once or fails (EAGAIN: backlog
    // full, reported as Go does); EINPROGRESS is handled for other kernels.
    while (err == EINPROGRESS || err == EINTR) {
      if (int e = wait_write(*s)) {
        err = e;
        break;
      }
      socklen_t l = sizeof err;
      if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
    }
  }
  if (err == 0) return unix_conn(std::move(s));
  if (err == ETIMEDOUT)
    throw timeout_error("goro::net: dial unix " + std::string(path) + ": i/o timeout");
  throw std::system_error(err, std::generic_category(),
                          "goro::net: dial unix " + std::string(path));
}

std::size_t unix_conn::read(void* buf, std::size_t n) {
  return stream_read(state_of(s_, "read"), buf, n);
}
void unix_conn::write(const void* buf, std::size_t n) {
  stream_write(state_of(s_, "write"), buf, n);
}
void unix_conn::close_write() { stream_close_write(state_of(s_, "close_write")); }
void unix_conn::close() {
  if (s_) s_->close();
}
void unix_conn::set_deadline(deadline t) { set_deadlines(s_, t, true, true, "set_deadline"); }
void unix_conn::set_read_deadline(deadline t) {
  set_deadlines(s_, t, true, false, "set_read_deadline");
}
void unix_conn::set_write_deadline(deadline t) {
  set_deadlines(s_, t, false, true, "set_write_deadline");
}
int unix_conn::native_handle() const { return s_ ? s_->fd : -1; }
std::string unix_conn::local_address() const { return s_ ? sock_name(s_->fd, false) : ""; }
std::string unix_conn::remote_address() const { return s_ ? sock_name(s_->fd, true) : ""; }

unix_listener unix_listener::listen(std::string_view path, int backlog) {
  if (backlog < 1)
    throw std::invalid_argument("goro::net::unix_listener::listen: backlog = " +
                                std::to_string(backlog) + ": must be at least 1");
  sockaddr_un a;
  socklen_t len = unix_sockaddr(path, a, "listen");
  int fd = new_socket(AF_UNIX);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) < 0 || ::listen(fd, backlog) < 0) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(),
                            "goro::net: listen unix " + std::string(path));
  }
  auto s = std::make_shared<socket_state>(fd, true);
  s->family = AF_UNIX;
  // The file we created, removed by the first close (not an abstract name,
  // which has no file, nor an autobound one).
  if (!path.empty() && path[0] != '@') s->unlink_path = std::string(path);
  unix_listener l;
  l.s_ = std::move(s);
  return l;
}

unix_conn unix_listener::accept() {
  int fd = accept_fd(state_of(s_, "accept"));
  auto s = std::make_shared<socket_state>(fd, false);
  s->family = AF_UNIX;
  return unix_conn(std::move(s));
}
void unix_listener::close() {
  if (s_) s_->close();
}
void unix_listener::set_deadline(deadline t) { set_deadlines(s_, t, true, false, "set_deadline"); }
std::string unix_listener::address() const { return s_ ? sock_name(s_->fd, false) : ""; }
int unix_listener::native_handle() const { return s_ ? s_->fd : -1; }

unix_listener listen_unix(std::string_view path) { return unix_listener::listen(path); }
unix_conn dial_unix(std::string_view path) { return unix_conn::dial(path); }
unix_conn dial_unix(const goro::context& ctx, std::string_view path) {
  return unix_conn::dial(ctx, path);
}

// ---------------------------------------------------------------------------
// Any descriptor

namespace {
void wait_fd(int fd, gd::poll_mode mode, std::optional<deadline> t, const char* op) {
  // As every deadline: {} and max() none (to_nanotime gives 0 and
  // INT64_MAX), one already past fails at once.
  std::int64_t dl = t ? to_nanotime(*t) : 0;
  int err = gd::poll_wait_fd(fd, mode, dl);
  if (err == 0) return;
  std::string where = std::string("goro::net: ") + op + " fd " + std::to_string(fd);
  if (err == ETIMEDOUT) throw timeout_error(where + ": i/o timeout");
  throw std::system_error(err, std::generic_category(), where);
}
}  // namespace

void wait_readable(int fd, std::optional<std::chrono::steady_clock::time_point> deadline) {
  wait_fd(fd, gd::poll_mode::read, deadline, "wait_readable");
}
void wait_writable(int fd, std::optional<std::chrono::steady_clock::time_point> deadline) {
  wait_fd(fd, gd::poll_mode::write, deadline, "wait_writable");
}

}  // namespace goro::net
