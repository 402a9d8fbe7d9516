// goro::semaphore (x/sync's semaphore.Weighted): a token count and a FIFO
// of waiters, under one futex_lock. A waiter is a heap record (so a queue
// that outlives goro::run never points into an abandoned goroutine's
// stack) with a channel that is closed once its tokens are granted: a
// channel, so that the context form can wait in one select on it and on
// ctx.done().
//
// The lock guards cur_, the queue and every waiter's `granted`; the grant
// (cur_ += k, granted = true) happens under it, the wake-up (the close of
// the waiter's channel) after it is released. A waiter whose ctx fired
// decides under the lock whether it was granted meanwhile (then gives the
// tokens back) or is still queued (then leaves the queue), as x/sync does.
#include "goro/semaphore.hpp"

#include <list>
#include <stdexcept>
#include <string>
#include <vector>

#include "goro/select.hpp"
#include "sync/park.hpp"

namespace goro::detail {

struct sem_waiter {
  std::int64_t n;
  // The waiter's runtime generation if it waits as a goroutine (0: a
  // thread, which stays alive). A goroutine abandoned when its runtime
  // ended (spec/scheduler.md, "Lifetime") leaves the channel's queue but
  // not ours, and its frame, freed without unwinding, never lets go of the
  // record: prune_dead_locked frees such records once that runtime is gone,
  // before they could take tokens nobody would ever release, hold the
  // queue's head forever, or leak.
  std::uint64_t gen = goroutine_runtime_gen();
  chan<std::monostate> ready;  // closed when granted
  bool granted = false;        // under the semaphore's lock
  // Owners, under the semaphore's lock: the queue (while queued) and the
  // waiter (until acquire_slow returns). The last one frees the record;
  // prune_dead_locked frees it outright, its waiter being gone.
  int refs = 2;
  bool queued = false;  // under the lock
  std::list<sem_waiter*>::iterator pos;
};

struct sem_queue {
  std::list<sem_waiter*> q;
};

// Drops one owner's hold on w (under the semaphore's lock).
void sem_unref_locked(sem_waiter* w) {
  if (--w->refs == 0) delete w;
}

}  // namespace goro::detail

namespace goro {

using namespace detail;

namespace {

void check_weight(const char* fn, std::int64_t n) {
  if (n < 0)
    throw std::invalid_argument(std::string("goro::semaphore::") + fn + ": n = " +
                                std::to_string(n) + " is negative (a weight is 0 or more)");
}

// Frees the records at q's head whose goroutine can never run again: its
// runtime is gone (see sem_waiter::gen). Only the head matters: a dead record further back is
// dropped once it gets there, and holds nothing meanwhile.
void prune_dead_locked(std::list<sem_waiter*>& q) {
  while (!q.empty() && q.front()->gen != 0 && !runtime_gen_live(q.front()->gen)) {
    delete q.front();  // both owners: the queue, and a frame that is gone
    q.pop_front();
  }
}

// Grants the waiters at the head of q that fit (x/sync's notifyWaiters):
// strictly in order, so a large head waiter is not overtaken. The
// channels to close (after the lock) are appended to wake.
void notify_locked(std::list<sem_waiter*>& q, std::int64_t size, std::int64_t& cur,
                   std::vector<chan<std::monostate>>& wake) {
  for (prune_dead_locked(q); !q.empty(); prune_dead_locked(q)) {
    sem_waiter& w = *q.front();
    if (size - cur < w.n) break;
    cur += w.n;
    w.granted = true;
    w.queued = false;
    wake.push_back(w.ready);  // a handle of its own: w may be freed first
    q.pop_front();
    sem_unref_locked(&w);
  }
}

void wake_all(std::vector<chan<std::monostate>>& wake) {
  // The close happens after the grant under the lock, and before the
  // waiter's receive returns: the release happens before its acquire.
  for (auto& c : wake) c.close();
}

}  // namespace

semaphore::semaphore(std::int64_t n) : size_(n), q_(std::make_unique<sem_queue>()) {
  if (n < 0)
    throw std::invalid_argument("goro::semaphore: n = " + std::to_string(n) +
                                " is negative (the number of tokens is 0 or more)");
}

semaphore::~semaphore() {
  // Only records whose goroutine was abandoned can be left (a live waiter
  // keeps the semaphore in use): theirs are the only owners left.
  for (sem_waiter* w : q_->q) delete w;
}

bool semaphore::try_acquire(std::int64_t n) {
  check_weight("try_acquire", n);
  futex_guard g(lk_);
  prune_dead_locked(q_->q);
  if (size_ - cur_ < n || !q_->q.empty()) return false;
  cur_ += n;
  return true;
}

void semaphore::acquire(std::int64_t n) {
  check_weight("acquire", n);
  if (n > size_)
    throw std::invalid_argument("goro::semaphore::acquire: n = " + std::to_string(n) +
                                " exceeds the semaphore's size " + std::to_string(size_) +
                                " (it could never be granted)");
  {
    futex_guard g(lk_);
    prune_dead_locked(q_->q);
    if (size_ - cur_ >= n && q_->q.empty()) {
      cur_ += n;
      return;
    }
  }
  (void)acquire_slow(nullptr, n);
}

std::error_code semaphore::acquire(context ctx, std::int64_t n) {
  check_weight("acquire", n);
  // ctx already done "happened before" the call: fail even if the tokens
  // are free (as x/sync).
  if (auto e = ctx.err()) return e;
  {
    futex_guard g(lk_);
    prune_dead_locked(q_->q);
    if (size_ - cur_ >= n && q_->q.empty()) {
      cur_ += n;
      return {};
    }
  }
  if (n > size_) {
    // Can never fit: wait for ctx without queueing, so nobody waits behind
    // a request doomed to fail.
    (void)ctx.done().recv();
    return ctx.err();
  }
  return acquire_slow(&ctx, n);
}

std::error_code semaphore::acquire_slow(const context* ctx, std::int64_t n) {
  auto* w = new sem_waiter;
  w->n = n;
  std::vector<chan<std::monostate>> wake;
  {
    futex_guard g(lk_);
    // Again under the lock: a release may have come between.
    prune_dead_locked(q_->q);
    if (size_ - cur_ >= n && q_->q.empty()) {
      cur_ += n;
      delete w;  // never published
      return {};
    }
    w->pos = q_->q.insert(q_->q.end(), w);
    w->queued = true;
  }
  // w->ready, not a copy: our hold keeps w alive until we drop it below,
  // and an abandoned frame must own nothing that outlives the record (a
  // copy's reference to the channel would leak with the frame).
  if (!ctx) {
    (void)w->ready.recv();
    futex_guard g(lk_);
    sem_unref_locked(w);
    return {};
  }
  bool cancelled = false;
  goro::select(goro::on_recv(ctx->done(), [&] { cancelled = true; }), goro::on_recv(w->ready));
  if (!cancelled) {
    {
      futex_guard g(lk_);
      sem_unref_locked(w);
    }
    // Granted; if ctx is done as well, fail anyway and give the tokens back
    // (as x/sync: the caller sees a done ctx either way).
    if (auto e = ctx->err()) {
      release(n);
      return e;
    }
    return {};
  }
  {
    futex_guard g(lk_);
    if (w->granted) {
      // Granted after ctx was done: pretend it was not, give them back.
      cur_ -= n;
      notify_locked(q_->q, size_, cur_, wake);
    } else if (w->queued) {
      bool front = q_->q.front() == w;
      w->queued = false;
      q_->q.erase(w->pos);
      sem_unref_locked(w);  // the queue's hold; ours keeps w until below
      // Leaving the head may let the waiters behind us fit.
      if (front && size_ > cur_) notify_locked(q_->q, size_, cur_, wake);
    }
    sem_unref_locked(w);  // ours
  }
  wake_all(wake);
  return ctx->err();
}

void semaphore::release(std::int64_t n) {
  check_weight("release", n);
  std::vector<chan<std::monostate>> wake;
  {
    futex_guard g(lk_);
    if (n > cur_)
      throw std::logic_error("goro::semaphore::release: released more than held (n = " +
                             std::to_string(n) + ", held " + std::to_string(cur_) + ")");
    cur_ -= n;
    notify_locked(q_->q, size_, cur_, wake);
  }
  wake_all(wake);
}

}  // namespace goro
