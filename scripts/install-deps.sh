#!/usr/bin/env bash
# Installs the Debian packages grape builds with, if any are missing. Idempotent and quiet when
# everything is already there. Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libcli11-dev libboost-dev libboost-system-dev libcereal-dev librapidcheck-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev nlohmann-json3-dev libxxhash-dev libbenchmark-dev
  libssl-dev  # the peer handshake: HMAC-SHA256 (OpenSSL libcrypto)
  libspdlog-dev  # node logs
  time jq  # make mutants: peak memory of each run, sweep results in JSON
  curl  # the integration tests call the HTTP API directly
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
