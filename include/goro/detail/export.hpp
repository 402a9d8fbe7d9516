// goro internals: which declarations a shared libgoro exports, and the link
// time check that an application and libgoro agree on ThreadSanitizer.
// Included by every public header. Not public API.
#pragma once

// libgoro is compiled with -fvisibility=hidden: only what is marked GORO_API
// is exported from libgoro.so. That is the public API, and the detail::
// functions the public inline and template code calls (the application's
// instantiations call them across the library boundary). Everything else is
// internal to the library (tests/visibility checks this).
#define GORO_API __attribute__((visibility("default")))

#if defined(__SANITIZE_THREAD__)
#define GORO_DETAIL_APP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_DETAIL_APP_TSAN 1
#endif
#endif

#ifdef GORO_DETAIL_APP_TSAN
// An application built with ThreadSanitizer needs a goro built with it too
// (GORO_SANITIZE=thread): only that one tells TSan about its goroutine
// switches, without which TSan reports races that do not exist and misses
// ones that do. Only such a libgoro defines this symbol (src/sync/lock.cpp),
// and every TSan translation unit that includes goro refers to it, so the
// mismatch is a link error that names it.
extern "C" GORO_API const int goro_app_uses_tsan_but_goro_built_without_it;
namespace goro::detail {
// used: kept although nothing reads it, so the reference reaches the linker.
[[gnu::used]] static const int* const tsan_build_check =
    &goro_app_uses_tsan_but_goro_built_without_it;
}  // namespace goro::detail
#endif
