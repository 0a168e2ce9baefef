#!/usr/bin/env bash
# Installs the system packages emotrace needs to build, run and test on Debian/Ubuntu.
# Idempotent: packages already present are left alone, and apt is not touched at all when
# nothing is missing. Called by the README's run and test commands.
set -euo pipefail

packages=(
  pkg-config            # -sys crates locate system libraries with it
  libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0   # the window (winit, X11)
  libgl1 libegl1 libgl1-mesa-dri                               # OpenGL; Mesa's software renderer where no GPU
  xvfb xauth            # a virtual display for the GUI tests and screenshots
  strace                # tests/no_network.rs watches every socket the program opens
  fonts-dejavu-core     # a fallback font for the GUI
  libasound2-dev        # audio output in the review window (cpal → ALSA); the window works without a device
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "emotrace setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "emotrace setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "emotrace setup: cargo (Rust toolchain) not found on PATH" >&2; exit 1; }
