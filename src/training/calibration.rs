//! Ranking and calibration of `p = P(non-negative)`: ROC AUC, expected calibration error, the
//! reliability table behind a reliability diagram, and Platt scaling (`p = sigmoid(a * logit +
//! b)`) fitted on validation speakers. A fitted scaling is folded into the classifier's weights
//! ([`fold_into_classifier`]), so every consumer of the bundle (scores, trajectories, NSS, ECR)
//! sees calibrated `p` without knowing about it; meta.json records the fit.
use std::collections::HashMap;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// ROC AUC of `probs` for the non-negative class (label 1), ties counted half (Mann-Whitney U).
/// `None` when either class is absent.
pub fn roc_auc(probs: &[f32], labels: &[u8]) -> Option<f64> {
    let mut order: Vec<usize> = (0..probs.len().min(labels.len())).collect();
    order.sort_by(|&i, &j| probs[i].total_cmp(&probs[j]));
    let positives = order.iter().filter(|&&i| labels[i] == 1).count();
    let negatives = order.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Sum of the positives' (mid-)ranks.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && probs[order[end]] == probs[order[start]] {
            end += 1;
        }
        let mid_rank = (start + end + 1) as f64 / 2.0;
        rank_sum += mid_rank * order[start..end].iter().filter(|&&i| labels[i] == 1).count() as f64;
        start = end;
    }
    let u = rank_sum - (positives * (positives + 1)) as f64 / 2.0;
    Some(u / (positives as f64 * negatives as f64))
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean predicted P(non-negative) of the bin's clips (NaN when empty).
    pub mean_p: f64,
    /// Fraction of the bin's clips that are non-negative (NaN when empty).
    pub observed: f64,
}

/// Equal-width bins over [0, 1] (`p = 1` falls in the last bin).
pub fn reliability(probs: &[f32], labels: &[u8], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sum_p = vec![0f64; bins];
    let mut sum_y = vec![0f64; bins];
    let mut count = vec![0usize; bins];
    for (&p, &y) in probs.iter().zip(labels) {
        let b = ((p.clamp(0.0, 1.0) as f64 * bins as f64) as usize).min(bins - 1);
        sum_p[b] += p as f64;
        sum_y[b] += y as f64;
        count[b] += 1;
    }
    (0..bins)
        .map(|b| ReliabilityBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            count: count[b],
            mean_p: if count[b] > 0 { sum_p[b] / count[b] as f64 } else { f64::NAN },
            observed: if count[b] > 0 { sum_y[b] / count[b] as f64 } else { f64::NAN },
        })
        .collect()
}

/// Expected calibration error over `bins` equal-width bins: `sum_b n_b / N * |observed_b -
/// mean_p_b|` (0 for no clips).
pub fn expected_calibration_error(probs: &[f32], labels: &[u8], bins: usize) -> f64 {
    let table = reliability(probs, labels, bins);
    let n: usize = table.iter().map(|b| b.count).sum();
    if n == 0 {
        return 0.0;
    }
    table.iter().filter(|b| b.count > 0).map(|b| b.count as f64 / n as f64 * (b.observed - b.mean_p).abs()).sum()
}

/// Bins of the ECE the product reports.
pub const ECE_BINS: usize = 10;

/// `p = sigmoid(a * logit + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlattScaling {
    pub a: f64,
    pub b: f64,
}

impl PlattScaling {
    pub const IDENTITY: Self = Self { a: 1.0, b: 0.0 };

    /// Maximum-likelihood `(a, b)` on `(logit, label)` pairs (Newton's method on the two
    /// parameters, with step halving; a tiny ridge keeps it finite on separable data). Identity
    /// when either class is absent.
    pub fn fit(logits: &[f32], labels: &[u8]) -> Self {
        let n = logits.len().min(labels.len());
        let has_both = labels[..n].iter().any(|&l| l == 1) && labels[..n].iter().any(|&l| l == 0);
        if !has_both {
            return Self::IDENTITY;
        }
        const RIDGE: f64 = 1e-6;
        let nll = |a: f64, b: f64| -> f64 {
            let mut s = RIDGE * (a * a + b * b);
            for i in 0..n {
                let z = a * logits[i] as f64 + b;
                // log(1 + e^z) - y z, stably.
                s += z.max(0.0) + (-z.abs()).exp().ln_1p() - labels[i] as f64 * z;
            }
            s
        };
        let (mut a, mut b) = (1.0f64, 0.0f64);
        let mut current = nll(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (2.0 * RIDGE * a, 2.0 * RIDGE * b, 2.0 * RIDGE, 0.0, 2.0 * RIDGE);
            for i in 0..n {
                let x = logits[i] as f64;
                let p = 1.0 / (1.0 + (-(a * x + b)).exp());
                let r = p - labels[i] as f64;
                let w = p * (1.0 - p);
                ga += r * x;
                gb += r;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a - step * da, b - step * db);
                let value = nll(na, nb);
                if value <= current {
                    improved = (current - value) > 1e-12 * current.abs().max(1.0);
                    a = na;
                    b = nb;
                    current = value;
                    break;
                }
                step *= 0.5;
            }
            if !improved {
                break;
            }
        }
        Self { a, b }
    }

    pub fn apply_logit(&self, logit: f32) -> f32 {
        (self.a * logit as f64 + self.b) as f32
    }
}

/// Folds `scaling` into `classifier.weight` / `classifier.bias` of a tensor map (PyTorch names):
/// `W' = a W`, `b' = a b + b0`, so the bundle's logit is the calibrated one. A statistics head
/// (`stats_head.*`) is scaled by `a` too.
pub fn fold_into_classifier(tensors: &mut HashMap<String, Tensor>, scaling: PlattScaling) -> candle_core::Result<()> {
    let (Some(w), Some(b)) = (tensors.get("classifier.weight"), tensors.get("classifier.bias")) else {
        candle_core::bail!("cannot fold the calibration: classifier.weight or classifier.bias missing");
    };
    let w2 = (w * scaling.a)?;
    let b2 = ((b * scaling.a)? + scaling.b)?;
    tensors.insert("classifier.weight".into(), w2);
    tensors.insert("classifier.bias".into(), b2);
    // The statistics head's logit is added to the classifier's: it scales with it.
    for name in ["stats_head.weight", "stats_head.bias"] {
        if let Some(t) = tensors.get(name) {
            let scaled = (t * scaling.a)?;
            tensors.insert(name.into(), scaled);
        }
    }
    Ok(())
}

/// What meta.json records of a calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    pub method: String,
    pub a: f64,
    pub b: f64,
    /// Clips and speakers it was fitted on.
    pub fitted_on: String,
    pub clips: usize,
    pub ece_before: f64,
    pub ece_after: f64,
    pub bins: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half_and_needs_both_classes() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), Some(0.75));
        assert_eq!(roc_auc(&[0.5, 0.5], &[0, 1]), Some(0.5));
        assert_eq!(roc_auc(&[0.9, 0.1], &[0, 1]), Some(0.0));
        assert_eq!(roc_auc(&[0.2, 0.3], &[1, 1]), None);
        // sklearn.metrics.roc_auc_score([0,1,0,1,1,0], [.2,.2,.6,.9,.6,.1]) = 0.7777...
        let auc = roc_auc(&[0.2, 0.2, 0.6, 0.9, 0.6, 0.1], &[0, 1, 0, 1, 1, 0]).unwrap();
        assert!((auc - 7.0 / 9.0).abs() < 1e-12, "{auc}");
    }

    #[test]
    fn ece_of_a_calibrated_and_of_an_overconfident_predictor() {
        // Bin [0.2, 0.3): p 0.25, observed 1/4 -> 0; bin [0.7, 0.8): p 0.75, observed 3/4 -> 0.
        let probs = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let labels = [1, 0, 0, 0, 1, 1, 1, 0];
        assert!(expected_calibration_error(&probs, &labels, 10) < 1e-12);
        // Always 0.95 on a half-positive set: |0.5 - 0.95| = 0.45.
        let ece = expected_calibration_error(&[0.95; 4], &[1, 0, 1, 0], 10);
        assert!((ece - 0.45).abs() < 1e-6, "{ece}");
        let table = reliability(&[1.0, 0.0], &[1, 0], 10);
        assert_eq!((table[0].count, table[9].count), (1, 1));
    }

    #[test]
    fn platt_recovers_a_known_scaling_and_the_fold_applies_it() {
        // Labels drawn from sigmoid(2 z - 1) for a grid of z: the fit lands near (2, -1).
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..4000 {
            let z = (i % 400) as f32 / 100.0 - 2.0;
            let p = 1.0 / (1.0 + (-(2.0 * z as f64 - 1.0)).exp());
            let u = ((i as u64 * 2_654_435_761) % 1000) as f64 / 1000.0;
            logits.push(z);
            labels.push(u8::from(u < p));
        }
        let s = PlattScaling::fit(&logits, &labels);
        assert!((s.a - 2.0).abs() < 0.25 && (s.b + 1.0).abs() < 0.2, "{s:?}");
        let dev = candle_core::Device::Cpu;
        let mut t = HashMap::new();
        t.insert("classifier.weight".to_string(), Tensor::new(&[[0.5f32, -1.0]], &dev).unwrap());
        t.insert("classifier.bias".to_string(), Tensor::new(&[0.25f32], &dev).unwrap());
        fold_into_classifier(&mut t, PlattScaling { a: 2.0, b: -1.0 }).unwrap();
        assert_eq!(t["classifier.weight"].to_vec2::<f32>().unwrap(), vec![vec![1.0, -2.0]]);
        assert_eq!(t["classifier.bias"].to_vec1::<f32>().unwrap(), vec![-0.5]);
        assert_eq!(PlattScaling::fit(&[1.0, 2.0], &[1, 1]), PlattScaling::IDENTITY);
    }
}
