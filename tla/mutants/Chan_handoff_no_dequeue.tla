----------------------- MODULE Chan_handoff_no_dequeue -----------------------
(***************************************************************************)
(* Mutant: chan_send_direct completes the receiver at the head of recvq   *)
(* without unlinking it (a peek at recvq.first instead of dequeue()).      *)
(* The receiver returns while its sudog, on its stack, is still queued;    *)
(* the next sender or close completes it again.  The .cfg swaps this in    *)
(* for SendDirect.                                                         *)
(***************************************************************************)
EXTENDS Chan

SendDirectPeek(p, c) ==
    LET d == Dequeue(recvq[c]) q == d.who IN
    /\ Pass1Pre(p, c) /\ IsSend(p, c)
    /\ ~closed[c]
    /\ q # NoProc
    /\ UNCHANGED recvq    \* the bug: q stays queued
    /\ selDone' = Claimed(d)
    /\ res' = [res EXCEPT ![q][c] = Val(p)]
    /\ sent' = [sent EXCEPT ![p] = TRUE]
    /\ CompleteQ(p, q, c, TRUE)
    /\ completed' = [completed EXCEPT ![p] = @ + 1, ![q] = @ + 1]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    /\ won' = [won EXCEPT ![p] = c]
    /\ pc' = [pc EXCEPT ![p] = After(p, "unlockReady")]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, sendq, gstatus, parked, wakes, ci>>
=============================================================================
