#!/usr/bin/env python3
"""How well clustering alone can split a mono call's two speakers with the GE2E speaker encoder.

Embeds every TRUE utterance of the calls `scripts/diarization_eval.sh --out DIR` left in DIR
(Resemblyzer's own `embed_utterance`, one embedding per truth row, so no VAD or piece errors) and
reports, per call and clustering rule, the share of speech put on the wrong speaker
(duration-weighted, best of the two label mappings). The README's "clustering is not the limit"
figures come from this script.

With --tuning-data DATA_DIR it also tries projections learned on the tuning speakers of
`scripts/diarization_eval.sh` (every utterance embedded clean, through a simulated phone line,
and with white noise at 8-25 dB): LDA (speakers as classes), within-speaker covariance
normalisation (WCCN) and nuisance attribute projection (NAP: the leading within-speaker
directions, mostly emotion, removed).

Usage:
    python scripts/encoder_clustering_ceiling.py DIR [--cache CACHE_DIR] [--tuning-data DATA_DIR]
Needs: pip install resemblyzer "setuptools<70" librosa scikit-learn scipy (torch comes with resemblyzer).
"""
import argparse
import csv
import glob
import os

import librosa
import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from scipy.ndimage import gaussian_filter


def embed_call(encoder, wav_path, truth_path, cache):
    key = os.path.join(cache, os.path.basename(wav_path) + ".npz") if cache else None
    if key and os.path.exists(key):
        d = np.load(key)
        return d["emb"], d["spk"], d["dur"]
    y, _ = librosa.load(wav_path, sr=16000, mono=True)
    emb, spk, dur = [], [], []
    for r in csv.DictReader(open(truth_path)):
        s, e = float(r["start_s"]), float(r["end_s"])
        seg = y[int(s * 16000):int(e * 16000)]
        if len(seg) < 1600:
            continue
        emb.append(encoder.embed_utterance(seg))
        spk.append(r["speaker"])
        dur.append(e - s)
    emb, spk, dur = np.array(emb), np.array(spk), np.array(dur)
    if key:
        np.savez(key, emb=emb, spk=spk, dur=dur)
    return emb, spk, dur


def wrong_share(labels, spk, dur):
    truth = (spk == spk[0]).astype(int)
    wrong = dur[labels != truth].sum() / dur.sum()
    return 100 * min(wrong, 1 - wrong)


def kmeans(x):
    return KMeans(2, n_init=10, random_state=0).fit_predict(x)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def spectral_refined(x, p=0.95, sigma=1.0):
    """Wang et al. 2018: cosine affinity, Gaussian blur, row-wise thresholding at the p-th
    percentile, symmetrisation, diffusion, row-max normalisation; k-means on the 2 leading
    eigenvectors."""
    a = (unit(x) @ unit(x).T + 1) / 2
    a = gaussian_filter(a, sigma)
    for row in a:
        row[row < np.percentile(row, p * 100)] *= 0.01
    a = np.maximum(a, a.T)
    a = a @ a.T
    a = a / a.max(axis=1, keepdims=True)
    _, v = np.linalg.eigh(a)
    return kmeans(v[:, -2:])


def spectral_knn(x, k=10):
    """Normalised-Laplacian spectral clustering of a k-nearest-neighbour cosine graph."""
    a = unit(x) @ unit(x).T
    n = len(a)
    w = np.zeros_like(a)
    nearest = np.argsort(-a, axis=1)[:, 1:k + 1]
    for i in range(n):
        w[i, nearest[i]] = a[i, nearest[i]]
    w = np.clip(np.maximum(w, w.T), 0, None)
    d = 1 / np.sqrt(w.sum(1) + 1e-9)
    lap = np.eye(n) - d[:, None] * w * d[None, :]
    _, v = np.linalg.eigh(lap)
    return kmeans(v[:, :2] * d[:, None])


def ahc(x):
    return AgglomerativeClustering(2, metric="cosine", linkage="average").fit_predict(x)


def pca8(x):
    xc = x - x.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return kmeans(xc @ vt[:8].T)


RULES = {"kmeans": kmeans, "spectral_knn": spectral_knn, "ahc": ahc, "spectral_refined": spectral_refined, "pca8": pca8}

TUNING_SPEAKERS = {
    "casia": None,
    "emodb": {"03", "08", "09", "10", "11"},
    "ravdess": {f"Actor_{i:02d}" for i in range(1, 13)},
    "turev-db": {"1157", "1234", "1358"},
}


def telephone(y):
    """300-3400 Hz at 8 kHz with a mu-law round trip, back at 16 kHz."""
    from scipy.signal import butter, resample_poly, sosfilt
    x = sosfilt(butter(4, [300, 3400], btype="band", fs=8000, output="sos"), resample_poly(y, 1, 2))
    mu = 255
    q = np.round(np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu) * 127) / 127
    return resample_poly(np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu, 2, 1).astype(np.float32)


def tuning_embeddings(encoder, data, cache):
    key = os.path.join(cache, "tuning_speakers.npz") if cache else None
    if key and os.path.exists(key):
        d = np.load(key)
        return d["emb"], d["spk"]
    rng = np.random.default_rng(0)
    emb, spk = [], []
    for corpus, keep in TUNING_SPEAKERS.items():
        for r in csv.DictReader(open(os.path.join(data, corpus, "manifest.csv"))):
            if keep is not None and r["speaker"] not in keep:
                continue
            y, _ = librosa.load(os.path.join(data, corpus, r["path"]), sr=16000)
            noise = rng.normal(0, np.sqrt(np.mean(y ** 2) / 10 ** (rng.uniform(8, 25) / 10)), len(y))
            for version in (y, telephone(y), (y + noise).astype(np.float32)):
                emb.append(encoder.embed_utterance(version))
                spk.append(f"{corpus}/{r['speaker']}")
    emb, spk = np.array(emb), np.array(spk)
    if key:
        np.savez(key, emb=emb, spk=spk)
    return emb, spk


def projection_rules(emb, spk):
    """Clustering rules that first project with what the tuning speakers taught."""
    mean = emb.mean(0)
    dim = emb.shape[1]
    within = np.zeros((dim, dim))
    between = np.zeros((dim, dim))
    for s in np.unique(spk):
        xs = emb[spk == s]
        centre = xs.mean(0)
        within += (xs - centre).T @ (xs - centre)
        between += len(xs) * np.outer(centre - mean, centre - mean)
    within /= len(emb)
    between /= len(emb)

    def whitening(reg):
        w, v = np.linalg.eigh(within + reg * np.trace(within) / dim * np.eye(dim))
        return v / np.sqrt(w)

    def lda(k):
        white = whitening(1e-3)
        _, v = np.linalg.eigh(white.T @ between @ white)
        return white @ v[:, ::-1][:, :k]

    def nap(k):
        _, v = np.linalg.eigh(within)
        top = v[:, ::-1][:, :k]
        return np.eye(dim) - top @ top.T

    def rule(p, normalise):
        return lambda x: kmeans(unit((x - mean) @ p) if normalise else (x - mean) @ p)

    n_classes = len(np.unique(spk))
    return {
        f"lda{n_classes - 1}": rule(lda(n_classes - 1), True),
        "lda16": rule(lda(16), True),
        "wccn": rule(whitening(1.0), True),
        "nap8": rule(nap(8), False),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--cache", default=None, help="folder for the embeddings (reused on a second run)")
    ap.add_argument("--tuning-data", default=None, help="shared/data folder: also try projections learned on the tuning speakers")
    args = ap.parse_args()
    import torch
    from resemblyzer import VoiceEncoder
    torch.set_num_threads(2)
    if args.cache:
        os.makedirs(args.cache, exist_ok=True)
    encoder = VoiceEncoder("cpu", verbose=False)
    rules = dict(RULES)
    if args.tuning_data:
        rules.update(projection_rules(*tuning_embeddings(encoder, args.tuning_data, args.cache)))
    shares = {r: [] for r in rules}
    for wav in sorted(glob.glob(os.path.join(args.dir, "*.wav"))):
        emb, spk, dur = embed_call(encoder, wav, wav[:-4] + ".truth.csv", args.cache)
        row = {r: wrong_share(f(emb), spk, dur) for r, f in rules.items()}
        for r, v in row.items():
            shares[r].append(v)
        print(f"{os.path.basename(wav)[:-4]:42s} " + " ".join(f"{r}={v:5.1f}" for r, v in row.items()), flush=True)
    print("mean " + " ".join(f"{r}={np.mean(v):5.1f} (>20%: {sum(x > 20 for x in v)})" for r, v in shares.items()))


if __name__ == "__main__":
    main()
