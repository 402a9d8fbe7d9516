// Compiled, never run, by check.sh: with GORO_TS_CASE unset every access
// holds its lock and clang must accept it; each GORO_TS_CASE names one lock
// error that clang -Wthread-safety -Werror must reject. The cases use goro's
// own annotated types, so they fail only while the annotations are there.
#include "goro/detail/waitq.hpp"
#include "sync/chan.hpp"
#include "time/timer.hpp"

using namespace goro::detail;

void heap_ok(timer_heap& h, timer* t) {
  futex_guard lk(h.lock);
  timer_push_locked(h, t);
  h.heap.clear();
}

void chan_ok(hchan* c) {
  c->lock.lock();
  c->closed = true;
  c->lock.unlock();
}

#if GORO_TS_CASE == 1
// A GUARDED_BY field written without its lock.
void bad(timer_heap& h) { h.heap.clear(); }
#elif GORO_TS_CASE == 2
// A GORO_REQUIRES function called without the lock.
void bad(timer_heap& h, timer* t) { timer_push_locked(h, t); }
#elif GORO_TS_CASE == 3
// A channel field read after the lock was released.
bool bad(hchan* c) {
  c->lock.lock();
  c->lock.unlock();
  return c->closed;
}
#elif GORO_TS_CASE == 4
// A lock taken and never released on one path.
void bad(hchan* c, bool early) {
  c->lock.lock();
  if (early) return;
  c->lock.unlock();
}
#endif
