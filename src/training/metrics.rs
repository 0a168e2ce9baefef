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
        .map(|(s, (p, l))| SpeakerRow { speaker: s.to_string(), metrics: binary_metrics(&p, &l) })
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
