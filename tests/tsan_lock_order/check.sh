#!/bin/sh
# Runs the inversion program (tests/tsan_lock_order/inversion.cpp) and
# expects ThreadSanitizer to report the lock-order inversion between its two
# futex_locks. Usage: check.sh PROGRAM
out=$("$1" 2>&1)
if printf '%s\n' "$out" | grep -q 'ThreadSanitizer: lock-order-inversion'; then
  echo "ok: TSan reported the inversion"
  exit 0
fi
echo "FAIL: TSan did not report the lock-order inversion; its output:"
printf '%s\n' "$out"
exit 1
