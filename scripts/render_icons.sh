#!/usr/bin/env bash
# Renders assets/icons/emotrace.svg to the hicolor PNG sizes the package installs
# (assets/icons/hicolor/NxN/apps/emotrace.png) and the window uses (256x256, embedded by
# src/assets.rs). Needs rsvg-convert (Debian: librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "rsvg-convert missing: apt-get install librsvg2-bin" >&2; exit 1; }
for size in 16 22 24 32 48 64 128 256 512; do
  dir="assets/icons/hicolor/${size}x${size}/apps"
  mkdir -p "$dir"
  rsvg-convert --width "$size" --height "$size" assets/icons/emotrace.svg --output "$dir/emotrace.png"
done
ls -l assets/icons/hicolor/*/apps/emotrace.png
