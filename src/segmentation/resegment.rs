//! Two-speaker diarization of a mono call by GMM fingerprints and Viterbi resegmentation.
//!
//! 1. A 32-component call-level GMM (the "background" of this call) is trained on its speech
//!    frames ([`SpeechFrames`]: normalised mel-cepstra and the low-band ratio).
//! 2. Every utterance is cut into pieces of at most 2 s; each piece's fingerprint is the
//!    background MAP-adapted to the piece (a mean supervector, scaled so that distances
//!    approximate a KL divergence).
//! 3. The fingerprints are split in two by 2-means (the best of several k-means++ starts); so
//!    are the pieces' voiceprints ([`super::voiceprint`]: a projection learned on other
//!    speakers that keeps what tells two voices apart and scales down how one voice varies
//!    with emotion), giving another first guess.
//! 4. A few rounds of resegmentation: a GMM per speaker (the background adapted to that
//!    speaker's frames) scores every frame, and a two-state Viterbi with a minimum run length
//!    and a switch penalty relabels each utterance frame by frame, so speaker changes inside an
//!    utterance land where the voices change rather than on piece edges.
//! 5. Of the refined first guesses, the one best on likelihood and voiceprint separation
//!    together is kept.
//!
//! With a speaker encoder (the built-in CAM++ or an imported one, [`super::piece_embeddings`];
//! the default) steps 2-3 and 5 give way to the 2-means of the pieces' speaker embeddings
//! (centred on the call's mean), refined as in step 4 for GE2E only.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::gmm::{viterbi_two_states, DiagGmm, Frames};
use super::piece_embeddings::PieceEmbedding;
use super::speech_frames::SpeechFrames;
use super::utterances::TimeSpan;
use super::voiceprint::{piece_statistics, VoiceprintModel};

/// Components of the call-level background GMM.
const BACKGROUND_COMPONENTS: usize = 32;
/// EM rounds for the background.
const BACKGROUND_ITERATIONS: usize = 12;
/// Frames the background is trained on at most (a random subset beyond that: the mixture does
/// not get better, only slower).
const BACKGROUND_MAX_FRAMES: usize = 60_000;
/// MAP relevance factor (Reynolds et al. 2000 use 16).
const RELEVANCE: f32 = 16.0;
/// Longest piece fingerprinted as one unit.
pub(crate) const PIECE_S: f64 = 2.0;
/// k-means++ starts of the 2-means; the split with the least within-cluster spread wins.
const KMEANS_STARTS: u64 = 11;
const KMEANS_ROUNDS: usize = 100;
/// Below this many frames (3 s at 10 ms) there is too little speech to model two voices.
pub const MIN_FRAMES: usize = 300;
/// Frames quieter than this (natural-log energy units; 25 dB) below their utterance's loudest
/// frame are pauses: they carry the line noise, not a voice, and are left out of the models.
const ACTIVE_RANGE_NATS: f32 = 25.0 / 4.343;
const SEED: u64 = 0x5eed_d1a7;
/// Weights of the recording-path cue appended to the fingerprints, one first guess each: 0
/// (voices only) and two strengths at which a phone line versus a local microphone splits the
/// pieces (tuned on the tuning speakers of `scripts/diarization_eval.sh`).
const PATH_WEIGHTS: [f32; 3] = [0.0, 0.5, 1.0];
/// Voiceprint axes clustered for the voiceprint first guess (of 34; chosen on the tuning
/// speakers of `scripts/diarization_eval.sh` among 8, 12 and 16).
const VOICEPRINT_DIMS: usize = 8;
/// Voiceprint axes over which the refined first guesses' speaker separation is measured when
/// choosing among them (chosen on the tuning speakers among 4, 8, 16 and 34).
const SELECTION_VOICEPRINT_DIMS: usize = 16;

/// Settings of the resegmentation (see [`super::SegmentationParams`] for their defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResegmentSettings {
    /// Rounds of per-speaker GMM + Viterbi relabelling after the fingerprint clustering.
    pub iterations: usize,
    /// Rounds of the same after the 2-means of a speaker encoder's embeddings.
    pub encoder_iterations: usize,
    /// Shortest speaker turn inside an utterance (ms).
    pub min_run_ms: f32,
    /// Log-likelihood cost of a speaker change inside an utterance.
    pub switch_penalty: f32,
}

/// A stretch of one utterance given to one of two speakers (0 or 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerRun {
    pub span: TimeSpan,
    pub speaker: usize,
    /// Index of the utterance the run belongs to.
    pub utterance: usize,
}

/// Diarizes the stored frames into two speakers; `None` when there is too little speech.
/// With `embeddings` (a speaker encoder's, per piece of the utterances) their 2-means, refined,
/// is the answer; otherwise the first guesses below are refined and one is chosen.
/// Once `stop` says so, no more refinement rounds are run (the result is then only a rough one,
/// for a caller that is about to discard it).
/// `alternative` is another first guess (speaker runs from a different clustering) and
/// `voiceprint` gives one more (2-means of the pieces' voiceprints): every first guess is
/// refined, and the one kept is best on likelihood (how well the refined speaker models
/// explain the frames) and voiceprint separation together ([`choose_candidate`]).
pub fn diarize(
    frames: &SpeechFrames,
    settings: &ResegmentSettings,
    alternative: Option<&[SpeakerRun]>,
    voiceprint: Option<&VoiceprintModel>,
    embeddings: Option<&[PieceEmbedding]>,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<SpeakerRun>> {
    let active = active_frames(frames);
    if active.len() < MIN_FRAMES {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let training: Vec<usize> = if active.len() > BACKGROUND_MAX_FRAMES {
        let mut pick = active.clone();
        for i in 0..BACKGROUND_MAX_FRAMES {
            let j = rng.random_range(i..pick.len());
            pick.swap(i, j);
        }
        pick.truncate(BACKGROUND_MAX_FRAMES);
        pick.sort_unstable();
        pick
    } else {
        active.clone()
    };
    let background = DiagGmm::fit(frames, &training, BACKGROUND_COMPONENTS, BACKGROUND_ITERATIONS, SEED)?;

    let is_active = active_mask(frames, &active);
    let pieces = plan_pieces(frames, &is_active);
    if pieces.len() < 2 {
        return None;
    }
    let piece_weights: Vec<f32> = pieces.iter().map(|p| p.frames.len() as f32).collect();
    let min_run = ((settings.min_run_ms as f64 / 1000.0 / frames.step_s()).round() as usize).max(1);
    let refine_rounds = |mut labels: Vec<u8>, rounds: usize| -> (Vec<u8>, f64) {
        let mut score = f64::NEG_INFINITY;
        for _ in 0..rounds {
            if stop() {
                break;
            }
            let Some(models) = speaker_models(&background, frames, &labels, &is_active) else { break };
            (labels, score) = relabel(frames, &models, &is_active, min_run, settings.switch_penalty);
        }
        if score == f64::NEG_INFINITY {
            if let Some(models) = speaker_models(&background, frames, &labels, &is_active) {
                score = labelled_score(frames, &models, &is_active, &labels);
            }
        }
        (labels, score)
    };
    let refine = |labels: Vec<u8>| refine_rounds(labels, settings.iterations);
    // A speaker encoder trained on thousands of voices separates two voices far better than
    // anything below, which would only be chosen instead of it where it is right (docs/segmentation.md,
    // `--set heldout3`): its 2-means, refined, is the answer.
    if let Some(embedded) = embeddings.filter(|e| !e.is_empty()) {
        let points = centred_directions(&piece_embeddings(&pieces, embedded), &piece_weights);
        let split = spread_piece_labels(&pieces, &two_means(&points, &piece_weights), frames.len());
        // No rounds: the split stands as it is (its likelihood is not needed here).
        let labels = match settings.encoder_iterations {
            0 => split,
            rounds => refine_rounds(split, rounds).0,
        };
        return Some(runs(frames, &labels));
    }
    let fingerprints: Vec<Vec<f32>> = pieces
        .par_iter()
        .map(|p| {
            let stats = background.accumulate(frames, &p.frames);
            background.supervector(&background.map_adapt(&stats, RELEVANCE, false))
        })
        .collect();
    let path = piece_path_cue(frames, &pieces, &fingerprints);
    // First guesses: the fingerprints with the path cue weighted 0, 0.5 and 1, the
    // alternative and the voiceprints; each is refined, then one is chosen.
    let mut candidates: Vec<(Vec<u8>, f64)> = Vec::new();
    for weight in PATH_WEIGHTS {
        let points: Vec<Vec<f32>> = fingerprints
            .iter()
            .zip(&path)
            .map(|(f, p)| f.iter().copied().chain(std::iter::once(p * weight)).collect())
            .collect();
        candidates.push(refine(spread_piece_labels(&pieces, &two_means(&points, &piece_weights), frames.len())));
    }
    if let Some(alt) = alternative {
        candidates.push(refine(frame_labels(frames, alt)));
    }
    let voiceprints: Option<Vec<Vec<f32>>> = voiceprint.map(|vp| {
        pieces.iter().map(|p| vp.pieces.project(&piece_statistics(frames, &p.frames), SELECTION_VOICEPRINT_DIMS)).collect()
    });
    if let Some(points) = &voiceprints {
        let clustered: Vec<Vec<f32>> = points.iter().map(|v| v[..VOICEPRINT_DIMS.min(v.len())].to_vec()).collect();
        candidates.push(refine(spread_piece_labels(&pieces, &two_means(&clustered, &piece_weights), frames.len())));
    }
    let separations: Option<Vec<f64>> = voiceprints.as_ref().map(|points| {
        candidates
            .iter()
            .map(|(labels, _)| voiceprint_separation(points, &piece_weights, &piece_majority_labels(&pieces, labels)))
            .collect()
    });
    let scores: Vec<f64> = candidates.iter().map(|c| c.1).collect();
    let chosen = choose_candidate(&scores, separations.as_deref())?;
    let labels = candidates.swap_remove(chosen).0;
    Some(runs(frames, &labels))
}

/// Index of the first guess to keep: the best sum of the two criteria, each measured in units
/// of its spread over the candidates, so neither needs a scale of its own. `scores` is the
/// refined speaker models' total log-likelihood (which alone favours whatever split explains
/// the most spectral variance, often a caller's calm against agitated speech);
/// `separations` (when there is a voiceprint model) how far apart the two speakers' pieces lie
/// in voiceprint space, where one voice's emotions were scaled down. `None` when no candidate
/// has two speaker models.
fn choose_candidate(scores: &[f64], separations: Option<&[f64]>) -> Option<usize> {
    let usable: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].is_finite()).collect();
    let standardised = |values: &[f64]| -> Vec<f64> {
        let n = usable.len() as f64;
        let mean = usable.iter().map(|&i| values[i]).sum::<f64>() / n;
        let sd = (usable.iter().map(|&i| (values[i] - mean).powi(2)).sum::<f64>() / n).sqrt();
        values.iter().map(|v| if sd > 1e-12 { (v - mean) / sd } else { 0.0 }).collect()
    };
    let mut merit = standardised(scores);
    if let Some(sep) = separations.filter(|s| s.len() == scores.len() && usable.iter().all(|&i| s[i].is_finite())) {
        for (m, s) in merit.iter_mut().zip(standardised(sep)) {
            *m += s;
        }
    }
    // Ties keep the earlier candidate.
    usable.into_iter().reduce(|best, i| if merit[i] > merit[best] { i } else { best })
}

/// Per piece of the diarizer, the embedding of the embedded piece its middle lies in (or the
/// nearest one: both plans cut the same utterances, but frame and sample rounding differ).
fn piece_embeddings(pieces: &[Piece], embedded: &[PieceEmbedding]) -> Vec<Vec<f32>> {
    let gap = |e: &PieceEmbedding, t: f64| (e.span.start_s - t).max(t - e.span.end_s).max(0.0);
    pieces
        .iter()
        .map(|p| {
            let k = embedded.partition_point(|e| e.span.end_s <= p.mid_s).min(embedded.len() - 1);
            let nearest = if k > 0 && gap(&embedded[k - 1], p.mid_s) < gap(&embedded[k], p.mid_s) { k - 1 } else { k };
            embedded[nearest].embedding.clone()
        })
        .collect()
}

/// The embeddings minus their (weighted) mean over the call, scaled back to unit length. What
/// every piece of a call shares — the line, the room, the microphone — dominates raw speaker
/// embeddings; without it the directions that are left tell the two voices apart (2-means on
/// the true utterances of the 72 held-out calls: CAM++ 1 call over 20 % -> 0, GE2E 7 -> 4;
/// docs/segmentation.md).
fn centred_directions(points: &[Vec<f32>], weights: &[f32]) -> Vec<Vec<f32>> {
    let dim = points.first().map_or(0, Vec::len);
    let total: f32 = weights.iter().sum();
    if total <= 0.0 {
        return points.to_vec();
    }
    let mut mean = vec![0.0f32; dim];
    for (p, w) in points.iter().zip(weights) {
        mean.iter_mut().zip(p).for_each(|(m, x)| *m += x * w / total);
    }
    points
        .iter()
        .map(|p| {
            let centred: Vec<f32> = p.iter().zip(&mean).map(|(x, m)| x - m).collect();
            let norm = centred.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                centred.iter().map(|x| x / norm).collect()
            } else {
                centred
            }
        })
        .collect()
}

/// Per piece, the label most of its active frames carry.
fn piece_majority_labels(pieces: &[Piece], frame_labels: &[u8]) -> Vec<u8> {
    pieces
        .iter()
        .map(|p| {
            let ones = p.frames.iter().filter(|&&i| frame_labels[i] == 1).count();
            u8::from(2 * ones > p.frames.len())
        })
        .collect()
}

/// Fisher separation of a two-way labelling of `points` (weighted): the squared distance
/// between the two means over the pooled within-group variance per axis. 0 when a group is empty.
fn voiceprint_separation(points: &[Vec<f32>], weights: &[f32], labels: &[u8]) -> f64 {
    let Some(dim) = points.first().map(Vec::len).filter(|&d| d > 0) else { return 0.0 };
    let Some((means, mass)) = group_means(points, weights, labels) else { return 0.0 };
    let mut within = 0.0f64;
    for ((p, &l), &w) in points.iter().zip(labels).zip(weights) {
        let m = &means[l.min(1) as usize];
        within += w as f64 * p.iter().zip(m).map(|(x, mu)| (*x as f64 - mu).powi(2)).sum::<f64>();
    }
    within /= (mass[0] + mass[1]) * dim as f64;
    let between: f64 = means[0].iter().zip(&means[1]).map(|(a, b)| (a - b).powi(2)).sum();
    if within > 1e-12 { between / within } else { 0.0 }
}

/// Weighted means of the points labelled 0 and of those labelled 1, and each group's total
/// weight; `None` when a group has no weight.
fn group_means(points: &[Vec<f32>], weights: &[f32], labels: &[u8]) -> Option<([Vec<f64>; 2], [f64; 2])> {
    let dim = points.first().map_or(0, Vec::len);
    let mut sums = [vec![0.0f64; dim], vec![0.0f64; dim]];
    let mut mass = [0.0f64; 2];
    for ((p, &l), &w) in points.iter().zip(labels).zip(weights) {
        let l = l.min(1) as usize;
        mass[l] += w as f64;
        for (s, x) in sums[l].iter_mut().zip(p) {
            *s += (x * w) as f64;
        }
    }
    if mass.iter().any(|&m| m <= 0.0) {
        return None;
    }
    for (sum, m) in sums.iter_mut().zip(mass) {
        sum.iter_mut().for_each(|s| *s /= m);
    }
    Some((sums, mass))
}

/// Frame labels from piece labels (every frame of a piece takes its label).
fn spread_piece_labels(pieces: &[Piece], piece_labels: &[u8], n_frames: usize) -> Vec<u8> {
    let mut labels = vec![0u8; n_frames];
    for (p, &l) in pieces.iter().zip(piece_labels) {
        labels[p.range.clone()].fill(l);
    }
    labels
}

/// Per piece, the mean low-band ratio (the last feature: the recording path's cue), z-scored
/// over the pieces and scaled to the fingerprints' typical length, so that a weight of 1 makes
/// it count as much as a whole fingerprint's spread.
fn piece_path_cue(frames: &SpeechFrames, pieces: &[Piece], fingerprints: &[Vec<f32>]) -> Vec<f32> {
    let d = frames.dim();
    let mut x = vec![0.0f32; d];
    let raw: Vec<f32> = pieces
        .iter()
        .map(|p| {
            let sum: f32 = p.frames.iter().map(|&i| {
                frames.frame(i, &mut x);
                x[d - 1]
            }).sum();
            sum / p.frames.len().max(1) as f32
        })
        .collect();
    let n = raw.len().max(1) as f32;
    let mean = raw.iter().sum::<f32>() / n;
    let sd = (raw.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt().max(1e-6);
    let scale = (fingerprints.iter().map(|f| f.iter().map(|v| v * v).sum::<f32>()).sum::<f32>() / n).sqrt();
    raw.iter().map(|v| (v - mean) / sd * scale / 4.0).collect()
}

/// Per-frame labels from speaker runs (frames outside every run keep speaker 0).
fn frame_labels(frames: &SpeechFrames, runs: &[SpeakerRun]) -> Vec<u8> {
    let mut labels = vec![0u8; frames.len()];
    let mut k = 0;
    for (ui, u) in frames.utterances().iter().enumerate() {
        for j in 0..u.len {
            let t = frames.frame_time(ui, j);
            while k < runs.len() && runs[k].span.end_s <= t {
                k += 1;
            }
            if let Some(r) = runs.get(k).filter(|r| r.span.start_s <= t) {
                labels[u.first + j] = r.speaker.min(1) as u8;
            }
        }
    }
    labels
}

/// Total log-likelihood of the active frames under the models of their labels.
fn labelled_score(frames: &SpeechFrames, models: &[DiagGmm; 2], is_active: &[bool], labels: &[u8]) -> f64 {
    let mut x = vec![0.0f32; frames.dim()];
    let mut buf = vec![0.0f32; models[0].components()];
    (0..frames.len())
        .filter(|&i| is_active[i])
        .map(|i| {
            frames.frame(i, &mut x);
            models[labels[i] as usize].component_log_densities(&x, &mut buf) as f64
        })
        .sum()
}

/// Indices of the frames within [`ACTIVE_RANGE_NATS`] of their utterance's loudest frame.
pub(crate) fn active_frames(frames: &SpeechFrames) -> Vec<usize> {
    let mut out = Vec::with_capacity(frames.len());
    for u in frames.utterances() {
        let range = u.first..u.first + u.len;
        let loudest = range.clone().map(|i| frames.log_energy(i)).fold(f32::NEG_INFINITY, f32::max);
        out.extend(range.filter(|&i| frames.log_energy(i) >= loudest - ACTIVE_RANGE_NATS));
    }
    out
}

/// One flag per frame: is it among `active` (from [`active_frames`])?
pub(crate) fn active_mask(frames: &SpeechFrames, active: &[usize]) -> Vec<bool> {
    let mut mask = vec![false; frames.len()];
    for &i in active {
        mask[i] = true;
    }
    mask
}

pub(crate) struct Piece {
    /// All frames of the piece.
    pub range: std::ops::Range<usize>,
    /// Its active frames.
    pub frames: Vec<usize>,
    /// Time of its middle frame (s).
    pub mid_s: f64,
}

/// Cuts every utterance into equal pieces of at most [`PIECE_S`].
pub(crate) fn plan_pieces(frames: &SpeechFrames, is_active: &[bool]) -> Vec<Piece> {
    let per_piece = ((PIECE_S / frames.step_s()).round() as usize).max(1);
    let mut out = Vec::new();
    for (ui, u) in frames.utterances().iter().enumerate() {
        if u.len == 0 {
            continue;
        }
        let n_pieces = u.len.div_ceil(per_piece);
        for p in 0..n_pieces {
            let range = u.first + p * u.len / n_pieces..u.first + (p + 1) * u.len / n_pieces;
            let active: Vec<usize> = range.clone().filter(|&i| is_active[i]).collect();
            if !active.is_empty() {
                let mid_s = frames.frame_time(ui, (range.start + range.end) / 2 - u.first);
                out.push(Piece { range, frames: active, mid_s });
            }
        }
    }
    out
}

/// Weighted 2-means of `points`: the best (least weighted within-cluster squared distance) of
/// [`KMEANS_STARTS`] runs from k-means++ seeds. Returns a label (0/1) per point.
pub fn two_means(points: &[Vec<f32>], weights: &[f32]) -> Vec<u8> {
    let n = points.len();
    if n < 2 {
        return vec![0; n];
    }
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>();
    let runs: Vec<(f64, Vec<u8>)> = (0..KMEANS_STARTS)
        .into_par_iter()
        .map(|start| {
            let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ start.wrapping_mul(0x9E37_79B9));
            // k-means++: the first centre at random, the second drawn by squared distance.
            let first = rng.random_range(0..n);
            let d2: Vec<f64> = points.iter().zip(weights).map(|(p, w)| (dist(p, &points[first]) * w) as f64).collect();
            let total: f64 = d2.iter().sum();
            let mut target = rng.random_range(0.0..1.0) * total;
            let mut second = n - 1;
            for (i, d) in d2.iter().enumerate() {
                target -= d;
                if target <= 0.0 {
                    second = i;
                    break;
                }
            }
            let mut centres = [points[first].clone(), points[second].clone()];
            let mut labels = vec![0u8; n];
            let mut inertia = 0.0f64;
            for round in 0..KMEANS_ROUNDS {
                let mut changed = false;
                inertia = 0.0;
                for (i, p) in points.iter().enumerate() {
                    let (d0, d1) = (dist(p, &centres[0]), dist(p, &centres[1]));
                    let l = u8::from(d1 < d0);
                    inertia += (d0.min(d1) * weights[i]) as f64;
                    changed |= l != labels[i];
                    labels[i] = l;
                }
                if !changed && round > 0 {
                    break;
                }
                let Some((means, _)) = group_means(points, weights, &labels) else { break };
                for (centre, mean) in centres.iter_mut().zip(&means) {
                    *centre = mean.iter().map(|&m| m as f32).collect();
                }
            }
            (inertia, labels)
        })
        .collect();
    runs.into_iter()
        .filter(|(_, l)| l.contains(&0) && l.contains(&1))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or_else(|| vec![0; n], |(_, l)| l)
}

/// The background adapted to each speaker's active frames; `None` when a speaker has none.
fn speaker_models(background: &DiagGmm, frames: &SpeechFrames, labels: &[u8], is_active: &[bool]) -> Option<[DiagGmm; 2]> {
    let of = |s: u8| -> Vec<usize> { (0..frames.len()).filter(|&i| is_active[i] && labels[i] == s).collect() };
    let (a, b) = (of(0), of(1));
    if a.len() < 10 || b.len() < 10 {
        return None;
    }
    let adapt = |idx: &[usize]| background.map_adapt(&background.accumulate(frames, idx), RELEVANCE, true);
    Some([adapt(&a), adapt(&b)])
}

/// Viterbi relabelling of every utterance under the two speaker models (pauses score 0 for
/// both); returns the labels and the total log-likelihood of the frames under them.
fn relabel(frames: &SpeechFrames, models: &[DiagGmm; 2], is_active: &[bool], min_run: usize, penalty: f32) -> (Vec<u8>, f64) {
    let per_utterance: Vec<(Vec<u8>, f64)> = frames
        .utterances()
        .par_iter()
        .map(|u| {
            let dim = frames.dim();
            let mut x = vec![0.0f32; dim];
            let mut buf = vec![0.0f32; models[0].components()];
            let scores: Vec<[f32; 2]> = (u.first..u.first + u.len)
                .map(|i| {
                    if !is_active[i] {
                        return [0.0, 0.0];
                    }
                    frames.frame(i, &mut x);
                    [models[0].component_log_densities(&x, &mut buf), models[1].component_log_densities(&x, &mut buf)]
                })
                .collect();
            let path = viterbi_two_states(&scores, min_run, penalty);
            let score = path.iter().zip(&scores).map(|(&s, e)| e[s as usize] as f64).sum::<f64>();
            (path, score)
        })
        .collect();
    let score = per_utterance.iter().map(|p| p.1).sum();
    (per_utterance.into_iter().flat_map(|p| p.0).collect(), score)
}

/// Runs of equal labels per utterance, in seconds: a change falls midway between the centres of
/// the last frame of one speaker and the first of the next; utterance edges are kept.
fn runs(frames: &SpeechFrames, labels: &[u8]) -> Vec<SpeakerRun> {
    let mut out = Vec::new();
    for (ui, u) in frames.utterances().iter().enumerate() {
        if u.len == 0 {
            continue;
        }
        let lab = &labels[u.first..u.first + u.len];
        let mut start_s = u.span.start_s;
        let mut run_start = 0;
        for j in 1..=lab.len() {
            if j == lab.len() || lab[j] != lab[run_start] {
                let end_s = if j == lab.len() {
                    u.span.end_s
                } else {
                    ((frames.frame_time(ui, j - 1) + frames.frame_time(ui, j)) / 2.0).clamp(start_s, u.span.end_s)
                };
                if end_s > start_s {
                    out.push(SpeakerRun { span: TimeSpan { start_s, end_s }, speaker: lab[run_start] as usize, utterance: ui });
                }
                start_s = end_s;
                run_start = j;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_piece_takes_the_embedding_of_the_embedded_piece_at_its_middle_or_the_nearest() {
        let piece = |mid_s: f64| Piece { range: 0..1, frames: vec![0], mid_s };
        let embedded = |a: f64, b: f64, v: f32| PieceEmbedding { span: TimeSpan { start_s: a, end_s: b }, embedding: vec![v] };
        let spans = [embedded(0.0, 2.0, 1.0), embedded(2.0, 3.5, 2.0), embedded(5.0, 6.0, 3.0)];
        let got = piece_embeddings(&[piece(0.5), piece(2.5), piece(3.9), piece(4.8), piece(9.0), piece(-1.0)], &spans);
        assert_eq!(got, vec![vec![1.0], vec![2.0], vec![2.0], vec![3.0], vec![3.0], vec![1.0]]);
    }

    #[test]
    fn centred_directions_remove_what_every_piece_shares() {
        // Two voices that differ only slightly, on top of a large shared component.
        let shared = [10.0f32, 0.0, 0.0];
        let points: Vec<Vec<f32>> = [1.0f32, -1.0, 1.0, -1.0]
            .iter()
            .map(|s| vec![shared[0], shared[1] + 0.1 * s, shared[2] + 0.05])
            .collect();
        let centred = centred_directions(&points, &[1.0; 4]);
        for (c, s) in centred.iter().zip([1.0f32, -1.0, 1.0, -1.0]) {
            assert!((c.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
            assert!((c[1] - s).abs() < 1e-5, "{c:?}");
        }
        assert_eq!(centred_directions(&[vec![1.0, 0.0]], &[1.0]), vec![vec![0.0, 0.0]]);
    }

    #[test]
    fn two_means_separates_two_clouds_whatever_the_start() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pts = Vec::new();
        for i in 0..60 {
            let c = if i < 40 { -2.0 } else { 3.0 };
            pts.push((0..5).map(|_| c + rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>());
        }
        let labels = two_means(&pts, &vec![1.0; 60]);
        assert!(labels[..40].iter().all(|&l| l == labels[0]));
        assert!(labels[40..].iter().all(|&l| l != labels[0]));
    }

    #[test]
    fn candidate_choice_weighs_likelihood_and_voiceprint_separation_by_their_spreads() {
        // Likelihood alone: the highest score; ties keep the earlier candidate.
        assert_eq!(choose_candidate(&[-10.0, -5.0, -7.0], None), Some(1));
        assert_eq!(choose_candidate(&[-5.0, -5.0], None), Some(0));
        // A slightly better likelihood loses to a much better separation, whatever the units.
        let scores = [-1000.0, -990.0, -1100.0];
        assert_eq!(choose_candidate(&scores, Some(&[0.5, 0.1, 0.2])), Some(0));
        assert_eq!(choose_candidate(&scores, Some(&[50.0, 10.0, 20.0])), Some(0));
        // Equal separations change nothing.
        assert_eq!(choose_candidate(&scores, Some(&[1.0, 1.0, 1.0])), Some(1));
        // Candidates without two speaker models are skipped; none usable, no choice.
        assert_eq!(choose_candidate(&[f64::NEG_INFINITY, -3.0], Some(&[9.0, 0.0])), Some(1));
        assert_eq!(choose_candidate(&[f64::NEG_INFINITY], None), None);
    }

    #[test]
    fn voiceprint_separation_is_large_for_the_true_split_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pts: Vec<Vec<f32>> =
            (0..80).map(|i| (0..4).map(|_| if i < 40 { 0.0 } else { 3.0 } + rng.random_range(-1.0f32..1.0)).collect()).collect();
        let weights = vec![1.0; 80];
        let truth: Vec<u8> = (0..80).map(|i| u8::from(i >= 40)).collect();
        let interleaved: Vec<u8> = (0..80).map(|i| (i % 2) as u8).collect();
        let right = voiceprint_separation(&pts, &weights, &truth);
        let wrong = voiceprint_separation(&pts, &weights, &interleaved);
        // 4 axes, means 3 apart, uniform noise of variance 1/3 per axis: 36 / (1/3) = 108.
        assert!(right > 80.0 && wrong < 1.0, "right {right}, wrong {wrong}");
        assert_eq!(voiceprint_separation(&pts, &weights, &[0; 80]), 0.0);
    }
}
