------------------- MODULE RunQueue_publish_tail_first --------------------
(***************************************************************************)
(* Mutant (C++: GORO_MUTANT=publish_tail_first): runqput stores the new   *)
(* runqtail before the slot holds the G.  A thief that sees the new tail  *)
(* copies whatever the slot held before (nil, or a G taken long ago after *)
(* the ring wrapped) and claims it, and the G written afterwards sits     *)
(* below runqhead where nobody will ever take it.                          *)
(* The two steps of the put swap their stores; the .cfg swaps them in.    *)
(***************************************************************************)
EXTENDS RunQueue

\* First step: runqtail.store(t + 1, release), slot not yet written.
RunqPutTailFirst ==
    /\ opc = "putStoreSlot"
    /\ runqtail' = ot + 1
    /\ opc' = "putPublishTail"
    /\ UNCHANGED <<runqhead, runq, runnext, globrunq, taken, nextG,
                   og, oh, ot, onext, obatch, thiefVars>>

\* Second step: runq[t % CAP].store(gp).
RunqPutSlotLast ==
    /\ opc = "putPublishTail"
    /\ runq' = [runq EXCEPT ![ot % CAP] = og]
    /\ OwnerDone
    /\ UNCHANGED <<runqhead, runqtail, runnext, globrunq, taken, nextG, thiefVars>>
=============================================================================
