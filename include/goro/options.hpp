// goro: runtime options, validated by goro::run.
#pragma once
#include <cstddef>

namespace goro {

// Options for one goro::run. Every field is validated when run starts; a value
// out of range throws std::invalid_argument naming the field, the value and the
// allowed range.
struct options {
  // Number of Ps (GOMAXPROCS). 0 means: the GORO_MAXPROCS environment variable
  // if set, else the number of hardware threads. Range 0..1024.
  unsigned procs = 0;
  // Usable bytes per goroutine stack, rounded up to whole pages.
  // Range 16 KiB .. 1 GiB.
  std::size_t stack_size = 256 * 1024;
  // true: every stack gets a PROT_NONE guard page below it, so an overflow
  // faults at once. A guarded stack costs two kernel memory maps, and
  // vm.max_map_count (65530 by default) then caps live goroutines near 32
  // thousand; goro::go reports that limit in its error.
  // false: stacks are carved from large pooled mappings with no guard page; a
  // canary at the bottom of each stack is checked at every switch and an
  // overflow ends the process with a message. Use this for a million live
  // goroutines.
  bool stack_guard = true;
};

}  // namespace goro
