#!/usr/bin/env python3
"""Can a speaker encoder trained on ../shared/data alone split same-sex voices? (run by hand)

Distils the published CAM++ network into a small CAM++ (same code path in emotrace, another
config) on augmented speech of the 23 TUNING speakers of scripts/diarization_eval.sh only, then
measures both on the true utterances of held-out calls. The README's "a network distilled on our
data" figures come from this script. Three steps:

    python scripts/distil_speaker_encoder.py prep  POOL.pt N SEED --checkpoint campplus_cn_en_common.pt [--kaldi-py kaldi.py]
    python scripts/distil_speaker_encoder.py train STUDENT.pt EPOCHS POOL.pt [POOL.pt ...] [--init STUDENT.pt] [--lr 3e-3]
    python scripts/distil_speaker_encoder.py eval  teacher|STUDENT.pt CALL_DIR [CALL_DIR ...] [--checkpoint …]

prep: crops of 0.8/1.2/1.6/2.0 s cut from one tuning speaker's trimmed utterances joined with
      30-250 ms gaps; speed-perturbed 0.85-1.18x (80 %; changes pitch and formants, i.e. new
      voices), through a simulated phone line (50 %: 300-3400 Hz, 8 kHz mu-law), white/pink/
      brown noise or hum at 5-30 dB SNR (80 %); the teacher's embedding of each crop as it is.
train: student = CAM++ with growth 16, bn_size 4, init 64, m 8, blocks (6,3,1),(12,3,2),(8,3,2)
      (0.59 M parameters, 192-d); loss = 1 - cos(student, teacher) + MSE between the two batch-
      centred cosine-similarity matrices (what 2-means on centred embeddings sees); AdamW,
      one-cycle schedule, batches of 128 crops of one length.
eval: for each CALL_DIR/*.wav with its .truth.csv (diarization_eval.sh --out), every true
      utterance cut into <=2-s pieces (as emotrace embeds them), embedded, centred on the
      duration-weighted mean, unit length, 2-means; prints the share of speech on the wrong
      speaker per call (best label mapping) and the mean / calls over 10 and 20 %.

Needs torch, numpy, scipy, soxr, librosa, scikit-learn, and torchaudio's compliance/kaldi.py (see
gen_campplus_fixtures.py). The checkpoint is 3D-Speaker's campplus_cn_en_common.pt (README).
"""
import argparse
import csv
import glob
import math
import os
import sys
import time

import librosa
import numpy as np
import soxr
import torch
import torch.nn.functional as F
from scipy.signal import butter, sosfilt
from sklearn.cluster import KMeans

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_campplus_fixtures import REAL_CONFIG, CAMPPlus, load_kaldi  # noqa: E402
# The tuning speakers of scripts/diarization_eval.sh; every other speaker is held out.
from encoder_clustering_ceiling import TUNING_SPEAKERS as TUNING  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
SR = 16000
CROP_SECONDS = [0.8, 1.2, 1.6, 2.0]
STUDENT = dict(architecture="campplus", sample_rate=SR, feat_dim=80, embedding_size=192, growth_rate=16, bn_size=4,
               init_channels=64, m_channels=8, blocks=[[6, 3, 1], [12, 3, 2], [8, 3, 2]], seg_len=100)
_BAND = butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")


def fbank(kaldi, wav):
    fb = kaldi.fbank(torch.as_tensor(np.asarray(wav, dtype=np.float32))[None], num_mel_bins=80,
                     sample_frequency=SR, dither=0.0)
    return fb - fb.mean(dim=0, keepdim=True)


def teacher(checkpoint):
    model = CAMPPlus(REAL_CONFIG)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def telephone(y):
    mu = 255.0
    y8 = np.clip(soxr.resample(sosfilt(_BAND, y), SR, 8000), -1, 1)
    q = np.round((np.sign(y8) * np.log1p(mu * np.abs(y8)) / np.log1p(mu) + 1) / 2 * mu) / mu * 2 - 1
    return soxr.resample(np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu, 8000, SR)


def noise(n, kind, rng):
    white = rng.standard_normal(n)
    if kind == "hum":
        t = np.arange(n) / SR
        return 0.3 * white + sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 5))
    if kind == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.arange(len(spec)) + 1.0
    return np.fft.irfft(spec / (np.sqrt(f) if kind == "pink" else f), n)


def tuning_files():
    out = {}
    for corpus, speakers in TUNING.items():
        with open(os.path.join(DATA, corpus, "manifest.csv")) as f:
            for r in csv.DictReader(f):
                if speakers is None or r["speaker"] in speakers:
                    out.setdefault((corpus, r["speaker"]), []).append(os.path.join(DATA, corpus, r["path"]))
    return out


def prep(args, kaldi):
    rng = np.random.default_rng(args.seed)
    files = tuning_files()
    speakers = sorted(files)
    cache = {}

    def utterance(path):
        if path not in cache:
            y, _ = librosa.load(path, sr=SR, mono=True)
            cache[path] = librosa.effects.trim(y, top_db=35)[0].astype(np.float64)
        return cache[path]

    def speech(spk, seconds, speed):
        need, parts, have = int(seconds * SR * speed) + 400, [], 0
        while have < need:
            y = utterance(files[spk][rng.integers(len(files[spk]))])
            if not parts and len(y) > 1600:
                y = y[rng.integers(0, len(y) // 2):]  # not always from an onset
            gap = np.zeros(int(rng.uniform(0.03, 0.25) * SR))
            parts += [y, gap]
            have += len(y) + len(gap)
        y = np.concatenate(parts)
        if speed != 1.0:
            y = np.asarray(soxr.resample(y, SR * speed, SR))
        return y[: int(seconds * SR)]

    model = teacher(args.checkpoint)
    feats, embs, pending = [], [], []

    def flush():
        with torch.no_grad():
            e = model(torch.stack(pending))
        feats.extend(f.half() for f in pending)
        embs.extend(e)
        pending.clear()

    t0 = time.time()
    for i in range(args.n):
        seconds = CROP_SECONDS[i % len(CROP_SECONDS)]
        if pending and pending[0].shape[0] != fbank(kaldi, np.zeros(int(seconds * SR))).shape[0]:
            flush()
        spk = speakers[rng.integers(len(speakers))]
        y = speech(spk, seconds, rng.uniform(0.85, 1.18) if rng.random() < 0.8 else 1.0)
        if rng.random() < 0.5:
            y = telephone(y)
        if rng.random() < 0.8:
            n = noise(len(y), ["white", "pink", "brown", "hum"][rng.integers(4)], rng)
            snr = rng.uniform(5, 30)
            y = y + n * np.sqrt((np.mean(y ** 2) + 1e-12) / (np.mean(n ** 2) + 1e-12) / 10 ** (snr / 10))
        pending.append(fbank(kaldi, y / (np.abs(y).max() + 1e-9) * rng.uniform(0.1, 0.9)))
        if len(pending) == 64:
            flush()
        if (i + 1) % 2000 == 0:
            print(f"{i + 1}/{args.n} crops, {time.time() - t0:.0f} s", flush=True)
    if pending:
        flush()
    torch.save({"feats": feats, "embs": torch.stack(embs)}, args.out)


def train(args):
    torch.manual_seed(0)
    buckets = {}
    for p in args.pools:
        d = torch.load(p, weights_only=False)
        for f, e in zip(d["feats"], d["embs"]):
            buckets.setdefault(f.shape[0], ([], []))
            buckets[f.shape[0]][0].append(f)
            buckets[f.shape[0]][1].append(e)
    data = {t: (torch.stack(fs), torch.stack(es)) for t, (fs, es) in buckets.items()}
    model = CAMPPlus(STUDENT)
    if args.init:
        model.load_state_dict(torch.load(args.init, weights_only=False)["state"])
    bs = 128
    steps = sum(len(v[1]) for v in data.values()) // bs
    print("crops per length", {t: len(v[1]) for t, v in data.items()}, "parameters",
          sum(p.numel() for p in model.parameters()), flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps, pct_start=0.1)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        batches = [(t, perm[i:i + bs]) for t, (_, es) in data.items() for perm in [torch.randperm(len(es))]
                   for i in range(0, len(perm) - bs + 1, bs)]
        batches = [batches[i] for i in torch.randperm(len(batches))][:steps]
        sums = [0.0, 0.0]
        for t, idx in batches:
            s, target = model(data[t][0][idx].float()), data[t][1][idx]
            cos = 1 - F.cosine_similarity(s, target).mean()
            sn, tn = (F.normalize(v - v.mean(0, keepdim=True), dim=1) for v in (s, target))
            rel = F.mse_loss(sn @ sn.T, tn @ tn.T)
            opt.zero_grad()
            (cos + rel).backward()
            opt.step()
            sched.step()
            sums[0] += cos.item()
            sums[1] += rel.item()
        print(f"epoch {epoch + 1}: 1-cos {sums[0] / len(batches):.4f}, relation {sums[1] / len(batches):.4f}"
              f" ({time.time() - t0:.0f} s)", flush=True)
        torch.save({"config": STUDENT, "state": model.state_dict()}, args.out)


def evaluate(args, kaldi):
    if args.model == "teacher":
        model = teacher(args.checkpoint)
    else:
        ck = torch.load(args.model, map_location="cpu", weights_only=False)
        model = CAMPPlus(ck["config"])
        model.load_state_dict(ck["state"])
        model.eval()
    shares = {}
    for call_dir in args.calls:
        for wav in sorted(glob.glob(os.path.join(call_dir, "*.wav"))):
            y, _ = librosa.load(wav, sr=SR, mono=True)
            emb, spk, dur = [], [], []
            for r in csv.DictReader(open(wav[:-4] + ".truth.csv")):
                s, e = float(r["start_s"]), float(r["end_s"])
                n = max(1, math.ceil((e - s) / 2.0))
                for k in range(n):
                    a, b = int((s + k * (e - s) / n) * SR), int((s + (k + 1) * (e - s) / n) * SR)
                    if b - a < 4000:
                        continue
                    with torch.no_grad():
                        emb.append(model(fbank(kaldi, y[a:b])[None])[0].numpy())
                    spk.append(r["speaker"] == "caller")
                    dur.append((b - a) / SR)
            emb, spk, dur = np.array(emb), np.array(spk), np.array(dur)
            x = emb - ((dur / dur.sum())[:, None] * emb).sum(0)
            x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-9
            labels = KMeans(2, n_init=10, random_state=0).fit_predict(x)
            wrong = dur[labels != spk].sum() / dur.sum()
            shares[os.path.relpath(wav, os.path.dirname(call_dir))] = 100 * min(wrong, 1 - wrong)
            print(f"{os.path.basename(wav)}: {shares[list(shares)[-1]]:.1f} %", flush=True)
    v = np.array(list(shares.values()))
    print(f"{args.model}: {len(v)} calls, mean {v.mean():.2f} % of speech on the wrong speaker, "
          f"over 10 %: {(v > 10).sum()}, over 20 %: {(v > 20).sum()}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prep")
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("seed", type=int)
    t = sub.add_parser("train")
    t.add_argument("out")
    t.add_argument("epochs", type=int)
    t.add_argument("pools", nargs="+")
    t.add_argument("--init")
    t.add_argument("--lr", type=float, default=3e-3)
    e = sub.add_parser("eval")
    e.add_argument("model")
    e.add_argument("calls", nargs="+")
    for q in (p, e):
        q.add_argument("--checkpoint", default="campplus_cn_en_common.pt")
        q.add_argument("--kaldi-py")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    if args.step == "train":
        train(args)
    else:
        kaldi = load_kaldi(args.kaldi_py)
        (prep if args.step == "prep" else evaluate)(args, kaldi)


if __name__ == "__main__":
    main()
