------------------------------ MODULE RunQueue ------------------------------
(***************************************************************************)
(* One P's lock-free run queue (src/sched/runq.cpp, Go's runqput,         *)
(* runqputslow, runqget, runqgrab/runqsteal), one atomic access per step.  *)
(*                                                                         *)
(* Processes: the owner (the M holding the P) puts and takes; Thieves (Ms  *)
(* of other Ps in findrunnable) steal.  Every load, store or CAS of a word *)
(* that another process writes (runqhead, runnext, and the slots and       *)
(* runqtail as seen by a thief) is a step of its own.  A read of a word    *)
(* that only the reader itself writes is folded into a neighbouring step:  *)
(* the owner's reads of runqtail and of the slots (only the owner writes   *)
(* them), which is exact because no other process can change them         *)
(* between the code's read and the step the model puts it in.             *)
(*                                                                         *)
(* runqhead and runqtail are the code's free-running counters (slot =      *)
(* counter % CAP).  Each G is put once, so they never exceed NG and the    *)
(* state space is finite without modelling the uint32 wrap; the wrap is    *)
(* harmless in the code because 2^32 is a multiple of the capacity.        *)
(*                                                                         *)
(* A thief's successful steal counts the Gs it grabbed as taken by that    *)
(* thief.  Where runqsteal then puts them (the thief's own ring) is not    *)
(* modelled: that is the owner-side publication this module checks.       *)
(*                                                                         *)
(* Mutants (tla/mutants/) replace one action by its buggy variant through  *)
(* a definition override in their .cfg, so they share everything else.    *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    CAP,        \* ring capacity (runq_capacity = 256 in the code)
    NG,         \* Gs the owner will put; G ids are 1..NG
    Thieves     \* thief process ids (model values)

ASSUME CAP \in Nat /\ CAP >= 2 /\ CAP % 2 = 0
ASSUME NG \in Nat /\ NG >= 1

Nil == 0                    \* the null g*
G == 1..NG

VARIABLES
    runqhead, runqtail,     \* std::atomic<uint32_t>, free running
    runq,                   \* std::atomic<g*> runq[CAP]
    runnext,                \* std::atomic<g*>
    globrunq,               \* sched.runq, under sched.lock
    taken,                  \* taken[g]: times g was handed to some M to run
    nextG,                  \* the next fresh G the owner will put
    \* owner locals: pc, the G being put, h, t, expected runnext, overflow batch
    opc, og, oh, ot, onext, obatch,
    \* thief locals: pc, h, n, copied slots, expected runnext
    tpc, th, tn, tbatch, tnext

ownerVars == <<opc, og, oh, ot, onext, obatch>>
thiefVars == <<tpc, th, tn, tbatch, tnext>>
vars == <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
          ownerVars, thiefVars>>

-----------------------------------------------------------------------------
OwnerPcs == {"idle", "putCasNext", "putLoadHead", "putStoreSlot",
             "putPublishTail", "putSlow", "putSlowGlobal",
             "getCasNext", "getLoadHead", "getCas", "getGlobal"}
ThiefPcs == {"idle", "grabLoadTail", "grabCopy", "grabCas",
             "grabLoadNext", "grabCasNext"}
GOrNil == G \cup {Nil}

TypeOK ==
    /\ runqhead \in Nat /\ runqtail \in Nat
    /\ runq \in [0..CAP-1 -> GOrNil]
    /\ runnext \in GOrNil
    /\ globrunq \in Seq(G)
    /\ taken \in [G -> Nat]
    /\ nextG \in 1..NG+1
    /\ opc \in OwnerPcs
    /\ og \in GOrNil /\ onext \in GOrNil
    /\ oh \in Nat /\ ot \in Nat /\ obatch \in Seq(GOrNil)
    /\ tpc \in [Thieves -> ThiefPcs]
    /\ th \in [Thieves -> Nat]
    /\ tn \in [Thieves -> 0..CAP]
    /\ tbatch \in [Thieves -> Seq(GOrNil)]
    /\ tnext \in [Thieves -> GOrNil]

Init ==
    /\ runqhead = 0 /\ runqtail = 0
    /\ runq = [i \in 0..CAP-1 |-> Nil]
    /\ runnext = Nil
    /\ globrunq = <<>>
    /\ taken = [g \in G |-> 0]
    /\ nextG = 1
    /\ opc = "idle" /\ og = Nil /\ oh = 0 /\ ot = 0 /\ onext = Nil
    /\ obatch = <<>>
    /\ tpc = [t \in Thieves |-> "idle"]
    /\ th = [t \in Thieves |-> 0]
    /\ tn = [t \in Thieves |-> 0]
    /\ tbatch = [t \in Thieves |-> <<>>]
    /\ tnext = [t \in Thieves |-> Nil]

SeqCount(s, g) == Cardinality({i \in 1..Len(s) : s[i] = g})

\* Hand every G of a copied batch out once more (a stale Nil slot counts
\* for nothing: a steal that "took" it took no G).
TakeAll(tk, s) == [g \in G |-> tk[g] + SeqCount(s, g)]
Take1(tk, g) == IF g = Nil THEN tk ELSE [tk EXCEPT ![g] = @ + 1]

\* The owner has finished an operation; its locals are dead (reset so that
\* states differing only in dead locals are one state).
OwnerDone == /\ opc' = "idle" /\ og' = Nil /\ oh' = 0 /\ ot' = 0
             /\ onext' = Nil /\ obatch' = <<>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* runqput(pp, gp, next), owner only.                                      *)
(***************************************************************************)

\* next = true: take a fresh G and load runnext, the expected value of the
\* CAS loop.
RunqPutNext ==
    /\ opc = "idle" /\ nextG <= NG
    /\ og' = nextG /\ nextG' = nextG + 1
    /\ onext' = runnext
    /\ opc' = "putCasNext"
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken,
                   oh, ot, obatch, thiefVars>>

\* CAS(runnext, old, gp).  A failed CAS (a thief took runnext) reloads the
\* expected value, as compare_exchange does.  After a successful CAS a
\* displaced old runnext goes to the tail of the ring.
RunqPutCasNext ==
    /\ opc = "putCasNext"
    /\ IF runnext = onext
         THEN /\ runnext' = og
              /\ IF onext = Nil
                   THEN OwnerDone
                   ELSE /\ og' = onext /\ onext' = Nil
                        /\ opc' = "putLoadHead"
                        /\ UNCHANGED <<oh, ot, obatch>>
         ELSE /\ onext' = runnext
              /\ UNCHANGED <<runnext, opc, og, oh, ot, obatch>>
    /\ UNCHANGED <<runqhead, runqtail, runq, globrunq, taken, nextG,
                   thiefVars>>

\* h = load-acquire(runqhead); t = runqtail (owner's own word).
LoadHeadForPut ==
    /\ oh' = runqhead /\ ot' = runqtail
    /\ opc' = IF runqtail - runqhead < CAP THEN "putStoreSlot" ELSE "putSlow"

\* next = false: take a fresh G and go straight to the head load.
RunqPut ==
    /\ opc = "idle" /\ nextG <= NG
    /\ og' = nextG /\ nextG' = nextG + 1
    /\ LoadHeadForPut
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken,
                   onext, obatch, thiefVars>>

\* The tail put of a G displaced from runnext, and the retry after a
\* runqputslow that lost its CAS.
RunqPutLoadHead ==
    /\ opc = "putLoadHead"
    /\ LoadHeadForPut
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   og, onext, obatch, thiefVars>>

\* runq[t % CAP].store(gp, relaxed).
RunqPutStoreSlot ==
    /\ opc = "putStoreSlot"
    /\ runq' = [runq EXCEPT ![ot % CAP] = og]
    /\ opc' = "putPublishTail"
    /\ UNCHANGED <<runqhead, runqtail, runnext, globrunq, taken, nextG,
                   og, oh, ot, onext, obatch, thiefVars>>

\* runqtail.store(t + 1, release): the slot becomes visible to thieves.
RunqPutPublishTail ==
    /\ opc = "putPublishTail"
    /\ runqtail' = ot + 1
    /\ OwnerDone
    /\ UNCHANGED <<runqhead, runq, runnext, globrunq, taken, nextG, thiefVars>>

(***************************************************************************)
(* runqputslow(pp, gp, h, t), owner only: the ring is full.  The code     *)
(* copies slots h..h+n-1 and then CASes runqhead from h to h+n.  Only the *)
(* owner writes slots, so copying them in the CAS step reads the same     *)
(* values.  On success the batch plus gp goes to the global queue; on     *)
(* failure (a thief moved head) runqput starts over.                      *)
(***************************************************************************)
RunqPutSlow ==
    /\ opc = "putSlow"
    /\ LET n == (ot - oh) \div 2
           batch == [i \in 1..n |-> runq[(oh + i - 1) % CAP]]
       IN IF runqhead = oh
            THEN /\ runqhead' = oh + n
                 /\ obatch' = Append(batch, og)
                 /\ og' = Nil
                 /\ opc' = "putSlowGlobal"
            ELSE /\ opc' = "putLoadHead"
                 /\ UNCHANGED <<runqhead, obatch, og>>
    /\ UNCHANGED <<runqtail, runq, runnext, globrunq, taken, nextG,
                   oh, ot, onext, thiefVars>>

\* globrunqputbatch, under sched.lock: one step.
GlobRunqPutBatch ==
    /\ opc = "putSlowGlobal"
    /\ globrunq' = globrunq \o obatch
    /\ OwnerDone
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, taken, nextG, thiefVars>>

(***************************************************************************)
(* runqget(pp), owner only; with an empty local queue the owner takes from *)
(* the global queue, as findrunnable does next.                            *)
(***************************************************************************)

\* next = runnext.load().
RunqGet ==
    /\ opc = "idle"
    /\ onext' = runnext
    /\ opc' = IF runnext # Nil THEN "getCasNext" ELSE "getLoadHead"
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   og, oh, ot, obatch, thiefVars>>

\* CAS(runnext, next, nil); failure means a thief took it: try the ring.
RunqGetCasNext ==
    /\ opc = "getCasNext"
    /\ IF runnext = onext
         THEN /\ runnext' = Nil
              /\ taken' = Take1(taken, onext)
              /\ OwnerDone
         ELSE /\ opc' = "getLoadHead" /\ onext' = Nil
              /\ UNCHANGED <<runnext, taken, og, oh, ot, obatch>>
    /\ UNCHANGED <<runqhead, runqtail, runq, globrunq, nextG, thiefVars>>

\* h = load-acquire(runqhead); t = runqtail (own); t == h: empty.
RunqGetLoadHead ==
    /\ opc = "getLoadHead"
    /\ oh' = runqhead /\ ot' = runqtail
    /\ opc' = IF runqtail = runqhead THEN "getGlobal" ELSE "getCas"
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   og, onext, obatch, thiefVars>>

\* gp = runq[h % CAP] (owner-written, so read here); CAS-release(runqhead,
\* h, h+1); failure: retry from the head load.
RunqGetCas ==
    /\ opc = "getCas"
    /\ IF runqhead = oh
         THEN /\ runqhead' = oh + 1
              /\ taken' = Take1(taken, runq[oh % CAP])
              /\ OwnerDone
         ELSE /\ opc' = "getLoadHead"
              /\ UNCHANGED <<runqhead, taken, og, oh, ot, onext, obatch>>
    /\ UNCHANGED <<runqtail, runq, runnext, globrunq, nextG, thiefVars>>

\* globrunqget under sched.lock (one G; the fair share it also moves into
\* the local ring is an owner put, checked above).
GlobRunqGet ==
    /\ opc = "getGlobal"
    /\ IF globrunq # <<>>
         THEN /\ taken' = Take1(taken, Head(globrunq))
              /\ globrunq' = Tail(globrunq)
         ELSE UNCHANGED <<taken, globrunq>>
    /\ OwnerDone
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, nextG, thiefVars>>

-----------------------------------------------------------------------------
(***************************************************************************)
(* runqgrab(from, batch, batch_head, steal_runnext), thief t.  A retry    *)
(* ("continue" in the code) and a return both go back to "idle", whose    *)
(* only step is the head load that starts the loop again.                 *)
(***************************************************************************)
ThiefReset(t) ==
    /\ tpc' = [tpc EXCEPT ![t] = "idle"]
    /\ th' = [th EXCEPT ![t] = 0]
    /\ tn' = [tn EXCEPT ![t] = 0]
    /\ tbatch' = [tbatch EXCEPT ![t] = <<>>]
    /\ tnext' = [tnext EXCEPT ![t] = Nil]

\* h = from->runqhead.load(acquire)
RunqGrabLoadHead(t) ==
    /\ tpc[t] = "idle"
    /\ th' = [th EXCEPT ![t] = runqhead]
    /\ tpc' = [tpc EXCEPT ![t] = "grabLoadTail"]
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   ownerVars, tn, tbatch, tnext>>

\* t = from->runqtail.load(acquire); n = (t-h) - (t-h)/2.
\*   n = 0:       the ring is empty; on its last round the code looks at
\*                runnext (here a free choice), else it returns 0.
\*   n > CAP/2:   h and t were read at different times (a torn snapshot);
\*                retry.  h <= runqhead <= runqtail, so t-h >= 0 here.
\*   otherwise:   copy n slots.
RunqGrabLoadTail(t) ==
    /\ tpc[t] = "grabLoadTail"
    /\ LET d == runqtail - th[t]
           n == d - d \div 2
       IN \/ /\ n = 0
             /\ \/ /\ tpc' = [tpc EXCEPT ![t] = "grabLoadNext"]
                   /\ UNCHANGED <<th, tn, tbatch, tnext>>
                \/ ThiefReset(t)
          \/ /\ n > CAP \div 2
             /\ ThiefReset(t)
          \/ /\ n > 0 /\ n <= CAP \div 2
             /\ tn' = [tn EXCEPT ![t] = n]
             /\ tpc' = [tpc EXCEPT ![t] = "grabCopy"]
             /\ UNCHANGED <<th, tbatch, tnext>>
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   ownerVars>>

\* batch[i] = from->runq[(h+i) % CAP].load(relaxed): one slot per step, so
\* the owner can overwrite a slot between two of the thief's reads.
RunqGrabCopy(t) ==
    /\ tpc[t] = "grabCopy"
    /\ LET i == Len(tbatch[t])
       IN /\ tbatch' = [tbatch EXCEPT ![t] = Append(@, runq[(th[t] + i) % CAP])]
          /\ tpc' = [tpc EXCEPT ![t] = IF i + 1 = tn[t] THEN "grabCas" ELSE "grabCopy"]
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   ownerVars, th, tn, tnext>>

\* CAS-release(from->runqhead, h, h+n).  Success commits the steal: the
\* copied Gs are the thief's.  Failure (the owner or another thief moved
\* head) discards the copies and retries.
\* Mutant RunQueue_steal_plain_store replaces this action.
RunqGrabCas(t) ==
    /\ tpc[t] = "grabCas"
    /\ IF runqhead = th[t]
         THEN /\ runqhead' = th[t] + tn[t]
              /\ taken' = TakeAll(taken, tbatch[t])
         ELSE UNCHANGED <<runqhead, taken>>
    /\ ThiefReset(t)
    /\ UNCHANGED <<runqtail, runq, runnext, globrunq, nextG, ownerVars>>

\* next = from->runnext.load(); nothing there: return 0.
RunqGrabLoadNext(t) ==
    /\ tpc[t] = "grabLoadNext"
    /\ IF runnext = Nil
         THEN ThiefReset(t)
         ELSE /\ tnext' = [tnext EXCEPT ![t] = runnext]
              /\ tpc' = [tpc EXCEPT ![t] = "grabCasNext"]
              /\ UNCHANGED <<th, tn, tbatch>>
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   ownerVars>>

\* CAS(from->runnext, next, nil): success steals that G; failure retries.
RunqGrabCasNext(t) ==
    /\ tpc[t] = "grabCasNext"
    /\ IF runnext = tnext[t]
         THEN /\ runnext' = Nil
              /\ taken' = Take1(taken, tnext[t])
         ELSE UNCHANGED <<runnext, taken>>
    /\ ThiefReset(t)
    /\ UNCHANGED <<runqhead, runqtail, runq, globrunq, nextG, ownerVars>>

\* runqsteal(to, from): one runqgrab; the grabbed Gs count as taken.
RunqSteal(t) ==
    \/ RunqGrabLoadHead(t) \/ RunqGrabLoadTail(t) \/ RunqGrabCopy(t)
    \/ RunqGrabCas(t) \/ RunqGrabLoadNext(t) \/ RunqGrabCasNext(t)

-----------------------------------------------------------------------------
Owner ==
    \/ RunqPutNext \/ RunqPutCasNext \/ RunqPut \/ RunqPutLoadHead
    \/ RunqPutStoreSlot \/ RunqPutPublishTail \/ RunqPutSlow
    \/ GlobRunqPutBatch
    \/ RunqGet \/ RunqGetCasNext \/ RunqGetLoadHead \/ RunqGetCas
    \/ GlobRunqGet

Next == Owner \/ \E t \in Thieves : RunqSteal(t)

\* The owner keeps running its scheduler loop (finishing every put it
\* starts and taking again), and every thief keeps trying to steal.
Fairness == WF_vars(Owner) /\ \A t \in Thieves : WF_vars(RunqSteal(t))

Spec == Init /\ [][Next]_vars /\ Fairness

-----------------------------------------------------------------------------
(***************************************************************************)
(* Invariants                                                              *)
(***************************************************************************)

\* Copies of g in the published part of the ring [runqhead, runqtail).
RingCount(g) == Cardinality({i \in runqhead..(runqtail - 1) : runq[i % CAP] = g})

\* A G the owner holds in a local: being put, kicked out of runnext, or in
\* the runqputslow batch on its way to the global queue.
InFlight(g) == (IF og = g THEN 1 ELSE 0) + SeqCount(obatch, g)

Places(g) ==
    RingCount(g) + (IF runnext = g THEN 1 ELSE 0) + SeqCount(globrunq, g)
    + taken[g] + InFlight(g)

WasPut(g) == g < nextG

\* Every G put is in exactly one place (ring, runnext, global queue, an
\* owner local, or taken); a G not yet put is nowhere.
NoGLost == \A g \in G : Places(g) = IF WasPut(g) THEN 1 ELSE 0

NoGTakenTwice == \A g \in G : taken[g] <= 1

LengthBounds == runqtail - runqhead \in 0..CAP

HeadNeverPassesTail == runqhead <= runqtail

(***************************************************************************)
(* Liveness: every G put is eventually taken, by the owner or a thief.    *)
(***************************************************************************)
EveryGTaken == \A g \in G : WasPut(g) ~> (taken[g] > 0)

=============================================================================
