-------------------- MODULE RunQueue_steal_plain_store --------------------
(***************************************************************************)
(* Mutant (C++: GORO_MUTANT=steal_plain_store): runqgrab claims its batch *)
(* with a plain store of runqhead instead of a CAS.  A thief whose copy   *)
(* went stale (the owner or another thief took some of those Gs meanwhile) *)
(* still "wins", so a G is taken twice, and head can even move backwards. *)
(* Everything else is RunQueue; the .cfg swaps this action in.           *)
(***************************************************************************)
EXTENDS RunQueue

RunqGrabStoreHead(t) ==
    /\ tpc[t] = "grabCas"
    /\ runqhead' = th[t] + tn[t]
    /\ taken' = TakeAll(taken, tbatch[t])
    /\ ThiefReset(t)
    /\ UNCHANGED <<runqtail, runq, runnext, globrunq, nextG, ownerVars>>
=============================================================================
