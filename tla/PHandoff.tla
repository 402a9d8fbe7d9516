------------------------------ MODULE PHandoff ------------------------------
(***************************************************************************)
(* Ms, Ps and Gs: how Ps pass between Ms through findrunnable, the        *)
(* spinning protocol (wakep/startm/stopm/resetspinning), syscalls and      *)
(* sysmon's retake/handoffp.  Names are Go's (runtime/proc.go) and         *)
(* goro's (src/sched/findrunnable.cpp, spinning.cpp, syscall.cpp;          *)
(* spec/traceability.md maps each action to its function).                *)
(*                                                                         *)
(* Granularity.  A step is one atomic access of a shared word, or one      *)
(* critical section under sched.lock.  Run queues are sets: their          *)
(* lock-free inside is RunQueue.tla's business, here a put, a get and a    *)
(* steal are single steps (they are linearizable, which is what            *)
(* RunQueue.tla and props/runq_concurrent_props.cpp check).  Where the     *)
(* code reads two shared words in a row and the model reads them in one  *)
(* step, the comment says why nothing is lost (spec/traceability.md has    *)
(* the full list).  The seq_cst fences of the spinning protocol are what   *)
(* make an interleaving (sequentially consistent) model valid for the      *)
(* store-load pairs in RWCheck and Recheck (spec/memory-model.md, sec. 3). *)
(*                                                                         *)
(* Environment.  A running G may park, ready a waiting G (goready and     *)
(* newproc both put it in the readier's runnext and call wakep), enter a   *)
(* syscall, or run forever: its steps are not fair.  A syscall may never   *)
(* return.  A thread without a P may ready a G (injectg).  Every           *)
(* scheduler step of an M, and sysmon, is weakly fair.                     *)
(*                                                                         *)
(* Syscalls and sysmon follow Go's entersyscall, exitsyscall,              *)
(* exitsyscallfast, exitsyscall0, retake and handoffp; goro implements     *)
(* them in issue 4 under the same names.                                   *)
(*                                                                         *)
(* The netpoller (src/netpoll/netpoll.cpp, findrunnable.cpp:               *)
(* block_in_netpoll, netpoll_nonblocking; sysmon.cpp): the Gs in IOG may   *)
(* park waiting for a socket (poll_wait), an edge (environment, not fair)  *)
(* makes one ready to be polled, and an M that found no work blocks in    *)
(* netpoll without a P instead of parking, one at a time (the CAS on       *)
(* sched.timer_sleeper).  The readiness latch itself (poll_latch.hpp) is   *)
(* c11/netpoll_c11.cpp's business: here an edge finds its G parked, one   *)
(* that comes before the park is consumed and the G does not park at all. *)
(* Timers are not modelled: the blocker sleeps with no deadline            *)
(* (timer_sleep_until = INT64_MAX) and only an edge or netpoll_break wakes *)
(* it.  With IOG = {} no G waits for a socket, netpoll.waiters stays 0 and *)
(* block_in_netpoll always returns at once: the model is the one without  *)
(* a netpoller, state for state (PHandoff.cfg); PHandoffNetpoll.cfg turns  *)
(* it on.                                                                  *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS NM, NP, NG,    \* numbers of Ms, Ps and Gs
          IOG             \* the Gs that may wait for a socket

ASSUME NM \in Nat /\ NP \in Nat /\ NG \in Nat /\ NP >= 1 /\ NG >= 1 /\ NM >= NG + 1
ASSUME IOG \subseteq 1..NG

Ms == 1..NM
Ps == 1..NP
Gs == 1..NG
NoM == 0
NoP == 0
NoG == 0

VARIABLES
    gstatus,        \* g.atomicstatus: runnable, running, syscall, waiting
    runq,           \* runq[p]: p's local run queue (ring + runnext), a set
    globrunq,       \* sched.runq, under sched.lock
    pstatus,        \* p.status: idle, running, syscall
    pm,             \* p.m
    pidle,          \* sched.pidle (npidle = its size), under sched.lock
    mp,             \* m.p
    moldp,          \* m.oldp: the P an M left in entersyscall
    mnextp,         \* m.nextp: the P startm hands to a parked M
    mcurg,          \* m.curg (also a G that findrunnable returned)
    mspinning,      \* m.spinning
    mpc,            \* where each M is in the scheduler
    mi,             \* the P index of the spinning M's final re-check loop
    nmspinning,     \* sched.nmspinning
    needspinning,   \* sched.needspinning (see Release)
    spc, sp,        \* sysmon: pc, and the P it is handing off
    gio,            \* a G's part in the netpoller (see IOStates)
    npwaiters,      \* netpoll.waiters
    sleeper,        \* sched.timer_sleeper: the M claimed to block in netpoll
    npbreak,        \* a netpoll_break not yet drained (wake_sig = 1, the
                    \* eventfd readable)
    plist           \* plist[m]: the Gs m's poll took off their slots, for
                    \* m to ready (its netpoll_ready_list)

gvars == <<gstatus, runq, globrunq>>
pvars == <<pstatus, pm, pidle>>
mvars == <<mp, moldp, mnextp, mcurg, mspinning, mpc, mi>>
svars == <<nmspinning, needspinning>>
npvars == <<gio, npwaiters, sleeper, npbreak, plist>>
vars == <<gvars, pvars, mvars, svars, spc, sp, npvars>>

GStates == {"runnable", "running", "syscall", "waiting"}
PStates == {"idle", "running", "syscall"}
MPcs == {"parked", "woken", "schedule", "steal", "release", "dropspin",
         "recheck", "execute", "running", "rwCheck", "wakepCas", "wakepGet",
         "syscall", "exitFast", "exitPidle", "exit0",
         "ioDone", "npCheck", "npCommit", "npRecheck", "npBlocked", "npWoken", "npPidle",
         "npReady"}
\* gio[g]: "none"; "slot": parked in io_wait, in its descriptor's latch
\* slot; "edge": still there, and epoll holds an edge for it; "polled":
\* taken off the slot by a poll, in that poller's hands until it readies
\* it; "dec": readied, and it has yet to decrement netpoll.waiters (the
\* first thing it does when it runs again).
IOStates == {"none", "slot", "edge", "polled", "dec"}

TypeOK ==
    /\ gstatus \in [Gs -> GStates]
    /\ runq \in [Ps -> SUBSET Gs] /\ globrunq \in SUBSET Gs
    /\ pstatus \in [Ps -> PStates]
    /\ pm \in [Ps -> Ms \cup {NoM}] /\ pidle \in SUBSET Ps
    /\ mp \in [Ms -> Ps \cup {NoP}] /\ moldp \in [Ms -> Ps \cup {NoP}]
    /\ mnextp \in [Ms -> Ps \cup {NoP}]
    /\ mcurg \in [Ms -> Gs \cup {NoG}]
    /\ mspinning \in [Ms -> BOOLEAN]
    /\ mpc \in [Ms -> MPcs] /\ mi \in [Ms -> 0..NP]
    /\ nmspinning \in Nat /\ needspinning \in BOOLEAN
    /\ spc \in {"idle", "handoff"} /\ sp \in Ps \cup {NoP}
    /\ gio \in [Gs -> IOStates] /\ npwaiters \in Nat
    /\ sleeper \in Ms \cup {NoM} /\ npbreak \in BOOLEAN
    /\ plist \in [Ms -> SUBSET Gs]

\* M1 runs G1 on P1 (the main goroutine); the other Ps are idle, the other
\* Ms parked, the other Gs waiting (not yet created, or blocked).
Init ==
    /\ gstatus = [g \in Gs |-> IF g = 1 THEN "running" ELSE "waiting"]
    /\ runq = [p \in Ps |-> {}] /\ globrunq = {}
    /\ pstatus = [p \in Ps |-> IF p = 1 THEN "running" ELSE "idle"]
    /\ pm = [p \in Ps |-> IF p = 1 THEN 1 ELSE NoM]
    /\ pidle = Ps \ {1}
    /\ mp = [m \in Ms |-> IF m = 1 THEN 1 ELSE NoP]
    /\ moldp = [m \in Ms |-> NoP] /\ mnextp = [m \in Ms |-> NoP]
    /\ mcurg = [m \in Ms |-> IF m = 1 THEN 1 ELSE NoG]
    /\ mspinning = [m \in Ms |-> FALSE]
    /\ mpc = [m \in Ms |-> IF m = 1 THEN "running" ELSE "parked"]
    /\ mi = [m \in Ms |-> 0]
    /\ nmspinning = 0 /\ needspinning = FALSE
    /\ spc = "idle" /\ sp = NoP
    /\ gio = [g \in Gs |-> "none"] /\ npwaiters = 0
    /\ sleeper = NoM /\ npbreak = FALSE
    /\ plist = [m \in Ms |-> {}]

-----------------------------------------------------------------------------
Min(S) == CHOOSE x \in S : \A y \in S : x <= y
NPIdle == Cardinality(pidle)
Parked == {m \in Ms : mpc[m] = "parked"}

\* pidleget and mget return the head of a list; which one does not matter,
\* so the model takes the smallest id (one successor instead of several).
PidleGet == Min(pidle)
MGet == Min(Parked)

\* startm(pp, spinning) for a caller that already holds pp off the idle
\* list: mget an M, give it pp as nextp and wake it (its mpc becomes
\* "woken"; the caller composes that into its own update of mpc with
\* WakeM).  Model bound: Go's newm, when no M is parked, is not modelled;
\* the caller waits until an M parks instead.  An M can stay busy forever
\* only while it holds a G (running it, or in a syscall); one that holds
\* no G gives up its P and parks, fairly.  With NM >= NG + 1 the wait
\* always ends: wakep's caller holds a G itself, so at most NG - 1 other
\* Ms hold one.  The bound removes only interleavings that would need
\* more than NM threads.
StartM(pp, spin) ==
    /\ Parked # {}
    /\ mnextp' = [mnextp EXCEPT ![MGet] = pp]
    /\ mspinning' = [mspinning EXCEPT ![MGet] = spin]
WakeM(pcs) == [pcs EXCEPT ![MGet] = "woken"]

\* After ready_wake: back to readying the rest of a poll's list (an M on
\* g0 with no G: ready_polled), back to the running G (goready/newproc),
\* or on to execute the G findrunnable returned (resetspinning).
Cont(m) == IF mcurg[m] = NoG THEN "npReady"
           ELSE IF gstatus[mcurg[m]] = "running" THEN "running" ELSE "execute"

\* Where findrunnable goes when it gives up: block_in_netpoll, which
\* returns at once (to stopm) unless netpoll.waiters != 0.  Without Gs
\* that wait for sockets, waiters is always 0: straight to stopm, so that
\* PHandoff.cfg has the same states as before the netpoller was modelled.
Idle == IF IOG = {} THEN "parked" ELSE "npCheck"

\* findrunnable's non-blocking poll (FindRunnable) is an optimization: the
\* blocker and sysmon's poll are what guarantee progress.  FALSE here keeps
\* PHandoffNetpoll.cfg in the CI budget; a config may override it with
\* NpPollHere <- TRUE (tla/README.md).
NpPollHere == FALSE

\* timer_sleep_until = INT64_MAX: the sleeper between its store of the
\* deadline (no timer is modelled, so it is always "none") and its reset.
UntilMax == sleeper # NoM /\ mpc[sleeper] \in {"npRecheck", "npBlocked", "npWoken"}
\* An M in epoll_wait (lastpoll = 0 from just before to just after).
Blocked == \E m \in Ms : mpc[m] = "npBlocked"
EdgeGs == {g \in Gs : gio[g] = "edge"}

-----------------------------------------------------------------------------
(***************************************************************************)
(* An M's scheduler: stopm/startm hand-over, findrunnable, execute.       *)
(***************************************************************************)

\* stopm, after the wakeup: acquirep(nextp).
AcquireP(m) ==
    LET pp == mnextp[m] IN
    /\ mpc[m] = "woken"
    /\ mp' = [mp EXCEPT ![m] = pp]
    /\ pm' = [pm EXCEPT ![pp] = m]
    /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
    /\ mnextp' = [mnextp EXCEPT ![m] = NoP]
    /\ mpc' = [mpc EXCEPT ![m] = "schedule"]
    /\ UNCHANGED <<gvars, pidle, moldp, mcurg, mspinning, mi, svars, spc, sp, npvars>>

\* becomeSpinning, for the self M: spinning, nmspinning++, needspinning = 0.
BecomeSpinning(m) ==
    /\ mspinning' = [mspinning EXCEPT ![m] = TRUE]
    /\ nmspinning' = nmspinning + 1
    /\ needspinning' = FALSE

\* findrunnable, top: the local queue, then the global queue (the code
\* peeks at runqsize and then locks; injectg and exitsyscall0 put to the
\* global queue under the lock, so a put between the peek and the lock is
\* the same as a put before both).  Nothing: decide whether to spin, by
\* Go's rule "spinning Ms < half the busy Ps", from racy reads of
\* nmspinning and npidle (read in one step here: the rule is a heuristic,
\* both outcomes are explored whenever the reads could differ, and the
\* needspinning and re-check protocols must cover a wrong decision).
\* Before the spin decision, netpoll_nonblocking: if waiters != 0 and no
\* M is blocked in netpoll (lastpoll != 0), poll without blocking and
\* ready what it finds onto this P (NpReady).  In the model (NpPollHere)
\* only while no M is blocked, and a poll that finds nothing is not
\* modelled (it changes nothing but lastpoll).  The code may also poll
\* while an M blocks (its load of lastpoll can precede the blocker's
\* store of 0, and its store of nanotime() follow it): that extra
\* competitor for an edge is not modelled (tla/README.md).
FindRunnable(m) ==
    LET pp == mp[m] IN
    /\ mpc[m] = "schedule"
    /\ \/ \E g \in runq[pp] :
             /\ runq' = [runq EXCEPT ![pp] = @ \ {g}]
             /\ mcurg' = [mcurg EXCEPT ![m] = g]
             /\ mpc' = [mpc EXCEPT ![m] = "execute"]
             /\ UNCHANGED <<globrunq, mspinning, svars, gio, plist>>
       \/ /\ runq[pp] = {}
          /\ \E g \in globrunq :
             /\ globrunq' = globrunq \ {g}
             /\ mcurg' = [mcurg EXCEPT ![m] = g]
             /\ mpc' = [mpc EXCEPT ![m] = "execute"]
             /\ UNCHANGED <<runq, mspinning, svars, gio, plist>>
       \/ /\ runq[pp] = {} /\ globrunq = {}
          /\ NpPollHere /\ npwaiters # 0 /\ EdgeGs # {} /\ ~Blocked
          /\ gio' = [g \in Gs |-> IF g \in EdgeGs THEN "polled" ELSE gio[g]]
          /\ plist' = [plist EXCEPT ![m] = EdgeGs]
          /\ mpc' = [mpc EXCEPT ![m] = "npReady"]
          /\ UNCHANGED <<runq, globrunq, mcurg, mspinning, svars>>
       \/ /\ runq[pp] = {} /\ globrunq = {}
          /\ IF mspinning[m] \/ 2 * nmspinning < NP - NPIdle
               THEN /\ IF mspinning[m] THEN UNCHANGED <<mspinning, svars>>
                                       ELSE BecomeSpinning(m)
                    /\ mpc' = [mpc EXCEPT ![m] = "steal"]
               ELSE /\ mpc' = [mpc EXCEPT ![m] = "release"]
                    /\ UNCHANGED <<mspinning, svars>>
          /\ UNCHANGED <<runq, globrunq, mcurg, gio, plist>>
    /\ UNCHANGED <<gstatus, pvars, mp, moldp, mnextp, mi, spc, sp,
                   npwaiters, sleeper, npbreak>>

\* stealwork: runqsteal from another P that is not on the idle list (Go
\* tests idlepMask, which pidleput sets; a P that sysmon has just retaken
\* is idle by status but not on the list, and may hold work), taking half
\* of its queue rounded up: one G to run, the rest into our own queue.
\* One step: runqsteal is linearizable.
Steal(m) ==
    LET pp == mp[m]
        victims == {p2 \in Ps \ {pp} : p2 \notin pidle /\ runq[p2] # {}}
    IN
    /\ mpc[m] = "steal"
    /\ IF victims = {}
         THEN /\ mpc' = [mpc EXCEPT ![m] = "release"]
              /\ UNCHANGED <<runq, mcurg>>
         ELSE \E p2 \in victims :
              \E batch \in SUBSET runq[p2] :
              \E g \in batch :
                LET k == Cardinality(runq[p2]) IN
                /\ Cardinality(batch) = k - k \div 2
                /\ runq' = [runq EXCEPT ![p2] = @ \ batch,
                                        ![pp] = @ \cup (batch \ {g})]
                /\ mcurg' = [mcurg EXCEPT ![m] = g]
                /\ mpc' = [mpc EXCEPT ![m] = "execute"]
    /\ UNCHANGED <<gstatus, globrunq, pvars, mp, moldp, mnextp, mspinning, mi,
                   svars, spc, sp, npvars>>

\* Go's "delicate dance": a non-spinning M about to drop its P while
\* someone failed to find an idle P for work it had seen (needspinning)
\* becomes the spinner instead.  Mutant PHandoff_no_needspinning (goro's
\* findrunnable as of issue 3) replaces this by FALSE.
AbortDropForSpinner(m) == ~mspinning[m] /\ needspinning

\* findrunnable, "return P and block", under sched.lock: the global queue
\* once more; else releasep + pidleput.  A spinning M goes on to drop its
\* spinning state; a non-spinning one parks (stopm: its mput under the same
\* lock, folded into this step), or first tries block_in_netpoll (Idle).
Release(m) ==
    LET pp == mp[m] IN
    /\ mpc[m] = "release"
    /\ IF globrunq # {}
         THEN \E g \in globrunq :
              /\ globrunq' = globrunq \ {g}
              /\ mcurg' = [mcurg EXCEPT ![m] = g]
              /\ mpc' = [mpc EXCEPT ![m] = "execute"]
              /\ UNCHANGED <<pvars, mp, mspinning, svars>>
         ELSE IF AbortDropForSpinner(m)
           THEN /\ BecomeSpinning(m)
                /\ mpc' = [mpc EXCEPT ![m] = "schedule"]
                /\ UNCHANGED <<globrunq, pvars, mp, mcurg>>
           ELSE /\ mp' = [mp EXCEPT ![m] = NoP]
                /\ pm' = [pm EXCEPT ![pp] = NoM]
                /\ pstatus' = [pstatus EXCEPT ![pp] = "idle"]
                /\ pidle' = pidle \cup {pp}
                /\ mpc' = [mpc EXCEPT ![m] =
                                IF mspinning[m] THEN "dropspin" ELSE Idle]
                /\ UNCHANGED <<globrunq, mcurg, mspinning, svars>>
    /\ UNCHANGED <<gstatus, runq, moldp, mnextp, mi, spc, sp, npvars>>

\* Spinning -> not spinning: nmspinning--, then (after a seq_cst fence)
\* look at every run queue again.
\* Mutant PHandoff_no_spin_recheck replaces this action (straight to stopm).
DropSpin(m) ==
    /\ mpc[m] = "dropspin"
    /\ mspinning' = [mspinning EXCEPT ![m] = FALSE]
    /\ nmspinning' = nmspinning - 1
    /\ mpc' = [mpc EXCEPT ![m] = "recheck"]
    /\ mi' = [mi EXCEPT ![m] = 1]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, needspinning,
                   spc, sp, npvars>>

\* The re-check loop, one P per step (the code reads the queues one after
\* the other).  Work seen: take an idle P back (pidleget under the lock)
\* and spin again; no idle P: set needspinning (Go's pidlegetSpinning) and
\* park, a non-spinning M about to drop its P will spin for us.
Recheck(m) ==
    LET i == mi[m] IN
    /\ mpc[m] = "recheck"
    /\ IF runq[i] # {}
         THEN IF pidle # {}
                THEN LET pp == PidleGet IN
                     /\ pidle' = pidle \ {pp}
                     /\ mp' = [mp EXCEPT ![m] = pp]
                     /\ pm' = [pm EXCEPT ![pp] = m]
                     /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
                     /\ BecomeSpinning(m)
                     /\ mpc' = [mpc EXCEPT ![m] = "schedule"]
                ELSE /\ needspinning' = TRUE
                     /\ mpc' = [mpc EXCEPT ![m] = Idle]
                     /\ UNCHANGED <<pvars, mp, mspinning, nmspinning>>
         ELSE /\ mpc' = [mpc EXCEPT ![m] = IF i < NP THEN "recheck" ELSE Idle]
              /\ UNCHANGED <<pvars, mp, mspinning, svars>>
    /\ mi' = [mi EXCEPT ![m] = IF runq[i] = {} /\ i < NP THEN i + 1 ELSE 0]
    /\ UNCHANGED <<gvars, moldp, mnextp, mcurg, spc, sp, npvars>>

\* schedule -> execute.  A spinning M that found work first stops spinning
\* (resetspinning: nmspinning--, then ready_wake to start the next spinner).
Execute(m) ==
    LET g == mcurg[m] IN
    /\ mpc[m] = "execute"
    /\ IF mspinning[m]
         THEN /\ mspinning' = [mspinning EXCEPT ![m] = FALSE]
              /\ nmspinning' = nmspinning - 1
              /\ mpc' = [mpc EXCEPT ![m] = "rwCheck"]
              /\ UNCHANGED gstatus
         ELSE /\ gstatus' = [gstatus EXCEPT ![g] = "running"]
              \* A G back from io_wait first leaves netpoll.waiters (IODone).
              /\ mpc' = [mpc EXCEPT ![m] = IF gio[g] = "dec" THEN "ioDone"
                                                             ELSE "running"]
              /\ UNCHANGED <<mspinning, nmspinning>>
    /\ UNCHANGED <<runq, globrunq, pvars, mp, moldp, mnextp, mcurg, mi,
                   needspinning, spc, sp, npvars>>

\* ready_wake / wakep after the submitter's seq_cst fence: load nmspinning;
\* somebody spins already: they will find the work (or re-check).  This is
\* Go's wakep since 1.21: it does not look at npidle first, so that a
\* failed pidleget can set needspinning (WakePGet).
\* Mutant PHandoff_no_needspinning restores goro's extra npidle test.
RWCheck(m) ==
    /\ mpc[m] = "rwCheck"
    /\ mpc' = [mpc EXCEPT ![m] = IF nmspinning = 0 THEN "wakepCas" ELSE Cont(m)]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* wakep: CAS(nmspinning, 0, 1), so one waker at a time starts a spinner.
WakePCas(m) ==
    /\ mpc[m] = "wakepCas"
    /\ IF nmspinning = 0
         THEN /\ nmspinning' = 1
              /\ mpc' = [mpc EXCEPT ![m] = "wakepGet"]
         ELSE /\ mpc' = [mpc EXCEPT ![m] = Cont(m)]
              /\ UNCHANGED nmspinning
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   needspinning, spc, sp, npvars>>

\* wakep, under sched.lock: pidlegetSpinning, then startm(pp, true); no idle
\* P: undo the count and set needspinning.
WakePGet(m) ==
    /\ mpc[m] = "wakepGet"
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ StartM(pp, TRUE)
              /\ mpc' = WakeM([mpc EXCEPT ![m] = Cont(m)])
              /\ UNCHANGED svars
         ELSE /\ nmspinning' = nmspinning - 1
              /\ needspinning' = TRUE
              /\ mpc' = [mpc EXCEPT ![m] = Cont(m)]
              /\ UNCHANGED <<pidle, mnextp, mspinning>>
    /\ UNCHANGED <<gvars, pstatus, pm, mp, moldp, mcurg, mi, spc, sp, npvars>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* What a running G does (not fair: it may also run forever).             *)
(***************************************************************************)

\* gopark: the G waits; its M goes back to findrunnable.
Park(m) ==
    /\ mpc[m] = "running"
    /\ gstatus' = [gstatus EXCEPT ![mcurg[m]] = "waiting"]
    /\ mcurg' = [mcurg EXCEPT ![m] = NoG]
    /\ mpc' = [mpc EXCEPT ![m] = "schedule"]
    /\ UNCHANGED <<runq, globrunq, pvars, mp, moldp, mnextp, mspinning, mi,
                   svars, spc, sp, npvars>>

\* poll_wait, for a G in IOG that got EAGAIN: arm the latch slot,
\* netpoll.waiters++, and park (park_unlock: pd.lock is released once the
\* park has committed, so no edge falls between; an edge from before is
\* latched and consumed instead, and the G does not park: not modelled).
ParkIO(m) ==
    LET g == mcurg[m] IN
    /\ mpc[m] = "running"
    /\ g \in IOG /\ gio[g] = "none"
    /\ gstatus' = [gstatus EXCEPT ![g] = "waiting"]
    /\ gio' = [gio EXCEPT ![g] = "slot"]
    /\ npwaiters' = npwaiters + 1
    /\ mcurg' = [mcurg EXCEPT ![m] = NoG]
    /\ mpc' = [mpc EXCEPT ![m] = "schedule"]
    /\ UNCHANGED <<runq, globrunq, pvars, mp, moldp, mnextp, mspinning, mi,
                   svars, spc, sp, sleeper, npbreak, plist>>

\* goready(g2) / newproc: g2 into our P's runnext, then ready_wake.
Ready(m, g2) ==
    /\ mpc[m] = "running"
    /\ gstatus[g2] = "waiting" /\ gio[g2] = "none"
    /\ gstatus' = [gstatus EXCEPT ![g2] = "runnable"]
    /\ runq' = [runq EXCEPT ![mp[m]] = @ \cup {g2}]
    /\ mpc' = [mpc EXCEPT ![m] = "rwCheck"]
    /\ UNCHANGED <<globrunq, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* entersyscall: the P stays with this M as m.oldp in state syscall, but
\* p.m and m.p are cleared (the status store comes last, so sysmon sees
\* syscall only with the rest done).
EnterSyscall(m) ==
    LET pp == mp[m] IN
    /\ mpc[m] = "running"
    /\ gstatus' = [gstatus EXCEPT ![mcurg[m]] = "syscall"]
    /\ pstatus' = [pstatus EXCEPT ![pp] = "syscall"]
    /\ pm' = [pm EXCEPT ![pp] = NoM]
    /\ mp' = [mp EXCEPT ![m] = NoP]
    /\ moldp' = [moldp EXCEPT ![m] = pp]
    /\ mpc' = [mpc EXCEPT ![m] = "syscall"]
    /\ UNCHANGED <<runq, globrunq, pidle, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* exitsyscall returns from the kernel (whenever it likes) and
\* exitsyscallfast loads oldp.status: still syscall, try to CAS it back.
ExitSyscall(m) ==
    /\ mpc[m] = "syscall"
    /\ IF pstatus[moldp[m]] = "syscall"
         THEN /\ mpc' = [mpc EXCEPT ![m] = "exitFast"]
              /\ UNCHANGED moldp
         ELSE /\ mpc' = [mpc EXCEPT ![m] = "exitPidle"]
              /\ moldp' = [moldp EXCEPT ![m] = NoP]
    /\ UNCHANGED <<gvars, pvars, mp, mnextp, mcurg, mspinning, mi, svars,
                   spc, sp, npvars>>

\* PHandoffNetpoll.cfg replaces EnterSyscall by this (EnterSyscall <-
\* NoSyscall): syscalls, retake and handoffp are PHandoff.cfg's, and
\* together with the netpoller they exceed the CI budget.
NoSyscall(m) == FALSE

GStep(m) == Park(m) \/ (\E g2 \in Gs : Ready(m, g2)) \/ EnterSyscall(m)
            \/ ExitSyscall(m) \/ ParkIO(m)

-----------------------------------------------------------------------------
(***************************************************************************)
(* exitsyscall, once started (fair).                                       *)
(***************************************************************************)

\* exitsyscallfast: CAS(oldp.status, syscall, idle) then wirep.  The CAS
\* races with sysmon's retake CAS on the same word: exactly one wins.
\* Mutant PHandoff_exitsyscall_no_cas replaces this action.
ExitSyscallFast(m) ==
    LET pp == moldp[m] IN
    /\ mpc[m] = "exitFast"
    /\ IF pstatus[pp] = "syscall"
         THEN /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
              /\ pm' = [pm EXCEPT ![pp] = m]
              /\ mp' = [mp EXCEPT ![m] = pp]
              /\ gstatus' = [gstatus EXCEPT ![mcurg[m]] = "running"]
              /\ mpc' = [mpc EXCEPT ![m] = "running"]
         ELSE /\ mpc' = [mpc EXCEPT ![m] = "exitPidle"]
              /\ UNCHANGED <<pstatus, pm, mp, gstatus>>
    /\ moldp' = [moldp EXCEPT ![m] = NoP]
    /\ UNCHANGED <<runq, globrunq, pidle, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* exitsyscallfast_pidle: any idle P, under sched.lock (the code peeks at
\* sched.pidle first; a stale peek is the "no idle P" branch).
ExitSyscallPidle(m) ==
    /\ mpc[m] = "exitPidle"
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
              /\ pm' = [pm EXCEPT ![pp] = m]
              /\ mp' = [mp EXCEPT ![m] = pp]
              /\ gstatus' = [gstatus EXCEPT ![mcurg[m]] = "running"]
              /\ mpc' = [mpc EXCEPT ![m] = "running"]
         ELSE /\ mpc' = [mpc EXCEPT ![m] = "exit0"]
              /\ UNCHANGED <<pvars, mp, gstatus>>
    /\ UNCHANGED <<runq, globrunq, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* exitsyscall0, on g0, under sched.lock: an idle P after all (acquirep +
\* execute), else the G goes to the global queue and the M parks (stopm).
ExitSyscall0(m) ==
    LET g == mcurg[m] IN
    /\ mpc[m] = "exit0"
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
              /\ pm' = [pm EXCEPT ![pp] = m]
              /\ mp' = [mp EXCEPT ![m] = pp]
              /\ gstatus' = [gstatus EXCEPT ![g] = "running"]
              /\ mpc' = [mpc EXCEPT ![m] = "running"]
              /\ UNCHANGED <<globrunq, mcurg>>
         ELSE /\ gstatus' = [gstatus EXCEPT ![g] = "runnable"]
              /\ globrunq' = globrunq \cup {g}
              /\ mcurg' = [mcurg EXCEPT ![m] = NoG]
              /\ mpc' = [mpc EXCEPT ![m] = "parked"]
              /\ UNCHANGED <<pvars, mp>>
    /\ UNCHANGED <<runq, moldp, mnextp, mspinning, mi, svars, spc, sp, npvars>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* The netpoller: block_in_netpoll (findrunnable.cpp), netpoll and         *)
(* netpoll_break (netpoll.cpp), poll_wait's return (netpoll.cpp), and the  *)
(* ready of what a poll found (ready_polled; goready in goroutine.cpp:    *)
(* runqput + ready_wake with a P, injectg without).                        *)
(***************************************************************************)

\* injectg, for a G a thread without a P readies (goready's P-less path):
\* the global queue and an idle P under sched.lock, then startm(pp, false).
GlobInject(g) ==
    /\ globrunq' = globrunq \cup {g}
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ StartM(pp, FALSE)
              /\ mpc' = WakeM(mpc)
         ELSE UNCHANGED <<pidle, mnextp, mspinning, mpc>>

\* The blocker, once it found no idle P, readies its list through injectg.
\* Mutant PHandoff_netpoll_inject_no_wake replaces this.
NpInject(g) == GlobInject(g)

\* block_in_netpoll, entry: no timer (not modelled) and waiters == 0
\* (relaxed load): return false, stopm.  Else claim the blocker's place,
\* CAS(timer_sleeper, null, m); lost: stopm.  The load and the CAS are one
\* step here: a change of waiters between them is the same as one between
\* the CAS and NpCommit, which the model has (the CAS only excludes other
\* claimers, and they read waiters themselves).
\* Mutant PHandoff_netpoll_two_blockers replaces this and NpCommit.
NpCheck(m) ==
    /\ mpc[m] = "npCheck"
    /\ IF npwaiters # 0 /\ sleeper = NoM
         THEN /\ sleeper' = m
              /\ mpc' = [mpc EXCEPT ![m] = "npCommit"]
         ELSE /\ mpc' = [mpc EXCEPT ![m] = "parked"]
              /\ UNCHANGED sleeper
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, gio, npwaiters, npbreak, plist>>

\* timer_sleep_commit: timer_sleep_until = INT64_MAX (no deadline), seq_cst
\* fence, re-read the timers (none).  One step: the store is relaxed and
\* only its value matters (UntilMax), read by a single load elsewhere.
NpCommit(m) ==
    /\ mpc[m] = "npCommit"
    /\ mpc' = [mpc EXCEPT ![m] = "npRecheck"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* After the fence, waiters again (relaxed): the last waiter may have left
\* after NpCheck's load and before the deadline was published, and read no
\* deadline, so nobody would break the poll.  The fences order this load
\* against poll_wait's fetch_sub/fence/load of the deadline (store
\* buffering): one of the two sees the other.  None left: give the place
\* back (timer_sleep_until = 0, timer_sleeper = null, as NpWoken) and stopm.
\* Else lastpoll = 0 and epoll_wait(-1) (`stopping` is not modelled);
\* breaks and edges that come before the epoll_wait are pending when it
\* starts and end it at once, as after it.
\* Mutant PHandoff_netpoll_no_recheck (the code before this re-read, which
\* this model found blocking for nothing) replaces this.
NpRecheck(m) ==
    /\ mpc[m] = "npRecheck"
    /\ IF npwaiters = 0
         THEN /\ sleeper' = NoM
              /\ mpc' = [mpc EXCEPT ![m] = "parked"]
         ELSE /\ mpc' = [mpc EXCEPT ![m] = "npBlocked"]
              /\ UNCHANGED sleeper
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, gio, npwaiters, npbreak, plist>>

\* netpoll(-1) returns: epoll reported the edges pending (each waiter
\* taken off its slot under pd.lock into the list) and, if a break is
\* pending, the eventfd, which a blocking poll drains (wake_sig = 0 after
\* the drain).  lastpoll = nanotime() folded in (a hint for sysmon).
NpWake(m) ==
    /\ mpc[m] = "npBlocked"
    /\ EdgeGs # {} \/ npbreak
    /\ gio' = [g \in Gs |-> IF g \in EdgeGs THEN "polled" ELSE gio[g]]
    /\ plist' = [plist EXCEPT ![m] = EdgeGs]
    /\ npbreak' = FALSE
    /\ mpc' = [mpc EXCEPT ![m] = "npWoken"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npwaiters, sleeper>>

\* timer_sleep_until = 0, then timer_sleeper = null (release).  Two
\* consecutive stores by the sleeper, one step: in between, a G leaving
\* the last wait sees no deadline and does not break (right: we are
\* awake), and a claimer still finds the place taken (as in npCommit).
NpWoken(m) ==
    /\ mpc[m] = "npWoken"
    /\ sleeper' = NoM
    /\ mpc' = [mpc EXCEPT ![m] = "npPidle"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, gio, npwaiters, npbreak, plist>>

\* Under sched.lock: pidleget.  A P: acquirep and ready the list onto it,
\* then findrunnable again.  None: ready the list through injectg, stopm.
NpPidle(m) ==
    /\ mpc[m] = "npPidle"
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
              /\ pm' = [pm EXCEPT ![pp] = m]
              /\ mp' = [mp EXCEPT ![m] = pp]
         ELSE UNCHANGED <<pvars, mp>>
    /\ mpc' = [mpc EXCEPT ![m] = "npReady"]
    /\ UNCHANGED <<gvars, moldp, mnextp, mcurg, mspinning, mi, svars, spc, sp,
                   npvars>>

\* ready_polled, one G per step (each ready is its own runqput or locked
\* section): goready with a P puts it in runnext and calls ready_wake
\* (RWCheck, which returns here through Cont); without a P, injectg.  The
\* list done: findrunnable again with a P, stopm without.  Also the end of
\* netpoll_nonblocking (FindRunnable), which always has a P.
NpReady(m) ==
    /\ mpc[m] = "npReady"
    /\ IF plist[m] = {}
         THEN /\ mpc' = [mpc EXCEPT ![m] = IF mp[m] # NoP THEN "schedule"
                                                         ELSE "parked"]
              /\ UNCHANGED <<gvars, pidle, mnextp, mspinning, gio, plist>>
         ELSE \E g \in plist[m] :
              /\ plist' = [plist EXCEPT ![m] = @ \ {g}]
              /\ gio' = [gio EXCEPT ![g] = "dec"]
              /\ gstatus' = [gstatus EXCEPT ![g] = "runnable"]
              /\ IF mp[m] # NoP
                   THEN /\ runq' = [runq EXCEPT ![mp[m]] = @ \cup {g}]
                        /\ mpc' = [mpc EXCEPT ![m] = "rwCheck"]
                        /\ UNCHANGED <<globrunq, pidle, mnextp, mspinning>>
                   ELSE /\ NpInject(g)
                        /\ UNCHANGED runq
    /\ UNCHANGED <<pstatus, pm, mp, moldp, mcurg, mi, svars, spc, sp,
                   npwaiters, sleeper, npbreak>>

\* poll_wait after the park returns: waiters.fetch_sub(1); the last
\* waiter gone and the blocker sleeping with no deadline (relaxed load of
\* timer_sleep_until == INT64_MAX): netpoll_break (CAS wake_sig 0 -> 1,
\* then the eventfd write; a break already pending is left as it is).
\* Then (the code's seq_cst fence between them) the load.  One step: the
\* load comes right after the RMW, and between them the blocker can only
\* publish its deadline (npCommit to npRecheck) and go on, which makes
\* the load see INT64_MAX and break: the interleavings the model drops are
\* ones that break more, or in which the blocker's NpRecheck sees 0.
\* Mutant PHandoff_netpoll_no_idle_break replaces this.
IODone(m) ==
    LET g == mcurg[m] IN
    /\ mpc[m] = "ioDone"
    /\ npwaiters' = npwaiters - 1
    /\ npbreak' = (npbreak \/ (npwaiters = 1 /\ UntilMax))
    /\ gio' = [gio EXCEPT ![g] = "none"]
    /\ mpc' = [mpc EXCEPT ![m] = "running"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, sleeper, plist>>

MStep(m) ==
    \/ AcquireP(m) \/ FindRunnable(m) \/ Steal(m) \/ Release(m)
    \/ DropSpin(m) \/ Recheck(m) \/ Execute(m) \/ RWCheck(m)
    \/ WakePCas(m) \/ WakePGet(m)
    \/ ExitSyscallFast(m) \/ ExitSyscallPidle(m) \/ ExitSyscall0(m)
    \/ IODone(m) \/ NpCheck(m) \/ NpCommit(m) \/ NpRecheck(m) \/ NpWake(m)
    \/ NpWoken(m)
    \/ NpPidle(m) \/ NpReady(m)

-----------------------------------------------------------------------------
(***************************************************************************)
(* sysmon and threads without a P.                                         *)
(***************************************************************************)

\* retake: a P in syscall (for longer than a sysmon tick; time is not
\* modelled, so whenever sysmon likes) is taken by CAS(status, syscall,
\* idle).  Go skips a P with an empty queue while other Ms spin or Ps idle
\* for up to 10ms; time passes, so eventually it retakes it anyway.
Retake(p) ==
    /\ spc = "idle"
    /\ pstatus[p] = "syscall"
    /\ pstatus' = [pstatus EXCEPT ![p] = "idle"]
    /\ spc' = "handoff" /\ sp' = p
    /\ UNCHANGED <<gvars, pm, pidle, mvars, svars, npvars>>

\* handoffp(pp), one step (its lock-free peeks and its locked section:
\* nobody else can add to pp's queue, since pp has no M, and global puts
\* are under the lock it takes last).  Work: start a plain M for it.  No
\* M spinning and no P idle: start a spinning M (CAS nmspinning 0 -> 1).
\* Else pp goes idle.
HandoffP ==
    LET pp == sp IN
    /\ spc = "handoff"
    /\ IF runq[pp] # {} \/ globrunq # {}
         THEN /\ StartM(pp, FALSE)
              /\ mpc' = WakeM(mpc)
              /\ UNCHANGED <<pidle, svars>>
         ELSE IF nmspinning + NPIdle = 0
           THEN /\ nmspinning' = 1 /\ needspinning' = FALSE
                /\ StartM(pp, TRUE)
                /\ mpc' = WakeM(mpc)
                /\ UNCHANGED pidle
           ELSE /\ pidle' = pidle \cup {pp}
                /\ UNCHANGED <<mnextp, mspinning, mpc, svars>>
    /\ spc' = "idle" /\ sp' = NoP
    /\ UNCHANGED <<gvars, pstatus, pm, mp, moldp, mcurg, mi, npvars>>

Sysmon == (\E p \in Ps : Retake(p)) \/ HandoffP

\* goready from a thread without a P: injectg puts g on the global queue
\* and takes an idle P under sched.lock, then startm(pp, false).
InjectG(g) ==
    /\ gstatus[g] = "waiting" /\ gio[g] = "none"
    /\ gstatus' = [gstatus EXCEPT ![g] = "runnable"]
    /\ globrunq' = globrunq \cup {g}
    /\ IF pidle # {}
         THEN LET pp == PidleGet IN
              /\ pidle' = pidle \ {pp}
              /\ StartM(pp, FALSE)
              /\ mpc' = WakeM(mpc)
         ELSE UNCHANGED <<pidle, mnextp, mspinning, mpc>>
    /\ UNCHANGED <<runq, pstatus, pm, mp, moldp, mcurg, mi, svars, spc, sp, npvars>>

\* An edge for a G parked in io_wait: epoll holds it until a poll takes
\* it.  The environment's: not fair (a socket may never become ready).
IOEdge(g) ==
    /\ gio[g] = "slot"
    /\ gio' = [gio EXCEPT ![g] = "edge"]
    /\ UNCHANGED <<gvars, pvars, mvars, svars, spc, sp, npwaiters, sleeper,
                   npbreak, plist>>

\* sysmon's poll: lastpoll != 0 and older than 10 ms, waiters != 0, and it
\* wins CAS(lastpoll, last, now); netpoll(0), and each G found goes through
\* injectg (sysmon has no P).  The poll and the readies are one step per
\* G: while sysmon holds a G nobody else can reach it, so holding it
\* longer only delays the inject, which the step's own timing covers.
\* Only while no M is blocked (lastpoll != 0; see FindRunnable for the
\* overwrite race that is left out), and then it must (weak fairness).
\* Sysmon is one thread, but the model lets its poll fall between its
\* Retake and its HandoffP too: more interleavings, and the poll stays
\* enabled while sysmon retakes Ps again and again.
SysmonPoll(g) ==
    /\ npwaiters # 0 /\ gio[g] = "edge" /\ ~Blocked
    /\ gio' = [gio EXCEPT ![g] = "dec"]
    /\ gstatus' = [gstatus EXCEPT ![g] = "runnable"]
    /\ GlobInject(g)
    /\ UNCHANGED <<runq, pstatus, pm, mp, moldp, mcurg, mi, svars, spc, sp,
                   npwaiters, sleeper, npbreak, plist>>

Next ==
    \/ \E m \in Ms : MStep(m) \/ GStep(m)
    \/ Sysmon
    \/ \E g \in Gs : InjectG(g) \/ IOEdge(g) \/ SysmonPoll(g)

Fairness ==
    /\ \A m \in Ms : WF_vars(MStep(m))
    /\ \A p \in Ps : WF_vars(Retake(p))
    /\ WF_vars(HandoffP)
    /\ \A g \in Gs : WF_vars(SysmonPoll(g))

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(***************************************************************************)
(* Invariants                                                              *)
(***************************************************************************)

\* acquirep/releasep keep p.m and m.p in agreement.
OneMPerP ==
    /\ \A m \in Ms : mp[m] # NoP => pm[mp[m]] = m
    /\ \A p \in Ps : pm[p] # NoM => mp[pm[p]] = p

SyscallPcs == {"syscall", "exitFast"}

\* Every P has exactly one holder: the idle list, sysmon's handoff, an M's
\* nextp, an M (m.p), or "the syscall", i.e. the Ms in a syscall whose
\* m.oldp it is.  There may be more than one such M: a P retaken from M1
\* and handed to M2, whose G then enters a syscall, is again in state
\* syscall while M1's oldp still names it.  As in Go, whichever of them
\* wins the CAS in exitsyscallfast gets it (for the loser it is as if
\* sysmon had retaken it), so the status word, not oldp, is the owner.
SyscallHolder(p) ==
    pstatus[p] = "syscall" /\ \E m \in Ms : moldp[m] = p /\ mpc[m] \in SyscallPcs
Holders(p) ==
    (IF p \in pidle THEN 1 ELSE 0)
    + (IF spc = "handoff" /\ sp = p THEN 1 ELSE 0)
    + Cardinality({m \in Ms : mnextp[m] = p})
    + Cardinality({m \in Ms : mp[m] = p})
    + (IF SyscallHolder(p) THEN 1 ELSE 0)

\* ... and its status matches that holder.
PStateMatchesHolder ==
    \A p \in Ps :
        /\ Holders(p) = 1
        /\ pstatus[p] = "running" <=> pm[p] # NoM
        /\ pstatus[p] = "syscall" => SyscallHolder(p)
        /\ p \in pidle => pstatus[p] = "idle" /\ runq[p] = {}

\* No G lost or in two places: a waiting G is nowhere, any other G in
\* exactly one run queue or M.
\* A G a poll took off its slot is waiting, and in that poller's list.
Places(g) ==
    Cardinality({p \in Ps : g \in runq[p]}) + (IF g \in globrunq THEN 1 ELSE 0)
    + Cardinality({m \in Ms : mcurg[m] = g})
    + Cardinality({m \in Ms : g \in plist[m]})
NoGLostOrDuplicated ==
    \A g \in Gs : Places(g) = IF gstatus[g] = "waiting" /\ gio[g] # "polled"
                               THEN 0 ELSE 1

RunningPcs == {"running", "rwCheck", "wakepCas", "wakepGet", "ioDone"}

\* A running G has exactly one M, and that M holds a P; a G in a syscall
\* has an M without a P; a G an M holds is running, in a syscall, or just
\* found by findrunnable.
GStateMatchesM ==
    \A m \in Ms : mcurg[m] # NoG =>
        LET g == mcurg[m] IN
        \/ gstatus[g] = "running" /\ mp[m] # NoP /\ mpc[m] \in RunningPcs
        \/ gstatus[g] = "syscall" /\ mp[m] = NoP
           /\ mpc[m] \in {"syscall", "exitFast", "exitPidle", "exit0"}
        \/ gstatus[g] = "runnable" /\ mp[m] # NoP
           /\ mpc[m] \in {"execute", "rwCheck", "wakepCas", "wakepGet"}
RunningHasOneMWithP ==
    \A g \in Gs : gstatus[g] = "running" =>
        \E m \in Ms : mcurg[m] = g /\ mp[m] # NoP

\* nmspinning counts the spinning Ms plus wakep's claim between its CAS
\* and startm; a spinning M holds a P, is being handed one, or has just
\* released its P and is about to drop its count.
SpinCount ==
    /\ nmspinning = Cardinality({m \in Ms : mspinning[m]})
                    + Cardinality({m \in Ms : mpc[m] = "wakepGet"})
    /\ \A m \in Ms : mspinning[m] =>
           mp[m] # NoP \/ mpc[m] \in {"woken", "dropspin"}

\* The netpoller.  NpPcs: the M inside block_in_netpoll before it has a
\* P; SleeperPcs: the part where it holds sched.timer_sleeper.
NpPcs == {"npCheck", "npCommit", "npRecheck", "npBlocked", "npWoken", "npPidle"}
SleeperPcs == {"npCommit", "npRecheck", "npBlocked", "npWoken"}

\* At most one M blocks in netpoll (or is about to, or just woke).
OneNetpollM == Cardinality({m \in Ms : mpc[m] \in SleeperPcs}) <= 1
\* ... and it is the one timer_sleeper names.
SleeperIsNetpollM ==
    /\ \A m \in Ms : mpc[m] \in SleeperPcs => sleeper = m
    /\ sleeper # NoM => mpc[sleeper] \in SleeperPcs
\* An M in netpoll holds no P, is handed none, runs no G and does not spin.
NetpollMHoldsNoP ==
    \A m \in Ms : mpc[m] \in NpPcs =>
        mp[m] = NoP /\ mnextp[m] = NoP /\ mcurg[m] = NoG /\ ~mspinning[m]
\* netpoll.waiters counts the Gs from their io_wait park to their return.
NetpollWaiters == npwaiters = Cardinality({g \in Gs : gio[g] # "none"})
\* Only Gs in IOG wait for sockets; one in a slot is waiting; a polled one
\* is in exactly one poller's list (NoGLostOrDuplicated), held by an M that
\* has woken from its poll or is readying; a readied one is runnable or
\* running.  Nobody else readies a G in the netpoller's hands.
IOStateOK ==
    \A g \in Gs :
        /\ gio[g] # "none" => g \in IOG
        /\ gio[g] \in {"slot", "edge", "polled"} => gstatus[g] = "waiting"
        /\ gio[g] = "dec" => gstatus[g] \in {"runnable", "running"}
        /\ (\E m \in Ms : g \in plist[m]) <=> gio[g] = "polled"
        /\ \A m \in Ms : g \in plist[m] =>
               mpc[m] \in {"npWoken", "npPidle", "npReady", "rwCheck",
                           "wakepCas", "wakepGet"}

(***************************************************************************)
(* Liveness                                                                *)
(***************************************************************************)

\* No lost wakeup: a runnable G and an idle P never coexist forever.
NoLostWakeup ==
    \A g \in Gs : []<>(gstatus[g] # "runnable" \/ pidle = {})

\* No deadlock while a G is runnable: some G eventually runs.  (Not "this
\* G eventually runs": without preemption, which goro adds in issue 4, two
\* Gs handing a P to each other through runnext may starve a third, in Go
\* as here; and the run queues are sets, so any order is allowed.)
NoDeadlockWhileRunnable ==
    (\E g \in Gs : gstatus[g] = "runnable") ~> (\E g \in Gs : gstatus[g] = "running")

\* No lost readiness: a G whose socket became ready is eventually polled
\* and readied (by the blocker, findrunnable's non-blocking poll, or
\* sysmon), and once readied NoLostWakeup and NoDeadlockWhileRunnable
\* take over.  "... and eventually runs" does not hold here, as in
\* NoDeadlockWhileRunnable's comment: the global queue is a set, so with
\* no preemption and no 61st tick an M may take the other G from it each
\* time that G comes back (from a syscall, exitsyscall0) and never this one.
IOEdgeReadied ==
    \A g \in IOG : (gio[g] = "edge") ~> (gio[g] = "dec")

\* An M blocked in netpoll with no G left waiting for a socket (and no
\* timer: none is modelled) is woken, so it can park where checkdead
\* counts it idle.  This is what poll_wait's break on the last waiter is
\* for.  It needs both halves of the handshake: the last waiter's break
\* when it sees the deadline (IODone), and the blocker's re-read of
\* waiters after publishing it (NpRecheck).
IdleBlockerLeaves ==
    (Blocked /\ npwaiters = 0) ~> ~Blocked

=============================================================================
