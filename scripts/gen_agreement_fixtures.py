#!/usr/bin/env python3
"""Reference fixtures for `emotrace agreement` (tests/agreement.rs).

Writes label sets under tests/fixtures/agreement/<set>/: one labels file per annotator beside a
(not stored) recording `call.wav`, named `call.labels.<annotator>.csv` in training-manifest form,
and `expected.json` with the reference statistics:
  - Cohen's kappa: sklearn.metrics.cohen_kappa_score on the items both annotators labelled;
  - Fleiss' kappa: statsmodels.stats.inter_rater.fleiss_kappa on the items every annotator labelled;
  - Krippendorff's alpha: krippendorff.alpha(level_of_measurement='nominal') on all items (NaN =
    missing), value_domain [0, 1] so that an all-same set gives 0/0 = NaN instead of an error;
  - percent agreement: mean share of agreeing annotator pairs per item with >= 2 labels (no library
    has this definition; written out here);
  - for each, a percentile bootstrap (2000 resamples of the same items, numpy's default_rng, NaN
    resamples dropped): 2.5th/97.5th percentiles and the standard deviation of the resampled
    statistics, which the Rust test uses to bound the Monte-Carlo difference of the two bootstraps.

Run: /work/venv/bin/python scripts/gen_agreement_fixtures.py  (needs scikit-learn, statsmodels,
krippendorff). Deterministic (fixed seeds).
"""
import json
import warnings
from itertools import combinations
from pathlib import Path

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

warnings.filterwarnings("ignore")  # 0/0 in degenerate resamples is expected (NaN)

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "agreement"
RESAMPLES = 2000
LABEL_NAMES = {0: "negative", 1: "non-negative"}


def cohen(pairs):
    if len(pairs) == 0:
        return float("nan")
    a, b = zip(*pairs)
    return float(cohen_kappa_score(list(a), list(b)))


def fleiss(counts):
    if len(counts) == 0:
        return float("nan")
    return float(fleiss_kappa(np.asarray(counts, dtype=float), method="fleiss"))


def alpha(counts):
    # krippendorff accepts value counts (units x values) directly: same as reliability data.
    counts = np.asarray(counts, dtype=float)
    if len(counts) == 0 or (counts.sum(axis=1) <= 1).all():
        return float("nan")
    return float(krippendorff.alpha(value_counts=counts, value_domain=[0, 1], level_of_measurement="nominal"))


def alpha_from_matrix(labels):
    """The headline alpha straight from reliability data (raters x units, NaN missing)."""
    data = np.array([[np.nan if v is None else v for v in row] for row in labels], dtype=float).T
    return float(krippendorff.alpha(reliability_data=data, value_domain=[0, 1], level_of_measurement="nominal"))


def percent(counts):
    shares = []
    for n0, n1 in counts:
        m = n0 + n1
        if m >= 2:
            shares.append((n0 * (n0 - 1) / 2 + n1 * (n1 - 1) / 2) / (m * (m - 1) / 2))
    return float(np.mean(shares)) if shares else float("nan")


def pair_percent(pairs):
    return float(np.mean([a == b for a, b in pairs])) if pairs else float("nan")


def boot(items, statistic, seed):
    rng = np.random.default_rng(seed)
    n = len(items)
    values = []
    undefined = 0
    for _ in range(RESAMPLES):
        sample = [items[i] for i in rng.integers(0, n, n)]
        v = statistic(sample)
        if np.isfinite(v):
            values.append(v)
        else:
            undefined += 1
    if not values:
        return {"ci_low": None, "ci_high": None, "sd": None, "undefined_resamples": undefined}
    values = np.asarray(values)
    return {
        "ci_low": float(np.percentile(values, 2.5)),
        "ci_high": float(np.percentile(values, 97.5)),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "undefined_resamples": undefined,
    }


def estimate(items, statistic, seed):
    value = statistic(items)
    out = {"value": value if np.isfinite(value) else None, "n_items": len(items)}
    out.update(boot(items, statistic, seed) if items else {"ci_low": None, "ci_high": None, "sd": None, "undefined_resamples": 0})
    return out


def write_set(name, annotators, items, labels, name_column=None, file_names=None):
    """items: [(channel, party, start_s, end_s)] per annotator (list of lists, same length as
    the item list: that annotator's key of the item, possibly moved); labels: items x annotators
    (None = unlabelled). name_column: the `annotator` column's value per annotator, or None."""
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    for j, annotator in enumerate(annotators):
        file_name = (file_names or annotators)[j]
        header = "path,label_binary,speaker,start_s,end_s,channel"
        if name_column:
            header += ",annotator,labelled_at"
        lines = [header]
        for i, row in enumerate(labels):
            if row[j] is None:
                continue
            channel, party, start, end = items[j][i]
            line = f"call.wav,{LABEL_NAMES[row[j]]},call/{party},{start:.3f},{end:.3f},{channel}"
            if name_column:
                line += f",{name_column[j]},2026-12-07T04:{i % 60:02d}:00Z"
            lines.append(line)
        (folder / f"call.labels.{file_name}.csv").write_text("\n".join(lines) + "\n")

    k = len(annotators)
    counts = [[sum(1 for v in row if v == 0), sum(1 for v in row if v == 1)] for row in labels]
    pairable = [c for c in counts if sum(c) >= 2]
    complete = [c for c in counts if sum(c) == k]
    pairs = []
    for s, (a, b) in enumerate(combinations(range(k), 2)):
        both = [(row[a], row[b]) for row in labels if row[a] is not None and row[b] is not None]
        pairs.append({
            "annotator_a": annotators[a], "annotator_b": annotators[b],
            "percent_agreement": estimate(both, pair_percent, 1000 + 2 * s),
            "cohen_kappa": estimate(both, cohen, 1001 + 2 * s),
            "confusion": [[sum(1 for x, y in both if x == i and y == j) for j in (0, 1)] for i in (0, 1)],
        })
    first_keys = items[0]
    expected = {
        "annotators": annotators,
        "resamples": RESAMPLES,
        "items": [[c, p, round(s * 1000), round(e * 1000)] for c, p, s, e in first_keys],
        "labels": labels,
        "percent_agreement": estimate(pairable, percent, 1),
        "fleiss_kappa": estimate(complete, fleiss, 2),
        "krippendorff_alpha": estimate(pairable, alpha, 3),
        "krippendorff_alpha_from_reliability_data": alpha_from_matrix(labels),
        "cohen_kappa": pairs[0]["cohen_kappa"] if k == 2 else None,
        "pairs": pairs,
        "disagreements": [
            [c, p, round(s * 1000), round(e * 1000)]
            for (c, p, s, e), row in zip(first_keys, labels)
            if len({v for v in row if v is not None}) > 1
        ],
    }
    v = expected["krippendorff_alpha_from_reliability_data"]
    expected["krippendorff_alpha_from_reliability_data"] = v if np.isfinite(v) else None
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(name, {key: expected[key]["value"] for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha")})


def spans(n, rng, channels=(0,), parties=("left",)):
    """n non-overlapping segments in call order, each on one of the channels."""
    out, t = [], 1.0
    for _ in range(n):
        t += float(rng.uniform(0.5, 4.0))
        length = float(rng.uniform(1.0, 6.0))
        c = int(rng.integers(0, len(channels)))
        out.append((channels[c], parties[c], round(t, 3), round(t + length, 3)))
        t += length
    return out


def noisy_labels(truth, k, flip, rng, missing=0.0):
    rows = []
    for t in truth:
        row = []
        for _ in range(k):
            if rng.random() < missing:
                row.append(None)
            else:
                row.append(int(t) if rng.random() >= flip else 1 - int(t))
        rows.append(row)
    return rows


def main():
    rng = np.random.default_rng(28)

    items = spans(120, rng)
    truth = rng.random(120) < 0.6
    write_set("two_annotators", ["alice", "bob"], [items, items], noisy_labels(truth, 2, 0.12, rng))

    items = spans(100, rng)
    truth = rng.random(100) < 0.45
    write_set("three_annotators", ["li", "wang", "zhang"], [items] * 3, noisy_labels(truth, 3, 0.15, rng),
              name_column=["li", "wang", "zhang"], file_names=["1", "2", "3"])

    items = spans(150, rng, channels=(0, 1), parties=("left", "right"))
    truth = rng.random(150) < 0.55
    labels = noisy_labels(truth, 4, 0.18, rng, missing=0.25)
    labels = [row for row in labels]
    keep = [i for i, row in enumerate(labels) if any(v is not None for v in row)]
    items = [items[i] for i in keep]
    labels = [labels[i] for i in keep]
    write_set("four_annotators_missing", ["a1", "a2", "a3", "a4"], [items] * 4, labels)

    # The second annotator labelled a re-segmented call: a third of the boundaries moved a little
    # (IoU still > 0.5), so items match by shared span, not by key.
    items = spans(60, rng)
    moved = [(c, p, round(s + 0.2, 3), round(e - 0.1, 3)) if i % 3 == 0 else (c, p, s, e) for i, (c, p, s, e) in enumerate(items)]
    truth = rng.random(60) < 0.5
    write_set("moved_boundaries", ["first", "second"], [items, moved], noisy_labels(truth, 2, 0.1, rng))

    items = spans(30, rng)
    write_set("all_same", ["x", "y", "z"], [items] * 3, [[1, 1, 1] for _ in items])

    items = spans(40, rng)
    b = (rng.random(40) < 0.5).astype(int).tolist()
    write_set("one_constant", ["const", "mixed"], [items, items], [[0, int(v)] for v in b])


if __name__ == "__main__":
    main()
