// goro internals: Clang's thread-safety annotations (-Wthread-safety), as
// Abseil's thread_annotations.h spells them. Not public API; in a public
// header because futex_lock, the capability, is (goro/detail/waitq.hpp).
//
// The macros expand to nothing on compilers without the attributes (g++),
// so they document the locking policy there and are checked by clang, whose
// presets (tsan, asan) turn every -Wthread-safety warning into an error.
// The analysis is intraprocedural: a function states what it needs
// (GORO_REQUIRES) and callers are checked against it. It cannot follow a lock
// across a context switch (taken on a goroutine's stack, released by the
// post-switch step on g0): those few functions carry
// GORO_NO_THREAD_SAFETY_ANALYSIS and say why.
#pragma once

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(capability)
#define GORO_THREAD_ANNOTATION_(x) __attribute__((x))
#endif
#endif
#ifndef GORO_THREAD_ANNOTATION_
#define GORO_THREAD_ANNOTATION_(x)
#endif

// A class whose instances are locks ("mutex": the name in diagnostics).
#define GORO_CAPABILITY(name) GORO_THREAD_ANNOTATION_(capability(name))
// An RAII class that holds a capability for its lifetime (a lock guard).
#define GORO_SCOPED_CAPABILITY GORO_THREAD_ANNOTATION_(scoped_lockable)
// A field read or written only while holding the lock(s).
#define GORO_GUARDED_BY(x) GORO_THREAD_ANNOTATION_(guarded_by(x))
// A pointer field whose pointee is read or written only under the lock(s).
#define GORO_PT_GUARDED_BY(x) GORO_THREAD_ANNOTATION_(pt_guarded_by(x))
// The caller must hold the lock(s) (exclusively) to call the function.
#define GORO_REQUIRES(...) GORO_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
// The function takes the lock(s) and returns holding them.
#define GORO_ACQUIRE(...) GORO_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
// The function releases the lock(s), which the caller holds.
#define GORO_RELEASE(...) GORO_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
// The function tries to take the lock(s): holding them iff it returns `b`.
#define GORO_TRY_ACQUIRE(...) GORO_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
// The caller must not hold the lock(s): the function takes them itself.
#define GORO_EXCLUDES(...) GORO_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// Lock order, on a lock's declaration: this lock is taken after (before)
// the named ones when both are held. Clang 14 parses these but checks them
// only under -Wthread-safety-beta, and only between locks of one scope; the
// order is written down in spec/memory-model.md ("Lock order") and checked at
// run time by TSan's deadlock detector (futex_lock tells TSan it is a mutex).
#define GORO_ACQUIRED_AFTER(...) GORO_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
#define GORO_ACQUIRED_BEFORE(...) GORO_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
// The function checks (or fatals) that the calling thread holds the lock;
// the analysis then assumes it held.
#define GORO_ASSERT_CAPABILITY(x) GORO_THREAD_ANNOTATION_(assert_capability(x))
// The function returns a reference to the named capability.
#define GORO_RETURN_CAPABILITY(x) GORO_THREAD_ANNOTATION_(lock_returned(x))
// Turns the analysis off inside one function (its annotations still bind
// its callers). Every use says why.
#define GORO_NO_THREAD_SAFETY_ANALYSIS GORO_THREAD_ANNOTATION_(no_thread_safety_analysis)
