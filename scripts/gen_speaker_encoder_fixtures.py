"""Generates the speaker-encoder parity fixture in tests/fixtures/speaker_encoder/ (run by hand):

    /path/to/venv/bin/python scripts/gen_speaker_encoder_fixtures.py [--checkpoint pretrained.pt --out DIR]

Needs torch, librosa, safetensors, numpy and resemblyzer (pip install resemblyzer "setuptools<70").
The reference is Resemblyzer's own code: `VoiceEncoder.embed_utterance` (partial slicing, padding,
mel via `resemblyzer.audio.wav_to_mel_spectrogram` = librosa.feature.melspectrogram, averaging)
run on a VoiceEncoder whose LSTM/linear are replaced by a small random one (hidden 16, 3 layers,
embedding 8; seed 0), so the fixture holds no third-party weights. It writes
    config.json            our SpeakerEncoderConfig
    encoder_legacy.pt      {"step", "model_state"} via the legacy (non-zip) torch.save, as
                           Resemblyzer's pretrained.pt, incl. the GE2E loss's similarity tensors
    encoder_zip.pt         the same via the current zip torch.save
    io.safetensors         wav_<k> (16 kHz), mel_<k> (frames x 40), partials_<k>, embedding_<k>

With --checkpoint (Resemblyzer's pretrained.pt) the same io file is written for the real weights to
--out (never committed); tests/speaker_encoder.rs checks it when EMOTRACE_SPEAKER_ENCODER_REAL names
that directory and the checkpoint.
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "speaker_encoder")
SR = 16000
# Lengths (s) chosen to exercise the slicing: one padded partial, two kept partials, a dropped
# last partial (1.9 s), and several partials.
LENGTHS = [0.9, 1.9, 2.0, 3.7]


def voice_like(seconds, seed):
    """Harmonics of a gliding pitch with a formant-like envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110 + 60 * rng.random() + 25 * np.sin(2 * np.pi * (0.7 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase) / k * np.exp(-(((k * f0) - 700 - 300 * rng.random()) / 900) ** 2) for k in range(1, 30))
    y = y * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2) + 0.01 * rng.standard_normal(len(t))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def encoder_with(lstm, linear):
    from resemblyzer import VoiceEncoder

    enc = VoiceEncoder.__new__(VoiceEncoder)
    torch.nn.Module.__init__(enc)
    enc.lstm, enc.linear, enc.relu, enc.device = lstm, linear, torch.nn.ReLU(), torch.device("cpu")
    return enc.eval()


def reference_io(enc):
    from resemblyzer import audio

    io = {}
    for k, seconds in enumerate(LENGTHS):
        wav = voice_like(seconds, 100 + k)
        embedding, partials, _ = enc.embed_utterance(wav, return_partials=True)
        io[f"wav_{k}"] = torch.from_numpy(wav)
        io[f"mel_{k}"] = torch.from_numpy(np.ascontiguousarray(audio.wav_to_mel_spectrogram(wav)))
        io[f"partials_{k}"] = torch.from_numpy(np.ascontiguousarray(partials, dtype=np.float32))
        io[f"embedding_{k}"] = torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32))
    return io


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", help="Resemblyzer's pretrained.pt: write the io file for the real weights")
    ap.add_argument("--out", help="output directory for --checkpoint")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)["model_state"]
        lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
        linear = torch.nn.Linear(256, 256)
        lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        os.makedirs(args.out, exist_ok=True)
        save_file(reference_io(encoder_with(lstm, linear)), os.path.join(args.out, "io.safetensors"))
        return

    torch.manual_seed(0)
    hidden, embedding = 16, 8
    lstm = torch.nn.LSTM(40, hidden, 3, batch_first=True)
    linear = torch.nn.Linear(hidden, embedding)
    with torch.no_grad():
        # Mel powers of a 0.3-amplitude voice are mostly far below 1; scale the first layer up so the
        # embedding depends on the input clearly, and shift the output so few ReLUs are dead.
        lstm.weight_ih_l0.mul_(30.0)
        linear.bias.add_(0.2)
    enc = encoder_with(lstm, linear)
    state = {"similarity_weight": torch.tensor([10.0]), "similarity_bias": torch.tensor([-5.0])}
    state.update({f"lstm.{k}": v.clone() for k, v in lstm.state_dict().items()})
    state.update({f"linear.{k}": v.clone() for k, v in linear.state_dict().items()})
    os.makedirs(OUT, exist_ok=True)
    checkpoint = {"step": 1, "model_state": state}
    torch.save(checkpoint, os.path.join(OUT, "encoder_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(checkpoint, os.path.join(OUT, "encoder_zip.pt"))
    config = dict(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40, hidden_size=hidden, num_layers=3,
                  embedding_size=embedding, partial_frames=160, partial_rate=1.3, min_coverage=0.75)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    io = reference_io(enc)
    for k in range(len(LENGTHS)):
        p = io[f"partials_{k}"]
        assert (p > 0).any(dim=1).all(), "a partial's embedding is all zero: change the seed"
    save_file(io, os.path.join(OUT, "io.safetensors"))


if __name__ == "__main__":
    main()
