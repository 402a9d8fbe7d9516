#!/usr/bin/env bash
# Checks that the documents still point at code that exists, so a file split
# or a rename cannot leave them describing a tree that is gone:
#  - every source file they name (`x.cpp`, `dir/x.hpp`, `src/dir/x.cpp`)
#    exists in the tree;
#  - every `file.cpp: function` pair (spec/traceability.md's form) names a
#    file that exists, exactly one such file, and a function that appears in
#    that file's code (comments stripped) followed by `(`: declared, defined
#    or called there.
# Usage: ci/check_doc_refs.sh [doc.md...] (default: README.md, spec/*.md,
# tla/README.md). Prints every bad reference and exits 1 if there is one.
# ctest: docs.check_doc_refs (label unit). Only grep and sed: no build needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ $# -gt 0 ]; then docs=("$@"); else docs=(README.md spec/*.md tla/README.md); fi

# The tree's C++ files, relative to the top (build trees are not searched).
mapfile -t tree < <(find include src tests props stress bench examples c11 -type f \
                      \( -name '*.cpp' -o -name '*.hpp' \) | sort)

# The files of the tree that a name as written in a document denotes: the
# path itself, or any path ending in /name (so `spinning.cpp`,
# `sched/spinning.cpp` and `src/sched/spinning.cpp` all work).
resolve() {
  local f
  for f in "${tree[@]}"; do
    if [ "$f" = "$1" ] || [[ "$f" == */"$1" ]]; then echo "$f"; fi
  done
}

bad=0
for doc in "${docs[@]}"; do
  # Source file names.
  while IFS=: read -r line name; do
    if [ -z "$(resolve "$name")" ]; then
      echo "$doc:$line: names $name, which is not in the tree"
      bad=1
    fi
  done < <(grep -noE '[A-Za-z_][A-Za-z0-9_/.-]*\.(cpp|hpp)\b' "$doc" || true)

  # `file.cpp: function` pairs.
  while IFS= read -r hit; do
    line=${hit%%:*}
    pair=${hit#*:\`}
    pair=${pair%\`}
    file=${pair%%: *}
    fn=${pair#*: }
    mapfile -t found < <(resolve "$file")
    if [ ${#found[@]} -ne 1 ]; then
      echo "$doc:$line: \`$pair\`: $file matches ${#found[@]} files, want exactly one"
      bad=1
    # grep without -q: it reads to the end, so sed never dies of SIGPIPE
    # (which pipefail would report as a miss).
    elif ! sed 's://.*$::' "${found[0]}" | grep -E "(^|[^A-Za-z0-9_])$fn[[:space:]]*\(" >/dev/null; then
      echo "$doc:$line: \`$pair\`: no function $fn in ${found[0]}"
      bad=1
    fi
  done < <(grep -noE '`[A-Za-z0-9_/.-]+\.(cpp|hpp): [A-Za-z_][A-Za-z0-9_]*`' "$doc" || true)
done
if [ $bad -ne 0 ]; then
  echo "check_doc_refs: bad references above (a file split or renamed? point the text at the new place)"
  exit 1
fi
echo "check_doc_refs: ${#docs[@]} documents, every file and function they name exists"
