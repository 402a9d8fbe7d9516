--------------------------- MODULE RunQueueTrace ---------------------------
(***************************************************************************)
(* Trace validation of real runs of the run queue against RunQueue (issue *)
(* 14), after Cirstea, Kuppe, Loillier and Merz, "Validating Traces of    *)
(* Distributed Programs Against TLA+ Specifications" (2024).               *)
(*                                                                         *)
(* tests/runq_trace.cpp runs the real local_runq (capacity 4) with an      *)
(* owner and 1-3 thieves on real threads; each thread logs every operation *)
(* it completed on the owner's queue, with the counter values its atomics  *)
(* read or wrote, and the logs become the module RunqTraceLog:            *)
(*   Trace       every entry, one record per line (the line number is the *)
(*               index), all threads merged;                              *)
(*   Lines[p]    the indices of p's entries, in p's program order;        *)
(*   LogCAP, LogNG, LogThieves   the run's constants.                     *)
(*                                                                         *)
(* One log entry is one operation of the code, which RunQueue splits into *)
(* several atomic steps.  Exactly one of those steps decides the           *)
(* operation: the store or CAS that publishes or claims (a put's tail     *)
(* store, a claim's successful head CAS, a runnext CAS, a steal's empty   *)
(* verdict).  TraceNext lets every RunQueue action fire, and constrains   *)
(* the deciding ones: such a step must match the current entry of the    *)
(* process that takes it (pos[p] counts p's entries consumed), and then   *)
(* consumes it.  The other steps (loads, the slot store, a thief's copies,*)
(* a lost CAS) consume nothing and may fall anywhere between log lines.   *)
(* The threads' interleaving is not in the log: each process consumes its *)
(* own entries in program order, and TLC searches the interleavings of    *)
(* the processes (the merge order of Trace is only for the reader).       *)
(*                                                                         *)
(* Pruning that loses no accepting behaviour:                            *)
(*  - a thief's failed grab attempt writes nothing shared, so an attempt   *)
(*    is only started (its head load) when it can decide the thief's      *)
(*    current entry (head = the entry's "from"), and a lost thief CAS is  *)
(*    not taken;                                                          *)
(*  - a thief's head load, tail load and slot copies run as one block     *)
(*    (no other process steps while a thief is between its head load and *)
(*    its last copy).  Exact: in an attempt that decides an entry, head   *)
(*    equals the value read from the head load to the CAS (it only grows, *)
(*    and the CAS or the empty verdict needs it unchanged; for an empty   *)
(*    verdict head <= tail = the value read), so the head load can move   *)
(*    to just before the tail load; and no slot the thief copies is       *)
(*    rewritten before a successful CAS (I3: the owner rewrites a slot    *)
(*    only after head has passed it), so the copies can move to just      *)
(*    after it.  These steps write only the thief's locals.  Without this *)
(*    the thieves' reads float over long stretches of the owner's steps,  *)
(*    and TLC visits every placement (10^6 states for some 3-thief runs); *)
(*  - likewise the owner's steps from the start of an operation (or from  *)
(*    a lost CAS) to the step that decides it run as one block.  Its      *)
(*    loads there can move to just before the decision: a successful CAS  *)
(*    needs the word unchanged; a put that saw room still sees room with  *)
(*    the larger head a later load reads; runnext holds a G only the      *)
(*    owner (busy here) can put; the global queue and the slot it stores  *)
(*    are the owner's alone until the tail store.  The block ends at the  *)
(*    decision: after put-next's CAS thieves may run before the displaced *)
(*    G's put (putLoadHead is outside the block), as in the code.         *)
(*                                                                         *)
(* Verdict (ci/tla_trace.sh): the run is accepted iff some behaviour of    *)
(* RunQueue consumes every line.  TLC 2.18 here has no POSTCONDITION, so  *)
(* acceptance is the violation of the invariant LogNotFullyConsumed (TLC  *)
(* stops at the first state that consumed everything); a rejected trace  *)
(* is a search that ends with no violation, and TraceProgress has printed *)
(* the furthest any behaviour got: the first line of each process that no *)
(* action could match there.                                              *)
(***************************************************************************)
EXTENDS RunQueue, RunqTraceLog, TLC

VARIABLES
    seg,                    \* the segment being consumed (see SegTraces)
    pos,                    \* pos[p]: how many of p's entries are consumed
    consumed,               \* how many entries of seg are consumed in all
    before                  \* how many entries the earlier segments had

Procs == {"o"} \cup Thieves

traceVars == <<vars, seg, pos, consumed, before>>

\* A log is a sequence of segments (SegTraces, with SegLines as Lines for
\* each): a real run's log is one; a simulated run's has one per P and per
\* stretch of a P's queue between drains (src/sim/trace_log.cpp).  Each
\* segment starts from Init: NextSegment resets the queue once the current
\* segment is consumed.  NG and Thieves cover every segment (a G or thief a
\* segment does not use stays untouched).
Trace == SegTraces[seg]
Lines == SegLines[seg]

HasCur(p) == pos[p] < Len(Lines[p])
Cur(p) == Trace[Lines[p][pos[p] + 1]]     \* p's next entry (if HasCur(p))
\* LogExact (a simulated run, src/sim/trace_log.cpp): Trace is the run's own
\* order, so an entry is consumed only when every line before it has been.
Consume(p) ==
    /\ LogExact => Lines[p][pos[p] + 1] = consumed + 1
    /\ pos' = [pos EXCEPT ![p] = @ + 1] /\ consumed' = consumed + 1
Stay == UNCHANGED <<pos, consumed>>

TraceInit == Init /\ seg = 1 /\ pos = [p \in Procs |-> 0] /\ consumed = 0 /\ before = 0

\* Thief t is inside its read block (see the header): between its head load
\* and its last copy.
InBlock(t) == tpc[t] \in {"grabLoadTail", "grabCopy"}
\* The owner is inside an operation's block (see the header).
OwnerInBlock == opc \notin {"idle", "putLoadHead"}
\* Process p may step: no other process is inside its block.
MayStep(p) ==
    /\ \A t \in Thieves \ {p} : ~InBlock(t)
    /\ p # "o" => ~OwnerInBlock

-----------------------------------------------------------------------------
(* The owner, "o".  The steps that start an operation pick the kind the   *)
(* next entry names; a put takes the fresh G, so it must be that entry's. *)

OE == Cur("o")

TRunqPutNext ==
    /\ HasCur("o") /\ OE.op = "putnext" /\ OE.g = nextG
    /\ RunqPutNext /\ Stay

\* Deciding when the CAS of runnext succeeds: gp in, old out.
TRunqPutCasNext ==
    /\ RunqPutCasNext
    /\ IF runnext = onext
         THEN /\ HasCur("o") /\ OE.op = "putnext" /\ OE.g = og /\ OE.old = onext
              /\ Consume("o")
         ELSE Stay

TRunqPut ==
    /\ HasCur("o") /\ OE.op \in {"put", "putslow"} /\ OE.g = nextG
    /\ RunqPut /\ Stay

TRunqPutLoadHead == RunqPutLoadHead /\ Stay
TRunqPutStoreSlot == RunqPutStoreSlot /\ Stay

\* Deciding: the tail store publishes the G at tail - 1.
TRunqPutPublishTail ==
    /\ RunqPutPublishTail
    /\ HasCur("o") /\ OE.op = "put"
    /\ OE.g = og /\ OE.tail = ot + 1
    /\ Consume("o")

\* Deciding when putslow's CAS of head succeeds: the oldest half and gp.
TRunqPutSlow ==
    /\ RunqPutSlow
    /\ IF runqhead = oh
         THEN /\ HasCur("o") /\ OE.op = "putslow" /\ OE.g = og
              /\ OE.from = oh /\ OE.to = runqhead'
              /\ obatch' = OE.gs \o <<OE.g>>
              /\ Consume("o")
         ELSE Stay

TGlobRunqPutBatch == GlobRunqPutBatch /\ Stay

TRunqGet ==
    /\ HasCur("o") /\ OE.op \in {"getnext", "get", "getglobal", "getempty"}
    /\ RunqGet /\ Stay

\* Deciding when the CAS of runnext succeeds.
TRunqGetCasNext ==
    /\ RunqGetCasNext
    /\ IF runnext = onext
         THEN /\ HasCur("o") /\ OE.op = "getnext" /\ OE.g = onext
              /\ Consume("o")
         ELSE Stay

\* getglobal: the ring was empty at the entry's head.
TRunqGetLoadHead ==
    /\ RunqGetLoadHead
    /\ HasCur("o")
    /\ OE.op \in {"getglobal", "getempty"} => runqhead = OE.from /\ runqtail = OE.from
    /\ Stay

\* Deciding when the CAS of head succeeds: one G, head h -> h+1.
TRunqGetCas ==
    /\ RunqGetCas
    /\ IF runqhead = oh
         THEN /\ HasCur("o") /\ OE.op = "get"
              /\ OE.from = oh /\ OE.to = runqhead' /\ OE.g = runq[oh % CAP]
              /\ Consume("o")
         ELSE Stay

\* Deciding: the ring was empty; the G from the global queue, or none (0).
TGlobRunqGet ==
    /\ GlobRunqGet
    /\ HasCur("o") /\ OE.op = "getglobal"
    /\ OE.g = IF globrunq = <<>> THEN Nil ELSE Head(globrunq)
    /\ Consume("o")

\* Deciding, for a simulated run's "getempty": runqget found the ring empty,
\* and what the scheduler takes next is not this queue's business.  Not a
\* RunQueue action when globrunq holds Gs: RunQueue.tla's global queue is
\* the owner's alone (only its putslow fills it, only its owner takes), the
\* runtime's is shared by every P, so a P's trace cannot say who takes a G
\* from it (spec/simulation.md, "Trace validation", abstractions).
TGetEmpty ==
    /\ opc = "getGlobal"
    /\ HasCur("o") /\ OE.op = "getempty"
    /\ OwnerDone
    /\ UNCHANGED <<runqhead, runqtail, runq, runnext, globrunq, taken, nextG,
                   thiefVars>>
    /\ Consume("o")

TOwner ==
    \/ TGetEmpty
    \/ TRunqPutNext \/ TRunqPutCasNext \/ TRunqPut \/ TRunqPutLoadHead
    \/ TRunqPutStoreSlot \/ TRunqPutPublishTail \/ TRunqPutSlow
    \/ TGlobRunqPutBatch
    \/ TRunqGet \/ TRunqGetCasNext \/ TRunqGetLoadHead \/ TRunqGetCas
    \/ TGlobRunqGet

-----------------------------------------------------------------------------
(* A thief t.  Entries: "steal" (a ring steal: head from -> to, the tail  *)
(* it read, the Gs gs), "stealnext" (runnext's G g), "stealnone" (found   *)
(* nothing; next: it looked at runnext).  All give the head (from) and    *)
(* tail the thief read.                                                   *)

TE(t) == Cur(t)

\* Start an attempt only if it can decide the entry (see the header).
TRunqGrabLoadHead(t) ==
    /\ HasCur(t)
    /\ runqhead = TE(t).from
    /\ RunqGrabLoadHead(t) /\ Stay

\* The tail load: a ring steal reads the entry's tail and so takes the
\* spec's half, which must be the count the code took; an empty ring goes
\* on to runnext for "stealnext" and for a "stealnone" that looked there,
\* and decides a "stealnone" that did not.
TRunqGrabLoadTail(t) ==
    /\ RunqGrabLoadTail(t)
    /\ HasCur(t) /\ runqtail = TE(t).tail
    /\ LET e == TE(t)
           n == (runqtail - th[t]) - (runqtail - th[t]) \div 2
       IN CASE e.op = "steal" ->
                 /\ tpc'[t] = "grabCopy"
                 /\ tn'[t] = e.to - e.from
                 /\ Stay
            [] e.op = "stealnext" \/ (e.op = "stealnone" /\ e.next) ->
                 tpc'[t] = "grabLoadNext" /\ Stay
            [] e.op = "stealnone" /\ ~e.next ->
                 n = 0 /\ tpc'[t] = "idle" /\ Consume(t)
            [] OTHER -> FALSE

TRunqGrabCopy(t) == RunqGrabCopy(t) /\ Stay

\* Deciding: the CAS of head succeeds with the entry's from, to and Gs.
TRunqGrabCas(t) ==
    /\ RunqGrabCas(t)
    /\ runqhead = th[t]
    /\ HasCur(t) /\ TE(t).op = "steal"
    /\ TE(t).from = th[t] /\ TE(t).to = runqhead' /\ TE(t).gs = tbatch[t]
    /\ Consume(t)

\* runnext's load: the entry's G to go on and CAS it out, or (deciding a
\* "stealnone") nothing there.
TRunqGrabLoadNext(t) ==
    /\ RunqGrabLoadNext(t)
    /\ HasCur(t)
    /\ CASE TE(t).op = "stealnext" -> runnext = TE(t).g /\ Stay
         [] TE(t).op = "stealnone" -> runnext = Nil /\ Consume(t)
         [] OTHER -> FALSE

\* Deciding: the CAS of runnext succeeds.
TRunqGrabCasNext(t) ==
    /\ RunqGrabCasNext(t)
    /\ runnext = tnext[t]
    /\ HasCur(t) /\ TE(t).op = "stealnext" /\ TE(t).g = tnext[t]
    /\ Consume(t)

TThief(t) ==
    \/ TRunqGrabLoadHead(t) \/ TRunqGrabLoadTail(t) \/ TRunqGrabCopy(t)
    \/ TRunqGrabCas(t) \/ TRunqGrabLoadNext(t) \/ TRunqGrabCasNext(t)

\* The current segment is consumed: the next one starts from Init.
NextSegment ==
    /\ consumed = Len(Trace) /\ seg < Len(SegTraces)
    \* RunQueue's Init, primed (TLC cannot evaluate Init' itself).
    /\ runqhead' = 0 /\ runqtail' = 0
    /\ runq' = [i \in 0..CAP-1 |-> Nil]
    /\ runnext' = Nil /\ globrunq' = <<>>
    /\ taken' = [g \in G |-> 0] /\ nextG' = 1
    /\ opc' = "idle" /\ og' = Nil /\ oh' = 0 /\ ot' = 0 /\ onext' = Nil
    /\ obatch' = <<>>
    /\ tpc' = [t \in Thieves |-> "idle"] /\ th' = [t \in Thieves |-> 0]
    /\ tn' = [t \in Thieves |-> 0] /\ tbatch' = [t \in Thieves |-> <<>>]
    /\ tnext' = [t \in Thieves |-> Nil]
    /\ seg' = seg + 1 /\ pos' = [p \in Procs |-> 0] /\ consumed' = 0
    /\ before' = before + consumed

TraceNext ==
    \/ /\ \/ MayStep("o") /\ TOwner
          \/ \E t \in Thieves : MayStep(t) /\ TThief(t)
       /\ UNCHANGED <<seg, before>>
    \/ NextSegment

-----------------------------------------------------------------------------
(* The verdict (see the header).                                           *)

TotalLines == LET Sum[i \in 0..Len(SegTraces)] ==
                      IF i = 0 THEN 0 ELSE Sum[i - 1] + Len(SegTraces[i])
              IN Sum[Len(SegTraces)]

\* Each process's first unconsumed line (0: all of its lines consumed).
Fronts == [p \in Procs |-> IF HasCur(p) THEN Lines[p][pos[p] + 1] ELSE 0]

\* Always true; prints each new furthest point of the search (register 1:
\* the most lines any state reached has consumed).  The last print of a
\* search that found no accepting behaviour names where matching stopped:
\* lines consumed in all, of all, then the segment, the lines of it
\* consumed, and each process's first unconsumed line there.
ASSUME TLCSet(1, 0)
TraceProgress ==
    before + consumed > TLCGet(1) =>
        /\ PrintT(<<"TraceFurthest", before + consumed, TotalLines, seg, consumed, Fronts>>)
        /\ TLCSet(1, before + consumed)

\* Violated exactly when some behaviour has consumed the whole log: the
\* trace is accepted.
LogNotFullyConsumed == ~(seg = Len(SegTraces) /\ consumed = Len(Trace))

=============================================================================
