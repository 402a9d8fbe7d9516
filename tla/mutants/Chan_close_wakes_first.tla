------------------------ MODULE Chan_close_wakes_first ------------------------
(***************************************************************************)
(* Mutant: chan_close takes only the first waiter of each queue (`if`     *)
(* instead of `while (sudog* sg = q->dequeue())`).  The others stay        *)
(* queued on a closed channel and are never readied.  The .cfg swaps this  *)
(* in for CloseChan.                                                       *)
(***************************************************************************)
EXTENDS Chan

CloseChanFirstOnly(p) ==
    LET c == CloseOrder[ci]
        dr == Dequeue(recvq[c])
        ds == Dequeue(sendq[c])
        rs == IF dr.who = NoProc THEN <<>> ELSE <<dr.who>>
        \* the sender's dequeue sees the claim the receiver's made
        sok == ds.who # NoProc /\ ds.who \notin Range(rs)
        ss == IF sok THEN <<ds.who>> ELSE <<>>
        taken == rs \o ss
        got == Range(taken)
    IN
    /\ pc[p] = "lock" /\ p = Cl /\ Locked(p)
    /\ ~closed[c]
    /\ closed' = [closed EXCEPT ![c] = TRUE]
    /\ recvq' = [recvq EXCEPT ![c] = dr.rest]
    /\ sendq' = [sendq EXCEPT ![c] = IF sok \/ ds.who = NoProc THEN ds.rest ELSE @]
    /\ selDone' = [e \in Procs |-> IF e \in got /\ IsSelect(e) THEN 1 ELSE selDone[e]]
    /\ success' = [e \in Procs |-> IF e \in got THEN FALSE ELSE success[e]]
    /\ param' = [e \in Procs |-> IF e \in got THEN c ELSE param[e]]
    /\ completed' = [e \in Procs |-> IF e \in got THEN completed[e] + 1 ELSE completed[e]]
    /\ toready' = [toready EXCEPT ![p] = taken]
    /\ outcome' = [outcome EXCEPT ![p] = "ok"]
    /\ pc' = [pc EXCEPT ![p] = IF taken = <<>> THEN AfterReady(p) ELSE "ready"]
    /\ ci' = IF taken = <<>> /\ MoreToClose(p) THEN ci + 1 ELSE ci
    /\ UNCHANGED <<nheld, lockOwner, buf, res, sent, gstatus, parked, wakes, won>>
=============================================================================
