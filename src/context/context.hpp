// The context switch: Boost.Context's fcontext primitives plus the sanitizer
// fiber annotations every switch needs (without them TSan and ASan reports on
// a stackful scheduler are noise).
#pragma once
#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

// Sanitizer detection (GORO_TSAN, GORO_ASAN) and <sanitizer/tsan_interface.h>.
#include "base/build_config.hpp"  // the tsan and asan constants
#include "goro/detail/sanitizer.hpp"

#ifdef GORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace goro::detail {

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

// Sanitizer state of one execution context (a goroutine, or an M's g0, which
// runs on the OS thread's own stack).
struct fiber_san {
#ifdef GORO_TSAN
  void* tsan_fiber = nullptr;
#endif
#ifdef GORO_ASAN
  const void* stack_lo = nullptr;  // the stack ASan should consider live
  std::size_t stack_size = 0;
  void* fake_stack = nullptr;  // ASan's fake-stack save slot
#endif
};

// Called on the switching side right before jump_fcontext to `to`.
// `leaving_for_good` is true when the current context will never be resumed
// (a dead goroutine), so ASan can free its fake stack.
inline void san_before_switch(fiber_san& from, fiber_san& to, bool leaving_for_good) {
#ifdef GORO_ASAN
  __sanitizer_start_switch_fiber(leaving_for_good ? nullptr : &from.fake_stack, to.stack_lo,
                                 to.stack_size);
#endif
#ifdef GORO_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)leaving_for_good;
}

// Called first thing in the resumed context. `self` is the context now
// running; `prev` receives the bounds ASan reports for the context we came
// from (how an M learns its own g0 stack the first time it leaves it).
inline void san_after_switch(fiber_san& self, fiber_san* prev) {
#ifdef GORO_ASAN
  const void* lo = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(self.fake_stack, &lo, &size);
  if (prev && !prev->stack_lo) {
    prev->stack_lo = lo;
    prev->stack_size = size;
  }
#endif
  (void)self;
  (void)prev;
}

inline void san_create(fiber_san& f, void* lo, std::size_t size) {
#ifdef GORO_TSAN
  if (!f.tsan_fiber) f.tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef GORO_ASAN
  f.stack_lo = lo;
  f.stack_size = size;
#endif
  (void)f;
  (void)lo;
  (void)size;
}

// A recycled goroutine starts afresh: ASan must not restore a fake stack
// from its previous life.
inline void san_reset_fake_stack(fiber_san& f) {
#ifdef GORO_ASAN
  f.fake_stack = nullptr;
#endif
  (void)f;
}

inline void san_destroy(fiber_san& f) {
#ifdef GORO_TSAN
  if (f.tsan_fiber) __tsan_destroy_fiber(f.tsan_fiber);
  f.tsan_fiber = nullptr;
#endif
  (void)f;
}

// C++ exception-handling state. The C++ runtime keeps, per thread, the list
// of exceptions being handled (what `throw;` and std::current_exception see)
// and the count of exceptions in flight (std::uncaught_exceptions). Both
// belong to the execution context, not the thread: a goroutine that parks
// inside a catch block or a destructor running during unwinding may resume on
// another M. So every switch moves the thread's state into the context it
// leaves and loads the state of the context it enters. The layout is
// libstdc++'s __cxa_eh_globals (the Itanium C++ ABI's, without ARM EHABI's
// extra field); both g++ and clang++ use libstdc++ here.
struct eh_state {
  void* caught = nullptr;     // __cxa_exception* caughtExceptions
  unsigned int uncaught = 0;  // uncaughtExceptions
};

// The calling thread's state, from the C++ runtime (<cxxabi.h> declares it
// with an incomplete type; we only need the address).
eh_state* thread_eh_state() noexcept;

inline void eh_switch(eh_state* thread, eh_state& from, const eh_state& to) noexcept {
  from = *thread;
  *thread = to;
}

// The OS thread's own context, for an M's g0.
inline void san_adopt_thread(fiber_san& f) {
#ifdef GORO_TSAN
  f.tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)f;
}

}  // namespace goro::detail
