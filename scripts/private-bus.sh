#!/usr/bin/env bash
# Runs a command on a bus of its own: a private /tmp and /dev/shm (user and
# mount namespaces, or a mount namespace alone as root), as the test kit's
# isolate_bus() does for tests. The entries of the old /tmp that hold the
# command, the working directory or the paths in STATEBUS_KEEP (separated by
# ':') stay visible, so a build tree under /tmp works too.
#   scripts/private-bus.sh COMMAND [ARGS...]
# Exit code 3 when no namespace can be made here.
set -euo pipefail
if [[ "${1:-}" != --inside ]]; then
  private=(unshare --user --map-root-user --mount)
  "${private[@]}" true 2>/dev/null || private=(unshare --mount)
  if ! "${private[@]}" true 2>/dev/null; then
    echo "private-bus: no namespace can be made here (neither unshare -rm nor unshare -m)" >&2
    exit 3
  fi
  exec "${private[@]}" "$0" --inside "$@"
fi
shift
keep=()
command_path=$(command -v "$1" || true)
keep_paths=${STATEBUS_KEEP:-}
for path in "$(readlink -f "$command_path" 2>/dev/null || true)" "$PWD" ${keep_paths//:/ }; do
  case "$path" in /tmp/?*) rest=${path#/tmp/}; keep+=("${rest%%/*}") ;; esac
done
here=$PWD
exec 9</tmp  # the old /tmp, reachable as /proc/self/fd/9 once covered
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
for entry in ${keep[@]+"${keep[@]}"}; do
  [[ -d "/tmp/$entry" ]] && continue
  mkdir -p "/tmp/$entry"
  mount --no-canonicalize --bind "/proc/self/fd/9/$entry" "/tmp/$entry"  # not resolved to /tmp/… again
done
exec 9<&-
cd "$here"
exec "$@"
