#!/usr/bin/env python3
"""Tests for bench/plot.py (ctest: bench.plot_test, label unit).

The fixture is a RESULTS.md table made by compare.py's own render_table from
the rows its self-test expects of its pipeline (bench/testdata/expected.json),
so a change to compare.py's cell format that plot.py cannot read fails here.
Run with the interpreter that has matplotlib (/usr/bin/python3 on Debian).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import plot  # noqa: E402

PLOT = os.path.join(HERE, "plot.py")
SVG_NS = "{http://www.w3.org/2000/svg}"


def fixture_rows():
    with open(os.path.join(HERE, "testdata", "expected.json")) as f:
        rows = json.load(f)["pipeline_rows"]
    # One row with a [min–max] spread, in compare.py's format, and no target.
    spread = compare.fmt_spread((0.85, 0.81, 0.99), compare.fmt_ratio, 3,
                                compare.fmt_ratio_number)
    return rows + [["mutex_contention/procs:2", "ns/op", "64.2", "52.3", spread, ""]]


def markdown(table):
    return ("# goro beside Go\n\n- date: 2026-01-02 03:04 UTC\n- nproc: 2\n\n"
            + table + "\n\n## Notes\n\n- a note\n")


def run_plot(results_text, tmp, env=None):
    src = os.path.join(tmp, "RESULTS.md")
    out = os.path.join(tmp, "out.svg")
    if os.path.exists(out):
        os.unlink(out)
    with open(src, "w", encoding="utf-8") as f:
        f.write(results_text)
    p = subprocess.run([sys.executable, PLOT, src, "-o", out], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=env)
    return p, out


def svg_groups(path):
    """id -> element for every element of the SVG that has an id."""
    root = ET.parse(path).getroot()  # raises unless well-formed XML
    assert root.tag == SVG_NS + "svg", root.tag
    return {e.get("id"): e for e in root.iter() if e.get("id")}


def bar_right(group):
    """The right edge of a bar: the largest x of the path in its SVG group."""
    xs = []
    for path in group.iter(SVG_NS + "path"):
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
        xs += nums[0::2]
    assert xs, "no path in bar %s" % group.get("id")
    return max(xs)


def marker_x(group):
    """Where a marker is: matplotlib draws it as <use x= y=> of a path in <defs>."""
    uses = list(group.iter(SVG_NS + "use"))
    assert len(uses) == 1, "target %s has %d markers" % (group.get("id"), len(uses))
    return float(uses[0].get("x"))


class PlotTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def plot_ok(self, text):
        p, out = run_plot(text, self.tmp.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        return svg_groups(out), out

    def test_one_bar_per_workload_and_a_marker_per_target(self):
        rows = fixture_rows()
        ids, _ = self.plot_ok(markdown(compare.render_table(rows)))
        with_ratio = [r for r in rows if r[4] != "—"]
        self.assertEqual(len(with_ratio), 9)  # the fixture still has what we test
        want_bars = {plot.svg_id("bar", "Go", r[0]) for r in with_ratio}
        want_targets = {plot.svg_id("target", r[0]) for r in with_ratio if r[5]}
        self.assertEqual({i for i in ids if i.startswith("bar_")}, want_bars)
        self.assertEqual({i for i in ids if i.startswith("target_")}, want_targets)
        self.assertIn("target_yield_switch_procs_1", ids)

        # Longer bar for a larger ratio, on one log axis; a met target is
        # right of its bar's end, a missed one left of it.
        ends = {r[0]: bar_right(ids[plot.svg_id("bar", "Go", r[0])]) for r in with_ratio}
        ratio = {r[0]: float(r[4].split("×")[0]) for r in with_ratio}
        by_ratio = sorted(ends, key=lambda n: (ratio[n], ends[n]))
        self.assertEqual(by_ratio, sorted(ends, key=lambda n: ends[n]))
        for r in with_ratio:
            if not r[5]:
                continue
            mark = marker_x(ids[plot.svg_id("target", r[0])])
            if r[5].endswith("NOT met"):
                self.assertLess(mark, ends[r[0]], r)
            else:
                self.assertGreaterEqual(mark, ends[r[0]], r)

    def test_deterministic(self):
        text = markdown(compare.render_table(fixture_rows()))
        def svg_bytes():
            _, out = self.plot_ok(text)
            with open(out, "rb") as f:
                return f.read()

        self.assertEqual(svg_bytes(), svg_bytes())

    def test_another_peer_is_more_bars(self):
        table = "\n".join([
            "| benchmark | unit | Go | goro | goro/Go | Tokio | goro/Tokio | target |",
            "|---|---|---:|---:|---:|---:|---:|---|",
            "| yield_switch/procs:1 | ns/op | 122 | 55 | 0.45× [0.42–0.47] | 90 | 0.61× | ≤ 0.33× NOT met |",
            "| chan_pingpong/procs:1 | ns/op | 551 | 304 | 0.53× | — | — | ≤ 0.6× met |",
            "| skynet/procs:2 | ms | 1144 | 942 | 0.82× | 700 | 1.35× | |",
        ])
        ids, _ = self.plot_ok(markdown(table))
        self.assertEqual({i for i in ids if i.startswith("bar_")},
                         {"bar_Go_yield_switch_procs_1", "bar_Tokio_yield_switch_procs_1",
                          "bar_Go_chan_pingpong_procs_1", "bar_Go_skynet_procs_2",
                          "bar_Tokio_skynet_procs_2"})

    def test_malformed_input_fails(self):
        good = compare.render_table(fixture_rows())
        for cell in ("0.26×", "≤ 0.25× NOT met", "goro/Go"):
            self.assertEqual(good.count(cell), 1, cell)
        cases = {
            "not a ratio": good.replace("0.26×", "fast"),
            "cells, the header has": good + "\n| extra | row |",
            "no table": "just text\n",
            "no goro/<peer> column": good.replace("goro/Go", "ratio"),
            "need 0 < min": good.replace("0.26×", "0.00×"),
            "target of": good.replace("≤ 0.25× NOT met", "soon"),
            "expected the table's |---| separator": good.replace("|-", "|x", 1),
        }
        for want, text in cases.items():
            with self.subTest(want):
                p, out = run_plot(markdown(text) if text.startswith("|") else text, self.tmp.name)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(want, p.stderr)
                self.assertTrue(p.stderr.startswith("plot.py: "), p.stderr)
                self.assertFalse(os.path.exists(out), "a failed run wrote %s" % out)

    def test_missing_matplotlib_is_a_clear_error(self):
        fake = os.path.join(self.tmp.name, "fake")
        os.makedirs(os.path.join(fake, "matplotlib"))
        with open(os.path.join(fake, "matplotlib", "__init__.py"), "w") as f:
            f.write("raise ImportError('simulated: no matplotlib')\n")
        env = dict(os.environ, PYTHONPATH=fake)
        p, out = run_plot(markdown(compare.render_table(fixture_rows())), self.tmp.name, env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("python3-matplotlib", p.stderr)
        self.assertFalse(os.path.exists(out))

    def test_committed_svg_matches_committed_table(self):
        # ci/bench.sh writes both; whoever commits one without the other fails here.
        with open(os.path.join(HERE, "RESULTS.md"), encoding="utf-8") as f:
            data = plot.parse_results(f.read())
        ids = svg_groups(os.path.join(HERE, "results.svg"))
        self.assertEqual({i for i in ids if i.startswith("bar_")},
                         {plot.svg_id("bar", p, r["name"]) for r in data["rows"]
                          for p in r["ratios"]})
        self.assertEqual({i for i in ids if i.startswith("target_")},
                         {plot.svg_id("target", r["name"]) for r in data["rows"]
                          if r["ratios"] and r["target"] is not None})


if __name__ == "__main__":
    unittest.main()
