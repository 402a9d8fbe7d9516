#!/usr/bin/env python3
"""The weakening table: a machine-checked reason for every memory order.

For every atomic operation that a c11/ check reaches, weaken that one
operation one step (seq_cst to acq_rel, acq_rel to acquire or release,
acquire or release to relaxed; a fence removed) and run the scenarios that
reach it, under Relacy. Each row ends one of three ways:

  caught     some scenario failed: the scenario and Relacy's report are kept
  argued     no scenario failed, and spec/memory-model.md argues why the order
             is still needed (a bullet keyed by the row, between the
             weakening-arguments markers)
  NO REASON  no scenario failed and no argument is written: the run fails

The check build weakens at run time (base/atomic.hpp's GORO_WEAKEN hook), so
one binary per check serves every row. Rows are keyed by file, function,
operation and step, not by line, so the table survives edits elsewhere.

  ci/weaken.sh                   the whole table; writes build/weaken/table.json
  ci/weaken.sh --update-spec     ... and splices it into spec/memory-model.md
                                 and spec/weakening.json
  ci/weaken.sh --check           CI: the whole table, compared with the record
                                 (spec/weakening.json); fails if an outcome
                                 changed or a row has no reason
  ci/weaken.sh --sample SECONDS  the same for a rotating slice of the recorded
                                 rows (about SECONDS), plus every row the
                                 record lacks: for when the table outgrows
                                 CI's budget (today the whole table takes
                                 under a minute)
  --build DIR                    build directory (default build/release)
  --search bound:N|ci            the search each row's scenarios run with
                                 (default bound:2 for every scenario: one
                                 depth for every row, ~1 s a run; ci: each
                                 scenario's own CI search, up to a minute a
                                 run, for a deeper look at the rows that
                                 bound 2 does not catch)
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(TOP, "spec", "memory-model.md")
RECORD = os.path.join(TOP, "spec", "weakening.json")

# One step weaker, per kind of operation and declared order.
STEPS = {
    ("load", "seq_cst"): ["acquire"],
    ("load", "acquire"): ["relaxed"],
    ("load", "consume"): ["relaxed"],
    ("store", "seq_cst"): ["release"],
    ("store", "release"): ["relaxed"],
    ("rmw", "seq_cst"): ["acq_rel"],
    ("rmw", "acq_rel"): ["acquire", "release"],
    ("rmw", "acquire"): ["relaxed"],
    ("rmw", "release"): ["relaxed"],
    ("cas_failure", "seq_cst"): ["acquire"],
    ("cas_failure", "acquire"): ["relaxed"],
    ("fence", "seq_cst"): ["acq_rel", "none"],
    ("fence", "acq_rel"): ["none"],
    ("fence", "acquire"): ["none"],
    ("fence", "release"): ["none"],
}

OP_RE = re.compile(
    r"([A-Za-z_][\w>.\-]*(?:\[[^\]]*\])?)\s*\.\s*"
    r"(load|store|exchange|compare_exchange_weak|compare_exchange_strong|"
    r"fetch_add|fetch_sub|fetch_or|fetch_and)\s*\(")
FENCE_RE = re.compile(r"\bfence\s*\(\s*std::memory_order_\w+")


def log(msg):
    print(msg, flush=True)


def rel(path):
    return os.path.relpath(path, TOP) if os.path.isabs(path) else path


def checks():
    """The c11 checks: c11/<check>_c11.cpp."""
    return sorted(f[:-len("_c11.cpp")] for f in os.listdir(os.path.join(TOP, "c11"))
                  if f.endswith("_c11.cpp"))


def build(bdir, names):
    targets = [f"{c}_c11" for c in names]
    subprocess.run(["cmake", "--build", bdir, "-j", str(os.cpu_count() or 2), "--target", *targets],
                   check=True, stdout=subprocess.DEVNULL)


def scenarios(binary):
    out = subprocess.run([binary, "list"], check=True, capture_output=True, text=True).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if not f or "teeth" in f:
            continue
        search = ["full"] if f[1] == "sched_full" else ["bound", f[2]]
        res.append((f[0], search))
    return res


def run(binary, scn, search, env_extra, timeout=900):
    env = dict(os.environ, **env_extra)
    t0 = time.time()
    try:
        p = subprocess.run([binary, scn, *search], env=env, capture_output=True, text=True,
                           timeout=timeout)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", (e.stdout or b"").decode(errors="replace") if isinstance(
            e.stdout, bytes) else (e.stdout or "")
    return rc, out, time.time() - t0


def short_func(f):
    # put<{anonymous}::sink_log> -> put
    depth, res = 0, ""
    for ch in f:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            res += ch
    return res


_src_cache = {}


def source_line(path, line):
    if path not in _src_cache:
        try:
            with open(os.path.join(TOP, path)) as fh:
                _src_cache[path] = fh.read().splitlines()
        except OSError:
            _src_cache[path] = []
    lines = _src_cache[path]
    return lines[line - 1] if 0 < line <= len(lines) else ""


def op_text(path, line, kind):
    text = source_line(path, line)
    if kind == "fence":
        return "fence"
    m = OP_RE.search(text)
    return f"{m.group(1)}.{m.group(2)}" if m else "?"


def record_sites(bdir, names):
    """Runs every scenario once (bound 2 at most) with GORO_C11_SITES."""
    sites = {}  # (file, line, part) -> dict
    for c in names:
        binary = os.path.join(bdir, "c11", f"{c}_c11")
        for scn, ci_search in scenarios(binary):
            search = ci_search if ci_search[0] == "bound" and int(ci_search[1]) <= 2 else ["bound", "2"]
            path = os.path.join(bdir, "weaken", f"sites.{c}.{scn}")
            if os.path.exists(path):
                os.remove(path)
            rc, out, secs = run(binary, scn, search, {"GORO_C11_SITES": path})
            if rc != 0:
                sys.exit(f"weaken: {c} {scn} fails with no weakening:\n{out[-3000:]}")
            with open(path) as fh:
                for ln in fh:
                    f, line, part, kind, order, func, _ = ln.rstrip("\n").split("\t")
                    key = (rel(f), int(line), int(part))
                    if not key[0].startswith("src/"):
                        continue  # a scenario's own scaffolding, not shipped code
                    s = sites.setdefault(key, {"file": key[0], "line": key[1], "part": key[2],
                                               "kind": kind, "order": order,
                                               "func": short_func(func), "reached": []})
                    s["reached"].append([c, scn, ci_search])
    return sites


_ordinal = {}  # (file, line, part) -> " #k" when a function repeats an operation


def number_repeats(sites):
    groups = {}
    for s in sites.values():
        g = (s["file"], s["func"], op_text(s["file"], s["line"], s["kind"]), s["part"])
        groups.setdefault(g, []).append(s["line"])
    for (f, _, _, part), lines in groups.items():
        if len(lines) > 1:
            for k, line in enumerate(sorted(lines), 1):
                _ordinal[(f, line, part)] = f" #{k}"


def row_key(s, to):
    part = " failure" if s["part"] == 1 else ""
    nth = _ordinal.get((s["file"], s["line"], s["part"]), "")
    return (f"{os.path.basename(s['file'])} {s['func']}: "
            f"{op_text(s['file'], s['line'], s['kind'])}{nth}{part} {s['order']}→{to}")


def unreached(sites):
    """Atomic operations in the checked files that no scenario reached."""
    files = sorted({s["file"] for s in sites.values()})
    seen = {(s["file"], s["line"]) for s in sites.values()}
    res = []
    for f in files:
        if f.startswith("c11/"):
            continue
        _ = source_line(f, 1)
        for i, text in enumerate(_src_cache.get(f, []), 1):
            code = text.split("//")[0]
            if (OP_RE.search(code) or FENCE_RE.search(code)) and "memory_order" in code and \
                    (f, i) not in seen:
                res.append({"file": f, "line": i, "text": code.strip(), "why": why_unreached(f, i)})
    return res


def why_unreached(f, line):
    """A guess at why no scenario reaches an operation, from its context."""
    lines = _src_cache.get(f, [])
    before = lines[max(0, line - 8):line - 1]
    if any("MUTANT" in ln for ln in before):
        return "a mutant's branch (compiled only into that mutant)"
    if any("Teeth only" in ln for ln in before):
        return "a teeth variant's branch (compiled only into that check)"
    banner = ""
    for ln in lines[:line - 1]:
        m = re.search(r"//\s*----\s*(.*?)\s*----", ln)
        if m:
            banner = m.group(1)
    if banner.startswith("stopped world"):
        return "stopped world: one thread only"
    return "no scenario calls it"


def arguments():
    """Row key -> argument text, from spec/memory-model.md."""
    with open(SPEC) as fh:
        text = fh.read()
    m = re.search(r"<!-- weakening-arguments:begin -->(.*?)<!-- weakening-arguments:end -->", text,
                  re.S)
    res = {}
    if m:
        for item in re.split(r"\n(?=- `)", m.group(1)):
            km = re.match(r"\s*- `([^`]+)`:?\s*(.*)", item, re.S)
            if km:
                res[km.group(1)] = " ".join(km.group(2).split())
    return res


def weakened_count():
    """Bullets under §12's "Orders weakened because of the table"."""
    with open(SPEC) as fh:
        text = fh.read()
    m = re.search(r"### Orders weakened because of the table\n(.*?)(?=\n## |\Z)", text, re.S)
    return len(re.findall(r"^- ", m.group(1), re.M)) if m else 0


def first_failure(out):
    """Relacy's failure kind, and where it struck when Relacy says."""
    lines = out.splitlines()
    kind = ""
    for i, ln in enumerate(lines):
        if ln.startswith("iteration: ") and i > 0:
            kind = lines[i - 1].strip()
            break
    m = re.search(r'USER ASSERT FAILED \(assertion: .*?"([^"]+)"', kind)
    if m:
        kind = m.group(1)
    elif kind.startswith("LIVELOCK"):
        kind = "LIVELOCK (a retry loop that never ends: a liveness failure)"
    for ln in lines:
        m = re.match(r"^\[\d+\] (\d+): [A-Z][A-Z ]+(?: \([^)]*\))?, in (\S+), (\S+)$", ln)
        if m and "/relacy/" not in m.group(3):
            return f"{kind} (thread {m.group(1)}, in {short_func(m.group(2))}, {os.path.basename(m.group(3))})"
    return kind or "failed"


def history(out, keep=30):
    """The failing execution, condensed: the events after setup, addresses dropped."""
    ev = []
    started = False
    for ln in out.splitlines():
        if "[BEFORE END]" in ln:
            started = True
            continue
        m = re.match(r"^\[(\d+)\] (\d+): (?:<0x[0-9a-f]+> )?(.*)$", ln)
        if started and m:
            body = re.sub(r"0x[0-9a-f]+", "…", m.group(3))
            body = body.replace(TOP + "/", "")
            ev.append(f"[{m.group(1)}] t{m.group(2)}: {body}")
    return ev[-keep:]


def weaken_row(bdir, s, to, search_override):
    """Runs the scenarios reaching site s with it weakened to `to`."""
    env = {"GORO_WEAKEN": f"{s['file']}:{s['line']}:{s['part']}:{to}"}
    tried = []
    for c, scn, ci_search in s["reached"]:
        binary = os.path.join(bdir, "c11", f"{c}_c11")
        search = ci_search if search_override is None else search_override
        rc, out, secs = run(binary, scn, search, env)
        tried.append(f"{c}/{scn}")
        if rc == 1 and "FAILED" in out:
            return {"result": "caught", "by": f"{c}/{scn}", "search": " ".join(search),
                    "failure": first_failure(out), "history": history(out), "seconds": round(secs, 1)}
        if rc != 0:
            return {"result": "error", "by": f"{c}/{scn}", "failure": f"exit {rc}: {out[-400:]}"}
    return {"result": "not caught", "tried": tried}


def table_markdown(rows, meta, unreached_ops, relaxed_count):
    n = {k: sum(1 for r in rows if r["result"] == k) for k in
         ("caught", "argued", "NO REASON", "error")}
    out = [f"Generated by `ci/weaken.sh --update-spec` at {meta['commit']} on {meta['date']} "
           f"({meta['seconds']} s; search: {meta['search']}). "
           f"{len(rows)} rows: **{n['caught']} caught, {n['argued']} argued, "
           f"{n['NO REASON']} without a reason, {n['error']} errors**, and "
           f"{weakened_count()} orders weakened in the code (§12); "
           f"{relaxed_count} relaxed operations have nothing weaker; "
           f"{len(unreached_ops)} operations in checked files are reached by no scenario "
           "(listed after the table). The failing executions are in spec/weakening.json.", "",
           "| operation | site | weakened | outcome | by (scenario: Relacy's report) |",
           "| --- | --- | --- | --- | --- |"]
    for r in rows:
        s = r["site"]
        op = op_text(s["file"], s["line"], s["kind"]) + (" (failure)" if s["part"] == 1 else "")
        site = f"{os.path.basename(s['file'])}:{s['line']} `{s['func']}`"
        if r["result"] == "caught":
            by = f"{r['by']}: {r['failure']}"
        elif r["result"] == "argued":
            by = "§12"
        elif r["result"] == "error":
            by = r["failure"][:120]
        else:
            by = "—"
        by = by.replace("|", "\\|")
        out.append(f"| `{op}` | {site} | {s['order']} → {r['to']} | {r['result']} | {by} |")
    if unreached_ops:
        out += ["", "Reached by no scenario (a missing scenario, or code the check does not "
                "drive):", ""]
        out += [f"- {u['file']}:{u['line']} `{u['text']}`: {u.get('why', '')}"
                for u in unreached_ops]
    return "\n".join(out)


def splice(text, marker, body):
    b, e = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if b not in text:
        sys.exit(f"weaken: spec/memory-model.md lacks the {b} marker")
    pre, rest = text.split(b, 1)
    _, post = rest.split(e, 1)
    return f"{pre}{b}\n{body}\n{e}{post}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build", "release"))
    ap.add_argument("--update-spec", action="store_true")
    ap.add_argument("--sample", type=float, default=None)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--search", default="bound:2")
    ap.add_argument("--only", default="", help="comma-separated checks")
    a = ap.parse_args()
    if a.check:
        a.sample = float("inf")
    search_override = None if a.search == "ci" else ["bound", a.search.split(":")[1]]
    t0 = time.time()
    names = [c for c in checks() if not a.only or c in a.only.split(",")]
    os.makedirs(os.path.join(a.build, "weaken"), exist_ok=True)
    build(a.build, names)
    t0 = time.time()  # the table's time, without the build
    sites = record_sites(a.build, names)
    number_repeats(sites)
    args = arguments()
    relaxed = [s for s in sites.values() if s["order"] == "relaxed"]
    todo = []
    for key in sorted(sites, key=lambda k: (k[0], k[1], k[2])):
        s = sites[key]
        for to in STEPS.get((s["kind"], s["order"]), []):
            todo.append((s, to))
    record = {}
    if a.sample is not None and os.path.exists(RECORD):
        with open(RECORD) as fh:
            record = {r["key"]: r for r in json.load(fh)["rows"]}
    if a.sample is not None:
        # A rotating slice: where it starts moves by one slice a day, so
        # successive CI days cover the whole table; rows the record lacks
        # always run.
        new = [t for t in todo if row_key(*t) not in record]
        old = [t for t in todo if row_key(*t) in record]
        day = (datetime.date.today() - datetime.date(2026, 1, 1)).days
        start = (day * 7) % max(1, len(old))
        todo = new + old[start:] + old[:start]
        if a.check:
            log(f"weaken: all {len(todo)} rows ({len(new)} not in the record)")
        else:
            log(f"weaken: sample of {len(todo)} rows ({len(new)} new) for ~{a.sample:.0f} s, "
                f"starting at row {start}")
    rows, bad = [], []
    for s, to in todo:
        if a.sample is not None and time.time() - t0 > a.sample and row_key(s, to) in record:
            continue
        key = row_key(s, to)
        r = weaken_row(a.build, s, to, search_override)
        if r["result"] == "not caught":
            r["result"] = "argued" if key in args else "NO REASON"
        r.update({"key": key, "to": to, "site": {k: v for k, v in s.items()}})
        rows.append(r)
        what = r.get("by", "") + (": " + r["failure"] if r["result"] in ("caught", "error") else "")
        log(f"  {r['result']:<10} {key}  {what}")
        if r["result"] in ("NO REASON", "error"):
            bad.append(key)
        if key in record and record[key]["result"] != r["result"]:
            bad.append(f"{key}: recorded {record[key]['result']}, now {r['result']}")
    secs = round(time.time() - t0)
    commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    commit += " plus uncommitted changes" if dirty else ""
    meta = {"commit": commit, "date": datetime.date.today().isoformat(), "seconds": secs,
            "search": a.search}
    un = unreached(sites)
    with open(os.path.join(a.build, "weaken", "table.json"), "w") as fh:
        json.dump({"meta": meta, "rows": rows, "unreached": un}, fh, indent=1)
    n = {k: sum(1 for r in rows if r["result"] == k) for k in ("caught", "argued", "NO REASON",
                                                              "error")}
    log(f"weaken: {len(rows)} rows in {secs} s: {n['caught']} caught, {n['argued']} argued, "
        f"{n['NO REASON']} without a reason, {n['error']} errors; {len(relaxed)} relaxed sites; "
        f"{len(un)} operations reached by no scenario")
    if a.update_spec and a.sample is None:
        with open(SPEC) as fh:
            text = fh.read()
        text = splice(text, "weakening", table_markdown(rows, meta, un, len(relaxed)))
        with open(SPEC, "w") as fh:
            fh.write(text)
        with open(RECORD, "w") as fh:
            json.dump({"meta": meta, "rows": rows, "unreached": un}, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        log("weaken: spec/memory-model.md and spec/weakening.json updated")
    for b in bad:
        log(f"weaken: FAIL {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
