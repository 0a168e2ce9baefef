#!/usr/bin/env bash
# Builds the demo call shipped with emotrace (assets/demo/): a 4-minute two-party stereo telephone
# call from nEMO (Polish acted emotional speech, CC BY-NC-SA 4.0; see assets/demo/LICENSE), made
# with `emotrace make-call`, whose caller moves from distress (sadness, fear, anger) to calm and
# relief, and its true labels.
#
# The caller (EB0) and the operator (KS0) are validation speakers of the default model: the model
# never trained on their voices (early stopping and calibration saw them; see docs/model-card.md).
#
# Usage: scripts/make_demo_call.sh [SEED]   (needs the corpora in ../shared/data or
# $EMOTRACE_SHARED_DATA, a release build, and a Python with numpy + soundfile for the μ-law
# encoding: $PYTHON, default /work/venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-3}"
python="${PYTHON:-/work/venv/bin/python}"
out=assets/demo
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cargo build --release --quiet --bin emotrace
bin="${CARGO_TARGET_DIR:-target}/release/emotrace"

"$bin" make-call --corpus nemo --caller-speaker EB0 --operator-speaker KS0 \
  --minutes 4 --seed "$seed" --snr 22 --telephony --caller-channel right \
  --overlap-probability 0.05 \
  --caller-arc "sadness,fear;anger,sadness,fear;sadness,neutral;neutral,happiness" \
  --out "$tmp/call.wav" --truth "$out/demo-call-truth.csv"

# 8-kHz 16-bit PCM from make-call (already through a μ-law round trip) -> 8-bit μ-law WAV: half
# the size and no further loss, since every sample already sits on the μ-law grid.
"$python" - "$tmp/call.wav" "$out/demo-call.wav" <<'PY'
import sys
import soundfile as sf
audio, rate = sf.read(sys.argv[1], dtype="float32", always_2d=True)
assert rate == 8000 and audio.shape[1] == 2, (rate, audio.shape)
sf.write(sys.argv[2], audio, rate, subtype="ULAW", format="WAV")
PY
ls -l "$out"
