// goro::context internals the unit tests look at (not public API).
#pragma once
#include <cstddef>

#include "goro/context.hpp"

namespace goro::detail {

// How many children (derived contexts and after_func registrations) ctx
// holds now (Go's tests read cancelCtx.children). 0 for background.
// Called from: any
// Locks: none held; takes ctx's lock
// May switch: no
std::size_t ctx_num_children(const context& ctx);

}  // namespace goro::detail
