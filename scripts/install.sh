#!/usr/bin/env bash
# Install everything medcodec and its test suite need, on a fresh Debian machine or an existing one.
#   system packages: independent decoders and PACS peers the tests use (GDCM, DCMTK, dicom3tools, Orthanc)
#   Python: uv, then every workspace member (core + plugins, Rust ones built by maturin) into .venv
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(orthanc dcmtk libgdcm-tools dicom3tools gcc)
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    # policy-rc.d: never let the orthanc package start a system-wide server; the tests start their own.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
      $sudo chmod +x /usr/sbin/policy-rc.d
      trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "warning: no apt-get; install ${packages[*]} yourself for the full test suite" >&2
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv sync --all-packages --all-extras
