------------------------- MODULE Chan_pass3_no_remove -------------------------
(***************************************************************************)
(* Mutant: selectgo's pass 3 returns the won case without removing the    *)
(* select's other sudogs from their queues.  They live on the select's     *)
(* stack, which is gone once it returns (a waker would then claim through  *)
(* a dangling pointer).  The .cfg swaps this in for Pass3.                 *)
(***************************************************************************)
EXTENDS Chan

Pass3NoRemove(p) ==
    /\ pc[p] = "lock3" /\ HoldsAll(p)
    /\ won' = [won EXCEPT ![p] = param[p]]
    /\ outcome' = [outcome EXCEPT ![p] =
         IF success[p] THEN "ok"
         ELSE IF param[p] # 0 /\ IsSend(p, param[p]) THEN "panic" ELSE "closed"]
    /\ pc' = [pc EXCEPT ![p] = "unlockDone"]
    /\ UNCHANGED <<nheld, lockOwner, buf, closed, recvq, sendq, selDone, param,
                   success, res, sent, gstatus, parked, wakes, completed, toready, ci>>
=============================================================================
