#!/usr/bin/env python3
"""What a pretrained speaker encoder would give the mono diarizer (issue 5), measured by hand.

For every call saved by `scripts/diarization_eval.sh --out DIR` (CALL.wav + CALL.truth.csv), this
takes emotrace's own utterances (`emotrace segment --caller all`, so the VAD is the product's),
cuts each into equal pieces of at most 2 s (as the diarizer does), embeds every piece with
Resemblyzer's GE2E speaker encoder (PyPI `resemblyzer`, Apache-2.0, which ships its pretrained
weights inside the wheel; no network), splits the pieces in two by 2-means, calls the speaker with
more speech the caller, and scores the result with `emotrace eval-segments`. It prints the DER per
call and the mean, to compare with the product's figures on the same calls. (The product now does
this itself once the encoder is imported: `emotrace import-speaker-encoder`; this script stays as
the independent reference: Python, librosa resampling, scikit-learn's k-means.)

Usage:
    python scripts/speaker_encoder_baseline.py DIR [DIR ...] [--bin target/release/emotrace]

Needs (a developer venv, never CI): pip install resemblyzer "setuptools<70" soundfile librosa
scikit-learn (resemblyzer's webrtcvad import needs pkg_resources). 8-kHz calls are resampled to
16 kHz for the encoder; pieces are embedded as Resemblyzer's `embed_utterance` does (1.6-s
partials, rate 1.3, coverage 0.75), without its volume normalisation or silence trimming.
"""
import argparse
import csv
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

PIECE_S = 2.0
SR = 16000


def pieces_of(utterances):
    out = []
    for a, b in utterances:
        n = max(1, math.ceil((b - a) / PIECE_S))
        out.extend((a + (b - a) * k / n, a + (b - a) * (k + 1) / n) for k in range(n))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "emotrace"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import librosa
    import soundfile as sf
    from resemblyzer import VoiceEncoder
    from sklearn.cluster import KMeans

    encoder = VoiceEncoder("cpu", verbose=False)
    ders = []
    with tempfile.TemporaryDirectory() as tmp:
        utt_csv, seg_csv = os.path.join(tmp, "utterances.csv"), os.path.join(tmp, "segments.csv")
        for d in args.dirs:
            for wav in sorted(glob.glob(os.path.join(d, "*.wav"))):
                truth = wav[:-4] + ".truth.csv"
                if not os.path.exists(truth):
                    continue
                subprocess.run([args.bin, "segment", wav, "--caller", "all", "--out", utt_csv], check=True, capture_output=True)
                with open(utt_csv) as f:
                    utterances = [(float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(f)]
                pieces = pieces_of(utterances)
                if len(pieces) < 2:
                    print(f"{os.path.basename(wav)}: fewer than two pieces, skipped")
                    continue
                y, sr = sf.read(wav, dtype="float32")
                if y.ndim > 1:
                    y = y.mean(axis=1)
                if sr != SR:
                    y = librosa.resample(y, orig_sr=sr, target_sr=SR)
                emb = np.array([encoder.embed_utterance(y[int(a * SR):int(b * SR)]) for a, b in pieces])
                labels = KMeans(2, n_init=10, random_state=0).fit_predict(emb)
                dur = np.array([b - a for a, b in pieces])
                caller = int(dur[labels == 1].sum() > dur[labels == 0].sum())
                with open(seg_csv, "w") as f:
                    f.write("index,start_s,end_s,channel,speaker,is_caller,overlap\n")
                    for i, ((a, b), l) in enumerate(zip(pieces, labels)):
                        f.write(f"{i},{a:.3f},{b:.3f},0,{'AB'[l]},{int(l == caller)},0\n")
                result = subprocess.run([args.bin, "eval-segments", truth, seg_csv, "--json"], check=True, capture_output=True)
                dia = json.loads(result.stdout)["diarization"]
                ders.append(100 * dia["der"])
                print(f"{os.path.basename(wav)[:-4]:40s} DER {100 * dia['der']:5.1f}  missed {100 * dia['missed']:4.1f}"
                      f"  confusion {100 * dia['confusion']:4.1f}", flush=True)
    if not ders:
        print("no calls found", file=sys.stderr)
        return 1
    print(f"mean DER {np.mean(ders):.1f}% over {len(ders)} calls; {sum(d > 20 for d in ders)} above 20%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
