#!/usr/bin/env python3
"""Draw how cost grows, from bench/RESULTS.md, as SVG curves.

    plot_scaling.py bench/RESULTS.md -o bench/    # writes the files below

  scaling_goroutines.svg  spawn+join (ns per goroutine) at 10^3..10^7
                          goroutines, procs 2; memory per parked goroutine
                          at 10^3..10^6 (bytes), guarded stacks and not
  scaling_procs.svg       skynet (ms) at procs 1..64 on this machine's cores

One curve per column of the table that has figures (Go, Tokio, Fiber, goro)
plus goro's _guarded rows; each point is that column's median, with its
[min-max] as an error bar. Rows a peer does not have leave a gap. Reads the
table compare.py wrote (the first markdown table of the file); matplotlib
(Debian's python3-matplotlib) draws it. Exit status 1 with a message when the
table lacks every row of a figure.
"""

import argparse
import os
import re
import sys

CELL = re.compile(r"^\s*([0-9.eE+-]+)(?:\s*\[([0-9.eE+-]+)–([0-9.eE+-]+)\])?\s*$")

# (x value, row name) per figure; goro's guarded twin is name with _guarded.
SPAWN = [(10**3, "spawn_join_1k/procs:2"), (10**4, "spawn_join_10k/procs:2"),
         (10**5, "spawn_join_100k/procs:2"), (10**6, "spawn_join_1M/procs:2"),
         (10**7, "spawn_join_10M/procs:2")]
PARKED = [(10**3, "parked_mem_1k"), (10**4, "parked_mem_10k"), (10**5, "parked_mem"),
          (10**6, "parked_mem_1M")]
PROCS = [(p, "skynet/procs:%d" % p) for p in (1, 2, 4, 8, 16, 64)]


def guarded(name):
    base, sep, rest = name.partition("/")
    return base + "_guarded" + sep + rest


def read_table(path):
    """{row name: {column: (median, lo, hi)}} and the value columns, in order."""
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
    rows = [l for l in lines if l.startswith("|")]
    if len(rows) < 3:
        raise SystemExit("%s: no markdown table" % path)
    cells = lambda l: [c.strip() for c in l.strip().strip("|").split("|")]
    head = cells(rows[0])
    if "benchmark" not in head:
        raise SystemExit("%s: the table has no 'benchmark' column" % path)
    value_cols = [h for h in head[2:] if h != "target" and not h.startswith("goro/")]
    out = {}
    for l in rows[2:]:
        c = cells(l)
        if len(c) != len(head):
            continue
        row = dict(zip(head, c))
        figs = {}
        for col in value_cols:
            m = CELL.match(row[col])
            if m:
                med = float(m.group(1))
                lo = float(m.group(2)) if m.group(2) else med
                hi = float(m.group(3)) if m.group(3) else med
                figs[col] = (med, lo, hi)
        out[row["benchmark"]] = figs
    return out, value_cols


def series(table, cols, points, with_guarded=True):
    """[(label, xs, meds, los, his)] for each column with at least one point."""
    out = []
    variants = [(c, c, False) for c in cols]
    if with_guarded and "goro" in cols:
        variants.append(("goro, guarded stacks", "goro", True))
    for label, col, g in variants:
        xs, meds, los, his = [], [], [], []
        for x, name in points:
            fig = table.get(guarded(name) if g else name, {}).get(col)
            if fig:
                xs.append(x)
                meds.append(fig[0])
                los.append(fig[0] - fig[1])
                his.append(fig[2] - fig[0])
        if xs:
            out.append((label, xs, meds, los, his))
    return out


def panel(ax, data, title, xlabel, ylabel, logy=True):
    for label, xs, meds, los, his in data:
        ax.errorbar(xs, meds, yerr=[los, his], marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="bench/RESULTS.md")
    ap.add_argument("-o", "--outdir", default=".", help="directory for the SVG files")
    args = ap.parse_args(argv[1:])
    table, cols = read_table(args.results)
    spawn = series(table, cols, SPAWN)
    parked = series(table, cols, PARKED)
    procs = series(table, cols, PROCS, with_guarded=False)
    missing = [n for n, d in (("spawn_join_*", spawn), ("parked_mem_*", parked),
                              ("skynet/procs:*", procs)) if not d]
    if missing:
        print("plot_scaling.py: %s has no rows of %s (run ci/bench.sh)"
              % (args.results, ", ".join(missing)), file=sys.stderr)
        return 1

    import matplotlib
    matplotlib.use("svg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "goro"  # stable ids: the file changes only with the data

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    panel(a, spawn, "spawn + join, procs 2", "goroutines / tasks / fibers", "ns per goroutine")
    panel(b, parked, "memory per parked goroutine", "parked goroutines", "bytes (RSS)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.outdir, "scaling_goroutines.svg"), metadata={"Date": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    panel(ax, procs, "skynet (1M leaves) at more Ps than cores", "procs (GOMAXPROCS, workers)",
          "ms")
    fig.tight_layout()
    fig.savefig(os.path.join(args.outdir, "scaling_procs.svg"), metadata={"Date": None})
    plt.close(fig)
    print("plot_scaling.py: wrote scaling_goroutines.svg and scaling_procs.svg in %s" % args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
