#!/usr/bin/env python3
"""plot_scaling.py on bench/testdata/scaling_results.md: both SVGs are written
and name every curve the fixture has figures for; a table without the
scaling rows is refused with exit status 1."""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "plot_scaling.py")
fixture = os.path.join(here, "testdata", "scaling_results.md")
failures = []
with tempfile.TemporaryDirectory() as tmp:
    p = subprocess.run([sys.executable, script, fixture, "-o", tmp], capture_output=True, text=True)
    if p.returncode != 0:
        failures.append("exit status %d: %s" % (p.returncode, p.stderr))
    for name, want in (("scaling_goroutines.svg", ["Go", "Tokio", "goro", "goro, guarded stacks"]),
                       ("scaling_procs.svg", ["Go", "Tokio", "goro"])):
        path = os.path.join(tmp, name)
        if not os.path.exists(path):
            failures.append("%s not written" % name)
            continue
        svg = open(path).read()
        for label in want:
            if ">%s<" % label not in svg and "<!-- %s -->" % label not in svg:
                failures.append("%s: no curve labelled %r" % (name, label))
    empty = os.path.join(tmp, "empty.md")
    with open(empty, "w") as f:
        f.write("| benchmark | unit | Go | goro | goro/Go | target |\n| - | - | - | - | - | - |\n"
                "| yield_switch/procs:1 | ns/op | 79 | 30 | 0.38× | ≤ 0.25× NOT met |\n")
    p = subprocess.run([sys.executable, script, empty, "-o", tmp], capture_output=True, text=True)
    if p.returncode != 1 or "no rows of" not in p.stderr:
        failures.append("a table without scaling rows: exit %d, stderr %r" % (p.returncode, p.stderr))
if failures:
    print("plot_scaling_test: %d failure(s)" % len(failures))
    for f in failures:
        print("  FAIL " + f)
    sys.exit(1)
print("plot_scaling_test: all checks passed")
