#!/usr/bin/env python3
"""Stand-in for the Go peer in compare.py --self-test: answers -list,
-version and -bench NAME from go_peer.txt beside it. FAKE_GO_CRASH=SUBSTRING
makes it abort on a benchmark whose name contains SUBSTRING."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "go_peer.txt")) as f:
    lines = [l.rstrip("\n") for l in f if l.startswith("RESULT ")]
args = sys.argv[1:]
if args == ["-version"]:
    print("go version go0.0-fake linux/amd64")
elif args == ["-list"]:
    for l in lines:
        if "_median" not in l.split()[1]:
            print(l.split()[1])
elif len(args) == 2 and args[0] == "-bench":
    name = args[1]
    crash = os.environ.get("FAKE_GO_CRASH")
    if crash and crash in name:
        sys.stderr.write("fake Go peer: crashing on purpose\n")
        sys.stderr.flush()
        os.abort()
    base, sep, rest = name.partition("/")
    for l in lines:
        if l.split()[1] in (name, base + "_median" + sep + rest):
            print(l)
else:
    sys.stderr.write("fake Go peer: bad arguments %r\n" % args)
    sys.exit(2)
