--------------------- MODULE RunQueue_get_plain_store ---------------------
(***************************************************************************)
(* Mutant (C++: GORO_MUTANT=get_plain_store): runqget, the owner's take,   *)
(* claims its G with a plain store of runqhead instead of a CAS, as if the *)
(* owner were the only taker.  A thief that claimed the same slot between  *)
(* the owner's head load and its store also keeps it: a G is taken twice.  *)
(* Everything else is RunQueue; the .cfg swaps this action in.            *)
(***************************************************************************)
EXTENDS RunQueue

RunqGetStoreHead ==
    /\ opc = "getCas"
    /\ runqhead' = oh + 1
    /\ taken' = Take1(taken, runq[oh % CAP])
    /\ OwnerDone
    /\ UNCHANGED <<runqtail, runq, runnext, globrunq, nextG, thiefVars>>
=============================================================================
