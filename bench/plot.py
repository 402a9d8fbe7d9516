#!/usr/bin/env python3
"""Plot bench/RESULTS.md as bench/results.svg: goro / peer per workload.

    python3 bench/plot.py [RESULTS.md] [-o results.svg]

Reads the table compare.py writes to RESULTS.md (not the raw runs), so the
plot shows exactly the committed figures and the two cannot disagree; the
targets come from the table's "target" column, which compare.py fills from its
TARGETS, so there is no second copy of them here. One horizontal bar per
benchmark and peer: every column named goro/<peer> (today goro/Go; a
goro/Tokio column would just add a bar per row) on a log axis, with the
[min–max] of the per-repetition ratios as a whisker, a line at 1.0 (as fast
as the peer) and a marker at each target. Rows without any ratio (goro-only
benchmarks, "—") are left out. Lower is better on every row.

The SVG is deterministic: the same RESULTS.md gives the same bytes with the
same matplotlib (no date in the metadata, a fixed hash salt for the ids
matplotlib generates). Each bar is an SVG group with id bar_<peer>_<name> and
each target marker target_<name> (see svg_id), for tests and readers.

Needs matplotlib (Debian: python3-matplotlib, installed by ci/deps.sh for
/usr/bin/python3). Exit status: 0 written; 1 bad input or matplotlib missing;
2 bad options.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

RATIO_PREFIX = "goro/"
# compare.py's cells: fmt_ratio ("0.42×"), with fmt_spread's " [min–max]".
NUM = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
RATIO_CELL = re.compile(r"^" + NUM + r"×(?: \[" + NUM + r"–" + NUM + r"\])?$")
# compare.py's target cell: "≤ 0.5×", then "met" / "NOT met" when measured.
TARGET_CELL = re.compile(r"^≤ " + NUM + r"×(?: (met|NOT met))?$")
NO_RATIO = {"—", "-", ""}


class InputError(Exception):
    """RESULTS.md is not the table compare.py writes."""


def svg_id(*parts):
    """An XML-safe id: bar_Go_yield_switch_procs_1 for ('bar', 'Go', 'yield_switch/procs:1')."""
    return "_".join(re.sub(r"[^A-Za-z0-9_.-]", "_", p) for p in parts)


def split_row(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_results(text, path="RESULTS.md"):
    """The first table of a RESULTS.md.

    Returns {"title": str or None, "peers": [peer...], "rows": [row...]}, a row
    being {"name", "unit", "ratios": {peer: (median, lo, hi)}, "labels": {peer:
    the median as the table prints it}, "target": float
    or None, "met": True/False/None}. Raises InputError saying which line and
    cell is wrong.
    """
    lines = text.splitlines()
    meta = {}
    for line in lines:
        m = re.match(r"^- (date|nproc|go version \(peer binary\)): (.*)$", line)
        if m:
            meta[m.group(1)] = m.group(2).strip()
    start = next((i for i, l in enumerate(lines) if l.startswith("|")), None)
    if start is None:
        raise InputError("%s: no table (no line starts with '|')" % path)
    header = split_row(lines[start])
    if "benchmark" not in header:
        raise InputError("%s:%d: table header has no 'benchmark' column: %s"
                         % (path, start + 1, lines[start]))
    ratio_cols = [(i, h[len(RATIO_PREFIX):]) for i, h in enumerate(header)
                  if h.startswith(RATIO_PREFIX) and len(h) > len(RATIO_PREFIX)]
    if not ratio_cols:
        raise InputError("%s:%d: table header has no goro/<peer> column: %s"
                         % (path, start + 1, lines[start]))
    col = {h: i for i, h in enumerate(header)}
    if start + 1 >= len(lines) or not re.match(r"^\|[-:| ]+\|$", lines[start + 1].strip()):
        raise InputError("%s:%d: expected the table's |---| separator line"
                         % (path, start + 2))
    rows = []
    for n in range(start + 2, len(lines)):
        line = lines[n]
        if not line.startswith("|"):
            break
        cells = split_row(line)
        where = "%s:%d" % (path, n + 1)
        if len(cells) != len(header):
            raise InputError("%s: %d cells, the header has %d: %s"
                             % (where, len(cells), len(header), line))
        name = cells[col["benchmark"]]
        if not name:
            raise InputError("%s: empty benchmark name" % where)
        ratios, labels = {}, {}
        for i, peer in ratio_cols:
            cell = cells[i]
            if cell in NO_RATIO:
                continue
            m = RATIO_CELL.match(cell)
            if not m:
                raise InputError("%s: column %s of %s is %r, not a ratio like "
                                 "'0.42×' or '0.42× [0.40–0.47]'"
                                 % (where, header[i], name, cell))
            med = float(m.group(1))
            lo = float(m.group(2)) if m.group(2) else med
            hi = float(m.group(3)) if m.group(3) else med
            if not 0 < lo <= med <= hi:
                raise InputError("%s: column %s of %s is %r: need 0 < min <= median <= max "
                                 "(a log axis has no place for 0)"
                                 % (where, header[i], name, cell))
            ratios[peer] = (med, lo, hi)
            labels[peer] = cell.split(" ")[0]  # the table's own rounding
        target, met = None, None
        if "target" in col and cells[col["target"]]:
            m = TARGET_CELL.match(cells[col["target"]])
            if not m:
                raise InputError("%s: target of %s is %r, not like '≤ 0.5× met'"
                                 % (where, name, cells[col["target"]]))
            target = float(m.group(1))
            if target <= 0:
                raise InputError("%s: target of %s must be positive, is %r"
                                 % (where, name, cells[col["target"]]))
            met = None if m.group(2) is None else m.group(2) == "met"
        rows.append({"name": name, "unit": cells[col["unit"]] if "unit" in col else "",
                     "ratios": ratios, "labels": labels, "target": target, "met": met})
    if len(set(r["name"] for r in rows)) != len(rows):
        raise InputError("%s: a benchmark appears twice in the table" % path)
    ids = [svg_id("bar", p, r["name"]) for r in rows for p in r["ratios"]]
    if len(set(ids)) != len(ids):
        raise InputError("%s: two benchmark names map to the same SVG id" % path)
    title = None
    if "date" in meta:
        title = "ci/bench.sh, %s" % meta["date"]
        if "nproc" in meta:
            title += ", %s cores" % meta["nproc"]
        if "go version (peer binary)" in meta:
            title += ", " + meta["go version (peer binary)"].replace("go version ", "")
    return {"title": title, "peers": [p for _, p in ratio_cols], "rows": rows}


def import_matplotlib():
    try:
        import matplotlib
    except ImportError as e:
        raise InputError(
            "matplotlib is not importable by %s (Python %d.%d): %s. Install Debian's "
            "python3-matplotlib (sudo bash ci/deps.sh) and run plot.py with /usr/bin/python3, "
            "the interpreter that package is for"
            % (sys.executable, sys.version_info[0], sys.version_info[1], e))
    matplotlib.use("svg")
    matplotlib.rcParams["svg.hashsalt"] = "goro-bench"  # stable clip-path/glyph ids
    matplotlib.rcParams["svg.fonttype"] = "path"  # same look in every viewer
    return matplotlib


def fmt_x(v):
    return ("%g" % v) + "×"


def plot(data, out):
    """Write the SVG for parse_results' data to out."""
    import_matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    rows = [r for r in data["rows"] if r["ratios"]]
    if not rows:
        raise InputError("no benchmark has a goro/<peer> ratio: nothing to plot")
    peers = [p for p in data["peers"] if any(p in r["ratios"] for r in rows)]
    colors = ["#4C78A8", "#F58518", "#54A24B", "#B279A2", "#9D755D"]

    fig = Figure(figsize=(8.0, 1.4 + 0.32 * len(rows) * max(1, len(peers) * 0.7)))
    ax = fig.add_subplot()
    band = 0.8  # of the 1.0 between two rows, shared by the peers' bars
    h = band / len(peers)
    xs = []
    for y, r in enumerate(rows):
        for k, peer in enumerate(peers):
            if peer not in r["ratios"]:
                continue
            med, lo, hi = r["ratios"][peer]
            yk = y - band / 2 + h * (k + 0.5)
            # Bars start at a tiny value: on a log axis a bar needs a positive
            # left edge; the axis limits cut it off at the left margin.
            (bar,) = ax.barh(yk, med - 1e-6, left=1e-6, height=h * 0.9,
                             color=colors[k % len(colors)],
                             label=("goro / %s" % peer) if y == min(
                                 i for i, rr in enumerate(rows) if peer in rr["ratios"]) else None)
            bar.set_gid(svg_id("bar", peer, r["name"]))
            if hi > lo:
                ax.errorbar(med, yk, xerr=[[med - lo], [hi - med]], fmt="none",
                            ecolor="#333333", elinewidth=0.8, capsize=2)
            right = max(hi, r["target"] or 0)  # the label clear of the marker
            ax.text(right * 1.06, yk, r["labels"][peer], va="center", fontsize=7.5,
                    color="#333333")
            xs += [lo, right * 1.35]
        if r["target"] is not None:
            (mark,) = ax.plot([r["target"]], [y], linestyle="none", marker="|",
                              markersize=15, markeredgewidth=2.2, color="#D62728",
                              label="target (goro / Go at most)" if not any(
                                  rr["target"] is not None for rr in rows[:y]) else None)
            mark.set_gid(svg_id("target", r["name"]))
            xs.append(r["target"])
    ax.axvline(1.0, color="#000000", linewidth=1.0, zorder=0.5)

    ax.set_xscale("log")
    lo_x, hi_x = min(xs) / 1.4, max(xs + [1.0]) * 1.1
    ax.set_xlim(lo_x, hi_x)
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)
             if lo_x <= t <= hi_x]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_x(v)))
    ax.grid(axis="x", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["name"] for r in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first table row on top
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("goro time (or memory) ÷ peer's, median of the per-repetition ratios, "
                  "whisker min–max; lower is better", fontsize=8)
    title = "goro / " + ", ".join(peers) + " per workload"
    if data["title"]:
        title += "\n" + data["title"]
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})


def main(argv):
    ap = argparse.ArgumentParser(
        description="Plot the goro/<peer> ratios of bench/RESULTS.md as an SVG bar chart.")
    ap.add_argument("results", nargs="?", default=os.path.join(HERE, "RESULTS.md"),
                    help="the markdown compare.py wrote (default: bench/RESULTS.md)")
    ap.add_argument("-o", "--out", default=os.path.join(HERE, "results.svg"),
                    help="the SVG to write (default: bench/results.svg)")
    args = ap.parse_args(argv[1:])
    try:
        try:
            with open(args.results, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise InputError("cannot read %s: %s" % (args.results, e.strerror))
        data = parse_results(text, args.results)
        # Write beside the target, then rename: a failed run leaves the old SVG.
        tmp = args.out + ".tmp"
        try:
            plot(data, tmp)
            os.replace(tmp, args.out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except InputError as e:
        print("plot.py: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("plot.py: cannot write %s: %s" % (args.out, e), file=sys.stderr)
        return 1
    print("plot.py: wrote %s (%d bars)" % (args.out, sum(len(r["ratios"]) for r in data["rows"])),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
