--------------------- MODULE PHandoff_no_needspinning ----------------------
(***************************************************************************)
(* Mutant: goro's spinning protocol as of issue 3 (fixed since, now in    *)
(* src/sched/findrunnable.cpp and spinning.cpp), which follows Go before  *)
(* 1.21.  ready_wake calls wakep only if a P is idle, and a non-spinning  *)
(* M drops its P without looking at needspinning.  Lost wakeup: M1 spins; *)
(* M2 finds no work, sees M1 spinning and so decides not to spin; M1      *)
(* finds a G, stops spinning and (no P idle yet: M2 still holds its P)    *)
(* wakes nobody; M1's G readies a G into M1's runnext, again with no idle *)
(* P; M2 drops its P and parks.  The readied G now waits behind a G that  *)
(* may run forever, beside an idle P.  The .cfg swaps in both changes.    *)
(***************************************************************************)
EXTENDS PHandoff

\* ready_wake: if (npidle != 0 && nmspinning == 0) wakep().
RWCheckIfIdleP(m) ==
    /\ mpc[m] = "rwCheck"
    /\ mpc' = [mpc EXCEPT ![m] =
                 IF NPIdle > 0 /\ nmspinning = 0 THEN "wakepCas" ELSE Cont(m)]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* findrunnable never turns a non-spinning M into the spinner.
NeverAbortDrop(m) == FALSE
=============================================================================
