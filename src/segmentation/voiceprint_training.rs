//! Training the voiceprint projection ([`super::voiceprint`]) on synthetic mono calls.
//!
//! Each training call mixes two speakers of one corpus into one channel (no overlap, both
//! speaking in every emotion they recorded) over noise and, by turns, no phone line, the caller
//! through the line, or both through it. The truth utterances are cut into the same <= 2-s
//! pieces the diarizer uses, and each piece's cepstral statistics are one sample of its class
//! (call, speaker). Linear discriminant analysis then maximises the within-call
//! between-speaker scatter relative to the within-speaker scatter.

use std::path::PathBuf;

use rayon::prelude::*;
use serde_json::json;

use super::resegment::{active_frames, active_mask, plan_pieces};
use super::speech_frames::SpeechFrameCollector;
use super::utterances::TimeSpan;
use super::voiceprint::{piece_statistics, LinearProjection, VoiceprintError, VoiceprintModel, MIN_PIECE_FRAMES};
use crate::synth::manifest::{read_manifest, speakers};
use crate::synth::rng::Rng;
use crate::synth::{build_call, CallSpec};

/// The recording paths of a training call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinePath {
    /// Both voices recorded locally (16 kHz, no line).
    Local,
    /// The caller through the phone line, the operator local; 8-kHz μ-law recorder.
    CallerViaLine,
    /// Both voices through the line.
    BothViaLine,
}

/// The paths each speaker's calls take in turn.
const PATHS: [LinePath; 3] = [LinePath::Local, LinePath::BothViaLine, LinePath::CallerViaLine];

/// What to train on.
#[derive(Debug, Clone)]
pub struct VoiceprintTrainingSpec {
    pub data_root: PathBuf,
    pub corpora: Vec<String>,
    /// `(corpus, speaker)` pairs never used (kept for evaluation).
    pub held_out: Vec<(String, String)>,
    /// Training calls per speaker (each with another speaker of the same corpus).
    pub calls_per_speaker: usize,
    pub minutes: f64,
    pub seed: u64,
}

/// One planned training call.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCall {
    pub corpus: String,
    pub first: String,
    pub second: String,
    pub path: LinePath,
    pub seed: u64,
}

impl TrainingCall {
    /// The synthetic mono call to build: no overlap, both speakers in every emotion they recorded.
    pub fn call_spec(&self, spec: &VoiceprintTrainingSpec) -> CallSpec {
        CallSpec {
            data_root: spec.data_root.clone(),
            corpus: self.corpus.clone(),
            caller_speaker: Some(self.first.clone()),
            operator_speaker: Some(self.second.clone()),
            minutes: spec.minutes,
            seed: self.seed,
            overlap_probability: 0.0,
            telephony: self.path != LinePath::Local,
            caller_via_line: self.path == LinePath::CallerViaLine,
            stereo: false,
            operator_emotions: Vec::new(),
            ..CallSpec::default()
        }
    }
}

/// The training calls of `spec`: every training speaker opens `calls_per_speaker` calls with
/// partners drawn (by the seed) from the other training speakers of its corpus, the paths in turn.
pub fn plan_calls(spec: &VoiceprintTrainingSpec) -> Result<Vec<TrainingCall>, VoiceprintError> {
    let mut rng = Rng::new(spec.seed);
    let mut out = Vec::new();
    for corpus in &spec.corpora {
        let utterances =
            read_manifest(&spec.data_root, corpus).map_err(|e| VoiceprintError::Training(e.to_string()))?;
        let pool: Vec<String> = speakers(&utterances)
            .into_iter()
            .filter(|s| !spec.held_out.iter().any(|(c, h)| c == corpus && h == s))
            .collect();
        if pool.len() < 2 {
            return Err(VoiceprintError::Training(format!("corpus {corpus}: fewer than two training speakers")));
        }
        for (i, first) in pool.iter().enumerate() {
            for k in 0..spec.calls_per_speaker {
                let mut j = rng.below(pool.len() - 1);
                if j >= i {
                    j += 1;
                }
                out.push(TrainingCall {
                    corpus: corpus.clone(),
                    first: first.clone(),
                    second: pool[j].clone(),
                    path: PATHS[k % PATHS.len()],
                    seed: rng.next_u64() >> 1,
                });
            }
        }
    }
    Ok(out)
}

/// Statistics of the pieces of one training call, labelled by speaker (0 = first, 1 = second).
pub fn call_pieces(call: &TrainingCall, spec: &VoiceprintTrainingSpec) -> Result<Vec<(u8, Vec<f32>)>, VoiceprintError> {
    let built = build_call(&call.call_spec(spec)).map_err(|e| VoiceprintError::Training(e.to_string()))?;
    let Some(audio) = built.channels.first() else { return Ok(Vec::new()) };
    let spans: Vec<TimeSpan> = built.truth.iter().map(|r| TimeSpan { start_s: r.start_s, end_s: r.end_s }).collect();
    let mut collector = SpeechFrameCollector::new(built.sample_rate, &spans, usize::MAX / 4);
    collector.push(audio);
    let frames = collector.finish();
    let is_active = active_mask(&frames, &active_frames(&frames));
    let firsts: Vec<usize> = frames.utterances().iter().map(|u| u.first).collect();
    let mut out = Vec::new();
    for piece in plan_pieces(&frames, &is_active) {
        if piece.frames.len() < MIN_PIECE_FRAMES {
            continue;
        }
        let u = firsts.partition_point(|&f| f <= piece.range.start) - 1;
        let speaker = u8::from(built.truth[u].speaker != "caller");
        out.push((speaker, piece_statistics(&frames, &piece.frames)));
    }
    Ok(out)
}

/// Trains the projection: builds and analyses the planned calls in parallel, then solves the
/// discriminant problem. `progress` is called with (calls done, calls planned).
pub fn train(spec: &VoiceprintTrainingSpec, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<VoiceprintModel, VoiceprintError> {
    let calls = plan_calls(spec)?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let pieces: Vec<Vec<(u8, Vec<f32>)>> = calls
        .par_iter()
        .map(|c| {
            let samples = call_pieces(c, spec);
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, calls.len());
            samples
        })
        .collect::<Result<_, _>>()?;
    let n_pieces: usize = pieces.iter().map(Vec::len).sum();
    Ok(VoiceprintModel {
        pieces: fit_discriminant(&pieces)?,
        provenance: json!({
            "method": "LDA: within-call between-speaker scatter over within-(call, speaker) scatter",
            "corpora": spec.corpora,
            "held_out": spec.held_out.iter().map(|(c, s)| format!("{c}:{s}")).collect::<Vec<_>>(),
            "calls": calls.len(),
            "calls_per_speaker": spec.calls_per_speaker,
            "minutes_per_call": spec.minutes,
            "pieces": n_pieces,
            "seed": spec.seed,
        }),
    })
}

/// Linear discriminant analysis of per-call labelled samples: the overall mean, the axes
/// (best first, scaled so that the within-class variance along each is 1) and their
/// eigenvalues (between/within variance ratios).
pub fn fit_discriminant(calls: &[Vec<(u8, Vec<f32>)>]) -> Result<LinearProjection, VoiceprintError> {
    let dim = calls.iter().flatten().map(|(_, s)| s.len()).next().ok_or_else(|| VoiceprintError::Training("no pieces".into()))?;
    let mut within = vec![0.0f64; dim * dim];
    let mut between = vec![0.0f64; dim * dim];
    let mut total = vec![0.0f64; dim];
    let mut n_all = 0usize;
    let add_outer = |m: &mut [f64], v: &[f64], w: f64| {
        for a in 0..dim {
            for b in 0..dim {
                m[a * dim + b] += w * v[a] * v[b];
            }
        }
    };
    for pieces in calls {
        let mut class_sum = [vec![0.0f64; dim], vec![0.0f64; dim]];
        let mut class_n = [0usize; 2];
        for (c, s) in pieces {
            let c = (*c).min(1) as usize;
            class_n[c] += 1;
            for (acc, v) in class_sum[c].iter_mut().zip(s) {
                *acc += *v as f64;
            }
        }
        if class_n.contains(&0) {
            continue;
        }
        let class_mean: Vec<Vec<f64>> = (0..2).map(|c| class_sum[c].iter().map(|v| v / class_n[c] as f64).collect()).collect();
        let n_call = (class_n[0] + class_n[1]) as f64;
        let call_mean: Vec<f64> = (0..dim).map(|j| (class_sum[0][j] + class_sum[1][j]) / n_call).collect();
        for c in 0..2 {
            let d: Vec<f64> = class_mean[c].iter().zip(&call_mean).map(|(a, b)| a - b).collect();
            add_outer(&mut between, &d, class_n[c] as f64);
        }
        for (c, s) in pieces {
            let c = (*c).min(1) as usize;
            let d: Vec<f64> = s.iter().zip(&class_mean[c]).map(|(v, m)| *v as f64 - m).collect();
            add_outer(&mut within, &d, 1.0);
            for (t, v) in total.iter_mut().zip(s) {
                *t += *v as f64;
            }
            n_all += 1;
        }
    }
    if n_all <= dim {
        return Err(VoiceprintError::Training(format!("{n_all} pieces are too few for {dim} statistics")));
    }
    // A small ridge keeps near-constant statistics (e.g. a band a phone line removes) from
    // dominating through a near-zero within-class variance.
    let trace: f64 = (0..dim).map(|a| within[a * dim + a]).sum();
    for a in 0..dim {
        within[a * dim + a] += 1e-3 * trace / dim as f64;
    }
    for m in [&mut within, &mut between] {
        m.iter_mut().for_each(|v| *v /= n_all as f64);
    }
    let lower = cholesky(&within, dim).ok_or_else(|| VoiceprintError::Training("within-class scatter is singular".into()))?;
    // M = L⁻¹ B L⁻ᵀ, symmetric; its eigenvectors u give the axes v = L⁻ᵀ u (vᵀ W v = 1).
    let mut m = between.clone();
    for col in 0..dim {
        let column: Vec<f64> = (0..dim).map(|r| m[r * dim + col]).collect();
        let solved = forward_substitute(&lower, dim, &column);
        for r in 0..dim {
            m[r * dim + col] = solved[r];
        }
    }
    for row in 0..dim {
        let solved = forward_substitute(&lower, dim, &m[row * dim..(row + 1) * dim]);
        m[row * dim..(row + 1) * dim].copy_from_slice(&solved);
    }
    let (values, vectors) = symmetric_eigen(&m, dim);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let axes = order
        .iter()
        .map(|&k| {
            let u: Vec<f64> = (0..dim).map(|r| vectors[r * dim + k]).collect();
            back_substitute_transposed(&lower, dim, &u).into_iter().map(|v| v as f32).collect()
        })
        .collect();
    let eigenvalues = order.iter().map(|&k| values[k].max(0.0) as f32).collect();
    let mean = total.iter().map(|t| (t / n_all as f64) as f32).collect();
    Ok(LinearProjection { input_dim: dim, mean, axes, eigenvalues })
}

/// Lower-triangular L with L Lᵀ = `a` (row-major `n`×`n`); `None` if not positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L x = b.
fn forward_substitute(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0f64; n];
    for i in 0..n {
        x[i] = (b[i] - (0..i).map(|k| l[i * n + k] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    x
}

/// Solves Lᵀ x = b.
fn back_substitute_transposed(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        x[i] = (b[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    x
}

/// Eigenvalues and eigenvectors (columns of the row-major result) of a symmetric matrix by
/// cyclic Jacobi rotations: small matrices only (here 34 × 34).
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|p| (0..n).filter(move |&q| q != p).map(move |q| (p, q))).map(|(p, q)| m[p * n + q].powi(2)).sum();
        let scale: f64 = (0..n).map(|p| m[p * n + p].powi(2)).sum::<f64>().max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_known_matrix() {
        // Eigenvalues of [[2,1],[1,2]] are 1 and 3.
        let (mut values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
        // Columns are orthonormal.
        let dot = vectors[0] * vectors[1] + vectors[2] * vectors[3];
        assert!(dot.abs() < 1e-12);
    }

    #[test]
    fn cholesky_reconstructs_and_solves() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let b = [1.0, -2.0, 0.5];
        let y = forward_substitute(&l, 3, &b);
        let x = back_substitute_transposed(&l, 3, &y);
        for i in 0..3 {
            let v: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((v - b[i]).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn discriminant_finds_the_speaker_axis_and_ignores_the_emotion_axis() {
        // 3-d statistics: axis 0 carries a per-speaker offset, axis 1 a large within-speaker
        // (emotion) spread, axis 2 small noise. The best axis must be axis 0.
        let mut rng = Rng::new(7);
        let calls: Vec<Vec<(u8, Vec<f32>)>> = (0..30)
            .map(|_| {
                let offsets = [rng.normal() as f32 * 2.0, rng.normal() as f32 * 2.0];
                (0..60)
                    .map(|i| {
                        let c = (i % 2) as u8;
                        let v = vec![
                            offsets[c as usize] + 0.3 * rng.normal() as f32,
                            5.0 * rng.normal() as f32,
                            0.5 * rng.normal() as f32,
                        ];
                        (c, v)
                    })
                    .collect()
            })
            .collect();
        let LinearProjection { axes, eigenvalues: values, .. } = fit_discriminant(&calls).unwrap();
        let best = &axes[0];
        assert!(best[0].abs() > 10.0 * best[1].abs() && best[0].abs() > 10.0 * best[2].abs(), "{best:?}");
        assert!(values[0] > 10.0 && values[0] > 20.0 * values[1], "{values:?}");
        // Within-class variance along the axis is about 1: 0.3 spread -> weight ~ 1/0.3.
        assert!((best[0].abs() - 1.0 / 0.3).abs() < 0.5, "{best:?}");
    }
}
