#!/usr/bin/env bash
# The counted soak (spec/verification.md, "Counted volume"): drives
# Stress.CountedSchedulingEventsConserve to GORO_SOAK_EVENTS scheduling
# events (default 10^9) in a release chaos build, and to a tenth of that
# under ThreadSanitizer (skip with SOAK_TSAN=0). Each run checks the
# counters' conservation after every round and prints events and events/s.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${GORO_SOAK_EVENTS:-1000000000}
filter=Stress.CountedSchedulingEventsConserve

cmake -S . -B build/release-chaos -G Ninja -DCMAKE_BUILD_TYPE=Release -DGORO_CHAOS=ON \
  -DGORO_BUILD_TESTS=ON -DGORO_BUILD_STRESS=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/release-chaos --target stress_test
GORO_SOAK_EVENTS=$events build/release-chaos/stress/stress_test --gtest_filter=$filter

if [[ ${SOAK_TSAN:-1} != 0 ]]; then
  cmake --preset tsan -DGORO_BUILD_TESTS=ON -DGORO_BUILD_STRESS=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build/tsan --target stress_test
  GORO_SOAK_EVENTS=$((events / 10)) TSAN_OPTIONS=halt_on_error=1 \
    build/tsan/stress/stress_test --gtest_filter=$filter
fi
