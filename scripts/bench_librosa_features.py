#!/usr/bin/env python3
"""Times librosa 0.11's reference feature code against `emotrace bench features` on the same
45-minute signal, in the same run, and prints the ratio.

    python scripts/bench_librosa_features.py [--binary target/release/emotrace] [--minutes 45] [--repeat 5]

The Rust binary synthesises the signal and writes it as .npy (--write-signal); this script
loads that file, so both sides see identical samples. The reference code per 10-s window is
`reference_features` from scripts/gen_feature_fixtures.py (MFCC39 with deltas, piptrack pitch
track interpolated and normalised, normalised audio). librosa is warmed up (numba JIT) on one
window before timing. Both sides report their best: librosa of --repeat passes, Rust of a
bench before librosa and one after each librosa pass (best of 3 passes each), so that both see
the same machine over the same stretch of time.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_feature_fixtures import SEGMENT, reference_features  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    default_bin = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "emotrace")
    ap.add_argument("--binary", default=default_bin)
    ap.add_argument("--minutes", type=float, default=45.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    def run_rust(extra, repeat):
        cmd = [args.binary, "bench", "features", "--repeat", str(repeat)] + extra
        print("$", " ".join(cmd), f"   # load {os.getloadavg()}", flush=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(out.strip(), flush=True)
        return float(re.search(r"wall_s=([0-9.]+)", out).group(1))

    with tempfile.TemporaryDirectory() as tmp:
        sig_path = os.path.join(tmp, "signal.npy")
        rust_times = [run_rust(["--minutes", str(args.minutes), "--write-signal", sig_path], args.repeat)]
        y = np.load(sig_path)

        windows = [y[i:i + SEGMENT] for i in range(0, len(y), SEGMENT)]
        reference_features(windows[0])  # numba JIT warm-up
        times = []
        print(f"librosa reference on {len(windows)} windows   # load {os.getloadavg()}", flush=True)
        # The two sides alternate (a librosa pass, then a short Rust bench), so both take their
        # best over the same stretch of time: this machine's speed drifts by +-15% from minute
        # to minute, and a Rust sample taken only before and after librosa can miss the quiet
        # moments librosa's long passes catch.
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for w in windows:
                reference_features(w)
            times.append(time.perf_counter() - t0)
            print(f"librosa pass: {times[-1]:.3f} s", flush=True)
            rust_times.append(run_rust(["--input", sig_path], 3))
        py_s = min(times)
        print(f"librosa reference: best {py_s:.3f} s over {args.repeat} runs ({', '.join(f'{t:.2f}' for t in times)})")

    rust_s = min(rust_times)
    print(f"rust: best {rust_s:.3f} s over {len(rust_times)} bench runs; librosa: best {py_s:.3f} s; "
          f"speed-up {py_s / rust_s:.1f}x (load at end: {os.getloadavg()})")


if __name__ == "__main__":
    main()
