-------------------------------- MODULE Chan --------------------------------
(***************************************************************************)
(* Channels and select: goro's send, receive and close (src/sync/chan.cpp) *)
(* and selectgo (src/sync/select.cpp) on the park/ready core               *)
(* (src/sync/park_core.hpp: sudog_list, select_claim).  Names are Go's     *)
(* (runtime/chan.go, runtime/select.go) where Go has one;                  *)
(* spec/traceability.md maps each action to its C++ function.              *)
(*                                                                         *)
(* Granularity.  A step is one acquire or release of one of the select's  *)
(* locks, one critical section, or one goready.  A plain operation and     *)
(* close hold one lock for one critical section, so for them lock,         *)
(* section and unlock are one step (see Locked).  The                      *)
(* only shared word touched outside a channel lock is a select's           *)
(* select_done (Go's g.selectDone), and only inside dequeue: a waker       *)
(* holding one channel's lock claims a select parked on several.  The      *)
(* claim (a CAS 0 -> 1) is the one access that races, and it is atomic; a  *)
(* failed claim reads a 1 that never goes back to 0 during that park.  So  *)
(* a critical section that contains claims is still one step: its other    *)
(* accesses are private to the lock holder (Lipton reduction).             *)
(*                                                                         *)
(* Parties.  Every goroutine runs one operation and stops: two plain       *)
(* senders, two plain receivers, one select over two channels, and a       *)
(* closer that closes the channels in CloseOrder.  Channel 1 has capacity  *)
(* Cap1, channel 2 Cap2; the lower id is the lower address (select's lock  *)
(* order).  A sender's value is its own id; 0 is the zero value.           *)
(*                                                                         *)
(* Waiters are goroutines: gopark writes "waiting" before the switch and   *)
(* the post-switch step releases the lock(s) (park_unlock, park_commit).   *)
(* A parked select is readied while its post-switch step may still hold    *)
(* locks[0] (released last); its pass 3 begins by taking locks[0], so      *)
(* nothing it does before the last unlock is visible, and the model        *)
(* resumes it only after that unlock.                                      *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Cap1, Cap2,     \* capacities of channels 1 and 2
    SelSend,        \* the channels on which the select's case is a send
    CloseOrder      \* the channels the closer closes, in order (<<>>: none)

Chans == {1, 2}
\* Values for CloseOrder (a .cfg cannot write a tuple: CloseOrder <- CloseBoth).
CloseBoth == <<2, 1>>
CloseNone == <<>>
Cap == [c \in Chans |-> IF c = 1 THEN Cap1 ELSE Cap2]
MaxCap == IF Cap1 > Cap2 THEN Cap1 ELSE Cap2

\* The goroutines.  S1, S2 send on channels 1 and 2, R1, R2 receive on
\* them, Sel selects over both, Cl closes.
S1 == 1  S2 == 2  R1 == 3  R2 == 4  Sel == 5  Cl == 6
Procs == 1..6
Ops == Procs \ {Cl}
NoProc == 0

\* The cases of each operation: channel -> is it a send?
CaseChans(p) == CASE p \in {S1, R1} -> {1}
                  [] p \in {S2, R2} -> {2}
                  [] p = Sel -> Chans
                  [] OTHER -> {}
IsSend(p, c) == IF p = Sel THEN c \in SelSend ELSE p \in {S1, S2}
IsSelect(p) == p = Sel                    \* chan_parker::is_select
Senders == {p \in Ops : \E c \in CaseChans(p) : IsSend(p, c)}
Values == Senders                         \* a sender sends its own id
Val(p) == p

\* Lock order (sellock): the case channels by address; a plain operation
\* has one.
LockOrder(p) ==
    IF CaseChans(p) = Chans THEN <<1, 2>> ELSE <<CHOOSE c \in CaseChans(p) : TRUE>>

VARIABLES
    pc,          \* where each goroutine is
    nheld,       \* how many locks of its lock order it holds (first ones)
    lockOwner,   \* hchan::lock: the holder, or NoProc
    buf,         \* the ring buffer, oldest first (recvx .. sendx)
    closed,      \* hchan::closed
    recvq,       \* hchan::recvq: the goroutines of the queued sudogs, FIFO
    sendq,       \* hchan::sendq
    selDone,     \* chan_parker::select_done (Go's g.selectDone)
    param,       \* chan_parker::param: the channel of the completed sudog
    success,     \* sudog::success of that sudog
    res,         \* res[p][c]: the receive slot of p's case on c (cas[i].elem)
    sent,        \* sent[s]: s's value has left it (handed off or buffered)
    gstatus,     \* "running", "waiting" (gopark), "runnable" (goready)
    parked,      \* p enqueued its sudogs and parked (once: one operation)
    wakes,       \* how many times p was readied
    completed,   \* how many operations of p were completed, by p or a waker
    toready,     \* the waiters this goroutine must ready after unlocking
    outcome,     \* "none", "ok", "closed" (recv: zero value), "panic" (send)
    won,         \* the case a finished operation returns (its channel)
    ci           \* the closer: index of the channel it is closing

chanvars == <<lockOwner, buf, closed, recvq, sendq>>
vars == <<pc, nheld, chanvars, selDone, param, success, res, sent, gstatus,
          parked, wakes, completed, toready, outcome, won, ci>>

\* The locks p takes now (the closer: the channel it is closing).
Locks(p) == IF p = Cl THEN <<CloseOrder[ci]>> ELSE LockOrder(p)

Pcs == {"lock", "unlockReady", "ready", "unlockPark", "waiting", "lock3",
        "unlockDone", "done"}

TypeOK ==
    /\ pc \in [Procs -> Pcs]
    /\ nheld \in [Procs -> 0..2]
    /\ lockOwner \in [Chans -> Procs \cup {NoProc}]
    /\ buf \in [Chans -> Seq(Values)]
    /\ \A c \in Chans : Len(buf[c]) <= Cap[c]
    /\ closed \in [Chans -> BOOLEAN]
    /\ recvq \in [Chans -> Seq(Ops)] /\ sendq \in [Chans -> Seq(Ops)]
    /\ selDone \in [Procs -> {0, 1}]
    /\ param \in [Procs -> Chans \cup {0}]
    /\ success \in [Procs -> BOOLEAN]
    /\ res \in [Procs -> [Chans -> Values \cup {0}]]
    /\ sent \in [Procs -> BOOLEAN]
    /\ gstatus \in [Procs -> {"running", "waiting", "runnable"}]
    /\ parked \in [Procs -> BOOLEAN]
    /\ wakes \in [Procs -> Nat]
    /\ completed \in [Procs -> Nat]
    /\ toready \in [Procs -> Seq(Ops)]
    /\ outcome \in [Procs -> {"none", "ok", "closed", "panic"}]
    /\ won \in [Procs -> Chans \cup {0}]
    /\ ci \in 1..(Len(CloseOrder) + 1)

Init ==
    /\ pc = [p \in Procs |-> IF p = Cl /\ CloseOrder = <<>> THEN "done" ELSE "lock"]
    /\ nheld = [p \in Procs |-> 0]
    /\ lockOwner = [c \in Chans |-> NoProc]
    /\ buf = [c \in Chans |-> <<>>]
    /\ closed = [c \in Chans |-> FALSE]
    /\ recvq = [c \in Chans |-> <<>>] /\ sendq = [c \in Chans |-> <<>>]
    /\ selDone = [p \in Procs |-> 0]
    /\ param = [p \in Procs |-> 0]
    /\ success = [p \in Procs |-> FALSE]
    /\ res = [p \in Procs |-> [c \in Chans |-> 0]]
    /\ sent = [p \in Procs |-> FALSE]
    /\ gstatus = [p \in Procs |-> "running"]
    /\ parked = [p \in Procs |-> FALSE]
    /\ wakes = [p \in Procs |-> 0]
    /\ completed = [p \in Procs |-> 0]
    /\ toready = [p \in Procs |-> <<>>]
    /\ outcome = [p \in Procs |-> "none"]
    /\ won = [p \in Procs |-> 0]
    /\ ci = 1

-----------------------------------------------------------------------------
(***************************************************************************)
(* The wait queue (park_core.hpp: sudog_list).                             *)
(***************************************************************************)

Range(s) == {s[i] : i \in DOMAIN s}

\* A sudog can still be woken: a plain operation's always, a select's only
\* while nobody has claimed the select (select_claim would succeed).
Claimable(e) == ~IsSelect(e) \/ selDone[e] = 0

RECURSIVE FirstClaimable(_, _)
FirstClaimable(q, i) ==
    IF i > Len(q) THEN 0 ELSE IF Claimable(q[i]) THEN i ELSE FirstClaimable(q, i + 1)

\* dequeue(): unlinks sudogs from the head until one can be claimed; a
\* select's sudog is taken only by winning select_claim (selDone 0 -> 1).
\* A select's sudog whose select was claimed through another case is
\* unlinked and skipped.  who: the sudog taken (NoProc: none), rest: the
\* queue after, claim: the select claimed (NoProc: none).
Dequeue(q) ==
    LET i == FirstClaimable(q, 1) IN
    IF i = 0 THEN [who |-> NoProc, rest |-> <<>>, claim |-> NoProc]
    ELSE [who |-> q[i], rest |-> SubSeq(q, i + 1, Len(q)),
          claim |-> IF IsSelect(q[i]) THEN q[i] ELSE NoProc]

\* The claim a dequeue made, applied to selDone.
Claimed(d) == IF d.claim = NoProc THEN selDone ELSE [selDone EXCEPT ![d.claim] = 1]

\* remove(s): unlinks s if it is still queued; a no-op otherwise.
Remove(q, p) == SelectSeq(q, LAMBDA e : e # p)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Locks.  sellock takes the lock order one lock per step; selunlock       *)
(* releases in reverse, the last one (locks[0]) last (selunlock and       *)
(* selunlock_step).                                                        *)
(***************************************************************************)

HoldsAll(p) == nheld[p] = Len(Locks(p))

\* A plain operation and close take one lock for one critical section and
\* do nothing else under it: the acquire moves right and the release left
\* past every other party's step (Lipton), so lock, critical section and
\* unlock are one step of theirs, taken when the lock is free.  The select
\* holds several locks across steps and across its park, so it takes and
\* releases them one per step.
Locked(p) == IF p = Sel THEN HoldsAll(p) ELSE lockOwner[Locks(p)[1]] = NoProc

\* Where a critical section leaves p: the select goes on to release its
\* locks; a single-lock party has already released its lock.
After(p, s) ==
    IF p = Sel THEN s
    ELSE CASE s = "unlockReady" -> "ready"
           [] s = "unlockPark" -> "waiting"
           [] s = "unlockDone" -> "done"

Lock(p) ==
    /\ p = Sel
    /\ pc[p] \in {"lock", "lock3"}
    /\ nheld[p] < Len(Locks(p))
    /\ lockOwner[Locks(p)[nheld[p] + 1]] = NoProc
    /\ lockOwner' = [lockOwner EXCEPT ![Locks(p)[nheld[p] + 1]] = p]
    /\ nheld' = [nheld EXCEPT ![p] = @ + 1]
    /\ UNCHANGED <<pc, buf, closed, recvq, sendq, selDone, param, success, res,
                   sent, gstatus, parked, wakes, completed, toready, outcome,
                   won, ci>>

\* Where a waker goes once its readies are done: the closer to its next
\* channel, anyone else returns.
MoreToClose(p) == p = Cl /\ ci < Len(CloseOrder)
AfterReady(p) == IF MoreToClose(p) THEN "lock" ELSE "done"

\* Where p goes once its last lock is released.
AfterUnlock(p) ==
    CASE pc[p] = "unlockReady" -> IF toready[p] = <<>> THEN AfterReady(p) ELSE "ready"
      [] pc[p] = "unlockPark" -> "waiting"
      [] pc[p] = "unlockDone" -> "done"

Unlock(p) ==
    /\ p = Sel
    /\ pc[p] \in {"unlockReady", "unlockPark", "unlockDone"}
    /\ nheld[p] > 0
    /\ lockOwner' = [lockOwner EXCEPT ![Locks(p)[nheld[p]]] = NoProc]
    /\ nheld' = [nheld EXCEPT ![p] = @ - 1]
    /\ pc' = IF nheld[p] = 1 THEN [pc EXCEPT ![p] = AfterUnlock(p)] ELSE pc
    /\ UNCHANGED <<ci, buf, closed, recvq, sendq, selDone, param, success, res,
                   sent, gstatus, parked, wakes, completed, toready, outcome, won>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* Pass 1 (a plain chansend/chanrecv is a select of one case): with every *)
(* lock held, run a case that can complete now.  The poll order is a       *)
(* random permutation and the first case in it that can complete runs, so *)
(* any case that can complete may be the one.  Each action below is one    *)
(* case's branch, in the order the code tests them.                        *)
(***************************************************************************)

Pass1Pre(p, c) == pc[p] = "lock" /\ p # Cl /\ Locked(p) /\ c \in CaseChans(p)

\* p's own operation ends in pass 1: unlock, then return.
Finish(p, c, o) ==
    /\ outcome' = [outcome EXCEPT ![p] = o]
    /\ won' = [won EXCEPT ![p] = c]
    /\ completed' = [completed EXCEPT ![p] = @ + 1]

\* complete() for the sudog of q on c: success, param, ready after unlock.
CompleteQ(p, q, c, ok) ==
    /\ success' = [success EXCEPT ![q] = ok]
    /\ param' = [param EXCEPT ![q] = c]
    /\ toready' = [toready EXCEPT ![p] = <<q>>]

\* send on a closed channel: unlock, throw (Go: panic).
SendClosed(p, c) ==
    /\ Pass1Pre(p, c) /\ IsSend(p, c)
    /\ closed[c]
    /\ Finish(p, c, "panic")
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockDone")]
    /\ UNCHANGED <<nheld, chanvars, selDone, param, success, res, sent, gstatus,
                   parked, wakes, toready, ci>>

\* chan_send_direct: recvq.dequeue() found a receiver; the value goes
\* straight into its slot, complete() records success, unlock, ready.
SendDirect(p, c) ==
    LET d == Dequeue(recvq[c]) q == d.who IN
    /\ Pass1Pre(p, c) /\ IsSend(p, c)
    /\ ~closed[c]
    /\ q # NoProc
    /\ recvq' = [recvq EXCEPT ![c] = d.rest]
    /\ selDone' = Claimed(d)
    /\ res' = [res EXCEPT ![q][c] = Val(p)]
    /\ sent' = [sent EXCEPT ![p] = TRUE]
    /\ CompleteQ(p, q, c, TRUE)
    /\ completed' = [completed EXCEPT ![p] = @ + 1, ![q] = @ + 1]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    /\ won' = [won EXCEPT ![p] = c]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockReady")]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, sendq, gstatus, parked, wakes, ci>>

\* chan_buf_put: no receiver (dequeue's unlinking of claimed sudogs stays
\* done), room in the buffer.
SendBuf(p, c) ==
    LET d == Dequeue(recvq[c]) IN
    /\ Pass1Pre(p, c) /\ IsSend(p, c)
    /\ ~closed[c]
    /\ d.who = NoProc
    /\ Len(buf[c]) < Cap[c]
    /\ recvq' = [recvq EXCEPT ![c] = d.rest]
    /\ buf' = [buf EXCEPT ![c] = Append(@, Val(p))]
    /\ sent' = [sent EXCEPT ![p] = TRUE]
    /\ Finish(p, c, "ok")
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockDone")]
    /\ UNCHANGED <<nheld, lockOwner, closed, sendq, selDone, param, success, res,
                   gstatus, parked, wakes, toready, ci>>

\* chan_recv_direct: sendq.dequeue() found a sender.  Unbuffered: take its
\* value.  Buffered (then full, Q1): take the head, its value to the tail.
RecvDirect(p, c) ==
    LET d == Dequeue(sendq[c]) q == d.who IN
    /\ Pass1Pre(p, c) /\ ~IsSend(p, c)
    /\ q # NoProc
    /\ sendq' = [sendq EXCEPT ![c] = d.rest]
    /\ selDone' = Claimed(d)
    /\ IF Cap[c] = 0
         THEN /\ res' = [res EXCEPT ![p][c] = Val(q)]
              /\ UNCHANGED buf
         ELSE /\ res' = [res EXCEPT ![p][c] = Head(buf[c])]
              /\ buf' = [buf EXCEPT ![c] = Append(Tail(@), Val(q))]
    /\ sent' = [sent EXCEPT ![q] = TRUE]
    /\ CompleteQ(p, q, c, TRUE)
    /\ completed' = [completed EXCEPT ![p] = @ + 1, ![q] = @ + 1]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    /\ won' = [won EXCEPT ![p] = c]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockReady")]
    /\ UNCHANGED <<nheld, lockOwner, closed, recvq, gstatus, parked, wakes, ci>>

\* chan_buf_take: no sender, data in the buffer.
RecvBuf(p, c) ==
    LET d == Dequeue(sendq[c]) IN
    /\ Pass1Pre(p, c) /\ ~IsSend(p, c)
    /\ d.who = NoProc
    /\ Len(buf[c]) > 0
    /\ sendq' = [sendq EXCEPT ![c] = d.rest]
    /\ res' = [res EXCEPT ![p][c] = Head(buf[c])]
    /\ buf' = [buf EXCEPT ![c] = Tail(@)]
    /\ Finish(p, c, "ok")
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockDone")]
    /\ UNCHANGED <<nheld, lockOwner, closed, recvq, selDone, param, success, sent,
                   gstatus, parked, wakes, toready, ci>>

\* Closed and drained: the zero value, ok = false (chan_recv's first test;
\* select's last, the same outcome since a closed channel's sendq is empty).
RecvClosed(p, c) ==
    LET d == Dequeue(sendq[c]) IN
    /\ Pass1Pre(p, c) /\ ~IsSend(p, c)
    /\ d.who = NoProc
    /\ Len(buf[c]) = 0
    /\ closed[c]
    /\ sendq' = [sendq EXCEPT ![c] = d.rest]
    /\ Finish(p, c, "closed")
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockDone")]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, recvq, selDone, param, success,
                   res, sent, gstatus, parked, wakes, toready, ci>>

\* Some case of p can complete now (the guards of the actions above).
CanRun(p, c) ==
    IF IsSend(p, c)
      THEN closed[c] \/ Dequeue(recvq[c]).who # NoProc \/ Len(buf[c]) < Cap[c]
      ELSE Dequeue(sendq[c]).who # NoProc \/ Len(buf[c]) > 0 \/ closed[c]

\* Pass 2 (park_locked; selectgo's pass 2): no case can complete, so one
\* sudog per case goes into its queue, in lock order, under the same locks;
\* gopark writes "waiting" and switches; the locks are released after the
\* switch (Unlock from "unlockPark").
Enqueue(p) ==
    /\ pc[p] = "lock" /\ p # Cl /\ Locked(p)
    /\ \A c \in CaseChans(p) : ~CanRun(p, c)
    /\ recvq' = [c \in Chans |-> IF c \in CaseChans(p) /\ ~IsSend(p, c)
                                   THEN Append(recvq[c], p) ELSE recvq[c]]
    /\ sendq' = [c \in Chans |-> IF c \in CaseChans(p) /\ IsSend(p, c)
                                   THEN Append(sendq[c], p) ELSE sendq[c]]
    /\ parked' = [parked EXCEPT ![p] = TRUE]
    /\ gstatus' = [gstatus EXCEPT ![p] = "waiting"]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockPark")]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, selDone, param, success, res,
                   sent, wakes, completed, toready, outcome, won, ci>>

Pass1(p) ==
    \/ \E c \in Chans :
         \/ SendClosed(p, c) \/ SendDirect(p, c) \/ SendBuf(p, c)
         \/ RecvDirect(p, c) \/ RecvBuf(p, c) \/ RecvClosed(p, c)
    \/ Enqueue(p)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Close (chan_close): under the lock, closed := TRUE, then dequeue every  *)
(* receiver, then every sender (claiming selects as any waker does), with  *)
(* success = false and param set; unlock; ready them one by one.           *)
(***************************************************************************)

CloseChan(p) ==
    LET c == CloseOrder[ci]
        rs == SelectSeq(recvq[c], Claimable)
        \* a select queued on both sides of c is claimed once (through recvq)
        ss == SelectSeq(sendq[c], LAMBDA e : Claimable(e) /\ e \notin Range(rs))
        taken == rs \o ss
        got == Range(taken)
    IN
    /\ pc[p] = "lock" /\ p = Cl /\ Locked(p)
    /\ ~closed[c]   \* each channel is closed once (close of closed: throw)
    /\ closed' = [closed EXCEPT ![c] = TRUE]
    /\ recvq' = [recvq EXCEPT ![c] = <<>>]
    /\ sendq' = [sendq EXCEPT ![c] = <<>>]
    /\ selDone' = [e \in Procs |-> IF e \in got /\ IsSelect(e) THEN 1 ELSE selDone[e]]
    /\ success' = [e \in Procs |-> IF e \in got THEN FALSE ELSE success[e]]
    /\ param' = [e \in Procs |-> IF e \in got THEN c ELSE param[e]]
    /\ completed' = [e \in Procs |-> IF e \in got THEN completed[e] + 1 ELSE completed[e]]
    /\ toready' = [toready EXCEPT ![p] = taken]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    \* no waiter to ready: on to the next channel at once
    /\ pc' = [pc EXCEPT ![p] = IF taken = <<>> THEN AfterReady(p) ELSE "ready"]
    /\ ci' = IF taken = <<>> /\ MoreToClose(p) THEN ci + 1 ELSE ci
    /\ UNCHANGED <<nheld, lockOwner, buf, res, sent, gstatus, parked, wakes, won>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* ready(): goready, after every lock is released.  One waiter per step.   *)
(***************************************************************************)

Ready(p) ==
    LET q == Head(toready[p]) IN
    /\ pc[p] = "ready"
    /\ gstatus' = [gstatus EXCEPT ![q] = "runnable"]
    /\ wakes' = [wakes EXCEPT ![q] = @ + 1]
    /\ toready' = [toready EXCEPT ![p] = Tail(@)]
    /\ IF Len(toready[p]) = 1
         THEN /\ pc' = [pc EXCEPT ![p] = AfterReady(p)]
              /\ ci' = IF MoreToClose(p) THEN ci + 1 ELSE ci
         ELSE UNCHANGED <<pc, ci>>
    /\ UNCHANGED <<nheld, chanvars, selDone, param, success, res, sent, parked,
                   completed, outcome, won>>

\* The readied goroutine runs again.  A plain operation returns success
\* (chan_send throws on false: closed while parked).  A select goes on to
\* pass 3.
Resume(p) ==
    /\ pc[p] = "waiting" /\ gstatus[p] = "runnable"
    /\ gstatus' = [gstatus EXCEPT ![p] = "running"]
    /\ IF IsSelect(p)
         THEN /\ pc' = [pc EXCEPT ![p] = "lock3"]
              /\ UNCHANGED <<outcome, won>>
         ELSE /\ pc' = [pc EXCEPT ![p] = "done"]
              /\ won' = [won EXCEPT ![p] = param[p]]
              /\ outcome' = [outcome EXCEPT ![p] =
                   IF success[p] THEN "ok"
                   ELSE IF IsSend(p, param[p]) THEN "panic" ELSE "closed"]
    /\ UNCHANGED <<nheld, chanvars, selDone, param, success, res, sent, parked,
                   wakes, completed, toready, ci>>

\* Pass 3, every lock held again: the won case is param; every other sudog
\* is removed from its queue (a no-op if a losing waker unlinked it).
Pass3(p) ==
    /\ pc[p] = "lock3" /\ HoldsAll(p)
    /\ recvq' = [c \in Chans |-> IF c \in CaseChans(p) /\ c # param[p] /\ ~IsSend(p, c)
                                   THEN Remove(recvq[c], p) ELSE recvq[c]]
    /\ sendq' = [c \in Chans |-> IF c \in CaseChans(p) /\ c # param[p] /\ IsSend(p, c)
                                   THEN Remove(sendq[c], p) ELSE sendq[c]]
    /\ won' = [won EXCEPT ![p] = param[p]]
    /\ outcome' = [outcome EXCEPT ![p] =
         IF success[p] THEN "ok"
         ELSE IF param[p] # 0 /\ IsSend(p, param[p]) THEN "panic" ELSE "closed"]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockDone")]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, selDone, param, success, res,
                   sent, gstatus, parked, wakes, completed, toready, ci>>

Terminated == (\A p \in Procs : pc[p] = "done") /\ UNCHANGED vars

Step(p) ==
    \/ Lock(p) \/ Unlock(p) \/ Pass1(p) \/ CloseChan(p) \/ Ready(p)
    \/ Resume(p) \/ Pass3(p)

Next == (\E p \in Procs : Step(p)) \/ Terminated

\* Every goroutine's steps are weakly fair (a readied G eventually runs;
\* a lock that stays free is eventually taken: each party takes finitely
\* many steps, so no lock is taken forever by others).
Spec == Init /\ [][Next]_vars /\ \A p \in Procs : WF_vars(Step(p))

-----------------------------------------------------------------------------
(***************************************************************************)
(* Invariants                                                              *)
(***************************************************************************)

\* Where value v is: still with its sender (not yet sent, or the send
\* failed), in a buffer, or in a receive slot.  Exactly one place.
BufCount(v) == Cardinality({<<c, i>> \in Chans \X (1..MaxCap) :
                              i <= Len(buf[c]) /\ buf[c][i] = v})
SlotCount(v) == Cardinality({<<p, c>> \in Ops \X Chans : res[p][c] = v})
Places(v) == (IF sent[v] THEN 0 ELSE 1) + BufCount(v) + SlotCount(v)
NoValueLostOrDuplicated == \A v \in Values : Places(v) = 1

\* Exactly one operation of each goroutine completes (a plain operation is
\* a select of one case): a select wins at most one case (its own in pass
\* 1, or one claimed sudog), and a finished one returns the case that
\* completed.
SelectWinsOnce ==
    \A p \in Ops :
        /\ completed[p] <= 1
        /\ pc[p] = "done" => completed[p] = 1 /\ won[p] # 0 /\ outcome[p] # "none"

\* A waiter is readied once per park, and only a parked one is.
NoWokenTwice == \A p \in Ops : wakes[p] <= IF parked[p] THEN 1 ELSE 0

\* Q2: close took every waiter, and nobody queues on a closed channel.
CloseWakesAll == \A c \in Chans : closed[c] => recvq[c] = <<>> /\ sendq[c] = <<>>

\* Q1: a sudog that can still be woken waits in sendq only when the buffer
\* is full, in recvq only when it is empty.  (A claimed select's sudog may
\* linger until its pass 3 or the next dequeue.)
Live(q) == {e \in Range(q) : Claimable(e)}
QueuesMatchBuffer ==
    \A c \in Chans :
        /\ Live(sendq[c]) # {} => Len(buf[c]) = Cap[c]
        /\ Live(recvq[c]) # {} => Len(buf[c]) = 0

\* Lifetime: a sudog lives on its goroutine's stack, so none is still in a
\* queue once that goroutine has returned; and a queued sudog is parked.
NoSudogAfterReturn ==
    \A c \in Chans : \A e \in Range(recvq[c]) \cup Range(sendq[c]) :
        parked[e] /\ pc[e] # "done"

\* A completed select reports what happened on the case it returns: a
\* receive that got ok has a value, a closed one the zero value.
ResultMatchesCase ==
    \A p \in Ops : pc[p] = "done" /\ ~IsSend(p, won[p]) =>
        (outcome[p] = "ok" <=> res[p][won[p]] # 0)

(***************************************************************************)
(* Liveness                                                                *)
(***************************************************************************)

\* Every operation finishes: the closer closes every channel, so no
\* goroutine may wait forever.  A parked operation finishes only after it
\* was readied (Resume), so this includes "every parked waiter is woken",
\* by a partner or by close.
AllFinish == <>(\A p \in Procs : pc[p] = "done")

=============================================================================
