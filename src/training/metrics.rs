//! Classification metrics. The class of interest is **negative** (`p <= 0.5`, label 0); figures
//! for the non-negative class and their macro average are reported beside it.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// True members of the class.
    pub support: usize,
}

/// Counts by (truth, prediction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub negative_as_negative: usize,
    pub negative_as_non_negative: usize,
    pub non_negative_as_negative: usize,
    pub non_negative_as_non_negative: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    pub n: usize,
    pub accuracy: f64,
    pub negative: ClassMetrics,
    pub non_negative: ClassMetrics,
    pub macro_f1: f64,
    pub confusion: Confusion,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn class(tp: usize, fp: usize, fn_: usize) -> ClassMetrics {
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    ClassMetrics { precision, recall, f1, support: tp + fn_ }
}

/// Metrics of probabilities `p = P(non-negative)` against labels (1 = non-negative).
pub fn binary_metrics(probs: &[f32], labels: &[u8]) -> BinaryMetrics {
    let mut c = Confusion::default();
    for (&p, &l) in probs.iter().zip(labels) {
        let predicted_negative = p <= 0.5;
        match (l == 0, predicted_negative) {
            (true, true) => c.negative_as_negative += 1,
            (true, false) => c.negative_as_non_negative += 1,
            (false, true) => c.non_negative_as_negative += 1,
            (false, false) => c.non_negative_as_non_negative += 1,
        }
    }
    let n = probs.len().min(labels.len());
    let negative = class(c.negative_as_negative, c.non_negative_as_negative, c.negative_as_non_negative);
    let non_negative = class(c.non_negative_as_non_negative, c.negative_as_non_negative, c.non_negative_as_negative);
    BinaryMetrics {
        n,
        accuracy: ratio(c.negative_as_negative + c.non_negative_as_non_negative, n),
        macro_f1: (negative.f1 + non_negative.f1) / 2.0,
        negative,
        non_negative,
        confusion: c,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerRow {
    pub speaker: String,
    pub metrics: BinaryMetrics,
    /// ROC AUC within the speaker (`None` when the speaker has clips of one class only).
    #[serde(default)]
    pub auc: Option<f64>,
}

/// One row per speaker (sorted by name).
pub fn per_speaker(probs: &[f32], labels: &[u8], speakers: &[String]) -> Vec<SpeakerRow> {
    let mut groups: BTreeMap<&str, (Vec<f32>, Vec<u8>)> = BTreeMap::new();
    for ((&p, &l), s) in probs.iter().zip(labels).zip(speakers) {
        let g = groups.entry(s.as_str()).or_default();
        g.0.push(p);
        g.1.push(l);
    }
    groups
        .into_iter()
        .map(|(s, (p, l))| SpeakerRow {
            speaker: s.to_string(),
            metrics: binary_metrics(&p, &l),
            auc: super::calibration::roc_auc(&p, &l),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_class_metrics_and_threshold() {
        // Truth: N N N P P; predicted: N(0.5 counts as negative) N P N P.
        let m = binary_metrics(&[0.5, 0.1, 0.9, 0.2, 0.8], &[0, 0, 0, 1, 1]);
        assert_eq!(m.confusion.negative_as_negative, 2);
        assert_eq!(m.confusion.negative_as_non_negative, 1);
        assert_eq!(m.confusion.non_negative_as_negative, 1);
        assert!((m.negative.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.negative.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.non_negative.f1 - 0.5).abs() < 1e-12);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        let rows = per_speaker(&[0.1, 0.9], &[0, 0], &["b".into(), "a".into()]);
        assert_eq!(rows[0].speaker, "a");
        assert_eq!(rows[0].metrics.accuracy, 0.0);
    }
}

/// 95% percentile-bootstrap intervals (clips resampled with replacement) of the headline figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapIntervals {
    pub resamples: usize,
    pub seed: u64,
    pub accuracy: (f64, f64),
    pub negative_f1: (f64, f64),
    pub macro_f1: (f64, f64),
    /// ROC AUC (resamples holding one class only are skipped).
    #[serde(default)]
    pub auc: (f64, f64),
}

/// Bootstrap CIs of accuracy, negative-class F1 and macro-F1 (`resamples` draws, seeded). Clips of
/// one speaker are not independent, so with few speakers these intervals are optimistic.
pub fn bootstrap_intervals(probs: &[f32], labels: &[u8], resamples: usize, seed: u64) -> BootstrapIntervals {
    use rand::{Rng, SeedableRng};
    let n = probs.len().min(labels.len());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut acc, mut neg, mut mac) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    let mut auc = Vec::with_capacity(resamples);
    let (mut p, mut l) = (vec![0f32; n], vec![0u8; n]);
    for _ in 0..resamples {
        if n == 0 {
            break;
        }
        for k in 0..n {
            let i = rng.random_range(0..n);
            p[k] = probs[i];
            l[k] = labels[i];
        }
        let m = binary_metrics(&p, &l);
        acc.push(m.accuracy);
        neg.push(m.negative.f1);
        mac.push(m.macro_f1);
        if let Some(a) = super::calibration::roc_auc(&p, &l) {
            auc.push(a);
        }
    }
    let interval = |mut v: Vec<f64>| -> (f64, f64) {
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        (at(0.025), at(0.975))
    };
    BootstrapIntervals {
        resamples,
        seed,
        accuracy: interval(acc),
        negative_f1: interval(neg),
        macro_f1: interval(mac),
        auc: interval(auc),
    }
}

#[cfg(test)]
mod bootstrap_tests {
    use super::*;

    #[test]
    fn intervals_bracket_the_point_estimate_and_shrink_with_more_clips() {
        let make = |n: usize| -> (Vec<f32>, Vec<u8>) {
            (0..n).map(|i| (if i % 4 == 0 { 0.9 } else if i % 2 == 0 { 0.2 } else { 0.7 }, (i % 2) as u8)).unzip()
        };
        let (p, l) = make(200);
        let point = binary_metrics(&p, &l);
        let ci = bootstrap_intervals(&p, &l, 500, 1);
        assert!(ci.negative_f1.0 <= point.negative.f1 && point.negative.f1 <= ci.negative_f1.1);
        assert!(ci.macro_f1.0 < ci.macro_f1.1);
        let (p4, l4) = make(2000);
        let wide = ci.accuracy.1 - ci.accuracy.0;
        let ci4 = bootstrap_intervals(&p4, &l4, 500, 1);
        assert!(ci4.accuracy.1 - ci4.accuracy.0 < wide);
        assert_eq!(ci, bootstrap_intervals(&p, &l, 500, 1), "seeded: reproducible");
        let auc = crate::training::calibration::roc_auc(&p, &l).unwrap();
        assert!(ci.auc.0 <= auc && auc <= ci.auc.1, "{auc} outside {:?}", ci.auc);
    }
}
