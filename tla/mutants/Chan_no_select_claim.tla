------------------------- MODULE Chan_no_select_claim -------------------------
(***************************************************************************)
(* Mutant: sudog_list::dequeue takes the head sudog without select_claim   *)
(* (park_core.hpp: the `is_select && !select_claim` test dropped).  A      *)
(* select parked on two channels is then completed by a waker on each:     *)
(* two cases win, and the select is readied twice.  The .cfg swaps this    *)
(* in for Dequeue.                                                         *)
(***************************************************************************)
EXTENDS Chan

DequeueNoClaim(q) ==
    IF q = <<>> THEN [who |-> NoProc, rest |-> <<>>, claim |-> NoProc]
    ELSE [who |-> Head(q), rest |-> Tail(q), claim |-> NoProc]
=============================================================================
