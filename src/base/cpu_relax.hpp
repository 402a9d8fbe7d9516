// The spin-wait hint for busy loops (x86 PAUSE, Arm YIELD): it tells the
// core that this is a spin, which saves power, yields the pipeline to a
// hyper-thread sibling and avoids the memory-order mis-speculation penalty
// when the awaited store arrives. A no-op elsewhere.
#pragma once

namespace goro::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace goro::detail
