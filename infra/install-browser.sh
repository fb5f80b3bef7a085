#!/usr/bin/env bash
# Installs the headless browser the dashboard test drives (test/integration/dashboard*.test.ts):
# Debian's chromium, so nothing is downloaded outside the package registries. CI calls this; it does
# nothing when /usr/bin/chromium and the fonts (emoji in captions) are already there.
set -euo pipefail

if [[ -x /usr/bin/chromium && -d /usr/share/fonts/truetype/noto ]]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-browser: need root (or sudo) to apt-get install chromium" >&2; exit 1; }
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
