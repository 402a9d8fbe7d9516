--------------------------- MODULE PHandoffTrace ---------------------------
(***************************************************************************)
(* Trace validation of simulated runs against the P hand-off protocol of  *)
(* PHandoff.tla (issue 14, point 2), after Cirstea, Kuppe, Loillier and   *)
(* Merz (2024): Next consumes one log line per step and constrains the    *)
(* action that line names; a log is accepted when some behaviour consumes *)
(* all of it.                                                              *)
(*                                                                         *)
(* The log (PHandoffTraceLog, written by src/sim/trace_log.cpp under      *)
(* GORO_SIM_TRACE): every acquirep, releasep, pidleput, pidleget,         *)
(* entersyscall, sysmon retake CAS and handoffp-to-startm of a session, in *)
(* the session's exact order (the simulation runs one thread at a time,   *)
(* and each event is logged by its thread right after the store, CAS or   *)
(* locked section that makes it).  SegPTraces holds one sequence per      *)
(* session; each starts from Init.                                         *)
(*                                                                         *)
(* What this module checks: PHandoff's actions projected on the P-owner-  *)
(* ship variables (pstatus, pm, mp, moldp, pidle, and sysmon's spc/sp),   *)
(* plus pgot and preleased, which stand for PHandoff's hand-over state    *)
(* between an action that takes a P off the list (or out of a syscall,   *)
(* or out of an M) and the acquirep or pidleput that ends it (mnextp, the *)
(* locked steps of Recheck, ExitSyscallPidle, ExitSyscall0 and HandoffP,  *)
(* which the code splits into a pidleget and a later acquirep).          *)
(* The spinning protocol is projected on nmspinning (each RMW's logged    *)
(* read must equal it), mspinning, needspinning, claims (counts claimed   *)
(* for an M not yet chosen: PHandoff's wakepGet Ms) and rechecking (the   *)
(* one piece of the M program counters kept: DropSpin must be followed    *)
(* by Recheck before the M parks in stopm); SpinCount is an invariant.    *)
(* It does not yet constrain the rest of the M program counters, the Gs   *)
(* (Park, Ready) or the run queues as sets (spec/simulation.md, "Trace    *)
(* validation", lists what is missing).                                   *)
(*                                                                         *)
(* Abstractions, each a place where the code does more than PHandoff.tla  *)
(* says (spec/simulation.md lists them as discrepancies):                 *)
(*  - stop the world (gomaxprocs, procresize): PHandoff has no "stopped"  *)
(*    status and no world stop.  The log has no line between stw_begin    *)
(*    and stw_end; stw_end carries every P's status, M and idle-list      *)
(*    membership as start_the_world leaves them, and StwEnd sets the      *)
(*    state to it (Ps beyond gomaxprocs are "stopped" and no action takes *)
(*    them).  Ms in a syscall keep their m.oldp (moldp).                  *)
(*  - entersyscallblock (goro::blocking_long) releases the P and hands it *)
(*    off at once: a releasep followed by a handoff, where PHandoff only  *)
(*    has EnterSyscall then sysmon's Retake and HandoffP.                 *)
(*  - acquirep is its own step after the pidleget (or the exitsyscall CAS *)
(*    syscall -> idle) that claimed the P; PHandoff does both in one.     *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, PHandoffTraceLog, TLC

NoM == 0
NoP == 0
Ms == LogMs

VARIABLES
    seg,        \* the segment (session) being consumed
    i,          \* lines of it consumed
    before,     \* lines of the earlier segments
    pstatus, pm, mp, moldp, pidle, spc, sp,   \* as in PHandoff.tla
    pgot,       \* Ps claimed for an acquirep to come (see the header)
    preleased,  \* Ps released by their M, to be listed or handed off
    nmspinning, mspinning, needspinning,   \* as in PHandoff.tla
    claims,     \* spinning counts claimed for an M not yet chosen (see Claim)
    rechecking, \* Ms between findrunnable's DropSpin and its Recheck
    gst,        \* each goid's status: "none" before its newproc, then Go's
    curg,       \* each M's G (m.curg as the G events set it), NoG if none
    leaving,    \* each M's G it switched away from, still running (Yield)
    stopped     \* between stw_begin and stw_end (no P event is logged)

spinvars == <<nmspinning, mspinning, needspinning, claims, rechecking>>
gvars == <<gst, curg, leaving, stopped>>
vars == <<seg, i, before, pstatus, pm, mp, moldp, pidle, spc, sp, pgot, preleased, spinvars, gvars>>

NoG == 0
Gs == LogGs

Trace == SegPTraces[seg]
Ps == 1..SegNP[seg]
AllPs == 1..LogNP

\* A segment's start: run's thread has made every P and holds them all
\* (P0 goes to M0 through newm; the rest are listed first).

Init ==
    /\ seg = 1 /\ i = 0 /\ before = 0
    /\ pstatus = [p \in AllPs |-> IF p \in 1..SegNP[1] THEN "idle" ELSE "stopped"]
    /\ pm = [p \in AllPs |-> NoM]
    /\ mp = [m \in Ms |-> NoP]
    /\ moldp = [m \in Ms |-> NoP]
    /\ pidle = {} /\ spc = "idle" /\ sp = NoP
    /\ pgot = 1..SegNP[1] /\ preleased = {}
    /\ nmspinning = 0 /\ mspinning = [m \in Ms |-> FALSE]
    /\ needspinning = FALSE /\ claims = 0 /\ rechecking = {}
    /\ gst = [g \in Gs |-> "none"] /\ curg = [m \in Ms |-> NoG] /\ stopped = FALSE
    /\ leaving = [m \in Ms |-> NoG]

E == Trace[i + 1]
Step(op) == i < Len(Trace) /\ E.op = op
Consume == i' = i + 1 /\ UNCHANGED <<seg, before>>
PUnchanged == UNCHANGED <<pstatus, pm, mp, moldp, pidle, spc, sp, pgot, preleased>>

-----------------------------------------------------------------------------
\* acquirep after a claim: PHandoff's AcquireP (the P startm handed over,
\* mnextp), and the P-taking halves of Recheck, ExitSyscallPidle and
\* ExitSyscall0 (a pidleget then acquirep).
AcquireP ==
    LET m == E.m  p == E.p IN
    /\ Step("acquire")
    /\ p \in pgot /\ pstatus[p] = "idle" /\ pm[p] = NoM /\ mp[m] = NoP
    /\ pstatus' = [pstatus EXCEPT ![p] = "running"]
    /\ pm' = [pm EXCEPT ![p] = m] /\ mp' = [mp EXCEPT ![m] = p]
    /\ pgot' = pgot \ {p}
    /\ moldp' = [moldp EXCEPT ![m] = NoP]   \* an exitsyscall that lost its P
    /\ UNCHANGED <<pidle, spc, sp, preleased>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

\* ExitSyscallFast: the CAS of oldp.status from syscall won (logged at the
\* acquirep that follows it).  Mutant exitsyscall_no_cas breaks this.
ExitSyscallFast ==
    LET m == E.m  p == E.p IN
    /\ Step("acquire")
    /\ moldp[m] = p /\ pstatus[p] = "syscall" /\ pm[p] = NoM /\ mp[m] = NoP
    /\ pstatus' = [pstatus EXCEPT ![p] = "running"]
    /\ pm' = [pm EXCEPT ![p] = m] /\ mp' = [mp EXCEPT ![m] = p]
    /\ moldp' = [moldp EXCEPT ![m] = NoP]
    /\ UNCHANGED <<pidle, spc, sp, pgot, preleased>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

\* releasep: the first half of Release (its pidleput is the next line).
Release ==
    LET m == E.m  p == E.p IN
    /\ Step("release")
    /\ mp[m] = p /\ pm[p] = m /\ pstatus[p] = "running"
    /\ pstatus' = [pstatus EXCEPT ![p] = "idle"]
    /\ pm' = [pm EXCEPT ![p] = NoM] /\ mp' = [mp EXCEPT ![m] = NoP]
    /\ preleased' = preleased \cup {p}
    /\ UNCHANGED <<moldp, pidle, spc, sp, pgot>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

\* pidleput: Release's second half, HandoffP's idle branch (spc = handoff),
\* run's start (pgot).
PidlePut ==
    LET p == E.p IN
    /\ Step("pidleput")
    /\ p \in Ps /\ p \notin pidle /\ pstatus[p] = "idle" /\ pm[p] = NoM
    /\ p \in preleased \cup pgot \/ (spc = "handoff" /\ sp = p)
    /\ pidle' = pidle \cup {p}
    /\ preleased' = preleased \ {p} /\ pgot' = pgot \ {p}
    /\ IF spc = "handoff" /\ sp = p THEN spc' = "idle" /\ sp' = NoP
                                   ELSE UNCHANGED <<spc, sp>>
    /\ UNCHANGED <<pstatus, pm, mp, moldp>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

\* pidleget (PidleGet in WakePGet, Recheck, ExitSyscallPidle, ExitSyscall0,
\* InjectG, startm's callers): the P is claimed for an acquirep.
PidleGet ==
    LET p == E.p IN
    /\ Step("pidleget")
    /\ p \in pidle
    /\ pidle' = pidle \ {p} /\ pgot' = pgot \cup {p}
    /\ UNCHANGED <<pstatus, pm, mp, moldp, spc, sp, preleased>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

EnterSyscall ==
    LET m == E.m  p == E.p IN
    /\ Step("entersyscall")
    /\ mp[m] = p /\ pm[p] = m /\ pstatus[p] = "running"
    \* entersyscall's casgstatus running -> syscall came first (GSyscall).
    /\ curg[m] # NoG /\ gst[curg[m]] = "syscall"
    /\ pstatus' = [pstatus EXCEPT ![p] = "syscall"]
    /\ pm' = [pm EXCEPT ![p] = NoM] /\ mp' = [mp EXCEPT ![m] = NoP]
    /\ moldp' = [moldp EXCEPT ![m] = p]
    /\ UNCHANGED <<pidle, spc, sp, pgot, preleased>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

Retake ==
    LET p == E.p IN
    /\ Step("retake")
    /\ spc = "idle" /\ pstatus[p] = "syscall"
    /\ pstatus' = [pstatus EXCEPT ![p] = "idle"]
    /\ spc' = "handoff" /\ sp' = p
    /\ UNCHANGED <<pm, mp, moldp, pidle, pgot, preleased>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

\* HandoffP's startm branches: sysmon's P after Retake, or (entersyscallblock,
\* see the header) a P its M just released.
HandoffP ==
    LET p == E.p IN
    /\ Step("handoff")
    /\ (spc = "handoff" /\ sp = p) \/ p \in preleased
    /\ pgot' = pgot \cup {p} /\ preleased' = preleased \ {p}
    /\ IF spc = "handoff" /\ sp = p THEN spc' = "idle" /\ sp' = NoP
                                   ELSE UNCHANGED <<spc, sp>>
    /\ UNCHANGED <<pstatus, pm, mp, moldp, pidle>>
    /\ UNCHANGED spinvars /\ UNCHANGED gvars
    /\ Consume

StwBegin ==
    /\ Step("stw_begin")
    /\ UNCHANGED <<pstatus, pm, mp, moldp, pidle, spc, sp, pgot, preleased>>
    /\ UNCHANGED spinvars
    /\ stopped' = TRUE /\ UNCHANGED <<gst, curg, leaving>>
    /\ Consume

\* start_the_world's state (see the header).  A P that is idle, unlisted
\* and held by nobody is one start_the_world will startm (it has work).
StwEnd ==
    /\ Step("stw_end")
    /\ LET ps == E.ps  pms == E.pms IN
       /\ pstatus' = [p \in AllPs |-> IF p <= Len(ps) THEN ps[p] ELSE "stopped"]
       /\ pm' = [p \in AllPs |-> IF p <= Len(pms) THEN pms[p] ELSE NoM]
       /\ mp' = [m \in Ms |-> IF \E p \in DOMAIN pms : pms[p] = m
                                THEN CHOOSE p \in DOMAIN pms : pms[p] = m ELSE NoP]
       /\ pidle' = E.idle
       /\ pgot' = {p \in DOMAIN ps : ps[p] = "idle" /\ pms[p] = NoM /\ p \notin E.idle}
    \* moldp is kept: an M whose call outlasts the stop keeps its m.oldp,
    \* and may win its old P back (or a P another M took into a call
    \* since: ExitSyscallFast allows it, as the code's CAS does).
    /\ preleased' = {}
    /\ spc' = "idle" /\ sp' = NoP
    /\ UNCHANGED moldp
    \* The spinning state the world restarts with: sched.nmspinning and
    \* needspinning as read, the spinning Ms as the log's own events (logged
    \* or not, in the stopped world) left them; the rest of the count is
    \* claims not yet handed to an M.
    /\ E.nm >= Cardinality(E.spin) /\ E.spin \subseteq Ms
    /\ nmspinning' = E.nm /\ needspinning' = E.need
    /\ mspinning' = [m \in Ms |-> m \in E.spin]
    /\ claims' = E.nm - Cardinality(E.spin)
    \* A re-check the stopped world cut (its line was not logged) is not
    \* required after it: a weaker check across a world stop.
    /\ rechecking' = {}
    /\ stopped' = FALSE /\ UNCHANGED <<gst, curg, leaving>>
    /\ Consume

\* The segment is consumed: the next session starts from Init.
NextSegment ==
    /\ i = Len(Trace) /\ seg < Len(SegPTraces)
    /\ seg' = seg + 1 /\ i' = 0 /\ before' = before + i
    /\ pstatus' = [p \in AllPs |-> IF p \in 1..SegNP[seg + 1] THEN "idle" ELSE "stopped"]
    /\ pm' = [p \in AllPs |-> NoM]
    /\ mp' = [m \in Ms |-> NoP]
    /\ moldp' = [m \in Ms |-> NoP]
    /\ pidle' = {} /\ spc' = "idle" /\ sp' = NoP
    /\ pgot' = 1..SegNP[seg + 1] /\ preleased' = {}
    /\ nmspinning' = 0 /\ mspinning' = [m \in Ms |-> FALSE]
    /\ needspinning' = FALSE /\ claims' = 0 /\ rechecking' = {}
    /\ gst' = [g \in Gs |-> "none"] /\ curg' = [m \in Ms |-> NoG] /\ stopped' = FALSE
    /\ leaving' = [m \in Ms |-> NoG]

-----------------------------------------------------------------------------
\* The spinning protocol (sched/spinning.hpp).  Each RMW of nmspinning logs
\* the value it read (E.v), which must be the projection's count: the code's
\* counter is checked against the spec's at every change.  claims stands
\* for PHandoff's Ms at mpc "wakepGet" (a won CAS whose P is yet to be
\* found) and for HandoffP's count: the code claims first and gives the
\* count to an M later (startm, newm), where PHandoff's StartM does both in
\* WakePGet's step.

\* WakePCas's winning branch, and HandoffP's claim (nmspinning + npidle = 0).
Claim ==
    /\ Step("claim")
    /\ nmspinning = 0 /\ E.v = 0
    /\ nmspinning' = 1 /\ claims' = claims + 1
    /\ UNCHANGED <<mspinning, needspinning, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* WakePGet's branch with no idle P (its needspinning is the needspin line
\* before), and startm's undo when the P it was to find is gone.
Unclaim ==
    /\ Step("unclaim")
    /\ claims > 0 /\ E.v = nmspinning
    /\ nmspinning' = nmspinning - 1 /\ claims' = claims - 1
    /\ UNCHANGED <<mspinning, needspinning, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* StartM(pp, TRUE): the claim becomes the started M's m.spinning.
HandSpin ==
    LET m == E.m IN
    /\ Step("handspin")
    /\ claims > 0 /\ ~mspinning[m] /\ mp[m] = NoP
    /\ mspinning' = [mspinning EXCEPT ![m] = TRUE] /\ claims' = claims - 1
    /\ UNCHANGED <<nmspinning, needspinning, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* BecomeSpinning: FindRunnable's decision, AbortDropForSpinner, Recheck's
\* P found; in each the M holds a P.
Spin ==
    LET m == E.m IN
    /\ Step("spin")
    /\ ~mspinning[m] /\ mp[m] # NoP /\ mp[m] = E.p /\ E.v = nmspinning
    /\ mspinning' = [mspinning EXCEPT ![m] = TRUE]
    /\ nmspinning' = nmspinning + 1
    /\ UNCHANGED <<claims, needspinning, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* BecomeSpinning's needspinning = FALSE, which the code stores after the
\* increment, as a step of its own (a needspin of another M may fall
\* between: spec/simulation.md lists it).
SpinClear ==
    LET m == E.m IN
    /\ Step("spinclear")
    /\ mspinning[m]
    /\ needspinning' = FALSE
    /\ UNCHANGED <<nmspinning, mspinning, claims, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* DropSpin (after Release), Execute's resetspinning, and gcstopm's drop:
\* m.spinning cleared and nmspinning decremented.  The code clears the flag
\* first; only its own M reads it, so the pair is one step here.
DropSpin ==
    LET m == E.m IN
    /\ Step("dropspin") \/ (Step("dropidle") /\ mp[m] = NoP)
    /\ mspinning[m] /\ E.v = nmspinning
    /\ mspinning' = [mspinning EXCEPT ![m] = FALSE]
    /\ nmspinning' = nmspinning - 1
    \* findrunnable's give-up (DropSpin): mpc "recheck" next.
    /\ rechecking' = IF E.op = "dropidle" THEN rechecking \cup {m} ELSE rechecking
    /\ UNCHANGED <<needspinning, claims>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* Recheck begins (its pidleget, acquire, spin or needspin lines follow).
RecheckBegin ==
    LET m == E.m IN
    /\ Step("recheck")
    /\ m \in rechecking /\ mp[m] = NoP
    /\ rechecking' = rechecking \ {m}
    /\ UNCHANGED <<nmspinning, mspinning, needspinning, claims>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* stopm: the M parks (mpc "parked"): it holds no P and no spinning count,
\* and a spinner that gave up has made its Recheck (mutant no_spin_recheck
\* parks without it).
StopM ==
    LET m == E.m IN
    /\ Step("stopm")
    /\ mp[m] = NoP /\ ~mspinning[m] /\ m \notin rechecking
    /\ UNCHANGED spinvars
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* pidlegetSpinning found no idle P (WakePGet, Recheck).
NeedSpin ==
    /\ Step("needspin")
    /\ needspinning' = TRUE
    /\ UNCHANGED <<nmspinning, mspinning, claims, rechecking>>
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

\* Release's guard in findrunnable's give-up, under sched.lock: a
\* non-spinning M gives its P up only when nobody asked for a spinner
\* (~AbortDropForSpinner).  Mutant no_needspinning breaks it.  The release
\* and pidleput lines follow.
GiveUp ==
    LET m == E.m IN
    /\ Step("giveup")
    /\ mp[m] = E.p /\ E.p # NoP
    /\ mspinning[m] \/ ~needspinning
    /\ UNCHANGED spinvars
    /\ PUnchanged /\ UNCHANGED gvars /\ Consume

-----------------------------------------------------------------------------
\* The Gs (PHandoff's NewProc, Execute, Park, Ready, Yield, Exit and the G
\* side of EnterSyscall and ExitSyscall), projected on each goid's status
\* and each M's curg.  The log names a G by its goid, which newproc gives
\* afresh to every life of a G (a recycled g structure gets a new one), so
\* Gs is the set of goids the log names and each starts "none": no fixed
\* set of Gs as in PHandoff.tla.  Each line is a casgstatus
\* (sched/gstatus.hpp), logged right after its store, by the acting M (m
\* 0: run's thread or a foreign thread).  What a P must be held for is
\* checked outside stopped worlds only: their P events are not logged,
\* while G events are (a G's life is seen whole).
HoldsP(m) == stopped \/ (m # NoM /\ mp[m] # NoP)
GStep(op) == Step(op) /\ E.g \in Gs
GDone == PUnchanged /\ UNCHANGED spinvars /\ UNCHANGED stopped /\ Consume

\* newproc: a new life, runnable (by an M, run's thread or a foreign one).
NewG ==
    /\ GStep("newg") /\ gst[E.g] = "none"
    /\ gst' = [gst EXCEPT ![E.g] = "runnable"] /\ UNCHANGED <<curg, leaving>>
    /\ GDone

\* execute: an M holding a P and running no G takes a runnable G.  The
\* G-side fast path of Gosched (internal.hpp: switch_to_local) runs the
\* next G before the yielder's status moves (post_runqput, on the next G's
\* context, stores it): the M's curg may then still be running, and it
\* becomes the M's leaving G, whose Yield comes next (a discrepancy with
\* PHandoff, whose Yield is first: spec/simulation.md).
Execute ==
    LET m == E.m  g == E.g IN
    /\ GStep("execute") /\ m # NoM
    /\ gst[g] = "runnable" /\ HoldsP(m) /\ leaving[m] = NoG
    \* (an IF: TLC takes each disjunct of an action as a branch of its own)
    /\ IF curg[m] = NoG THEN TRUE ELSE gst[curg[m]] = "running"
    /\ gst' = [gst EXCEPT ![g] = "running"] /\ curg' = [curg EXCEPT ![m] = g]
    /\ leaving' = [leaving EXCEPT ![m] = curg[m]]
    /\ GDone

\* gopark, Gosched / preemption, goexit: only the running G of an M that
\* holds a P, and the M drops it.
Leave(op, to) ==
    LET m == E.m  g == E.g IN
    /\ GStep(op) /\ m # NoM
    /\ curg[m] = g /\ gst[g] = "running" /\ HoldsP(m) /\ leaving[m] = NoG
    /\ gst' = [gst EXCEPT ![g] = to] /\ curg' = [curg EXCEPT ![m] = NoG]
    /\ UNCHANGED leaving
    /\ GDone
Park == Leave("park", "waiting")
Exit == Leave("goexit", "dead")
\* Gosched / preemption: the M's curg, or the G it has just switched away
\* from (Execute).
Yield ==
    \/ Leave("yield", "runnable")
    \/ LET m == E.m  g == E.g IN
       /\ GStep("yield") /\ m # NoM
       /\ leaving[m] = g /\ gst[g] = "running" /\ HoldsP(m)
       /\ gst' = [gst EXCEPT ![g] = "runnable"] /\ leaving' = [leaving EXCEPT ![m] = NoG]
       /\ UNCHANGED curg
       /\ GDone

\* goready: only a waiting G, by anyone (a P, a foreign thread, netpoll);
\* once runnable it is not waiting, so a second ready is rejected (mutant
\* ready_twice).
Ready ==
    /\ GStep("ready") /\ gst[E.g] = "waiting"
    /\ gst' = [gst EXCEPT ![E.g] = "runnable"] /\ UNCHANGED <<curg, leaving>>
    /\ GDone

\* entersyscall's status (its P's entersyscall line follows, or releasep
\* and handoff for entersyscallblock): the M's running G, the M with a P.
GSyscall ==
    LET m == E.m  g == E.g IN
    /\ GStep("gsyscall") /\ m # NoM
    /\ curg[m] = g /\ gst[g] = "running" /\ HoldsP(m)
    /\ gst' = [gst EXCEPT ![g] = "syscall"] /\ UNCHANGED <<curg, leaving>>
    /\ GDone

\* exitsyscall with a P again (ExitSyscallFast or a pidleget's acquire
\* before): the G runs on.
GSysRet ==
    LET m == E.m  g == E.g IN
    /\ GStep("gsysret") /\ m # NoM
    /\ curg[m] = g /\ gst[g] = "syscall" /\ HoldsP(m)
    /\ gst' = [gst EXCEPT ![g] = "running"] /\ UNCHANGED <<curg, leaving>>
    /\ GDone

\* exitsyscall0: no P to be had; the G goes to the global queue and the M,
\* holding no P, drops it.
GSysQ ==
    LET m == E.m  g == E.g IN
    /\ GStep("gsysq") /\ m # NoM
    /\ curg[m] = g /\ gst[g] = "syscall" /\ (stopped \/ mp[m] = NoP)
    /\ gst' = [gst EXCEPT ![g] = "runnable"] /\ curg' = [curg EXCEPT ![m] = NoG]
    /\ UNCHANGED leaving
    /\ GDone

Next ==
    \/ AcquireP \/ ExitSyscallFast \/ Release \/ PidlePut \/ PidleGet
    \/ EnterSyscall \/ Retake \/ HandoffP \/ StwBegin \/ StwEnd
    \/ Claim \/ Unclaim \/ HandSpin \/ Spin \/ SpinClear \/ DropSpin \/ NeedSpin \/ GiveUp
    \/ RecheckBegin \/ StopM
    \/ NewG \/ Execute \/ Park \/ Yield \/ Exit \/ Ready \/ GSyscall \/ GSysRet \/ GSysQ
    \/ NextSegment

-----------------------------------------------------------------------------
\* PHandoff's OneMPerP, on the projected state: checked at every state.
OneMPerP ==
    /\ \A p \in AllPs : pm[p] # NoM => mp[pm[p]] = p
    /\ \A m \in Ms : mp[m] # NoP => pm[mp[m]] = m

\* PHandoff's SpinCount, its wakepGet Ms being claims here: checked at
\* every state.
SpinCount ==
    /\ claims >= 0
    /\ nmspinning = Cardinality({m \in Ms : mspinning[m]}) + claims

\* PHandoff's one M per running G: an M's curg is running or in its call,
\* and no G is two Ms' curg.  Checked at every state.
OneMPerG ==
    /\ \A m \in Ms : curg[m] # NoG => gst[curg[m]] \in {"running", "syscall"}
    /\ \A m1, m2 \in Ms : m1 # m2 /\ curg[m1] # NoG => curg[m1] # curg[m2]
    /\ \A m1, m2 \in Ms : leaving[m1] # NoG => leaving[m1] # curg[m2]
    /\ \A g \in Gs : gst[g] \in {"running", "syscall"} =>
                       \E m \in Ms : curg[m] = g \/ leaving[m] = g

TotalLines == LET Sum[k \in 0..Len(SegPTraces)] ==
                      IF k = 0 THEN 0 ELSE Sum[k - 1] + Len(SegPTraces[k])
              IN Sum[Len(SegPTraces)]

\* As RunQueueTrace's: prints each new furthest point; the last print of a
\* rejected log names the segment and the lines of it consumed.
ASSUME TLCSet(1, 0)
TraceProgress ==
    before + i > TLCGet(1) =>
        /\ PrintT(<<"TraceFurthest", before + i, TotalLines, seg, i>>)
        /\ TLCSet(1, before + i)

\* Violated exactly when some behaviour has consumed the whole log.
LogNotFullyConsumed == ~(seg = Len(SegPTraces) /\ i = Len(Trace))
=============================================================================
