---------------------- MODULE Chan_recv_direct_no_refill ----------------------
(***************************************************************************)
(* Mutant: chan_recv_direct on a buffered channel takes the buffer's head  *)
(* and completes the parked sender, but does not move the sender's value   *)
(* into the freed slot (the `construct(q, sg->elem)` dropped, the count    *)
(* decremented as for a plain take).  The sender returns as if its value   *)
(* was sent, and nobody ever receives it.  The .cfg swaps this in for      *)
(* RecvDirect.                                                             *)
(***************************************************************************)
EXTENDS Chan

RecvDirectNoRefill(p, c) ==
    LET d == Dequeue(sendq[c]) q == d.who IN
    /\ Pass1Pre(p, c) /\ ~IsSend(p, c)
    /\ q # NoProc
    /\ sendq' = [sendq EXCEPT ![c] = d.rest]
    /\ selDone' = Claimed(d)
    /\ IF Cap[c] = 0
         THEN /\ res' = [res EXCEPT ![p][c] = Val(q)]
              /\ UNCHANGED buf
         ELSE /\ res' = [res EXCEPT ![p][c] = Head(buf[c])]
              /\ buf' = [buf EXCEPT ![c] = Tail(@)]    \* the bug
    /\ sent' = [sent EXCEPT ![q] = TRUE]
    /\ CompleteQ(p, q, c, TRUE)
    /\ completed' = [completed EXCEPT ![p] = @ + 1, ![q] = @ + 1]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    /\ won' = [won EXCEPT ![p] = c]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockReady")]
    /\ UNCHANGED <<nheld, lockOwner, closed, recvq, gstatus, parked, wakes, ci>>
=============================================================================
