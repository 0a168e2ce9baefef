#!/usr/bin/env bash
# The default model's recipe, trained again without the speakers (or the corpus) it is then
# evaluated on: leave-one-speaker-out over the three Mandarin speakers, leave-one-corpus-out over
# every corpus, each held-out set scored clean and through the telephone line model; then the
# recipe on all training corpora (the shipped default). Every figure of the README's model card
# comes from the `emotrace eval` reports this writes (OUT/*.eval.json, *.eval.txt).
#
#   bash scripts/model_card_eval.sh OUT [loso|loco|default|ablation|stats|all]
#
# The stats stage (not part of all; run it after the others) adds the statistics head to every
# bundle already in OUT (loso-*, loco-*, default): `train --init OUT/NAME --epochs 0 --stats-head`
# keeps the fused head as trained and fits only the statistics head and the stacking on the
# same training clips and validation speakers (cached states: minutes), into OUT/NAME-stats, then
# evaluates it on the same held-out set as the bundle it came from. STATS_CENTRING=1 fits the
# per-call-centred statistics head instead (--stats-centring), into OUT/NAME-cstats: each held-out
# speaker's clips are then scored as one call. STATS_ALONE=1 weights the fused head's logit 0
# (--stats-alone; OUT/NAME-astats, or -acstats with centring). STATS_CORPUS_FIT=1 fits the
# weights on summaries centred on each training corpus's mean (--stats-corpus-centred-fit;
# OUT/NAME-kstats), scores stay absolute. STATS_SPEAKER_BALANCED=1 weighs every training speaker
# alike and each class half within it (--stats-speaker-balanced; OUT/NAME-bstats), scores absolute.
#
# LOSO_SPEAKERS / LOCO_CORPORA restrict those stages (space-separated). The ablation stage
# (not part of all) compares the branches and baselines on one held-out set under a short
# schedule (no augmented copies, 4 epochs): casia/liuchanhg plus the validation speakers, never
# trained on; each run's figures are its last epoch's, measured by the trainer on those clips.
#
# Needs ../shared/data (or $EMOTRACE_SHARED_DATA), the imported Whisper bundle from
# scripts/fetch_whisper.sh ($WHISPER_BUNDLE, default models/whisper-base-untrained), and a
# release build. Prepared clips are cached in $FEATURE_CACHE (default OUT/feature-cache) and
# shared by all runs: the first run computes the encoder outputs (about 30 min on 2 cores),
# later runs train the head only (about 10 min each).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: model_card_eval.sh OUT [loso|loco|default|ablation|stats|all]}
WHAT=${2:-all}
D=${EMOTRACE_SHARED_DATA:-../shared/data}
[ -d "$D/casia" ] || D=/work/shared/data
INIT=${WHISPER_BUNDLE:-models/whisper-base-untrained}
BIN=${EMOTRACE_BIN:-${CARGO_TARGET_DIR:-target}/release/emotrace}
CACHE=${FEATURE_CACHE:-$OUT/feature-cache}
mkdir -p "$OUT"
# ASED (Amharic) is evaluation-only: its sentences give the emotion away (SOURCE.md) and it has no
# licence terms; the other five corpora train.
CORPORA=(casia emodb ravdess turev-db nemo)
manifests() { local skip=${1:-}; for c in "${CORPORA[@]}"; do [ "$c" = "$skip" ] || echo "$D/$c/manifest.csv"; done; }
# Validation speakers (best epoch and calibration): two to four per corpus, never Mandarin (three
# speakers only), minus the held-out corpus.
VAL_ALL=(emodb/03 emodb/08 ravdess/Actor_01 ravdess/Actor_02 ravdess/Actor_03 ravdess/Actor_04 turev-db/1157 nemo/EB0 nemo/KS0)
val_without() { local skip=${1:-}; local out=(); for s in "${VAL_ALL[@]}"; do [ "${s%%/*}" = "$skip" ] || out+=("$s"); done; (IFS=,; echo "${out[*]}"); }
# A fixed schedule (the last epoch is kept): validation speakers only calibrate. PER_CALL_CENTRING=1
# trains the per-call-centred variant.
RECIPE=(--augment-copies ${COPIES:-1} --epochs ${EPOCHS:-8} --batch 32 --lr 1e-3 --dropout 0.3 --warmup-epochs 1 --cosine
        --freeze-pitch-encoder --length-grid 0.25 --select-by last --feature-cache "$CACHE")
[ "${PER_CALL_CENTRING:-0}" = 1 ] && RECIPE+=(--per-call-centring)
# SGD_SPEAKER_BALANCED=1 weighs every training speaker alike, each class half within it, in the
# fused head's loss too (--speaker-balanced; give such runs their own OUT).
[ "${SGD_SPEAKER_BALANCED:-0}" = 1 ] && RECIPE+=(--speaker-balanced)

train() { # name, exclude (speaker list or ""), skip corpus (or ""), then extra args
  local name=$1 exclude=$2 skip=$3; shift 3
  local args=(--init "$INIT" --data $(manifests "$skip") --val-speakers "$(val_without "$skip")" "${RECIPE[@]}" --out "$OUT/$name" --force "$@")
  [ -n "$exclude" ] && args+=(--exclude-speakers "$exclude")
  echo "== train $name ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/time -f "train $name: %e s wall, %M KB peak" "$BIN" train "${args[@]}" 2>&1 | grep --line-buffered -v " step " | tee "$OUT/$name.train.log"
}
evaluate() { # name, label, then eval args
  local name=$1 label=$2; shift 2
  for line in clean telephony; do
    local extra=(); [ "$line" = telephony ] && extra=(--telephony)
    "$BIN" eval --model "$OUT/$name" "$@" "${extra[@]}" --json > "$OUT/$label.$line.eval.json"
    "$BIN" eval --model "$OUT/$name" "$@" "${extra[@]}" --reliability "$OUT/$label.$line.reliability.png" > "$OUT/$label.$line.eval.txt" 2>/dev/null
    head -4 "$OUT/$label.$line.eval.txt"
  done
}

if [ "$WHAT" = loso ] || [ "$WHAT" = all ]; then
  for s in ${LOSO_SPEAKERS:-liuchanhg wangzhe ZhaoZuoxiang}; do
    train "loso-$s" "casia/$s" ""
    evaluate "loso-$s" "loso-$s" --data "$D/casia/manifest.csv" --speakers "casia/$s"
  done
fi
if [ "$WHAT" = loco ] || [ "$WHAT" = all ]; then
  for c in ${LOCO_CORPORA:-${CORPORA[@]}}; do
    train "loco-$c" "" "$c"
    evaluate "loco-$c" "loco-$c" --data "$D/$c/manifest.csv"
  done
fi
if [ "$WHAT" = default ] || [ "$WHAT" = all ]; then
  # The training corpora's terms, recorded in the bundle's meta.json (each corpus's SOURCE.md).
  train default "" "" --name emotrace-default-whisper-base-v2 \
    --licence "training data: CASIA Chinese emotional speech (subset; the full corpus is licensed by CASIA / Chinese-LDC for research)" \
    --licence "training data: EmoDB (Burkhardt et al. 2005, TU Berlin): free for research" \
    --licence "training data: RAVDESS (Livingstone & Russo 2018): CC BY-NC-SA 4.0" \
    --licence "training data: TurEV-DB (Canpolat et al. 2020): CC BY-NC-ND 4.0" \
    --licence "training data: nEMO (Christop 2024): CC BY-NC-SA 4.0" \
    --licence "use: the training data allow research and non-commercial use only"
  # Amharic was never trained on: the default model's leave-one-corpus-out figure for ASED.
  evaluate default "loco-ased" --data "$D/ased/manifest.csv"
fi
if [ "$WHAT" = ablation ]; then
  HELD_OUT="casia/liuchanhg,$(val_without "")"
  for i in "${!RECIPE[@]}"; do
    case "${RECIPE[$i]}" in --augment-copies) RECIPE[$((i + 1))]=0 ;; --epochs) RECIPE[$((i + 1))]=4 ;; esac
  done
  ablate() { # name, then extra args; the held-out speakers are the validation set, never trained on
    local name=$1; shift
    echo "== ablation $name ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/time -f "ablation $name: %e s wall, %M KB peak" "$BIN" train --init "$INIT" --data $(manifests "") \
      --val-speakers "$HELD_OUT" "${RECIPE[@]}" --out "$OUT/ablation-$name" --force "$@" 2>&1 \
      | grep --line-buffered -v " step " | tee "$OUT/ablation-$name.train.log"
  }
  ablate fused
  ablate encoder-linear --branches encoder-linear
  ablate audio-only --branches audio-only
  ablate no-attention --branches no-attention
  ablate centred --per-call-centring
  ablate mfcc-only --branches mfcc-only
  ablate pitch-only --branches pitch-only
fi
if [ "$WHAT" = stats ]; then
  # A fold's data are its bundle's: the same exclusions, corpora and validation speakers.
  SUFFIX=stats; STATS_ARGS=(--stats-head --stats-l2 "${STATS_L2:-0.5}")
  [ "${STATS_CENTRING:-0}" = 1 ] && { SUFFIX=cstats; STATS_ARGS+=(--stats-centring); }
  [ "${STATS_ALONE:-0}" = 1 ] && { SUFFIX=a$SUFFIX; STATS_ARGS+=(--stats-alone); }
  [ "${STATS_CORPUS_FIT:-0}" = 1 ] && { SUFFIX=k$SUFFIX; STATS_ARGS+=(--stats-corpus-centred-fit); }
  [ "${STATS_SPEAKER_BALANCED:-0}" = 1 ] && { SUFFIX=b$SUFFIX; STATS_ARGS+=(--stats-speaker-balanced); }
  add_stats() { # name, exclude, skip corpus, then extra args
    local name=$1 exclude=$2 skip=$3; shift 3
    [ -f "$OUT/$name/meta.json" ] || { echo "skip $name: no $OUT/$name (run its stage first)"; return; }
    local saved=$INIT; INIT="$OUT/$name"
    RECIPE_SAVED=("${RECIPE[@]}")
    for i in "${!RECIPE[@]}"; do [ "${RECIPE[$i]}" = --epochs ] && RECIPE[$((i + 1))]=0; done
    train "$name-$SUFFIX" "$exclude" "$skip" "${STATS_ARGS[@]}" "$@"
    RECIPE=("${RECIPE_SAVED[@]}"); INIT=$saved
  }
  for s in ${LOSO_SPEAKERS:-liuchanhg wangzhe ZhaoZuoxiang}; do
    add_stats "loso-$s" "casia/$s" "" && [ -d "$OUT/loso-$s-$SUFFIX" ] && evaluate "loso-$s-$SUFFIX" "loso-$s-$SUFFIX" --data "$D/casia/manifest.csv" --speakers "casia/$s"
  done
  for c in ${LOCO_CORPORA:-${CORPORA[@]}}; do
    add_stats "loco-$c" "" "$c" && [ -d "$OUT/loco-$c-$SUFFIX" ] && evaluate "loco-$c-$SUFFIX" "loco-$c-$SUFFIX" --data "$D/$c/manifest.csv"
  done
  # The shipped default: v2's fused head plus the statistics head (v4: speaker-balanced).
  DEFAULT_NAME=${DEFAULT_NAME:-emotrace-default-whisper-base-$([ "${STATS_SPEAKER_BALANCED:-0}" = 1 ] && echo v4 || echo v3)}
  add_stats default "" "" --name "$DEFAULT_NAME" && [ -d "$OUT/default-$SUFFIX" ] && evaluate "default-$SUFFIX" "loco-ased-$SUFFIX" --data "$D/ased/manifest.csv"
fi
