#!/usr/bin/env python3
"""Run goro's benchmarks beside the Go peer and tabulate goro / Go.

For each of R repetitions and each benchmark, runs goro's Google Benchmark
binary on that benchmark alone, then the Go peer (bench/go) on the same
workload, each in a fresh process, so the two alternate goro, Go, goro, Go...
through the whole run. Then prints one table:

    benchmark | unit | Go | goro | goro/Go | target

Go and goro show the median over the repetitions with [min-max]; goro/Go is
the median of the per-repetition ratios (each goro run divided by the Go run
right after it), with their [min-max]. With --out the table is also written as
markdown with the date, the Go and C++ compiler versions and nproc.

Python 3 standard library only. `compare.py --self-test` checks the parsers
and the statistics against bench/testdata/ and runs the whole pipeline on two
fake binaries kept there.

Exit status: 0 when every process ran and exited 0; 1 when any run crashed,
exited non-zero, timed out, printed something unparseable, or goro reported a
benchmark error; 2 for bad options.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TESTDATA = os.path.join(HERE, "testdata")

# goro's Google Benchmark user counters, and the unit each one stands for.
# Order matters only for a goro-only benchmark that reports several.
COUNTER_UNITS = [
    ("ns_per_op", "ns/op"),
    ("ms", "ms"),
    ("bytes_per_goroutine", "bytes/goroutine"),
]
# A goro benchmark may report a second figure in a counter of its own; it is
# shown as <base><suffix>/<args>, the name the Go peer gives that figure:
# (counter, suffix, unit).
EXTRA_COUNTERS = [
    ("median_ms", "_median", "ms"),  # sleep_lateness
    ("with_pagetables_bytes_per_goroutine", "_with_pagetables", "bytes/goroutine"),  # parked_mem
]
GO_UNITS = {"ns/op", "ms", "bytes/goroutine"}

# Components Google Benchmark appends to a benchmark's name; the name that is
# compared with Go's is everything before the first of them.
GB_SUFFIX = re.compile(
    r"^(?:(?:iterations|repeats|min_time|min_warmup_time|threads):.*"
    r"|manual_time|real_time|process_time)$")

# Targets from shared/design.md, "Targets": goro/Go must be at most this.
# Keyed by workload (the name before the first '/').
TARGETS = {
    # shared/design.md's targets (goro / Go, from the same run).
    "yield_switch": 0.25,
    "spawn_join_1M": 0.5,
    "chan_pingpong": 0.5,
    "skynet": 0.5,
    "parked_mem": 1.6,
    "sleep_lateness": 0.6,
    "handoff_latency": 0.8,
}

# The unit of each shared workload, as the Go peer reports it; used to pick
# goro's figure when Go has no result to compare with (e.g. it crashed).
WORKLOAD_UNITS = {
    "yield_switch": "ns/op",
    "spawn_join_1M": "ns/op",
    "chan_pingpong": "ns/op",
    "skynet": "ms",
    "parked_mem": "bytes/goroutine",
    "parked_mem_with_pagetables": "bytes/goroutine",
    "sleep_lateness": "ms",
    "sleep_lateness_median": "ms",
    "mutex_contention": "ns/op",
    "handoff_latency": "ns/op",
    "blocking_call": "ns/op",
    "sleep_timers": "ns/op",
    "after_select": "ns/op",
    "once_done": "ns/op",
    "cond_pingpong": "ns/op",
    "udp_pingpong": "ns/op",
    "pipe_pingpong": "ns/op",
    "semaphore_acquire_release": "ns/op",
    "context_cancel_10k": "ms",
    "rwmutex_read_mostly": "ns/op",
}

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class RunError(Exception):
    """A binary crashed, exited non-zero, hung or printed nonsense."""


# ---------------------------------------------------------------------------
# Names and parsing


def normalize_gb_name(name):
    """Google Benchmark name -> the shared name: drop GB's own suffixes."""
    parts = name.split("/")
    keep = []
    for p in parts:
        if GB_SUFFIX.match(p):
            break
        keep.append(p)
    return "/".join(keep)


def extra_name(name, suffix):
    """(sleep_lateness/procs:1, _median) -> sleep_lateness_median/procs:1"""
    base, sep, rest = name.partition("/")
    return base + suffix + sep + rest


def parse_goro_json(text):
    """Parse goro_bench's JSON.

    Returns (values, errors): values maps a shared name to {unit: value} for
    every figure the entry reports; errors maps a shared name to the message of
    a benchmark that reported error_occurred. Aggregate entries are skipped.
    Raises RunError when the text is not Google Benchmark JSON.
    """
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise RunError("goro output is not JSON: %s" % e)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise RunError("goro JSON has no benchmarks[] list")
    values, errors = {}, {}
    for entry in doc["benchmarks"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise RunError("goro JSON has a benchmark entry without a name")
        if entry.get("run_type") == "aggregate":
            continue
        name = normalize_gb_name(entry["name"])
        if entry.get("error_occurred"):
            errors[name] = str(entry.get("error_message", "error_occurred"))
            continue
        if entry.get("skipped") and entry.get("skipped") != "NotSkipped":
            continue  # Google Benchmark >= 1.8 SkipWithMessage: not run
        figures = {}
        for key, unit in COUNTER_UNITS:
            if key in entry:
                figures[unit] = float(entry[key])
        if not figures and "real_time" in entry:
            # No counter: take Google Benchmark's own time per iteration.
            scale = TIME_UNIT_NS.get(entry.get("time_unit", "ns"))
            if scale is None:
                raise RunError("goro JSON: %s has unknown time_unit %r"
                               % (entry["name"], entry.get("time_unit")))
            figures["ns/op"] = float(entry["real_time"]) * scale
        if name in values:
            raise RunError("goro JSON reports %s twice" % name)
        values[name] = figures
        for key, suffix, unit in EXTRA_COUNTERS:
            if key in entry:
                values[extra_name(name, suffix)] = {unit: float(entry[key])}
    return values, errors


RESULT_LINE = re.compile(r"^RESULT (\S+) (\S+) (\S+)$")


def parse_go_output(text):
    """Parse the Go peer's stdout: name -> (value, unit) from RESULT lines.

    Other lines are ignored; a malformed RESULT line raises RunError.
    """
    out = {}
    for line in text.splitlines():
        if not line.startswith("RESULT"):
            continue
        m = RESULT_LINE.match(line.rstrip())
        if not m:
            raise RunError("malformed Go result line: %r" % line)
        name, value, unit = m.groups()
        try:
            v = float(value)
        except ValueError:
            raise RunError("malformed Go result value: %r" % line)
        if unit not in GO_UNITS:
            raise RunError("unknown unit %r in Go result line %r" % (unit, line))
        if name in out:
            raise RunError("Go reports %s twice" % name)
        out[name] = (v, unit)
    return out


# ---------------------------------------------------------------------------
# Statistics


def spread(xs):
    """(median, min, max) of a non-empty list, or None."""
    if not xs:
        return None
    return (statistics.median(xs), min(xs), max(xs))


def row_stats(go_reps, goro_reps):
    """Statistics of one benchmark.

    go_reps and goro_reps hold one value per repetition (None where that
    repetition has none). The ratio is taken per repetition, goro over the Go
    run of the same repetition, and summarised by its median and range.
    """
    ratios = [b / a for a, b in zip(go_reps, goro_reps)
              if a is not None and b is not None and a > 0]
    return {
        "go": spread([x for x in go_reps if x is not None]),
        "goro": spread([x for x in goro_reps if x is not None]),
        "ratio": spread(ratios),
    }


# ---------------------------------------------------------------------------
# Formatting


def fmt_value(v, like=None):
    """v to about three significant figures; with like, to like's precision."""
    a = abs(v if like is None else like)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


def fmt_ratio_number(v):
    return "%.2f" % v if abs(v) >= 0.1 else "%.3f" % v


def fmt_ratio(v):
    return fmt_ratio_number(v) + "×"


def fmt_spread(s, f, reps, f_range=None):
    """median [min–max]; just the median when there is no spread."""
    if s is None:
        return None
    med, lo, hi = s
    if reps <= 1 or lo == hi:
        return f(med)
    if f_range is None:
        return "%s [%s–%s]" % (f(med), f(lo, med), f(hi, med))
    return "%s [%s–%s]" % (f(med), f_range(lo), f_range(hi))


def build_rows(results, reps, peer_labels=()):
    """results: ordered name -> {unit, go, goro, go_known, goro_error, go_error,
    peers}. Each further peer adds a value column and a goro/peer column."""
    rows = []
    for name, r in results.items():
        st = row_stats(r["go"], r["goro"])
        if r["go_error"]:
            go_cell = "error"
        elif not r["go_known"]:
            go_cell = "—"
        else:
            go_cell = fmt_spread(st["go"], fmt_value, reps) or "missing"
        if r["goro_error"]:
            goro_cell = "error"
        else:
            goro_cell = fmt_spread(st["goro"], fmt_value, reps) or "missing"
        ratio_cell = fmt_spread(st["ratio"], fmt_ratio, reps, fmt_ratio_number) or "—"
        target = TARGETS.get(name.split("/")[0])
        if target is None:
            target_cell = ""
        elif st["ratio"] is None:
            target_cell = "≤ %g×" % target
        else:
            met = st["ratio"][0] <= target
            target_cell = "≤ %g× %s" % (target, "met" if met else "NOT met")
        peer_cells, peer_ratios = [], []
        for label in peer_labels:
            pc = r.get("peers", {}).get(label, {"reps": [None] * reps, "known": False,
                                                "error": False})
            pst = row_stats(pc["reps"], r["goro"])
            if pc["error"]:
                peer_cells.append("error")
            elif not pc["known"]:
                peer_cells.append("—")
            else:
                peer_cells.append(fmt_spread(pst["go"], fmt_value, reps) or "missing")
            peer_ratios.append(fmt_spread(pst["ratio"], fmt_ratio, reps, fmt_ratio_number) or "—")
        rows.append([name, r["unit"] or "", go_cell] + peer_cells + [goro_cell, ratio_cell]
                    + peer_ratios + [target_cell])
    return rows


HEADER = ["benchmark", "unit", "Go", "goro", "goro/Go", "target"]


def header(peer_labels=()):
    """The table's columns: HEADER with a value and a ratio column per peer."""
    labels = list(peer_labels)
    return (["benchmark", "unit", "Go"] + labels + ["goro", "goro/Go"]
            + ["goro/%s" % l for l in labels] + ["target"])


def render_table(rows, peer_labels=()):
    head = header(peer_labels)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    right = [False, False] + [True] * (len(head) - 3) + [False]

    def line(cells):
        out = []
        for c, w, r in zip(cells, widths, right):
            out.append(str(c).rjust(w) if r else str(c).ljust(w))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(
        "-" * (w + 1) + ":" if r else "-" * (w + 2)
        for w, r in zip(widths, right)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


# ---------------------------------------------------------------------------
# Running the binaries


def describe_exit(rc):
    if rc < 0:
        try:
            return "killed by signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exited with status %d" % rc


def tail(text, n=15):
    lines = text.strip().splitlines()
    return "\n".join("    " + l for l in lines[-n:])


def run_cmd(cmd, timeout, what):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout,
                           universal_newlines=True)
    except subprocess.TimeoutExpired:
        raise RunError("%s: timed out after %ss" % (what, timeout))
    except OSError as e:
        raise RunError("%s: cannot run %s: %s" % (what, cmd[0], e))
    if p.returncode != 0:
        msg = "%s: %s" % (what, describe_exit(p.returncode))
        if p.stderr.strip():
            msg += "\n  stderr:\n" + tail(p.stderr)
        elif p.stdout.strip():
            msg += "\n  stdout:\n" + tail(p.stdout)
        raise RunError(msg)
    return p


def ere_escape(s):
    """Escape for POSIX ERE / std::regex::extended (Google Benchmark's filter)."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", s)


class Goro:
    def __init__(self, path, timeout):
        self.path, self.timeout = path, timeout

    def list(self):
        p = run_cmd([self.path, "--benchmark_list_tests=true"], self.timeout,
                    "goro --benchmark_list_tests")
        names = {}  # shared name -> [full Google Benchmark names]
        for line in p.stdout.splitlines():
            line = line.strip()
            if line:
                names.setdefault(normalize_gb_name(line), []).append(line)
        return names

    def run(self, full_names):
        regex = "^(%s)$" % "|".join(ere_escape(n) for n in full_names)
        fd, out = tempfile.mkstemp(prefix="goro_bench.", suffix=".json")
        os.close(fd)
        try:
            run_cmd([self.path, "--benchmark_filter=" + regex,
                     "--benchmark_format=json", "--benchmark_repetitions=1",
                     "--benchmark_out=" + out, "--benchmark_out_format=json"],
                    self.timeout, "goro %s" % " ".join(full_names))
            with open(out) as f:
                text = f.read()
        finally:
            os.unlink(out)
        return parse_goro_json(text)


class Peer:
    """A peer binary speaking bench/go's protocol: -list, -version, -bench NAME
    printing RESULT lines. The Go peer is one; bench/tokio and bench/fiber are
    others (--peer)."""

    def __init__(self, label, path, timeout):
        self.label, self.path, self.timeout = label, path, timeout

    def list(self):
        p = run_cmd([self.path, "-list"], self.timeout, "%s peer -list" % self.label)
        return [l.strip() for l in p.stdout.splitlines() if l.strip()]

    def version(self):
        try:
            return run_cmd([self.path, "-version"], 60,
                           "%s peer -version" % self.label).stdout.strip()
        except RunError:
            return None

    def run(self, name):
        p = run_cmd([self.path, "-bench", name], self.timeout, "%s %s" % (self.label, name))
        return parse_go_output(p.stdout)


def GoPeer(path, timeout):
    return Peer("Go", path, timeout)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_all(goro, go, reps, name_filter, peers=()):
    """Run everything; returns (results, errors, notes).

    peers: further Peer objects (Tokio, Boost.Fiber), each run after Go in
    every repetition on the benchmarks it lists that goro or Go has."""
    errors, notes = [], []
    goro_names = goro.list()
    go_names = go.list()
    peer_names = {pr.label: set(pr.list()) for pr in peers}
    units = list(go_names) + [n for n in goro_names if n not in go_names]
    if name_filter is not None:
        units = [u for u in units if name_filter.search(u)]
    if not units:
        raise RunError("no benchmark selected: goro lists %d, Go lists %d%s"
                       % (len(goro_names), len(go_names),
                          "" if name_filter is None else
                          ", and --filter %r matches none of them" % name_filter.pattern))

    results = {}
    extras = {u: [] for u in units}  # names a run reports beside its own

    def slot(name, unit_run=None):
        if name not in results:
            results[name] = {"unit": None, "go": [None] * reps, "goro": [None] * reps,
                             "goro_figs": [None] * reps, "go_known": False,
                             "go_error": False, "goro_error": False,
                             "peers": {pr.label: {"reps": [None] * reps, "known": False,
                                                  "error": False} for pr in peers}}
            if unit_run is not None and name != unit_run:
                extras[unit_run].append(name)
        return results[name]

    for u in units:
        slot(u)
    for rep in range(reps):
        for u in units:
            if u in goro_names:
                t0 = time.time()
                try:
                    values, errs = goro.run(goro_names[u])
                    for name, msg in errs.items():
                        slot(name, u)["goro_error"] = True
                        errors.append("goro %s (rep %d): benchmark error: %s" % (name, rep + 1, msg))
                    for name, figs in values.items():
                        slot(name, u)["goro_figs"][rep] = figs
                    if u not in values and u not in errs:
                        notes.append("goro listed %s but reported nothing for it (rep %d)" % (u, rep + 1))
                except RunError as e:
                    slot(u)["goro_error"] = True
                    errors.append("%s (rep %d)" % (e, rep + 1))
                log("[rep %d/%d] goro %-28s %6.1fs" % (rep + 1, reps, u, time.time() - t0))
            if u in go_names:
                t0 = time.time()
                try:
                    for name, (v, unit) in go.run(u).items():
                        r = slot(name, u)
                        r["go"][rep], r["unit"], r["go_known"] = v, unit, True
                except RunError as e:
                    slot(u)["go_error"] = True
                    slot(u)["go_known"] = True
                    errors.append("%s (rep %d)" % (e, rep + 1))
                log("[rep %d/%d] Go   %-28s %6.1fs" % (rep + 1, reps, u, time.time() - t0))
            for pr in peers:
                if u not in peer_names[pr.label]:
                    continue
                t0 = time.time()
                try:
                    for name, (v, unit) in pr.run(u).items():
                        r = slot(name, u)
                        cell = r["peers"][pr.label]
                        if r["unit"] is None:
                            r["unit"] = unit
                        if unit != r["unit"]:
                            notes.append("%s reports %s in %s, Go in %s: not compared (rep %d)"
                                         % (pr.label, name, unit, r["unit"], rep + 1))
                            continue
                        cell["reps"][rep], cell["known"] = v, True
                except RunError as e:
                    slot(u)["peers"][pr.label]["error"] = True
                    slot(u)["peers"][pr.label]["known"] = True
                    errors.append("%s (rep %d)" % (e, rep + 1))
                log("[rep %d/%d] %-4s %-28s %6.1fs" % (rep + 1, reps, pr.label[:4], u,
                                                      time.time() - t0))

    # Pick goro's figure in Go's unit (or goro's own, for goro-only rows).
    for name, r in results.items():
        for rep, figs in enumerate(r["goro_figs"]):
            if not figs:
                continue
            if r["unit"] is None:
                r["unit"] = WORKLOAD_UNITS.get(name.split("/")[0]) or next(
                    unit for _, unit in COUNTER_UNITS if unit in figs)
            if r["unit"] in figs:
                r["goro"][rep] = figs[r["unit"]]
            else:
                notes.append("goro reports %s in %s, Go in %s: not compared (rep %d)"
                             % (name, "/".join(sorted(figs)), r["unit"], rep + 1))
        if r["go_known"] and not r["go_error"] and all(v is None for v in r["go"]):
            notes.append("Go reported nothing for %s" % name)
        if not r["goro_error"] and all(v is None for v in r["goro"]) and r["go_known"]:
            notes.append("missing on the goro side: %s" % name)
    ordered = {}
    for u in units:
        for name in [u] + extras[u]:
            ordered[name] = results[name]
    return ordered, errors, notes


# ---------------------------------------------------------------------------
# Environment for the report


def cxx_version(goro_path):
    """The C++ compiler recorded in the CMakeCache.txt above the goro binary."""
    d = os.path.dirname(os.path.abspath(goro_path))
    for _ in range(5):
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.isfile(cache):
            comp, btype = None, None
            with open(cache, errors="replace") as f:
                for line in f:
                    if line.startswith("CMAKE_CXX_COMPILER:"):
                        comp = line.split("=", 1)[1].strip()
                    elif line.startswith("CMAKE_BUILD_TYPE:"):
                        btype = line.split("=", 1)[1].strip()
            if not comp:
                break
            try:
                v = subprocess.run([comp, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, universal_newlines=True,
                                   timeout=30).stdout.splitlines()[0].strip()
            except (OSError, IndexError, subprocess.TimeoutExpired):
                v = comp
            return v + (" (CMAKE_BUILD_TYPE=%s)" % btype if btype else "")
        d = os.path.dirname(d)
    return "unknown (no CMakeCache.txt above %s)" % goro_path


def go_toolchain_version():
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if not go:
        return None
    try:
        return subprocess.run([go, "version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_commit():
    try:
        head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, timeout=30)
        dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               universal_newlines=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "none (no commit yet)"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def nproc():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def environment(goro, go, reps, peers=()):
    load = " ".join("%.2f" % x for x in os.getloadavg())
    env = [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("go version (peer binary)", go.version() or "unknown"),
        ("go version (toolchain on PATH)", go_toolchain_version() or "not found"),
        ("C++ compiler", cxx_version(goro.path)),
        ("nproc", str(nproc())),
        ("kernel", "%s %s %s" % (platform.system(), platform.release(), platform.machine())),
        ("load average at start", load),
        ("goro commit", git_commit()),
        ("repetitions", str(reps)),
    ]
    for pr in peers:
        env.append(("%s (peer binary)" % pr.label, pr.version() or "unknown"))
    return env


def write_markdown(path, env, table, errors, notes, argv):
    lines = [
        "# goro beside its peers: benchmark results",
        "",
        "Generated by `ci/bench.sh` (bench/compare.py); do not edit by hand, re-run it.",
        "",
    ]
    lines += ["- %s: %s" % (k, v) for k, v in env]
    lines += [
        "- command: `%s`" % " ".join(argv),
        "",
        "Each peer and goro: median over the repetitions [min–max]. goro/peer: median of",
        "the per-repetition ratios (each goro run over that peer's run of the same",
        "repetition) [min–max];",
        "below 1 means goro is faster (or, for parked_mem, smaller). Targets are from",
        "shared/design.md. \"—\": the benchmark does not exist on that side; \"missing\":",
        "it exists on the other side only so far; \"error\": a run failed (see below).",
        "See bench/README.md for what each benchmark measures.",
        "",
        table,
        "",
    ]
    if errors:
        lines += ["## Errors", ""] + ["- " + e.replace("\n", "\n  ") for e in errors] + [""]
    if notes:
        lines += ["## Notes", ""] + ["- " + n for n in notes] + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------------------
# Self-test


def table_cells(text):
    """The body rows of the first table in text, as lists of stripped cells."""
    rows = [l for l in text.splitlines() if l.startswith("|")]
    return [[c.strip() for c in l.strip().strip("|").split("|")] for l in rows[2:]]


def self_test():
    failures = []

    def check(what, got, want):
        if got != want:
            failures.append("%s:\n    got  %r\n    want %r" % (what, got, want))

    def close(what, got, want, tol=1e-9):
        if got is None or want is None:
            check(what, got, want)
        elif abs(got - want) > tol * max(1.0, abs(want)):
            failures.append("%s: got %r, want %r" % (what, got, want))

    with open(os.path.join(TESTDATA, "expected.json")) as f:
        exp = json.load(f)

    for case in exp["normalize"]:
        check("normalize_gb_name(%r)" % case[0], normalize_gb_name(case[0]), case[1])
    check("fmt_spread value", fmt_spread((100.4, 90.2, 1234.5), fmt_value, 3), "100 [90–1234]")
    check("fmt_spread small", fmt_spread((19.14, 8.123, 19.5), fmt_value, 3), "19.1 [8.1–19.5]")
    check("fmt_spread ratio", fmt_spread((0.5, 0.4, 2 / 3), fmt_ratio, 3, fmt_ratio_number),
          "0.50× [0.40–0.67]")
    check("fmt_spread one rep", fmt_spread((0.5, 0.4, 0.6), fmt_ratio, 1, fmt_ratio_number), "0.50×")
    check("ere_escape", ere_escape("a.b/min_time:0.5(x)"), r"a\.b/min_time:0\.5\(x\)")

    with open(os.path.join(TESTDATA, "goro_bench.json")) as f:
        values, errs = parse_goro_json(f.read())
    check("goro names", sorted(values), sorted(exp["goro"]["values"]))
    for name, figs in exp["goro"]["values"].items():
        for unit, v in figs.items():
            close("goro %s %s" % (name, unit), values.get(name, {}).get(unit), v)
    check("goro errors", errs, exp["goro"]["errors"])

    with open(os.path.join(TESTDATA, "go_peer.txt")) as f:
        go = parse_go_output(f.read())
    check("Go names", sorted(go), sorted(exp["go"]))
    for name, (v, unit) in exp["go"].items():
        got = go.get(name, (None, None))
        close("Go %s value" % name, got[0], v)
        check("Go %s unit" % name, got[1], unit)
    for bad in exp["go_malformed"]:
        try:
            parse_go_output(bad)
            failures.append("parse_go_output accepted %r" % bad)
        except RunError:
            pass
    for bad in exp["goro_malformed"]:
        try:
            parse_goro_json(bad)
            failures.append("parse_goro_json accepted %r" % bad)
        except RunError:
            pass

    for i, case in enumerate(exp["stats"]):
        st = row_stats(case["go"], case["goro"])
        for key in ("go", "goro", "ratio"):
            want = case["want"][key]
            got = st[key]
            if want is None or got is None:
                check("stats case %d %s" % (i, key), got, want)
            else:
                for j, label in enumerate(("median", "min", "max")):
                    close("stats case %d %s %s" % (i, key, label), got[j], want[j])

    # The whole pipeline on two fake binaries: list, run, parse, tabulate.
    fake_goro = os.path.join(TESTDATA, "fake_goro_bench.py")
    fake_go = os.path.join(TESTDATA, "fake_go_peer.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "RESULTS.md")
        base = [sys.executable, os.path.abspath(__file__), "--goro", fake_goro,
                "--go", fake_go, "--reps", "2", "--out", out]
        p = subprocess.run(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        # Exit status 1: the fixture holds a benchmark that reports an error.
        check("pipeline exit status (stderr: %s)" % p.stderr.strip()[-400:], p.returncode, 1)
        md = open(out).read() if os.path.exists(out) else ""
        check("pipeline table on stdout", table_cells(p.stdout), exp["pipeline_rows"])
        check("pipeline table in --out", table_cells(md), exp["pipeline_rows"])
        if "benchmark error: boom" not in md:
            failures.append("pipeline: goro benchmark error not reported in %s" % out)

        p = subprocess.run(base + ["--filter", "^(yield|chan)"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        check("pipeline --filter exit status (stderr: %s)" % p.stderr.strip()[-400:], p.returncode, 0)
        check("pipeline --filter rows", [r[0] for r in table_cells(p.stdout)], exp["filter_rows"])

        # A further peer: its own value and ratio columns, "—" where it has
        # no such workload.
        fake_peer = os.path.join(TESTDATA, "fake_peer.py")
        p = subprocess.run(base + ["--filter", "^(yield|chan)", "--peer", "Fake=" + fake_peer],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        check("pipeline with a further peer: exit status (stderr: %s)" % p.stderr.strip()[-400:],
              p.returncode, 0)
        head = [l for l in p.stdout.splitlines() if l.startswith("|")][:1]
        check("pipeline with a further peer: header",
              [c.strip() for c in head[0].strip().strip("|").split("|")] if head else None,
              ["benchmark", "unit", "Go", "Fake", "goro", "goro/Go", "goro/Fake", "target"])
        check("pipeline with a further peer: rows", table_cells(p.stdout), exp["peer_rows"])
        p = subprocess.run(base + ["--peer", "Go=" + fake_peer], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        check("--peer with a taken label: exit status", p.returncode, 2)

        env = dict(os.environ, FAKE_GO_CRASH="skynet")
        p = subprocess.run(base + ["--filter", "skynet|yield"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=env)
        check("pipeline with a crashing Go: exit status", p.returncode, 1)
        check("pipeline with a crashing Go: table", table_cells(p.stdout), exp["crash_rows"])
        if "killed by signal SIGABRT" not in p.stderr:
            failures.append("pipeline: crash not described on stderr:\n" + p.stderr)

        p = subprocess.run(base[:-2] + ["--reps", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        check("--reps 0 exit status", p.returncode, 2)

    if failures:
        print("self-test: %d failure(s)" % len(failures))
        for f in failures:
            print("  FAIL " + f)
        return 1
    print("self-test: all checks passed")
    return 0


# ---------------------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(
        description="Run goro's benchmarks beside the Go peer, interleaved, and print goro/Go.")
    ap.add_argument("--reps", default=os.environ.get("BENCH_REPS") or "3",
                    help="repetitions, each running every benchmark once on each side "
                         "(default: $BENCH_REPS or 3)")
    ap.add_argument("--filter", metavar="REGEX",
                    help="run only benchmarks whose name (e.g. chan_pingpong/procs:2) this "
                         "Python regex matches (re.search)")
    ap.add_argument("--goro", metavar="PATH",
                    default=os.path.join(TOP, "build", "release", "bench", "goro_bench"),
                    help="goro's Google Benchmark binary (default: build/release/bench/goro_bench)")
    ap.add_argument("--go", metavar="PATH", default=os.path.join(TOP, "build", "go-peer", "peer"),
                    help="the Go peer built from bench/go (default: build/go-peer/peer)")
    ap.add_argument("--peer", metavar="LABEL=PATH", action="append", default=[],
                    help="a further peer speaking the Go peer's protocol (-list, -version, "
                         "-bench NAME), e.g. Tokio=build/tokio-peer/release/goro-tokio-peer; "
                         "repeatable, shown in this order")
    ap.add_argument("--out", metavar="FILE", help="also write the table as markdown here")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds one process may run before it counts as hung (default 600)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the parsers and statistics on bench/testdata/ and exit")
    args = ap.parse_args(argv[1:])

    if args.self_test:
        return self_test()
    try:
        args.reps = int(args.reps)
    except ValueError:
        ap.error("--reps (or $BENCH_REPS) must be a whole number, got %r" % args.reps)
    if args.reps < 1:
        ap.error("--reps (or $BENCH_REPS) must be at least 1, got %d" % args.reps)
    if args.timeout <= 0:
        ap.error("--timeout must be positive")
    name_filter = None
    if args.filter is not None:
        try:
            name_filter = re.compile(args.filter)
        except re.error as e:
            ap.error("--filter %r is not a valid regex: %s" % (args.filter, e))
    peer_specs = []
    for spec in args.peer:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            ap.error("--peer %r: want LABEL=PATH (e.g. Tokio=path/to/peer)" % spec)
        if label in ("Go", "goro") or label in [l for l, _ in peer_specs]:
            ap.error("--peer %r: the label %r is taken" % (spec, label))
        peer_specs.append((label, path))
    for opt, path in [("--goro", args.goro), ("--go", args.go)] + [
            ("--peer " + l, p) for l, p in peer_specs]:
        if not os.path.isfile(path):
            ap.error("%s %s: no such file (build it first, or run ci/bench.sh)" % (opt, path))
        if not os.access(path, os.X_OK):
            ap.error("%s %s: not executable" % (opt, path))
    if args.out:
        d = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(d):
            ap.error("--out %s: directory %s does not exist" % (args.out, d))

    goro, go = Goro(args.goro, args.timeout), GoPeer(args.go, args.timeout)
    peers = [Peer(l, p, args.timeout) for l, p in peer_specs]
    labels = [pr.label for pr in peers]
    env = environment(goro, go, args.reps, peers)
    try:
        results, errors, notes = run_all(goro, go, args.reps, name_filter, peers)
    except RunError as e:
        log("compare.py: %s" % e)
        return 1
    table = render_table(build_rows(results, args.reps, labels), labels)

    print()
    for k, v in env:
        print("%s: %s" % (k, v))
    print()
    print(table)
    for e in errors:
        log("ERROR: " + e)
    for n in notes:
        log("note: " + n)
    if args.out:
        write_markdown(args.out, env, table, errors, notes,
                       ["python3", "bench/compare.py"] + argv[1:])
        log("wrote %s" % args.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
