#!/usr/bin/env python3
"""Golden numbers for the cohort statistics (paper Table VII), from numpy/scipy.

Run by hand (numpy + scipy); CI only reads the CSVs this writes under tests/fixtures/cohort/:
  groups.csv    group,stage,metric,value      one row per call value
  expected.csv  group,stage,metric,n,mean,ci_low,ci_high,p_welch,boot_se
The bootstrap uses numpy's generator, so Rust's interval can only agree within Monte-Carlo error:
boot_se (the standard deviation of the bootstrap means) lets the test scale that tolerance.
"""
import csv
import pathlib

import numpy as np
from scipy import stats

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cohort"
RESAMPLES = 5000
rng = np.random.default_rng(20250115)


def calls(n, nss_rate, ecr_a, ecr_b):
    """Plausible call metrics: NSS counts, ECRs in [0, 1]."""
    assessment_nss = rng.poisson(nss_rate, n).astype(float)
    full_nss = assessment_nss + rng.poisson(nss_rate * 0.5, n)
    return {
        ("assessment", "nss"): assessment_nss,
        ("full", "nss"): full_nss,
        ("assessment", "ecr_binary"): rng.beta(ecr_a, ecr_b, n),
        ("full", "ecr_binary"): rng.beta(ecr_a, ecr_b, n),
        ("assessment", "ecr_prob"): rng.beta(ecr_a * 2, ecr_b * 2, n),
        ("full", "ecr_prob"): rng.beta(ecr_a * 2, ecr_b * 2, n),
    }


def bootstrap(values):
    means = rng.choice(values, size=(RESAMPLES, len(values)), replace=True).mean(axis=1)
    return np.percentile(means, 2.5), np.percentile(means, 97.5), means.std()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # Sizes like the paper's cohorts (tens of callers) plus a very small group.
    groups = {"suicide": calls(23, 24, 3, 17), "non-suicide": calls(31, 21, 2.5, 16), "tiny": calls(3, 10, 2, 10)}
    with open(OUT / "groups.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "stage", "metric", "value"])
        for group, cells in groups.items():
            for (stage, metric), values in cells.items():
                for v in values:
                    w.writerow([group, stage, metric, repr(float(v))])
    with open(OUT / "expected.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "stage", "metric", "n", "mean", "ci_low", "ci_high", "p_welch", "boot_se"])
        pairs = [("suicide", "non-suicide"), ("non-suicide", "suicide")]
        for group, cells in groups.items():
            for (stage, metric), values in cells.items():
                low, high, se = bootstrap(values)
                p = ""
                for a, b in pairs:
                    if group == a:
                        p = repr(float(stats.ttest_ind(values, groups[b][(stage, metric)], equal_var=False).pvalue))
                w.writerow([group, stage, metric, len(values), repr(float(values.mean())), repr(float(low)),
                            repr(float(high)), p, repr(float(se))])


if __name__ == "__main__":
    main()
