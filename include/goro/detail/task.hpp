// goro internals shared with the public templates: the type-erased goroutine
// entry and the calls the templates make into the runtime. Not public API.
#pragma once
#include <cstddef>
#include <new>
#include <utility>

#include "goro/detail/export.hpp"
#include "goro/options.hpp"

namespace goro::detail {

// A goroutine's entry point with its captured arguments. Stored inline in the
// g when it fits (see newg_storage), else on the heap.
struct task {
  virtual void invoke() = 0;
  virtual ~task() = default;
};

template <class Fn>
struct task_impl final : task {
  Fn fn;
  explicit task_impl(Fn&& f) : fn(std::move(f)) {}
  void invoke() override { fn(); }
};

struct g;

// Spawning is two calls so the closure can be built in place inside the g:
// newg_begin reserves a g (and returns storage for a task of `size` bytes),
// newg_commit makes it runnable, newg_abort gives it back if building the
// task threw.
struct newg_handle {
  g* gp;
  void* storage;
  std::size_t align;  // the task's alignment: newg_abort frees storage as it was allocated
};
GORO_API newg_handle newg_begin(std::size_t size, std::size_t align);
GORO_API void newg_commit(newg_handle h, task* t);
GORO_API void newg_abort(newg_handle h) noexcept;

// A non-owning reference to the main function, valid while run() blocks.
struct main_ref {
  void* obj;
  void (*call)(void*);
};
// Runs `main` as goroutine 1 on a fresh runtime and returns when it returns;
// rethrows its exception after the runtime has stopped.
GORO_API void run_main(main_ref main, const options& opts);

}  // namespace goro::detail
