-------------------- MODULE PHandoff_netpoll_no_recheck --------------------
(***************************************************************************)
(* Mutant: block_in_netpoll as it was before this model found its race: *)
(* having published its deadline, the blocker goes straight into         *)
(* epoll_wait(-1) without reading netpoll.waiters again.  The last       *)
(* waiting G, readied between the blocker's first load of waiters (1)   *)
(* and that publication, decrements waiters to 0 and reads no deadline, *)
(* so it does not break the poll: the M sleeps with nothing to wait for *)
(* and checkdead, which needs every M idle, never reports a deadlock.   *)
(* The .cfg swaps this in for NpRecheck.                                 *)
(***************************************************************************)
EXTENDS PHandoff

NpRecheckSkipped(m) ==
    /\ mpc[m] = "npRecheck"
    /\ mpc' = [mpc EXCEPT ![m] = "npBlocked"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>
=============================================================================
