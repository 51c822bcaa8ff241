#!/usr/bin/env bash
# Runs a command where no namespace can be made, as in a Docker container
# whose default seccomp profile refuses unshare: inside a user namespace of
# its own whose limits on new user and mount namespaces are 0 (the limits are
# per user namespace, so the machine is not touched). The bus tests then
# share this machine's /tmp and /dev/shm, one at a time.
#   scripts/no-namespaces.sh ctest --preset release -j1
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: scripts/no-namespaces.sh COMMAND [ARG...]" >&2
  exit 2
fi
exec unshare --user --map-root-user sh -c \
  'echo 0 > /proc/sys/user/max_user_namespaces && echo 0 > /proc/sys/user/max_mnt_namespaces && exec "$@"' \
  no-namespaces "$@"
