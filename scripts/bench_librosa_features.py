#!/usr/bin/env python3
"""Times librosa 0.11's reference feature code against `emotrace bench features` on the same
45-minute signal, in the same run, and prints the ratio.

    python scripts/bench_librosa_features.py [--binary target/release/emotrace] [--minutes 45] [--repeat 5]

The Rust binary synthesises the signal and writes it as .npy (--write-signal); this script
loads that file, so both sides see identical samples. The reference code per 10-s window is
`reference_features` from scripts/gen_feature_fixtures.py (MFCC39 with deltas, piptrack pitch
track interpolated and normalised, normalised audio). librosa is warmed up (numba JIT) on one
window before timing. Both sides report their best of --repeat runs; the Rust bench runs
before and after librosa so that both see similar machine load.
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

    def run_rust(extra):
        cmd = [args.binary, "bench", "features", "--repeat", str(args.repeat)] + extra
        print("$", " ".join(cmd), f"   # load {os.getloadavg()}", flush=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(out.strip(), flush=True)
        return float(re.search(r"wall_s=([0-9.]+)", out).group(1))

    with tempfile.TemporaryDirectory() as tmp:
        sig_path = os.path.join(tmp, "signal.npy")
        # Rust before and after librosa (same signal file), so both see similar machine load.
        rust_times = [run_rust(["--minutes", str(args.minutes), "--write-signal", sig_path])]
        y = np.load(sig_path)

        windows = [y[i:i + SEGMENT] for i in range(0, len(y), SEGMENT)]
        reference_features(windows[0])  # numba JIT warm-up
        times = []
        print(f"librosa reference on {len(windows)} windows   # load {os.getloadavg()}", flush=True)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for w in windows:
                reference_features(w)
            times.append(time.perf_counter() - t0)
        py_s = min(times)
        print(f"librosa reference: best {py_s:.3f} s over {args.repeat} runs ({', '.join(f'{t:.2f}' for t in times)})")
        rust_times.append(run_rust(["--input", sig_path]))

    rust_s = min(rust_times)
    print(f"rust: best {rust_s:.3f} s; librosa: best {py_s:.3f} s; speed-up {py_s / rust_s:.1f}x "
          f"(load at end: {os.getloadavg()})")


if __name__ == "__main__":
    main()
