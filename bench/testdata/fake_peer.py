#!/usr/bin/env python3
"""Stand-in for a further peer (Tokio, Boost.Fiber) in compare.py --self-test:
speaks the Go peer's protocol, knows two workloads only (yield_switch/procs:1
and chan_pingpong/procs:1), and reports a fixed figure for each."""
import sys

FIGURES = {
    "yield_switch/procs:1": "RESULT yield_switch/procs:1 41 ns/op",
    "chan_pingpong/procs:1": "RESULT chan_pingpong/procs:1 600 ns/op",
}
args = sys.argv[1:]
if args == ["-version"]:
    print("fake peer 0.0")
elif args == ["-list"]:
    print("\n".join(FIGURES))
elif len(args) == 2 and args[0] == "-bench" and args[1] in FIGURES:
    print(FIGURES[args[1]])
else:
    sys.stderr.write("fake peer: bad arguments %r\n" % args)
    sys.exit(2)
