-------------------- MODULE PHandoff_exitsyscall_no_cas --------------------
(***************************************************************************)
(* Mutant: exitsyscallfast takes its old P back with a plain store after  *)
(* seeing it in state syscall, instead of CAS(status, syscall, idle).     *)
(* Sysmon's retake can win in between and hand the P off (to the idle     *)
(* list or another M), and then two holders share one P.                  *)
(* The .cfg swaps this action in for ExitSyscallFast.                     *)
(***************************************************************************)
EXTENDS PHandoff

ExitSyscallFastStore(m) ==
    LET pp == moldp[m] IN
    /\ mpc[m] = "exitFast"
    /\ pstatus' = [pstatus EXCEPT ![pp] = "running"]
    /\ pm' = [pm EXCEPT ![pp] = m]
    /\ mp' = [mp EXCEPT ![m] = pp]
    /\ gstatus' = [gstatus EXCEPT ![mcurg[m]] = "running"]
    /\ mpc' = [mpc EXCEPT ![m] = "running"]
    /\ moldp' = [moldp EXCEPT ![m] = NoP]
    /\ UNCHANGED <<runq, globrunq, pidle, mnextp, mcurg, mspinning, mi,
                   svars, spc, sp, npvars>>
=============================================================================
