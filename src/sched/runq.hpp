// Per-P run queues and the global run queue (Go's runqput/runqget/runqsteal,
// globrunqput/globrunqget): the runtime's entry points. The per-P queue
// itself, its protocol and memory orders: sched/local_runq.hpp (and
// spec/memory-model.md); TLA+ model: tla/RunQueue.tla.
//
// Contracts, in Go's form:
//   Called from: who may call (the M holding pp is "pp's owner": a G with
//                that P, or its g0).
//   Locks:       locks held on entry, or taken inside.
//   May switch:  whether the call can switch goroutine (none here does: the
//                queues only move Gs, they never run one).
#pragma once
#include <cstdint>

#include "sched/runtime.hpp"

namespace goro::detail {

using runq_result = runq_take<g>;

// Puts gp on pp's local queue; next: into runnext, kicking the old runnext
// to the tail. A full queue moves half of it plus gp to the global queue
// (runqputslow).
// Called from: pp's owner. Locks: none held; takes sched.lock on overflow.
// May switch: no.
void runqput(runtime& rt, p* pp, g* gp, bool next);
// Moves half of pp's queue plus gp to the global queue in one batch. Returns
// false if a thief moved runqhead first (caller retries). h, t: runqput's
// reads of head and tail, the queue full.
// Called from: pp's owner (runqput). Locks: none held; takes sched.lock.
// May switch: no.
bool runqputslow(runtime& rt, p* pp, g* gp, std::uint32_t h, std::uint32_t t);
// runnext first, then the head of the ring.
// Called from: pp's owner. Locks: any or none. May switch: no.
runq_result runqget(p* pp);
// Copies half of from's queue into to's slots from batch_head on (mod
// runq_capacity) and claims them with a CAS on from's head; to's tail is
// not published (runqsteal does that). With steal_runnext and an empty ring,
// takes from's runnext instead, after a 3 us pause if from is running.
// Called from: to's owner, any from. Locks: none held (it may sleep 3 us).
// May switch: no (the pause sleeps the thread, not the G).
std::uint32_t runqgrab(p* from, p* to, std::uint32_t batch_head, bool steal_runnext);
// Steals half of from's queue into to's, which must be empty (findrunnable
// steals only after runqget found nothing); returns one G to run. *stolen,
// if given, is the number taken (the returned G included).
// Called from: to's owner, any from. Locks: none held. May switch: no.
g* runqsteal(p* to, p* from, bool steal_runnext, std::uint32_t* stolen = nullptr);
// True if pp has nothing queued (consistent snapshot, see local_runq.hpp).
// Called from: any M, any thread. Locks: any or none. May switch: no.
bool runqempty(const p* pp);
// The ring's length, runnext not counted (a racy snapshot).
// Called from: any thread. Locks: any or none. May switch: no.
std::uint32_t runqlen(const p* pp);

// The global run queue.
// Called from: any M. Locks: sched.lock held (the fields are guarded by it;
// runqsize is also read racily as a hint). May switch: no.
void globrunqput(runtime& rt, g* gp);
void globrunqputhead(runtime& rt, g* gp);
void globrunqputbatch(runtime& rt, g* head, g* tail, std::int32_t n);
// Takes a fair share of the global queue (at most max if max > 0): returns
// one G and moves the rest to pp's local queue.
// Called from: pp's owner. Locks: sched.lock held. May switch: no.
g* globrunqget(runtime& rt, p* pp, std::int32_t max);

}  // namespace goro::detail
