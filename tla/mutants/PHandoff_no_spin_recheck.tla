--------------------- MODULE PHandoff_no_spin_recheck ----------------------
(***************************************************************************)
(* Mutant (C++: GORO_MUTANT=no_spin_recheck): the last spinning M drops   *)
(* nmspinning and parks without looking at the run queues again.  A G     *)
(* readied while it was still counted as spinning (so its readier woke    *)
(* nobody) then waits behind a G that may run forever, beside an idle P.  *)
(* The .cfg swaps this action in for DropSpin.                            *)
(***************************************************************************)
EXTENDS PHandoff

DropSpinAndPark(m) ==
    /\ mpc[m] = "dropspin"
    /\ mspinning' = [mspinning EXCEPT ![m] = FALSE]
    /\ nmspinning' = nmspinning - 1
    /\ mpc' = [mpc EXCEPT ![m] = "parked"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mi, needspinning,
                   spc, sp, npvars>>
=============================================================================
