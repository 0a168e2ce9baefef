"""Research probe (not part of the product): four cheap ways the statistics head might hear new
speakers better, measured with the same class-balanced logistic regression as
scripts/probe_speaker_embedding.py (C = 3e-4, standardised on the training clips, threshold
p = 0.5). docs/model-card.md, "What the frozen summaries can reach", quotes its output.

    for c in casia emodb ravdess turev-db nemo ased; do
      cargo run --release --example probe_clip_summaries -- OUT/$c clean ../shared/data/$c/manifest.csv
      cargo run --release --example probe_clip_summaries -- OUT/level/$c clean-level ../shared/data/$c/manifest.csv
    done
    python scripts/probe_statistics_head_limits.py OUT      # numpy + scikit-learn

  level      each clip scaled to -20 dBFS RMS before the encoder (the corpora's levels differ by
             ~30 dB: EmoDB is peak-normalised, RAVDESS sits near -40 dBFS RMS)
  balance    sample weights making every corpus x class (or speaker x class) cell weigh the same,
             so that a corpus's or speaker's colouring says nothing about the class
  states     subsets of the 7 hidden states, means or standard deviations only
  ceiling    the language *seen*: each corpus's speakers in 4 folds, the other folds and every
             other corpus trained on (ASED included here), to show what a corpus allows at all
Folds as in the product's evaluation: leave one Mandarin speaker out, leave one corpus out (ASED
never trained on).
"""
import csv
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

C = 3e-4
CORPORA = ['casia', 'emodb', 'ravdess', 'turev-db', 'nemo', 'ased']
prefix = sys.argv[1] if len(sys.argv) > 1 else '.'


def load(folder):
    S, spk, y, corp = [], [], [], []
    for c in CORPORA:
        rows = list(csv.DictReader(open(f'{prefix}/{c}.csv')))
        S.append(np.fromfile(f'{folder}/{c}.stats.f32', dtype='<f4').reshape(len(rows), -1))
        spk += [r['speaker'] for r in rows]
        y += [int(r['label']) for r in rows]
        corp += [c] * len(rows)
    return np.concatenate(S), np.array(spk), np.array(y), np.array(corp)


S, spk, y, corp = load(prefix)
S_level = load(f'{prefix}/level')[0]


def ece(p, yy, bins=10):
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return sum((edges == b).mean() * abs(p[edges == b].mean() - yy[edges == b].mean()) for b in range(bins) if (edges == b).any())


def cell_weights(idx, groups):
    g, yy = groups[idx], y[idx]
    cells = {}
    for k in zip(g, yy):
        cells[k] = cells.get(k, 0) + 1
    n_groups = len(set(g))
    return np.array([len(idx) / (2 * cells[k] * n_groups) for k in zip(g, yy)])


def fit_predict(X, tr, te, weights=None):
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
    if weights is None:
        clf = LogisticRegression(C=C, class_weight='balanced', max_iter=3000).fit((X[tr] - mu) / sd, y[tr])
    else:
        clf = LogisticRegression(C=C, max_iter=3000).fit((X[tr] - mu) / sd, y[tr], sample_weight=weights)
    return 1 / (1 + np.exp(-(((X[te] - mu) / sd) @ clf.coef_[0] + clf.intercept_[0])))


def columns(states, parts=(0, 1)):
    # state_statistics' layout: per state, 512 means then 512 standard deviations.
    return np.concatenate([np.arange(s * 1024 + p * 512, s * 1024 + (p + 1) * 512) for s in states for p in parts])


trainable = corp != 'ased'
folds = [('LOSO', h, spk == h) for h in ['casia/liuchanhg', 'casia/wangzhe', 'casia/ZhaoZuoxiang']]
folds += [('LOCO', h, corp == h) for h in CORPORA]
arms = {
    'raw': lambda tr, te: fit_predict(S, tr, te),
    'level -20 dBFS': lambda tr, te: fit_predict(S_level, tr, te),
    'corpus x class balanced': lambda tr, te: fit_predict(S, tr, te, cell_weights(np.where(tr)[0], corp)),
    'speaker x class balanced': lambda tr, te: fit_predict(S, tr, te, cell_weights(np.where(tr)[0], spk)),
    'states 1-5': lambda tr, te: fit_predict(S[:, columns(range(1, 6))], tr, te),
    'states 2-6': lambda tr, te: fit_predict(S[:, columns(range(2, 7))], tr, te),
    'means only': lambda tr, te: fit_predict(S[:, columns(range(7), (0,))], tr, te),
    'stds only': lambda tr, te: fit_predict(S[:, columns(range(7), (1,))], tr, te),
}
print('fold,held_out,arm,macro_f1,auc,ece,called_negative,true_negative')
for kind, held, te in folds:
    tr = trainable & ~te
    for arm, run in arms.items():
        p = run(tr, te)
        print(f'{kind},{held},{arm},{f1_score(y[te], p > 0.5, average="macro"):.3f},{roc_auc_score(y[te], p):.3f},'
              f'{ece(p, y[te]):.3f},{(p <= 0.5).mean():.2f},{1 - y[te].mean():.2f}', flush=True)

print('\nceiling: corpus,speakers,pooled_auc,mean_per_speaker_auc,pooled_macro_f1')
rng = np.random.default_rng(0)
for c in CORPORA:
    speakers = np.unique(spk[corp == c])
    rng.shuffle(speakers)
    k = min(4, len(speakers))
    p = np.zeros(len(y))
    for f in range(k):
        te = np.isin(spk, speakers[f::k])
        p[te] = fit_predict(S, ~te, te)
    held = corp == c
    per = [roc_auc_score(y[spk == s], p[spk == s]) for s in speakers if len(set(y[spk == s])) == 2]
    print(f'{c},{len(speakers)},{roc_auc_score(y[held], p[held]):.3f},{np.mean(per):.3f},'
          f'{f1_score(y[held], p[held] > 0.5, average="macro"):.3f}', flush=True)
