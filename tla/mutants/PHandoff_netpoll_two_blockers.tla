------------------- MODULE PHandoff_netpoll_two_blockers -------------------
(***************************************************************************)
(* Mutant: block_in_netpoll claims sched.timer_sleeper with a load and a  *)
(* later store instead of CAS(timer_sleeper, null, m).  Two Ms that gave  *)
(* up their Ps both load null, both store themselves, and both block in  *)
(* epoll_wait: the deadline and the lastpoll of one overwrite the other's, *)
(* and one edge wakes only one of them.  The .cfg swaps both actions in.  *)
(***************************************************************************)
EXTENDS PHandoff

\* The load: the place looks free.
NpCheckLoad(m) ==
    /\ mpc[m] = "npCheck"
    /\ mpc' = [mpc EXCEPT ![m] = IF npwaiters # 0 /\ sleeper = NoM
                                  THEN "npCommit" ELSE "parked"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>

\* The store, later, with no second look.
NpCommitStore(m) ==
    /\ mpc[m] = "npCommit"
    /\ sleeper' = m
    /\ mpc' = [mpc EXCEPT ![m] = "npRecheck"]
    /\ UNCHANGED <<gvars, pvars, mp, moldp, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, gio, npwaiters, npbreak, plist>>
=============================================================================
