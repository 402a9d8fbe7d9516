#!/usr/bin/env python3
"""Stand-in for goro_bench in compare.py --self-test: answers the Google
Benchmark flags compare.py uses from goro_bench.json beside it."""
import json
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "goro_bench.json")) as f:
    doc = json.load(f)
opts = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
if opts.get("benchmark_list_tests") == "true":
    for b in doc["benchmarks"]:
        if b.get("run_type") != "aggregate":
            print(b["name"])
    sys.exit(0)
rx = re.compile(opts.get("benchmark_filter", "."))
doc["benchmarks"] = [b for b in doc["benchmarks"] if rx.search(b["name"])]
text = json.dumps(doc, indent=2)
if "benchmark_out" in opts:
    with open(opts["benchmark_out"], "w") as f:
        f.write(text)
print(text)
