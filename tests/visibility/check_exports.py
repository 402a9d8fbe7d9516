#!/usr/bin/env python3
"""Fails if a library exports a symbol that include/goro does not declare.

  check_exports.py [--expect-undeclared NAME] LIB INCLUDE_DIR

LIB is a shared libgoro (its dynamic symbols are read) or, for the self-test,
a static one (every global symbol of its objects: what a shared library built
with default visibility would export). A symbol passes when it names goro's
public headers: a C++ name in namespace goro each of whose components (goro,
detail, net, tcp_conn, ...) is an identifier in the headers' code (comments
do not count), or a C name that is such an identifier. Everything else (an
internal function, a std:: instantiation, an assembler label) fails.
With --expect-undeclared (the check's own test) it succeeds only if it
fails, and for a symbol whose name starts with NAME among others.
"""
import pathlib
import re
import subprocess
import sys

IGNORED = {"_init", "_fini", "_edata", "_end", "__bss_start"}
PREFIXES = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ",
            "non-virtual thunk to ", "virtual thunk to ", "guard variable for ")


def header_identifiers(include_dir):
    ids = set()
    for f in pathlib.Path(include_dir).rglob("*.hpp"):
        text = f.read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r'"(\\.|[^"\\])*"', " ", text)
        ids.update(re.findall(r"[A-Za-z_]\w*", text))
    return ids


def exported(lib):
    shared = not lib.endswith(".a")
    cmd = ["nm", "-D", "--defined-only", lib] if shared else \
          ["nm", "--defined-only", "--extern-only", lib]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.endswith(":"):
            names.append(parts[2])
    dem = subprocess.run(["c++filt"], input="\n".join(names), check=True,
                         capture_output=True, text=True).stdout.splitlines()
    return list(zip(names, dem))


def qualified_name(sym):
    """The entity's qualified name: no return type, parameters or templates."""
    for p in PREFIXES:
        if sym.startswith(p):
            sym = sym[len(p):]
    depth, out = 0, []
    for ch in sym:  # drop template arguments and parameter lists
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    name = "".join(out).replace(" const", "").strip()
    name = re.sub(r"\[abi:\w+\]", "", name)
    return name.split(" ")[-1]  # after a return type


def allowed(sym, ids):
    name = qualified_name(sym)
    parts = name.split("::")
    if len(parts) == 1:
        return name in ids
    if parts[0] != "goro":
        return False
    for c in parts:
        c = c.lstrip("~")
        if not c.startswith("operator") and c not in ids:
            return False
    return True


def main():
    args = sys.argv[1:]
    expect = None
    if args[:1] == ["--expect-undeclared"]:
        expect, args = args[1], args[2:]
    lib, include_dir = args
    ids = header_identifiers(include_dir)
    syms = [(m, d) for m, d in exported(lib) if m not in IGNORED]
    bad = [d for _, d in syms if not allowed(d, ids)]
    for d in bad:
        print(f"not declared in {include_dir}: {d}")
    print(f"{lib}: {len(syms)} exported symbols, {len(bad)} not in the public headers")
    if expect is not None:
        caught = any(d.startswith(expect) for d in bad)
        print(f"self-test: {expect} {'reported' if caught else 'NOT reported'}")
        return 0 if caught else 1
    return 1 if bad or not syms else 0


if __name__ == "__main__":
    sys.exit(main())
