#!/usr/bin/env bash
# Fuzzes what the outside world hands statebus: MCAP files, channel names,
# patterns and durations, schemas from the bus, shared-memory segments
# (headers, the state segment's registry and cells, the clock's slot).
#   scripts/fuzz.sh          10 s per target (the test command runs this)
#   scripts/fuzz.sh 600      ten minutes per target
# Builds the `fuzz` preset (clang, libFuzzer, ASan + UBSan). Starts from the
# seeds in tests/fuzz/corpus (copied: the repository's corpus stays as is);
# a crash leaves its input in build/fuzz/crashes and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
scripts/setup-debian.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
mkdir -p build/fuzz/crashes
status=0
for target in mcap names schema segment state clock; do
  corpus="build/fuzz/corpus/$target"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/$target/* "$corpus"/ 2>/dev/null || true
  log="build/fuzz/$target.log"
  if build/fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix=build/fuzz/crashes/$target- "$corpus" >"$log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo '?')
    echo "fuzz_$target: $runs executions in ${seconds} s, no crash (corpus: $(ls "$corpus" | wc -l) inputs)"
  else
    echo "fuzz_$target: FAILED; see $log and build/fuzz/crashes/" >&2
    grep -E 'ERROR|SUMMARY' "$log" | head -5 >&2 || true
    status=1
  fi
done
exit $status
