"""PyTorch side of the model benchmark (`emotrace bench model` is the candle side).

    /path/to/venv/bin/python scripts/bench_model_torch.py [--batches 1 8] [--reps 3] [--threads 2]

Builds the reference fused model (scripts/reference_model.py) around a wav2vec2-base-sized backbone
(hidden 768, 12 layers, 12 heads, FFN 3072, conv 7 x 512, "group" norm, post-norm) with random
weights, and times forward passes of 10-s segments (160 000 samples, MFCC 1001 x 39) in eval mode
without gradients, after one warm-up pass. Prints seconds per segment for each batch size.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import FusedModel  # noqa: E402
from transformers import Wav2Vec2Config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=160000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                         feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False,
                         attn_implementation="eager")
    model = FusedModel(cfg, lstm_hidden=256, cross_heads=16, self_heads=8, fc_dim=512).eval()
    results = []
    for batch in args.batches:
        audio = torch.randn(batch, args.samples)
        pitch = torch.randn(batch, args.samples)
        mfcc = torch.randn(batch, 1001, 39)
        with torch.inference_mode():
            model(audio, pitch, mfcc)
            cpu_start = time.process_time()
            start = time.perf_counter()
            for _ in range(args.reps):
                model(audio, pitch, mfcc)
            per_batch = (time.perf_counter() - start) / args.reps
            cpu_per_segment = (time.process_time() - cpu_start) / (args.reps * batch)
        results.append({"batch": batch, "repetitions": args.reps, "seconds_per_batch": per_batch,
                        "seconds_per_segment": per_batch / batch, "cpu_seconds_per_segment": cpu_per_segment})
        print(f"torch {torch.__version__} threads {args.threads}: batch {batch}: "
              f"{per_batch / batch:.3f} s per segment ({per_batch:.3f} s per batch, {args.reps} reps); "
              f"CPU time {cpu_per_segment:.3f} s per segment", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
