------------------ MODULE PHandoff_netpoll_inject_no_wake ------------------
(***************************************************************************)
(* Mutant: the M back from a blocking netpoll that found no idle P puts   *)
(* the readied Gs on the global queue and starts no M (the "sloppy"       *)
(* injectglist without its startm, or goready's P-less path without       *)
(* injectg's pidleget).  A P that went idle after the blocker's pidleget  *)
(* (its M saw an empty global queue under the lock just before) is never *)
(* given to anyone: the readied G and the idle P coexist for ever.        *)
(* The .cfg swaps this in for NpInject.                                   *)
(***************************************************************************)
EXTENDS PHandoff

NpInjectNoWake(g) ==
    /\ globrunq' = globrunq \cup {g}
    /\ UNCHANGED <<pidle, mnextp, mspinning, mpc>>
=============================================================================
