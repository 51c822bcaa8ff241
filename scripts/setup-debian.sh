#!/usr/bin/env bash
# Installs what statebus needs to build and test on Debian 12, skipping what is there.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config util-linux
  iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev libacl1-dev
  libspdlog-dev libfmt-dev libexpected-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev zlib1g-dev libcpp-httplib-dev gcovr gnuplot-nox
  clang libclang-rt-14-dev clang-format clang-tidy
  nodejs chromium
  libmosquitto-dev mosquitto mosquitto-clients openssl
  # The Python module and its pytest plugin (python/), for Debian's /usr/bin/python3;
  # numpy and pyzmq for its tests and benchmark.
  python3 python3-dev pybind11-dev python3-pybind11 python3-pytest python3-pytest-xdist python3-pytest-timeout
  python3-pytest-forked python3-numpy python3-zmq
  # The libraries the benchmark report compares statebus with (bench/peers_bench.cpp).
  libzmq3-dev cppzmq-dev libnng-dev liblcm-dev cyclonedds-dev cyclonedds-tools
)
# npm ships inside some Node.js builds; Debian packages it separately.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "statebus setup: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

"$(dirname "${BASH_SOURCE[0]}")/setup-npm.sh"
