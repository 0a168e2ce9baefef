"""Research probe (not part of the product): does the built-in CAM++ speaker embedding help the
statistics head on speakers and languages never trained on? docs/model-card.md, "CAM++ speaker
embeddings", quotes its output.

    for c in casia emodb ravdess turev-db nemo ased; do
      cargo run --release --example probe_clip_summaries -- OUT/$c clean ../shared/data/$c/manifest.csv
    done
    python scripts/probe_speaker_embedding.py OUT        # numpy + scikit-learn

Every arm is a class-balanced, L2-regularised logistic regression (C = 3e-4 on features
standardised on the training clips, as the research probe behind the statistics head), trained
on the five training corpora (ASED is never trained on, as for the default) less the held-out
speaker (leave one Mandarin speaker out) or corpus (leave one corpus out), threshold p = 0.5:
  stats                 the statistics head's input alone (7 states x mean/std x 512)
  +campp clip           with the clip's own CAM++ embedding (192, L2-normalised)
  +campp speaker mean   with the mean embedding of the clip's speaker (the caller's voice)
  predicted centring    summaries less the speaker mean predicted from the speaker's mean
                        embedding (ridge over the training speakers): a voice-based offset
  centred (oracle)      summaries less the speaker's own mean summary (stats_centring)
  centred w, raw        weights fitted on centred summaries, applied to raw ones, with a
                        Platt fit on the raw training logits (scores stay absolute)
"""
import csv
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import f1_score, roc_auc_score

C = 3e-4
CORPORA = ['casia', 'emodb', 'ravdess', 'turev-db', 'nemo', 'ased']
prefix = sys.argv[1] if len(sys.argv) > 1 else '.'
S, E, spk, y, corp = [], [], [], [], []
for c in CORPORA:
    rows = list(csv.DictReader(open(f'{prefix}/{c}.csv')))
    S.append(np.fromfile(f'{prefix}/{c}.stats.f32', dtype='<f4').reshape(len(rows), -1))
    E.append(np.fromfile(f'{prefix}/{c}.campp.f32', dtype='<f4').reshape(len(rows), -1))
    spk += [r['speaker'] for r in rows]
    y += [int(r['label']) for r in rows]
    corp += [c] * len(rows)
S, E = np.concatenate(S), np.concatenate(E)
spk, y, corp = np.array(spk), np.array(y), np.array(corp)
E = E / np.linalg.norm(E, axis=1, keepdims=True)


def speaker_mean(X):
    M = np.zeros_like(X)
    for s in np.unique(spk):
        M[spk == s] = X[spk == s].mean(0)
    return M


def fit(Xtr, ytr):
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    clf = LogisticRegression(C=C, class_weight='balanced', max_iter=3000).fit((Xtr - mu) / sd, ytr)
    return lambda X: ((X - mu) / sd) @ clf.coef_[0] + clf.intercept_[0]


def scores(p, te):
    return f1_score(y[te], p > 0.5, average='macro'), roc_auc_score(y[te], p), (p <= 0.5).mean()


def plain(X, tr, te):
    return scores(1 / (1 + np.exp(-fit(X[tr], y[tr])(X[te]))), te)


def centred_weights_raw(X, tr, te):
    logit = fit((X - speaker_mean(X))[tr], y[tr])
    platt = LogisticRegression(C=1e6, class_weight='balanced').fit(logit(X[tr])[:, None], y[tr])
    return scores(platt.predict_proba(logit(X[te])[:, None])[:, 1], te)


Emean, Smean = speaker_mean(E), speaker_mean(S)


def arms(tr, te):
    train_speakers = np.unique(spk[tr])
    first = [np.where(spk == s)[0][0] for s in train_speakers]
    predicted = Ridge(alpha=1.0).fit(Emean[first], Smean[first]).predict(Emean)
    return {
        'stats': plain(S, tr, te),
        '+campp clip': plain(np.hstack([S, E]), tr, te),
        '+campp speaker mean': plain(np.hstack([S, Emean]), tr, te),
        'predicted centring': plain(S - predicted, tr, te),
        'centred (oracle)': plain(S - Smean, tr, te),
        'centred w, raw': centred_weights_raw(S, tr, te),
        'centred w +campp clip, raw': centred_weights_raw(np.hstack([S, E]), tr, te),
    }


trainable = corp != 'ased'
print('fold,held_out,arm,macro_f1,auc,called_negative,true_negative')
folds = [('LOSO', h, spk == h) for h in ['casia/liuchanhg', 'casia/wangzhe', 'casia/ZhaoZuoxiang']]
folds += [('LOCO', h, corp == h) for h in CORPORA]
for kind, held, te in folds:
    for arm, (f1, auc, neg) in arms(trainable & ~te, te).items():
        print(f'{kind},{held},{arm},{f1:.3f},{auc:.3f},{neg:.2f},{1 - y[te].mean():.2f}', flush=True)
