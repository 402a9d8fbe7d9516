// Per-P run queues and the global run queue (Go's runqput/runqget/runqsteal,
// globrunqput/globrunqget). Protocol and memory orders: runq.cpp and
// spec/memory-model.md; TLA+ model: tla/RunQueue.tla.
#pragma once
#include <cstdint>

#include "sched/runtime.hpp"

namespace goro::detail {

struct runq_result {
  g* gp = nullptr;
  bool inherit_time = false;  // came from runnext: keeps the current slice
};

// Owner only. Puts gp on pp's local queue; next: into runnext, kicking the old
// runnext to the tail. A full queue moves half of it plus gp to the global
// queue (runqputslow).
void runqput(runtime& rt, p* pp, g* gp, bool next);
// Owner only. Moves half of pp's queue plus gp to the global queue in one
// batch. Returns false if a thief moved runqhead first (caller retries).
bool runqputslow(runtime& rt, p* pp, g* gp, std::uint32_t h, std::uint32_t t);
// Owner only. runnext first, then the head of the ring.
runq_result runqget(p* pp);
// Any M. Copies half of from's queue into batch[batch_head ..] (mod
// runq_capacity) and claims them with a CAS on from->runqhead. With
// steal_runnext and an empty ring, takes from's runnext instead.
std::uint32_t runqgrab(p* from, std::atomic<g*>* batch, std::uint32_t batch_head,
                       bool steal_runnext);
// Owner of `to`, whose queue must be empty (findrunnable steals only after
// runqget found nothing). Steals half of from's queue into to's; returns one G
// to run.
g* runqsteal(p* to, p* from, bool steal_runnext);
// True if pp has nothing queued (consistent snapshot, see runq.cpp).
bool runqempty(const p* pp);
std::uint32_t runqlen(const p* pp);

// Global run queue; caller holds rt.sched.lock.
void globrunqput(runtime& rt, g* gp);
void globrunqputhead(runtime& rt, g* gp);
void globrunqputbatch(runtime& rt, g* head, g* tail, std::int32_t n);
// Takes a fair share of the global queue (at most max if max > 0): returns one
// G and moves the rest to pp's local queue.
g* globrunqget(runtime& rt, p* pp, std::int32_t max);

}  // namespace goro::detail
