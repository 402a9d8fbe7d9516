// goro::errgroup (x/sync's errgroup.Group). The template half, which
// starts the goroutines, is in include/goro/errgroup.hpp.
#include "goro/errgroup.hpp"

#include <stdexcept>
#include <string>

namespace goro {

errgroup::errgroup(context parent) {
  auto [c, cancel] = with_cancel_cause(std::move(parent));
  ctx_ = std::move(c);
  cancel_ = std::move(cancel);
}

errgroup::~errgroup() {
  // The goroutines point at *this: they must end first. Cancel so that
  // those watching ctx() stop early (wait() was not called, or did not
  // see them all: nothing waits for the failure any more).
  cancel_({});
  wg_.wait();
}

void errgroup::fail(std::exception_ptr e, std::error_code why) noexcept {
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  err_ = std::move(e);
  cancel_(why);
}

void errgroup::finish() noexcept {
  if (sem_) (void)sem_->try_recv();  // our slot: always there to take
  active_.fetch_sub(1, std::memory_order_relaxed);
  wg_.done();
}

void errgroup::wait() {
  wg_.wait();
  cancel_({});
  if (err_) std::rethrow_exception(err_);
}

void errgroup::set_limit(int n) {
  int active = active_.load(std::memory_order_relaxed);
  if (active != 0)
    throw std::logic_error("goro::errgroup::set_limit: modify limit while " +
                           std::to_string(active) + " goroutines in the group are still active");
  if (n < 0) sem_.reset();
  else sem_.emplace(static_cast<std::size_t>(n));
}

}  // namespace goro
