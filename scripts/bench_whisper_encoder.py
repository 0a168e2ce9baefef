"""Whisper encoder speed: emotrace's candle encoder beside transformers (PyTorch) and CTranslate2,
on the same clip lengths, in one run (run by hand on a quiet machine):

    /path/to/venv/bin/python scripts/bench_whisper_encoder.py CT2_DIR BUNDLE [--seconds 2 5 10] [--reps 5] [--threads 2]

CT2_DIR: the CTranslate2 folder (scripts/fetch_whisper.sh); BUNDLE: an emotrace bundle with that
encoder (e.g. models/default). Each engine runs one clip at a time at clip length (the positional
embedding narrowed, as emotrace does); CTranslate2, whose Whisper encoder only takes 30-s windows,
is timed on the 30-s window it needs (what faster-whisper does) and, for reference, its time is
also given per clip. For every length the three are interleaved rep by rep and the best of
`--reps` is kept, so all three sample the same stretch of time. Prints the machine's load first.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_whisper_base_fixture import encoder_state_dict, read_ct2  # noqa: E402
from reference_model import whisper_hidden_states  # noqa: E402
from transformers import WhisperConfig  # noqa: E402
from transformers.models.whisper.modeling_whisper import WhisperEncoder  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ct2_dir")
    ap.add_argument("bundle")
    ap.add_argument("--seconds", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--emotrace", default=os.environ.get("EMOTRACE_BIN", "target/release/emotrace"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"load average {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} cores, torch {torch.__version__}, threads {a.threads}")
    v = read_ct2(os.path.join(a.ct2_dir, "model.bin"))
    sd, layers = encoder_state_dict(v)
    cfg = WhisperConfig(d_model=sd["conv1.weight"].shape[0], encoder_layers=layers,
                        encoder_attention_heads=int(v["encoder/num_heads"]), encoder_ffn_dim=sd["layers.0.fc1.weight"].shape[0],
                        num_mel_bins=80, max_source_positions=1500)
    enc = WhisperEncoder(cfg).eval()
    enc.load_state_dict(sd, strict=False)
    import ctranslate2
    ct = ctranslate2.models.Whisper(a.ct2_dir, device="cpu", compute_type="float32", intra_threads=a.threads)
    window = ctranslate2.StorageView.from_array(np.random.default_rng(0).standard_normal((1, 80, 3000)).astype(np.float32) * 0.5)
    rows = []
    for secs in a.seconds:
        frames = int(secs * 100)
        mel = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 80, frames)).astype(np.float32) * 0.5)
        best = {"torch": 1e9, "ct2_30s": 1e9, "candle": 1e9}
        for _ in range(a.reps):
            t = time.perf_counter()
            with torch.no_grad():
                whisper_hidden_states(enc, mel)
            best["torch"] = min(best["torch"], time.perf_counter() - t)
            t = time.perf_counter()
            ct.encode(window, to_cpu=True)
            best["ct2_30s"] = min(best["ct2_30s"], time.perf_counter() - t)
            out = subprocess.run([a.emotrace, "bench", "model", "--model", a.bundle, "--encoder-only", "--batches", "1",
                                  "--reps", "3", "--samples", str(frames * 160), "--json"], capture_output=True, text=True, check=True)
            best["candle"] = min(best["candle"], json.loads(out.stdout)[0]["seconds_per_segment"])
        rows.append((secs, best))
        print(f"{secs:5.1f} s clip: candle {best['candle']:.4f} s | transformers {best['torch']:.4f} s | "
              f"CTranslate2 (30-s window) {best['ct2_30s']:.4f} s | candle / transformers {best['candle'] / best['torch']:.2f}x", flush=True)
    print(f"load average after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
