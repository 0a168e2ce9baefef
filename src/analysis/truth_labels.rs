//! How a call's segment scores agree with the true labels of a generated call (`make-call`'s
//! truth CSV): each scored segment takes the label of the caller utterance it overlaps most,
//! when that overlap covers at least half of the segment; then ROC AUC, F1 and calibration of
//! `p` against those labels.
use std::path::Path;

use serde::Serialize;

use crate::segmentation::segments_csv::CsvTable;
use crate::training::calibration::{expected_calibration_error, roc_auc, ECE_BINS};
use crate::training::dataset::parse_label;
use crate::training::metrics::{binary_metrics, BinaryMetrics};

/// A segment must share this fraction of its length with one caller utterance to take its label.
pub const MIN_COVERAGE: f64 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct LabelAgreement {
    /// Scored segments that took a label.
    pub matched: usize,
    /// Scored segments that overlap no caller utterance enough (e.g. mostly noise or the other party).
    pub unmatched: usize,
    pub auc: Option<f64>,
    pub metrics: BinaryMetrics,
    pub ece: f64,
    /// The best constant's macro-F1 on the same segments (AUC 0.5).
    pub constant_macro_f1: f64,
    /// Standard deviation of p over the matched segments (a flat band has almost none).
    pub p_std: f64,
}

/// `(start_s, end_s, label)` of the truth's caller utterances.
fn caller_truth(text: &str) -> Result<Vec<(f64, f64, u8)>, String> {
    let t = CsvTable::parse(text).map_err(|e| e.to_string())?;
    let col = |n: &str| t.column(n).map_err(|e| e.to_string());
    let (cs, ce, cp, cl) = (col("start_s")?, col("end_s")?, col("speaker")?, col("label_binary")?);
    let mut out = Vec::new();
    for r in 0..t.rows.len() {
        if t.get(r, cp) != "caller" {
            continue;
        }
        let label = parse_label(t.get(r, cl)).ok_or_else(|| format!("row {}: label {:?}", r + 2, t.get(r, cl)))?;
        out.push((t.get_f64(r, cs).map_err(|e| e.to_string())?, t.get_f64(r, ce).map_err(|e| e.to_string())?, label));
    }
    Ok(out)
}

/// `(start_s, end_s, p)` of an analysis's segments.csv.
fn scored_segments(text: &str) -> Result<Vec<(f64, f64, f32)>, String> {
    let t = CsvTable::parse(text).map_err(|e| e.to_string())?;
    let col = |n: &str| t.column(n).map_err(|e| e.to_string());
    let (cs, ce, cp) = (col("start_s")?, col("end_s")?, col("p_nonnegative")?);
    (0..t.rows.len())
        .map(|r| {
            let f = |c| t.get_f64(r, c).map_err(|e| e.to_string());
            Ok((f(cs)?, f(ce)?, f(cp)? as f32))
        })
        .collect()
}

/// Matches segments to truth labels and measures the scores.
pub fn agreement(truth: &[(f64, f64, u8)], segments: &[(f64, f64, f32)]) -> LabelAgreement {
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    for &(s, e, p) in segments {
        let best = truth
            .iter()
            .map(|&(ts, te, l)| ((e.min(te) - s.max(ts)).max(0.0), l))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((overlap, label)) = best {
            if e > s && overlap >= MIN_COVERAGE * (e - s) {
                probs.push(p);
                labels.push(label);
            }
        }
    }
    let n = probs.len();
    let mean = probs.iter().map(|&p| p as f64).sum::<f64>() / n.max(1) as f64;
    let p_std = (probs.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt();
    let non_negative = labels.iter().filter(|&&l| l == 1).count();
    let constant = if 2 * non_negative > n { 1.0 } else { 0.0 };
    LabelAgreement {
        matched: n,
        unmatched: segments.len() - n,
        auc: roc_auc(&probs, &labels),
        metrics: binary_metrics(&probs, &labels),
        ece: expected_calibration_error(&probs, &labels, ECE_BINS),
        constant_macro_f1: binary_metrics(&vec![constant; n], &labels).macro_f1,
        p_std,
    }
}

/// Reads a truth CSV and an analysis's segments.csv and measures their agreement.
pub fn agreement_files(truth: &Path, segments: &Path) -> Result<LabelAgreement, String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let t = caller_truth(&read(truth)?).map_err(|e| format!("{}: {e}", truth.display()))?;
    let s = scored_segments(&read(segments)?).map_err(|e| format!("{}: {e}", segments.display()))?;
    Ok(agreement(&t, &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_take_the_label_they_mostly_cover() {
        let truth = [(0.0, 2.0, 0), (3.0, 5.0, 1), (6.0, 8.0, 0)];
        // Covers the first; covers the second; mostly silence (unmatched); the third.
        let segments = [(0.1, 1.9, 0.2), (2.9, 5.1, 0.8), (5.0, 6.5, 0.9), (6.0, 7.9, 0.6)];
        let a = agreement(&truth, &segments);
        assert_eq!((a.matched, a.unmatched), (3, 1));
        assert_eq!(a.auc, Some(1.0));
        assert_eq!(a.metrics.confusion.negative_as_non_negative, 1);
    }
}
