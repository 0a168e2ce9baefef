#!/usr/bin/env bash
# Builds the Debian package dist/emotrace_<version>_amd64.deb with cargo-deb:
#   the release binary (default model, speaker encoder and demo call inside it), the desktop
#   entry, icons, AppStream metainfo, man pages and shell completions generated from the clap
#   definitions (`emotrace generate-assets`), and /usr/share/doc/emotrace/copyright generated
#   from the dependency graph by cargo-about plus the bundled non-crate parts.
# Then checks the result with desktop-file-validate, appstreamcli and lintian.
# Installs what it needs when missing: cargo-deb and cargo-about (`cargo install --locked`,
# which compiles for several minutes the first time) and the apt tools (as root or with sudo).
# Respects CARGO_TARGET_DIR. Usage: bash packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# --- tools -------------------------------------------------------------------------------------
apt_tools=(lintian desktop-file-utils appstream python3 gzip)
missing=()
for package in "${apt_tools[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "build-deb: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash packaging/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo deb --version >/dev/null 2>&1 || nice cargo install --locked cargo-deb
cargo about --version >/dev/null 2>&1 || nice cargo install --locked --features cli cargo-about

# --- build and generated files -----------------------------------------------------------------
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --locked --bin emotrace
bin="$target/release/emotrace"
gen="$root/dist/generated"
rm -rf "$gen"
mkdir -p "$gen"
"$bin" generate-assets --out "$gen" >/dev/null
gzip -9n "$gen"/man/*.1

# The copyright file: emotrace's own licence, the non-crate parts bundled in the binary, then
# every crate licence from the dependency graph.
crates="$gen/crates-licences.txt"
cargo about generate --locked --offline --fail -c packaging/about.toml packaging/about.hbs -o "$crates"
{
  cat <<'TXT'
emotrace
========
Copyright 2026 emotrace developers.
Licence: MIT OR Apache-2.0, at your option. The Apache License 2.0 is in
/usr/share/common-licenses/Apache-2.0; the MIT licence follows.

  Permission is hereby granted, free of charge, to any person obtaining a copy of this software
  and associated documentation files (the "Software"), to deal in the Software without
  restriction, including without limitation the rights to use, copy, modify, merge, publish,
  distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
  Software is furnished to do so, subject to the following conditions:

  The above copyright notice and this permission notice shall be included in all copies or
  substantial portions of the Software.

  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
  BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
  NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
  DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
  OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

The application icon (usr/share/icons/hicolor/*/apps/emotrace.*) was drawn for emotrace and is
under the same licence.

Bundled inside /usr/bin/emotrace, each under its own licence
=============================================================

TXT
  echo "1. The built-in speech-emotion model (models/default)"
  echo "-----------------------------------------------------"
  python3 - models/default/meta.json <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
print(f"Model {meta['name']}; licences of its weights and training data:")
for line in meta.get("licences", []):
    print(f"  - {line}")
PY
  echo
  echo "Whisper encoder weights (models/default/LICENSE-whisper):"
  cat models/default/LICENSE-whisper
  echo
  echo "2. The built-in speaker encoder: CAM++ by 3D-Speaker (models/speaker_encoder)"
  echo "-----------------------------------------------------------------------------"
  sed -n '/^- \*\*Weights/,/^- \*\*Changes/p' models/speaker_encoder/README.md
  echo "Apache License 2.0: /usr/share/common-licenses/Apache-2.0 (models/speaker_encoder/LICENSE)."
  echo
  echo "3. Font: Noto Sans CJK SC subset (assets/fonts), SIL Open Font License 1.1"
  echo "--------------------------------------------------------------------------"
  cat assets/fonts/LICENSE-OFL-1.1.txt
  echo
  echo "4. The demo call (assets/demo): nEMO speech, CC BY-NC-SA 4.0"
  echo "-------------------------------------------------------------"
  cat assets/demo/LICENSE
  echo
  echo "5. Rust crates"
  echo "--------------"
  cat "$crates"
} > "$gen/copyright"

# --- package -----------------------------------------------------------------------------------
mkdir -p dist
version="$(cargo metadata --no-deps --format-version 1 --locked | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="emotrace"))')"
deb="dist/emotrace_${version}_amd64.deb"
rm -f "$deb"
cargo deb --no-build --locked --output "$deb"
ls -l "$deb"

# --- checks ------------------------------------------------------------------------------------
desktop-file-validate packaging/org.emotrace.emotrace.desktop
# --no-net: the screenshot URLs are not fetched (this machine may be offline).
appstreamcli validate --no-net packaging/org.emotrace.emotrace.metainfo.xml
echo "lintian (fails on errors; warnings are listed in docs/packaging.md with why):"
lintian --info --fail-on error "$deb"
echo "built $deb"
