#!/usr/bin/env bash
# Installs what floresta needs and this machine lacks: Debian packages, then the project
# virtual environment (.venv) from the pinned requirement files. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ make libeigen3-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
          pkg-config libcpp-httplib-dev chromium chromium-driver wrk libhiredis-dev libsimdjson-dev redis-server)
command -v python3 >/dev/null || packages+=(python3 python3-venv python3-dev)
command -v java >/dev/null || packages+=(default-jre-headless)  # Spark (the bank application's jobs)
command -v clang++ >/dev/null || packages+=(clang)  # libFuzzer (tests/fuzz, scripts/fuzz.sh)
scripts/apt_install.sh "${packages[@]}"
# qemu-user runs the C++ suite on a CPU model without AVX (tests/cpp/CMakeLists.txt); no
# recommends: qemu-user-binfmt is not needed.
command -v qemu-x86_64 >/dev/null || scripts/apt_install.sh --no-install-recommends qemu-user

stamp=.venv/.requirements
wanted=$(cat requirements-build.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setting up .venv from requirements-dev.txt"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi
