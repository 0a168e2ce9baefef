#!/usr/bin/env python3
"""Golden fixtures for the Whisper log-Mel front end (src/features/whisper_mel.rs).

Run by hand (not in CI), from the repository root:

    /work/venv/bin/python scripts/gen_whisper_mel_fixtures.py

(any venv with transformers 5.x and numpy 2.x; torch optional, used only for the comparison
printed at the end). Writes tests/fixtures/whisper_mel/: one `<case>.npy` expected output per
case, inputs for the cases that do not reuse tests/fixtures/features/<name>/input_i16.npy, a
`cases.tsv` index the Rust test walks, and a README.md with the versions used.

The reference is HF `WhisperFeatureExtractor()` (defaults: 80 mels, n_fft 400, hop 160) called
on one clip exactly as a user would, with its NumPy path forced (`_np_extract_fbank_features`;
transformers picks the torch path whenever torch is installed):
- clip mode (Rust `pad_to = None`): `fe(x, sampling_rate=16000, padding="longest")`;
- padded mode (Rust `pad_to = Some(n)`): `fe(x, sampling_rate=16000, padding="max_length",
  max_length=n)` (n = 480000 is HF's default call).
Inputs: int16 / 32768 as float32, as scripts/gen_feature_fixtures.py builds them, or seeded
float32 noise for the very short clips. HF raises on clips shorter than 160 samples (no frame
left after dropping the last one, then `max` of an empty array); those cases are stored as
(80, 0) arrays, the Rust convention for "no frames".

Padded outputs end in a run of identical columns (frames wholly in the zero padding, all
`(max(-10, peak - 8) + 4) / 4`). To keep fixtures small, a padded case stores only the columns
before that run (`<case>.npy`, shape (80, head)); `cases.tsv` gives the total frame count and
the run's value, and the test checks both.
"""
import os
import platform
import sys
import warnings

import numpy as np
import transformers
import transformers.models.whisper.feature_extraction_whisper as fw
from transformers import WhisperFeatureExtractor

OUT = os.path.join("tests", "fixtures", "whisper_mel")
FEATURE_FIXTURES = os.path.join("tests", "fixtures", "features")
SR = 16000
CHUNK = 480000

warnings.filterwarnings("ignore")


def hf(fe, x, pad_to, torch_path=False):
    """HF's input_features[0] (80, frames) for one clip, or None when HF raises."""
    fw.is_torch_available = (lambda: True) if torch_path else (lambda: False)
    kwargs = {"padding": "longest"} if pad_to is None else {"padding": "max_length", "max_length": pad_to}
    try:
        return fe(x, sampling_rate=SR, return_tensors="np", **kwargs)["input_features"][0]
    except (ValueError, RuntimeError) as e:
        return e


def load_i16(name):
    q = np.load(os.path.join(FEATURE_FIXTURES, name, "input_i16.npy"))
    return q.astype(np.float32) / np.float32(32768.0)


def main():
    assert transformers.__version__.startswith("5."), transformers.__version__
    fe = WhisperFeatureExtractor()
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    rng = np.random.default_rng(20261203)
    inputs = {}  # case input name -> (float32 signal, source description for cases.tsv)
    for name in ["speech", "speech_zh", "tones", "chirp", "silence", "clipping", "short_300", "short_1500", "long_11s"]:
        inputs[name] = (load_i16(name), f"features/{name}/input_i16.npy")
    for n in [1, 100, 159, 160, 161, 180, 199, 200, 201, 400]:
        x = (0.3 * rng.standard_normal(n)).astype(np.float32)
        np.save(os.path.join(OUT, f"noise_{n}_input.npy"), x)
        inputs[f"noise_{n}"] = (x, f"whisper_mel/noise_{n}_input.npy")

    # (case name, input name, pad_to)
    cases = [(name, name, None) for name in inputs]
    cases += [
        ("speech_pad30", "speech", CHUNK),
        ("short_1500_pad30", "short_1500", CHUNK),
        ("silence_pad30", "silence", CHUNK),
        ("noise_161_pad30", "noise_161", CHUNK),
        ("noise_1_pad30", "noise_1", CHUNK),
        ("chirp_trunc1s", "chirp", SR),  # truncation: 2 s clip, max_length 1 s
        ("tones_pad34567", "tones", 34_567),  # padding to a length that is not a whole number of hops
    ]

    rows = []
    torch_diffs = []
    total = 0
    for case, src, pad_to in cases:
        x, source = inputs[src]
        out = hf(fe, x, pad_to)
        note = "ok"
        if isinstance(out, Exception):
            note = "hf_raises"
            out = np.zeros((80, 0), dtype=np.float32)
        assert out.dtype == np.float32 and out.shape[0] == 80
        frames = out.shape[1]
        head, tail_value = frames, "-"
        if pad_to is not None and frames > 0:
            last = out[:, -1]
            if np.all(last == last[0]):
                same = np.all(out == last[0], axis=0)
                head = frames
                while head > 0 and same[head - 1]:
                    head -= 1
                tail_value = repr(float(last[0]))
        stored = np.ascontiguousarray(out[:, :head])
        np.save(os.path.join(OUT, f"{case}.npy"), stored)
        total += stored.nbytes
        rows.append((case, source, len(x), "none" if pad_to is None else str(pad_to), frames, head, tail_value, note))

        t = hf(fe, x, pad_to, torch_path=True)
        if isinstance(t, Exception):
            torch_diffs.append(f"{case}: torch path raises ({type(t).__name__})" + (" (NumPy path too)" if note != "ok" else ""))
        elif frames:
            torch_diffs.append(f"{case}: max |torch - numpy| = {np.max(np.abs(t - out)):.2e}")
        print(f"{case}: {len(x)} samples, pad_to {pad_to}, {frames} frames ({note}), stored {head}")

    with open(os.path.join(OUT, "cases.tsv"), "w") as f:
        f.write("case\tinput\tsamples\tpad_to\tframes\tstored_frames\ttail_value\thf\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(
            "Written by `scripts/gen_whisper_mel_fixtures.py` (see its docstring), run as\n"
            "`/work/venv/bin/python scripts/gen_whisper_mel_fixtures.py` from the repository root.\n\n"
            f"Python {platform.python_version()}, transformers {transformers.__version__}, numpy {np.__version__}, "
            f"torch {torch_version}.\n\nReference: `WhisperFeatureExtractor()` on its NumPy path. "
            "HF's torch path (the default when torch is installed) against it:\n\n"
            + "".join(f"- {d}\n" for d in torch_diffs)
        )
    print("\n".join(torch_diffs))
    print(f"stored {total / 1e6:.2f} MB of expected outputs; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
