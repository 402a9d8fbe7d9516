// goro::detail::fatal for the standalone harnesses (runq_trace, cex_runq)
// that compile a runtime header without linking the library: the header
// reports a broken invariant through fatal() (GORO_INVARIANT, and
// local_runq's runq_overflow check always), which here prints
// "<harness>: fatal: <message>" and exits with status 2, the status the
// harnesses' scripts read as "the invariant broke".
#pragma once
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

// Defines the one fatal() of the program; NAME is the harness's name.
#define GORO_HARNESS_FATAL(NAME)          \
  namespace goro::detail {                \
  void fatal(const char* fmt, ...) {      \
    va_list ap;                           \
    va_start(ap, fmt);                    \
    std::fputs(NAME ": fatal: ", stderr); \
    std::vfprintf(stderr, fmt, ap);       \
    std::fputc('\n', stderr);             \
    va_end(ap);                           \
    std::exit(2);                         \
  }                                       \
  }  // namespace goro::detail
