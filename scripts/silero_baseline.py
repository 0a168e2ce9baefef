#!/usr/bin/env python3
"""Silero VAD baseline for `emotrace eval-segments`.

Runs Silero VAD (PyPI `silero-vad`, which ships its model; no network) on one channel of a call
and writes a segments CSV in emotrace's format, every segment marked as the caller's, so that
    emotrace eval-segments truth.csv silero_segments.csv
compares it with `emotrace segment` on the same call.

Usage:
    python scripts/silero_baseline.py CALL.wav --channel right --out silero_segments.csv
    (--channel left|right|mix; default: the truth CSV's caller channel when --truth is given)

Needs: pip install silero-vad soundfile numpy (torch comes with silero-vad).
Audio at 8 or 16 kHz is passed as is (Silero supports both); other rates are resampled to 16 kHz.
Silero's defaults are used (threshold 0.5, min speech 250 ms, min silence 100 ms, pad 30 ms).
"""
import argparse
import csv
import os
import sys
import tempfile

import numpy as np
import soundfile as sf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio")
    ap.add_argument("--out", required=True)
    ap.add_argument("--channel", choices=["left", "right", "mix"])
    ap.add_argument("--truth", help="truth CSV of make-call: picks the caller's channel")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--min-silence-ms", type=int, default=100, help="Silero's min_silence_duration_ms")
    args = ap.parse_args()

    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    torch.set_num_threads(1)
    x, sr = sf.read(args.audio, dtype="float32", always_2d=True)
    channel = args.channel
    if channel is None and args.truth:
        with open(args.truth, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["speaker"] == "caller"]
        channel = "right" if rows and rows[0].get("channel") == "1" else "left"
    if channel is None:
        channel = "mix"
    if x.shape[1] == 1 or channel == "mix":
        y = x.mean(axis=1)
        ch_index = 0
    else:
        ch_index = 0 if channel == "left" else 1
        y = x[:, ch_index]
    if sr not in (8000, 16000):
        n_out = int(round(len(y) * 16000 / sr))
        y = np.interp(np.linspace(0, len(y) - 1, n_out), np.arange(len(y)), y).astype(np.float32)
        sr = 16000
    model = load_silero_vad()
    stamps = get_speech_timestamps(torch.from_numpy(y), model, sampling_rate=sr, threshold=args.threshold,
                                    min_silence_duration_ms=args.min_silence_ms)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".silero", suffix=".csv")
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "start_s", "end_s", "channel", "speaker", "is_caller", "overlap"])
        for i, s in enumerate(stamps):
            w.writerow([i, f"{s['start'] / sr:.3f}", f"{s['end'] / sr:.3f}", ch_index, "silero", 1, 0])
    os.replace(tmp, args.out)
    print(f"{args.audio}: {len(stamps)} Silero segments on channel {channel} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
