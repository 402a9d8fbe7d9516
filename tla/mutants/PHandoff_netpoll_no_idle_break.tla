------------------- MODULE PHandoff_netpoll_no_idle_break -------------------
(***************************************************************************)
(* Mutant: poll_wait's return decrements netpoll.waiters and never breaks *)
(* the poll, even when it was the last waiter and the blocker sleeps with *)
(* no deadline.  The blocker then sleeps with nothing to wait for, and    *)
(* checkdead, which needs every M idle, never counts it.  The .cfg swaps  *)
(* this in for IODone.                                                     *)
(***************************************************************************)
EXTENDS PHandoff

IODoneNoBreak(m) ==
    LET g == mcurg[m] IN
    /\ mpc[m] = "ioDone"
    /\ npwaiters' = npwaiters - 1
    /\ gio' = [gio EXCEPT ![g] = "none"]
    /\ mpc' = [mpc EXCEPT ![m] = "running"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, sleeper, npbreak, plist>>
=============================================================================
