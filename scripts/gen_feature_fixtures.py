#!/usr/bin/env python3
"""Golden fixtures for the Rust feature extractor (src/features), made with librosa 0.11.

Run by hand (not in CI), from the repository root, in a venv with librosa==0.11.*, numpy, scipy,
soundfile:

    python scripts/gen_feature_fixtures.py [--shared-data /work/shared/data]

Writes tests/fixtures/features/<case>/{input_i16.npy, mfcc39.npy, pitch_frames.npy,
pitch_track*.npy, audio_norm*.npy}. Inputs are 16-bit PCM levels stored as int16 (the float32
signal is int16 / 32768, exactly as a decoder produces it). To keep fixtures small, per-sample
outputs are stored decimated (every DECIMATE-th sample, *_dec.npy) except for the short cases.
With shared data present it also writes tests/fixtures/features/real/<name>/ expected outputs for
a few real corpus files (the audio itself is never copied: the Rust test reads the FLAC).

`reference_features` below is the reference pipeline of SPEC section 4, written the way the
reference code computes it (librosa at float32, HF Wav2Vec2FeatureExtractor normalisation).
"""
import argparse
import os
import shutil
import subprocess
import tempfile

import librosa
import numpy as np

SR = 16000
SEGMENT = 160000
DECIMATE = 16
OUT = os.path.join("tests", "fixtures", "features")


def hf_normalise(x):
    """Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm on one float32 array."""
    x = np.asarray(x, dtype=np.float32)
    return (x - x.mean()) / np.sqrt(x.var() + 1e-7)


def reference_features(y):
    y = np.asarray(y, dtype=np.float32)
    seg = y[:SEGMENT]
    padded = np.pad(seg, (0, SEGMENT - len(seg)))
    mfcc = librosa.feature.mfcc(y=padded, sr=SR, n_mfcc=13, n_fft=400, hop_length=160)
    d1 = librosa.feature.delta(mfcc)
    d2 = librosa.feature.delta(mfcc, order=2)
    mfcc39 = np.concatenate([mfcc, d1, d2], axis=0).T.astype(np.float32)

    pitches, _ = librosa.piptrack(y=y, sr=SR)
    pitch = np.max(pitches, axis=0)
    p = len(pitch)
    track = np.interp(np.linspace(0, p, len(y)), np.linspace(0, p, p), pitch)
    track = track.astype(np.float32)[:SEGMENT]
    return {
        "mfcc39": mfcc39,
        "pitch_frames": pitch.astype(np.float32),
        "pitch_track": hf_normalise(track).astype(np.float32),
        "audio_norm": hf_normalise(seg).astype(np.float32),
    }


def quantise_pcm16(y):
    """Round to 16-bit PCM levels (as real recordings are) so inputs can be stored as int16."""
    return np.clip(np.round(np.asarray(y, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def save_case(name, y, store_input=True, decimate=True):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d, exist_ok=True)
    if store_input:
        q = quantise_pcm16(y)
        np.save(os.path.join(d, "input_i16.npy"), q)
        y = q.astype(np.float32) / np.float32(32768.0)
    y = np.asarray(y, dtype=np.float32)
    feats = reference_features(y)
    for key, val in feats.items():
        if decimate and key in ("pitch_track", "audio_norm"):
            np.save(os.path.join(d, key + "_dec.npy"), np.ascontiguousarray(val[::DECIMATE]))
        else:
            np.save(os.path.join(d, key + ".npy"), np.ascontiguousarray(val))
    print(f"{name}: {len(y)} samples, mfcc {feats['mfcc39'].shape}, frames {len(feats['pitch_frames'])}")


def espeak_speech(text, voice):
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "s.wav")
        subprocess.run([exe, "-v", voice, "-s", "150", "-w", wav, text], check=True)
        y, _ = librosa.load(wav, sr=SR)  # float32, resampled from espeak's 22050 Hz
    return y


def synthetic_speech(rng, seconds):
    """Glottal-pulse source with a wandering F0 through three formant resonators, plus noise."""
    import scipy.signal as ss

    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = np.cumsum(f0 / SR)
    src = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    src += 0.02 * rng.standard_normal(n)
    y = np.zeros(n)
    for fc, bw in ((700, 110), (1220, 120), (2600, 160)):
        r = np.exp(-np.pi * bw / SR)
        a = [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r]
        y += ss.lfilter([1 - r], a, src)
    env = (np.sin(2 * np.pi * 2.2 * t) > -0.3).astype(np.float64)
    y *= env
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def check_heldout(shared_data, binary, per_corpus, seed=7):
    """Runs `emotrace features` on random corpus files (not the fixtures) and compares with
    librosa here; prints the measured differences. Writes nothing into the repository."""
    import csv

    rng = np.random.default_rng(seed)
    worst_mfcc, frames_ok, frames_total, worst_audio, worst_track = 0.0, 0, 0, 0.0, 0.0
    for corpus in sorted(os.listdir(shared_data)):
        manifest = os.path.join(shared_data, corpus, "manifest.csv")
        if not os.path.exists(manifest):
            continue
        with open(manifest) as f:
            rows = list(csv.DictReader(f))
        for idx in rng.choice(len(rows), size=min(per_corpus, len(rows)), replace=False):
            path = os.path.join(shared_data, corpus, rows[idx]["path"])
            y, _ = librosa.load(path, sr=SR)
            want = reference_features(y)
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([binary, "features", path, "--duration", "3600", "--out", tmp], check=True,
                               capture_output=True)
                got = {k: np.load(os.path.join(tmp, k + ".npy")) for k in want}
            worst_mfcc = max(worst_mfcc, float(np.max(np.abs(got["mfcc39"] - want["mfcc39"]))))
            ok = np.abs(got["pitch_frames"] - want["pitch_frames"]) <= 0.01
            frames_ok += int(ok.sum())
            frames_total += ok.size
            worst_audio = max(worst_audio, float(np.max(np.abs(got["audio_norm"] - want["audio_norm"]))))
            worst_track = max(worst_track, float(np.max(np.abs(got["pitch_track"] - want["pitch_track"]))))
            if not ok.all():
                print(f"{corpus}/{rows[idx]['path']}: {int((~ok).sum())} pitch frames differ")
    print(f"held-out: MFCC max|d| {worst_mfcc:.3e}; pitch frames {frames_ok}/{frames_total} within 0.01 Hz; "
          f"audio_norm max|d| {worst_audio:.3e}; pitch_track max|d| {worst_track:.3e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared-data", default=os.environ.get("EMOTRACE_SHARED_DATA", "/work/shared/data"))
    ap.add_argument("--check-heldout", type=int, metavar="N",
                    help="instead of writing fixtures, compare `emotrace features` with librosa on N random files per corpus")
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "emotrace"))
    args = ap.parse_args()
    assert librosa.__version__.startswith("0.11"), librosa.__version__
    if args.check_heldout:
        check_heldout(args.shared_data, args.binary, args.check_heldout)
        return
    rng = np.random.default_rng(20261122)
    os.makedirs(OUT, exist_ok=True)

    speech = espeak_speech("Hello, I am calling because I have not slept for days.", "en")
    if speech is None:
        print("espeak-ng not found: using synthetic speech-like signal")
        speech = synthetic_speech(rng, 3.0)
    save_case("speech", speech[: 3 * SR])
    zh = espeak_speech("我最近心情很不好，晚上睡不着。", "cmn")
    if zh is not None:
        save_case("speech_zh", zh[: int(2.5 * SR)])

    t = np.arange(2 * SR) / SR
    tones = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    chirp = 0.5 * np.sin(2 * np.pi * (100 * t + 0.5 * (3900 / 2.0) * t**2))
    save_case("tones", tones)
    save_case("chirp", chirp)
    save_case("silence", np.zeros(SR))
    clipped = np.clip(3.0 * np.sin(2 * np.pi * 220 * t[: int(1.5 * SR)]) + 0.3 * rng.standard_normal(int(1.5 * SR)), -1, 1)
    save_case("clipping", clipped)
    save_case("short_300", 0.5 * rng.standard_normal(300), decimate=False)
    save_case("short_1500", 0.3 * np.sin(2 * np.pi * 600 * np.arange(1500) / SR) + 0.05 * rng.standard_normal(1500), decimate=False)
    # Longer than 10 s: pitch is computed on the whole clip, then truncated.
    tl = np.arange(11 * SR) / SR
    long_sig = 0.3 * np.sin(2 * np.pi * (180 + 60 * np.sin(2 * np.pi * 0.3 * tl)) * tl) + 0.02 * rng.standard_normal(len(tl))
    long_sig[5 * SR : 6 * SR] = 0.0
    save_case("long_11s", long_sig[: 11 * SR])

    # Mel filterbank, window and DCT sanity fixtures.
    np.save(os.path.join(OUT, "mel_basis_400.npy"), librosa.filters.mel(sr=SR, n_fft=400))

    if os.path.isdir(args.shared_data):
        import soundfile as sf  # noqa: F401  (librosa.load uses it for FLAC)

        picks = ["casia", "emodb"]
        real_list = []
        for corpus in picks:
            manifest = os.path.join(args.shared_data, corpus, "manifest.csv")
            if not os.path.exists(manifest):
                continue
            import csv

            with open(manifest) as f:
                rows = list(csv.DictReader(f))
            # Deterministic picks spread over the manifest.
            for row in rows[:: max(1, len(rows) // 2)][:2]:
                rel = os.path.join(corpus, row["path"])
                y, _ = librosa.load(os.path.join(args.shared_data, rel), sr=SR)
                name = rel.replace("/", "__").rsplit(".", 1)[0]
                save_case(os.path.join("real", name), y, store_input=False)
                real_list.append(f"{name}\t{rel}\t{len(y)}")
        with open(os.path.join(OUT, "real", "files.tsv"), "w") as f:
            f.write("name\tpath\tsamples\n" + "\n".join(real_list) + "\n")
    else:
        print(f"no shared data at {args.shared_data}: real-speech fixtures skipped")


if __name__ == "__main__":
    main()
