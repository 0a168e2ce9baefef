#!/usr/bin/env bash
# Rebuilds models/diarization/voiceprint.json, the projection the mono diarizer clusters pieces
# in (src/segmentation/voiceprint.rs), from synthetic calls of the labelled corpora. The
# held-out speakers are those of scripts/diarization_eval.sh (--set heldout / heldout2), so the
# figures that script reports stay on voices the projection never saw.
# Usage: scripts/train_voiceprint.sh [--bin PATH] [--out FILE] [--nuisance]   (needs ../shared/data)
# Takes about 40 s on 2 cores. With --nuisance it rebuilds models/speaker_encoder/nuisance.json
# instead (emotrace train-encoder-nuisance on the same calls; about 4 minutes).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${EMOTRACE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/emotrace}"
OUT=""
COMMAND=train-voiceprint
DEFAULT_OUT="$ROOT/models/diarization/voiceprint.json"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --nuisance) COMMAND=train-encoder-nuisance; DEFAULT_OUT="$ROOT/models/speaker_encoder/nuisance.json"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$BIN" ]] || { echo "no emotrace binary at $BIN (cargo build --release, or --bin)" >&2; exit 2; }
HOLD_OUT="emodb:12,emodb:13,emodb:14,emodb:15,emodb:16,turev-db:1984,turev-db:6783,turev-db:7895"
for a in $(seq 13 24); do HOLD_OUT="$HOLD_OUT,ravdess:Actor_$a"; done
"$BIN" "$COMMAND" --out "${OUT:-$DEFAULT_OUT}" --hold-out "$HOLD_OUT" --calls-per-speaker 6 --minutes 3 --seed 1
