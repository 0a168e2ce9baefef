#!/usr/bin/env bash
# Rebuilds models/speaker_encoder/nuisance.json, the directions removed from the built-in speaker
# encoder's embeddings before clustering (src/segmentation/encoder_nuisance.rs), from the same
# synthetic calls of the tuning speakers as the voiceprints (train_voiceprint.sh --nuisance).
# Usage: scripts/train_encoder_nuisance.sh [--bin PATH] [--out FILE]   (needs ../shared/data)
# Takes about 4 minutes on 2 cores (226 s, 170 MB peak RSS).
exec "$(dirname "$0")/train_voiceprint.sh" --nuisance "$@"
