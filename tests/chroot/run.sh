#!/usr/bin/env bash
# The bus tests inside a chroot whose "/" is not a mount point, as on a
# minimal Debian chroot: a few bus tests and a benchmark smoke run, which must
# isolate themselves there too (testing/src/private_bus.cpp), and nothing
# they mount may appear outside their own namespace.
#
# usage: tests/chroot/run.sh BUILD_DIR [COMMAND ARG...]
# Builds the chroot from bind mounts of this machine's /usr, /etc, /dev and
# /proc and of the source tree and BUILD_DIR (at their own paths), inside a
# private mount namespace of this script's own, so it leaves nothing behind.
# With a COMMAND, runs that in the chroot (in the source tree) instead, e.g.
#   tests/chroot/run.sh build/release ctest --preset release -E chroot
# Exit 77 (a skip) where the system permits no mount namespace at all.
set -euo pipefail
build=$(realpath "$1")
shift
source_dir=$(realpath "$(dirname "$0")/../..")

if [[ "${STATEBUS_CHROOT_INSIDE:-}" != 1 ]]; then
  export STATEBUS_CHROOT_INSIDE=1
  if [[ $(id -u) -eq 0 ]] && unshare --mount --propagation private true 2>/dev/null; then
    exec unshare --mount --propagation private "$0" "$build" "$@"
  elif unshare --user --map-root-user --mount --propagation private true 2>/dev/null; then
    exec unshare --user --map-root-user --mount --propagation private "$0" "$build" "$@"
  fi
  echo "chroot test skipped: this system permits no mount namespace to build the chroot in"
  exit 77
fi

# A shared mount holding the chroot directory, and a peer of it elsewhere:
# a mount made under the chroot that propagated would show at the peer.
base=$(mktemp -d /tmp/statebus-chroot.XXXXXX)
peer=$(mktemp -d /tmp/statebus-chroot-peer.XXXXXX)
# Unmounting empties both (the chroot lives in a tmpfs); rmdir removes only empty directories.
trap 'umount -R "$peer" 2>/dev/null; umount -R "$base" 2>/dev/null; rmdir "$peer" "$base"' EXIT
mount -t tmpfs statebus-chroot "$base"
mount --make-shared "$base"
mkdir "$base/root"
mount --bind "$base" "$peer"
root="$base/root"

mkdir -m 1777 "$root/tmp"  # first: the trees below may live under /tmp
for dir in /usr /etc /dev /proc "$source_dir" "$build"; do
  [[ "$dir" == "$build" && "$build" == "$source_dir"/* ]] && continue  # inside the source tree
  mkdir -p "$root$dir"
  mount --rbind "$dir" "$root$dir"
done
for link in /bin /sbin /lib /lib32 /lib64 /libx32; do
  if [[ -L "$link" ]]; then cp -P "$link" "$root$link"; elif [[ -d "$link" ]]; then
    mkdir -p "$root$link"
    mount --rbind "$link" "$root$link"
  fi
done

mounts_before=$(findmnt -rn -o TARGET | sort)
if chroot "$root" /usr/bin/mountpoint -q /; then
  echo "chroot test: / is a mount point inside the chroot; the test would prove nothing" >&2
  exit 1
fi

if [[ $# -gt 0 ]]; then
  printf -v command ' %q' "$@"
  status=0
  chroot "$root" /bin/sh -c "cd '$source_dir' &&$command" || status=$?
  exit $status
fi

status=0
echo "== bus tests inside a chroot whose / is not a mount point (one process per test, as ctest runs them)"
filter='PrivateBus.*:SharedDaemon.*:NodeTest.*:ChannelTest.*:StateTest.FirstOpen*'
tests=$(chroot "$root" "$build/tests/bus_integration_test" --gtest_list_tests --gtest_filter="$filter" |
        awk '/^[^ ]/ { suite = $1 } /^  / { print suite $1 }')
for test in $tests; do
  if chroot "$root" /bin/sh -c "cd '$build' && exec tests/bus_integration_test --gtest_filter='$test'" \
       > "$base/test.out" 2>&1; then
    echo "passed  $test"
  else
    echo "FAILED  $test"
    cat "$base/test.out"
    status=1
  fi
  cat "$base/test.out" >> "$base/tests.out"
done
if [[ -x "$build/bench/pingpong_bench" ]]; then
  echo "== a benchmark smoke run inside the chroot"
  chroot "$root" /bin/sh -c "cd '$build' && exec bench/pingpong_bench --benchmark_filter=64B/poll" || status=1
else
  echo "== no benchmarks in this build (STATEBUS_BUILD_BENCH=OFF): no benchmark smoke run"
fi

mounts_after=$(findmnt -rn -o TARGET | sort)
if [[ "$mounts_before" != "$mounts_after" ]]; then
  echo "chroot test: mounts made inside the chroot appeared outside it:" >&2
  diff <(echo "$mounts_before") <(echo "$mounts_after") >&2 || true
  status=1
fi
if [[ $status -eq 0 ]]; then echo "chroot test: ok"; fi
exit $status
