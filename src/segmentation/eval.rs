//! Segmentation quality against a ground-truth CSV: boundary precision/recall/F1 within a
//! tolerance, mean IoU of truth segments, and diarization error rate (DER).

use std::path::Path;

use super::segments_csv::{parse_segments, CsvTable};
use super::{Segment, SegmentationError};

/// One ground-truth utterance (`truth.csv` of `emotrace make-call`).
#[derive(Debug, Clone, PartialEq)]
pub struct TruthSegment {
    pub start_s: f64,
    pub end_s: f64,
    /// `caller` or `operator`.
    pub speaker: String,
}

/// Parses a truth CSV (needs `start_s,end_s,speaker`; other columns are ignored).
pub fn parse_truth(text: &str) -> Result<Vec<TruthSegment>, SegmentationError> {
    let t = CsvTable::parse(text)?;
    let (cs, ce, cp) = (t.column("start_s")?, t.column("end_s")?, t.column("speaker")?);
    (0..t.rows.len())
        .map(|r| Ok(TruthSegment { start_s: t.get_f64(r, cs)?, end_s: t.get_f64(r, ce)?, speaker: t.get(r, cp).to_string() }))
        .collect()
}

/// Boundary detection scores (onsets matched to onsets, offsets to offsets, one-to-one).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BoundaryScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub matched: usize,
    pub truth_boundaries: usize,
    pub predicted_boundaries: usize,
}

/// Maximum one-to-one matching of sorted points within `tol` (greedy is optimal in 1-D).
fn match_points(truth: &mut [f64], pred: &mut [f64], tol: f64) -> usize {
    truth.sort_by(f64::total_cmp);
    pred.sort_by(f64::total_cmp);
    let (mut i, mut j, mut matched) = (0, 0, 0);
    while i < truth.len() && j < pred.len() {
        if pred[j] < truth[i] - tol {
            j += 1;
        } else if pred[j] > truth[i] + tol {
            i += 1;
        } else {
            matched += 1;
            i += 1;
            j += 1;
        }
    }
    matched
}

/// Boundary precision/recall/F1 at `tol` seconds.
pub fn boundary_scores(truth: &[(f64, f64)], pred: &[(f64, f64)], tol: f64) -> BoundaryScores {
    let mut ts: Vec<f64> = truth.iter().map(|s| s.0).collect();
    let mut te: Vec<f64> = truth.iter().map(|s| s.1).collect();
    let mut ps: Vec<f64> = pred.iter().map(|s| s.0).collect();
    let mut pe: Vec<f64> = pred.iter().map(|s| s.1).collect();
    let matched = match_points(&mut ts, &mut ps, tol) + match_points(&mut te, &mut pe, tol);
    let (nt, np) = (2 * truth.len(), 2 * pred.len());
    let precision = if np == 0 { 0.0 } else { matched as f64 / np as f64 };
    let recall = if nt == 0 { 0.0 } else { matched as f64 / nt as f64 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    BoundaryScores { precision, recall, f1, matched, truth_boundaries: nt, predicted_boundaries: np }
}

/// Intersection over union of two (start, end) spans; 0 when they do not overlap.
pub fn span_iou(a: (f64, f64), b: (f64, f64)) -> f64 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let union = (a.1 - a.0) + (b.1 - b.0) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Mean over truth segments of the best IoU with any predicted segment (0 when none overlaps).
pub fn mean_iou(truth: &[(f64, f64)], pred: &[(f64, f64)]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let mut sorted: Vec<(f64, f64)> = pred.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let longest = sorted.iter().map(|p| p.1 - p.0).fold(0.0, f64::max);
    let total: f64 = truth
        .iter()
        .map(|t| {
            // Only predictions starting within [t.start - longest, t.end) can overlap.
            let from = sorted.partition_point(|p| p.0 < t.0 - longest);
            sorted[from..]
                .iter()
                .take_while(|p| p.0 < t.1)
                .map(|p| span_iou(*t, *p))
                .fold(0.0, f64::max)
        })
        .sum();
    total / truth.len() as f64
}

/// Diarization error rate with the optimal mapping of predicted to truth speaker labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DerScores {
    pub der: f64,
    pub missed: f64,
    pub false_alarm: f64,
    pub confusion: f64,
    /// Seconds of truth speech (overlap counted once per speaker).
    pub truth_speech_s: f64,
    /// `(predicted label, truth label)` pairs of the optimal mapping.
    pub mapping: Vec<(String, String)>,
}

const DER_STEP_S: f64 = 0.01;
/// Longest call the evaluation accepts (48 h).
const MAX_CALL_S: f64 = 48.0 * 3600.0;

fn labels_of<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.map(str::to_string).collect();
    v.sort();
    v.dedup();
    v
}

/// Rasterises labelled segments to a bitmask per 10-ms step (at most 8 labels).
fn rasterise(segs: &[(f64, f64, usize)], n: usize) -> Vec<u8> {
    let mut mask = vec![0u8; n];
    for &(s, e, l) in segs {
        let a = ((s / DER_STEP_S).round() as usize).min(n);
        let b = ((e / DER_STEP_S).round() as usize).min(n);
        for m in &mut mask[a..b.max(a)] {
            *m |= 1 << l;
        }
    }
    mask
}

/// All injective maps from `n_pred` labels into `n_truth` labels (or the reverse), as pairs.
fn best_mapping(overlap: &[Vec<u64>]) -> (u64, Vec<(usize, usize)>) {
    let n_pred = overlap.len();
    let n_truth = overlap.first().map_or(0, Vec::len);
    let mut best = (0u64, Vec::new());
    let mut used = vec![false; n_truth];
    let mut current = Vec::new();
    fn go(
        p: usize,
        overlap: &[Vec<u64>],
        used: &mut [bool],
        current: &mut Vec<(usize, usize)>,
        score: u64,
        best: &mut (u64, Vec<(usize, usize)>),
    ) {
        if p == overlap.len() {
            if score > best.0 || best.1.is_empty() {
                *best = (score, current.clone());
            }
            return;
        }
        // Leave predicted label p unmapped.
        go(p + 1, overlap, used, current, score, best);
        for t in 0..used.len() {
            if !used[t] {
                used[t] = true;
                current.push((p, t));
                go(p + 1, overlap, used, current, score + overlap[p][t], best);
                current.pop();
                used[t] = false;
            }
        }
    }
    if n_pred > 0 {
        go(0, overlap, &mut used, &mut current, 0, &mut best);
    }
    best
}

/// DER of predicted speaker labels against truth speaker labels, no collar.
pub fn der(truth: &[TruthSegment], pred: &[Segment]) -> Result<DerScores, SegmentationError> {
    Ok(speaker_scores(truth, pred, 0.0)?.0)
}

/// Time where two or more speakers talk at once, truth against prediction.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OverlapScores {
    /// Share of the predicted overlap time that is truly overlapped (0 when none is predicted).
    pub precision: f64,
    /// Share of the true overlap time that is predicted as overlap (0 when there is none).
    pub recall: f64,
    pub truth_s: f64,
    pub predicted_s: f64,
}

/// DER with `collar` seconds on either side of every truth boundary left unscored (the usual
/// NIST convention: boundaries of hand labels are uncertain), plus overlap detection scores (a
/// predicted overlap is time where two different predicted speakers are active, so stereo
/// channels and mono overlap marks are scored alike; the collar does not apply to it).
pub fn speaker_scores(truth: &[TruthSegment], pred: &[Segment], collar: f64) -> Result<(DerScores, OverlapScores), SegmentationError> {
    let truth_labels = labels_of(truth.iter().map(|t| t.speaker.as_str()));
    let pred_labels = labels_of(pred.iter().map(|p| p.speaker.as_str()));
    if truth_labels.len() > 8 || pred_labels.len() > 6 {
        return Err(SegmentationError::Csv("DER supports at most 8 truth and 6 predicted speakers".into()));
    }
    let end = truth.iter().map(|t| t.end_s).chain(pred.iter().map(|p| p.end_s)).fold(0.0, f64::max);
    // The raster costs one byte per 10 ms: refuse absurd times from a malformed file.
    if end > MAX_CALL_S {
        return Err(SegmentationError::Csv(format!("segment time {end:.0} s is beyond {MAX_CALL_S:.0} s")));
    }
    let n = (end / DER_STEP_S).ceil() as usize + 1;
    let idx = |labels: &[String], s: &str| labels.iter().position(|l| l == s).unwrap_or(0);
    let t_mask = rasterise(
        &truth.iter().map(|t| (t.start_s, t.end_s, idx(&truth_labels, &t.speaker))).collect::<Vec<_>>(),
        n,
    );
    let p_mask = rasterise(
        &pred.iter().map(|p| (p.start_s, p.end_s, idx(&pred_labels, &p.speaker))).collect::<Vec<_>>(),
        n,
    );
    let mut scored = vec![true; n];
    if collar > 0.0 {
        for t in truth {
            for b in [t.start_s, t.end_s] {
                let a = (((b - collar) / DER_STEP_S).round().max(0.0) as usize).min(n);
                let z = (((b + collar) / DER_STEP_S).round().max(0.0) as usize).min(n);
                scored[a..z.max(a)].fill(false);
            }
        }
    }
    let mut overlap = vec![vec![0u64; truth_labels.len()]; pred_labels.len()];
    let (mut n_ref, mut missed, mut fa, mut both) = (0u64, 0u64, 0u64, 0u64);
    let (mut ov_truth, mut ov_pred, mut ov_both) = (0u64, 0u64, 0u64);
    for ((&t, &p), &keep) in t_mask.iter().zip(&p_mask).zip(&scored) {
        let (nr, ns) = (t.count_ones() as u64, p.count_ones() as u64);
        ov_truth += u64::from(nr >= 2);
        ov_pred += u64::from(ns >= 2);
        ov_both += u64::from(nr >= 2 && ns >= 2);
        if !keep {
            continue;
        }
        n_ref += nr;
        missed += nr.saturating_sub(ns);
        fa += ns.saturating_sub(nr);
        both += nr.min(ns);
        if t != 0 && p != 0 {
            for (pl, row) in overlap.iter_mut().enumerate() {
                if p & (1 << pl) != 0 {
                    for (tl, cell) in row.iter_mut().enumerate() {
                        if t & (1 << tl) != 0 {
                            *cell += 1;
                        }
                    }
                }
            }
        }
    }
    let (correct, pairs) = best_mapping(&overlap);
    let confusion = both - correct.min(both);
    let denom = n_ref.max(1) as f64;
    let der = DerScores {
        der: (missed + fa + confusion) as f64 / denom,
        missed: missed as f64 / denom,
        false_alarm: fa as f64 / denom,
        confusion: confusion as f64 / denom,
        truth_speech_s: n_ref as f64 * DER_STEP_S,
        mapping: pairs.into_iter().map(|(p, t)| (pred_labels[p].clone(), truth_labels[t].clone())).collect(),
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let overlap = OverlapScores {
        precision: ratio(ov_both, ov_pred),
        recall: ratio(ov_both, ov_truth),
        truth_s: ov_truth as f64 * DER_STEP_S,
        predicted_s: ov_pred as f64 * DER_STEP_S,
    };
    Ok((der, overlap))
}

/// All figures of one evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalReport {
    pub tolerance_s: f64,
    /// Truth `caller` segments vs predicted `is_caller` segments.
    pub caller_boundaries: BoundaryScores,
    pub caller_mean_iou: f64,
    pub caller_truth_segments: usize,
    pub caller_predicted_segments: usize,
    /// All truth segments vs all predicted segments, speakers ignored.
    pub all_boundaries: BoundaryScores,
    pub all_mean_iou: f64,
    /// Speaker labels vs truth speakers (meaningful for mono A/B output), no collar.
    pub diarization: DerScores,
    /// The same with `collar_s` around truth boundaries left unscored.
    pub diarization_collar: DerScores,
    pub collar_s: f64,
    /// Overlapped speech: truth vs time with two predicted speakers.
    pub overlap: OverlapScores,
}

/// Collar of the second DER figure (s).
pub const DEFAULT_COLLAR_S: f64 = 0.25;

/// Evaluates predicted segments against truth (boundary tolerance `tol`, DER collar
/// [`DEFAULT_COLLAR_S`]).
pub fn evaluate(truth: &[TruthSegment], pred: &[Segment], tol: f64) -> Result<EvalReport, SegmentationError> {
    evaluate_with_collar(truth, pred, tol, DEFAULT_COLLAR_S)
}

/// Evaluates predicted segments against truth.
pub fn evaluate_with_collar(truth: &[TruthSegment], pred: &[Segment], tol: f64, collar: f64) -> Result<EvalReport, SegmentationError> {
    let spans = |it: &mut dyn Iterator<Item = (f64, f64)>| it.collect::<Vec<(f64, f64)>>();
    let t_caller = spans(&mut truth.iter().filter(|t| t.speaker == "caller").map(|t| (t.start_s, t.end_s)));
    let p_caller = spans(&mut pred.iter().filter(|p| p.is_caller).map(|p| (p.start_s, p.end_s)));
    let t_all = spans(&mut truth.iter().map(|t| (t.start_s, t.end_s)));
    let p_all = spans(&mut pred.iter().map(|p| (p.start_s, p.end_s)));
    Ok(EvalReport {
        tolerance_s: tol,
        caller_boundaries: boundary_scores(&t_caller, &p_caller, tol),
        caller_mean_iou: mean_iou(&t_caller, &p_caller),
        caller_truth_segments: t_caller.len(),
        caller_predicted_segments: p_caller.len(),
        all_boundaries: boundary_scores(&t_all, &p_all, tol),
        all_mean_iou: mean_iou(&t_all, &p_all),
        diarization: der(truth, pred)?,
        diarization_collar: speaker_scores(truth, pred, collar)?.0,
        collar_s: collar,
        overlap: speaker_scores(truth, pred, 0.0)?.1,
    })
}

/// Reads both files and evaluates.
pub fn evaluate_files(truth: &Path, segments: &Path, tol: f64, collar: f64) -> Result<EvalReport, SegmentationError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| SegmentationError::Io { path: p.display().to_string(), source })
    };
    evaluate_with_collar(&parse_truth(&read(truth)?)?, &parse_segments(&read(segments)?)?, tol, collar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(s: f64, e: f64, spk: &str) -> Segment {
        Segment { start_s: s, end_s: e, channel: 0, speaker: spk.into(), is_caller: true, overlap: false }
    }
    fn truth(s: f64, e: f64, spk: &str) -> TruthSegment {
        TruthSegment { start_s: s, end_s: e, speaker: spk.into() }
    }

    #[test]
    fn boundaries_within_tolerance_count_once() {
        let t = [(1.0, 2.0), (3.0, 4.0)];
        let p = [(1.1, 2.3), (3.0, 4.05), (3.05, 4.0)];
        let s = boundary_scores(&t, &p, 0.2);
        // Matches: 1.0~1.1, 3.0~3.0, 4.0~4.0 (or 4.05); 2.0 vs 2.3 misses; duplicates unmatched.
        assert_eq!(s.matched, 3);
        assert!((s.recall - 0.75).abs() < 1e-12);
        assert!((s.precision - 0.5).abs() < 1e-12);
    }

    #[test]
    fn iou_of_exact_and_half() {
        assert!((mean_iou(&[(0.0, 2.0)], &[(0.0, 2.0)]) - 1.0).abs() < 1e-12);
        assert!((mean_iou(&[(0.0, 2.0)], &[(1.0, 2.0)]) - 0.5).abs() < 1e-12);
        assert_eq!(mean_iou(&[(0.0, 2.0)], &[(5.0, 6.0)]), 0.0);
    }

    #[test]
    fn der_uses_best_label_mapping() {
        let t = [truth(0.0, 10.0, "caller"), truth(10.0, 20.0, "operator")];
        // Swapped labels: perfect after mapping.
        let p = [seg(0.0, 10.0, "B"), seg(10.0, 20.0, "A")];
        let d = der(&t, &p).unwrap();
        assert!(d.der < 1e-9, "{d:?}");
        // Half of the operator's speech given to the caller's cluster, 2 s missed.
        let p = [seg(0.0, 15.0, "B"), seg(15.0, 18.0, "A")];
        let d = der(&t, &p).unwrap();
        assert!((d.confusion - 0.25).abs() < 1e-9, "{d:?}");
        assert!((d.missed - 0.10).abs() < 1e-9, "{d:?}");
        assert!((d.der - 0.35).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn collar_leaves_boundaries_unscored() {
        let t = [truth(0.0, 10.0, "caller"), truth(10.0, 20.0, "operator")];
        // The change predicted 0.2 s late: 0.2 s of confusion without a collar, none with 0.25 s.
        let p = [seg(0.0, 10.2, "A"), seg(10.2, 20.0, "B")];
        let (plain, _) = speaker_scores(&t, &p, 0.0).unwrap();
        assert!((plain.confusion - 0.01).abs() < 1e-9, "{plain:?}");
        let (collared, _) = speaker_scores(&t, &p, 0.25).unwrap();
        assert_eq!(collared.der, 0.0);
        // 0.25 s inside each speaker's segment at either end is left out: 2 × 9.5 s scored.
        assert!((collared.truth_speech_s - 19.0).abs() < 1e-9, "{collared:?}");
    }

    #[test]
    fn overlap_precision_and_recall() {
        // Truth overlap 9-10 s; predicted overlap 9.5-10.5 s: half right, half of it found.
        let t = [truth(0.0, 10.0, "caller"), truth(9.0, 20.0, "operator")];
        let p = [seg(0.0, 10.5, "A"), seg(9.5, 20.0, "B")];
        let (_, ov) = speaker_scores(&t, &p, 0.0).unwrap();
        assert!((ov.precision - 0.5).abs() < 1e-9 && (ov.recall - 0.5).abs() < 1e-9, "{ov:?}");
        assert!((ov.truth_s - 1.0).abs() < 1e-9);
    }
}
