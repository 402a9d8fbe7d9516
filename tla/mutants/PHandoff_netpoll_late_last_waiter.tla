------------------ MODULE PHandoff_netpoll_late_last_waiter ------------------
(***************************************************************************)
(* Not a mutant: the code as it is, checked against IdleBlockerLeavesAlways *)
(* (PHandoff.tla), which has no exception for the race below.  TLC must   *)
(* find it; once block_in_netpoll re-reads waiters after publishing its   *)
(* deadline (and the model does too), this check fails as NOT CAUGHT and  *)
(* IdleBlockerLeavesAlways moves into PHandoffNetpoll.cfg.                *)
(*                                                                         *)
(* The race (findrunnable.cpp, block_in_netpoll; netpoll.cpp, poll_wait): *)
(* the M loads waiters = 1 (line 67), the last waiting G, readied, runs   *)
(* and does waiters.fetch_sub (1 -> 0) and loads timer_sleep_until = 0    *)
(* (no sleeper yet: no break); the M wins the CAS, stores INT64_MAX and   *)
(* blocks in epoll_wait(-1) with no G waiting for a socket and no timer.  *)
(***************************************************************************)
EXTENDS PHandoff
=============================================================================
