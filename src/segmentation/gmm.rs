//! Diagonal-covariance Gaussian mixtures (EM training, MAP adaptation) and a two-state Viterbi
//! with a minimum run length: the building blocks of mono resegmentation ([`super::resegment`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows of feature vectors, read one at a time (the store may hold them quantised).
pub trait Frames: Sync {
    fn len(&self) -> usize;
    fn dim(&self) -> usize;
    /// Writes frame `i` into `out` (`out.len() == dim`).
    fn frame(&self, i: usize, out: &mut [f32]);
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Frames held as one dense row-major matrix.
pub struct DenseFrames {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Frames for DenseFrames {
    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn frame(&self, i: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.data[i * self.dim..(i + 1) * self.dim]);
    }
}

const LN_2PI: f32 = 1.837_877_1;
/// Variances never fall below this fraction of the data's global variance (a component that
/// collapses on a few identical frames would otherwise dominate every likelihood).
const VARIANCE_FLOOR_FRACTION: f32 = 0.01;
/// Frames per parallel work item.
const PAR_CHUNK: usize = 4096;

/// A mixture of Gaussians with diagonal covariances.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagGmm {
    dim: usize,
    weights: Vec<f32>,
    means: Vec<f32>,
    variances: Vec<f32>,
    /// Cached per component: `ln w - (d ln 2π + Σ ln var) / 2`.
    log_norm: Vec<f32>,
    /// Cached `1 / var`.
    inv_var: Vec<f32>,
}

/// Zeroth-, first- and second-order statistics of frames under a mixture's posteriors.
#[derive(Debug, Clone)]
pub struct Stats {
    pub dim: usize,
    /// Soft count per component.
    pub n: Vec<f64>,
    /// Posterior-weighted sum of frames, per component (`k * dim`).
    pub first: Vec<f64>,
    /// Posterior-weighted sum of squared frames, per component (`k * dim`).
    pub second: Vec<f64>,
    /// Sum of the frames' log-likelihoods.
    pub log_likelihood: f64,
}

impl Stats {
    fn zeros(k: usize, dim: usize) -> Self {
        Self { dim, n: vec![0.0; k], first: vec![0.0; k * dim], second: vec![0.0; k * dim], log_likelihood: 0.0 }
    }

    fn add(mut self, other: Stats) -> Self {
        for (a, b) in self.n.iter_mut().zip(&other.n) {
            *a += b;
        }
        for (a, b) in self.first.iter_mut().zip(&other.first) {
            *a += b;
        }
        for (a, b) in self.second.iter_mut().zip(&other.second) {
            *a += b;
        }
        self.log_likelihood += other.log_likelihood;
        self
    }

    /// Total soft count.
    pub fn count(&self) -> f64 {
        self.n.iter().sum()
    }
}

/// Errors of [`DiagGmm::new`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GmmError {
    #[error("mixture shape mismatch: {0}")]
    Shape(String),
    #[error("weights must be positive and variances positive and finite")]
    Values,
}

impl DiagGmm {
    /// A mixture from explicit parameters (weights are normalised to sum 1).
    pub fn new(dim: usize, weights: Vec<f32>, means: Vec<f32>, variances: Vec<f32>) -> Result<Self, GmmError> {
        let k = weights.len();
        if dim == 0 || k == 0 || means.len() != k * dim || variances.len() != k * dim {
            return Err(GmmError::Shape(format!("{k} components of dim {dim}, {} means, {} variances", means.len(), variances.len())));
        }
        if weights.iter().any(|w| !(*w > 0.0 && w.is_finite()))
            || variances.iter().any(|v| !(*v > 0.0 && v.is_finite()))
            || means.iter().any(|m| !m.is_finite())
        {
            return Err(GmmError::Values);
        }
        let total: f32 = weights.iter().sum();
        let weights = weights.iter().map(|w| w / total).collect();
        let mut g = Self { dim, weights, means, variances, log_norm: Vec::new(), inv_var: Vec::new() };
        g.refresh_cache();
        Ok(g)
    }

    fn refresh_cache(&mut self) {
        let d = self.dim;
        self.inv_var = self.variances.iter().map(|v| 1.0 / v).collect();
        self.log_norm = (0..self.weights.len())
            .map(|c| {
                let log_det: f32 = self.variances[c * d..(c + 1) * d].iter().map(|v| v.ln()).sum();
                self.weights[c].max(1e-30).ln() - 0.5 * (d as f32 * LN_2PI + log_det)
            })
            .collect();
    }

    pub fn components(&self) -> usize {
        self.weights.len()
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    pub fn means(&self) -> &[f32] {
        &self.means
    }
    pub fn variances(&self) -> &[f32] {
        &self.variances
    }

    /// Per-component joint log-densities `ln w_c + ln N(x; μ_c, Σ_c)` into `out`; returns their
    /// log-sum-exp, the frame's log-likelihood.
    pub fn component_log_densities(&self, x: &[f32], out: &mut [f32]) -> f32 {
        let d = self.dim;
        let mut max = f32::NEG_INFINITY;
        for (c, o) in out.iter_mut().enumerate() {
            let mu = &self.means[c * d..(c + 1) * d];
            let iv = &self.inv_var[c * d..(c + 1) * d];
            let mut q = 0.0f32;
            for j in 0..d {
                let z = x[j] - mu[j];
                q += z * z * iv[j];
            }
            *o = self.log_norm[c] - 0.5 * q;
            max = max.max(*o);
        }
        let sum: f32 = out.iter().map(|v| (v - max).exp()).sum();
        max + sum.ln()
    }

    /// Log-likelihood of one frame.
    pub fn log_likelihood(&self, x: &[f32]) -> f32 {
        let mut buf = vec![0.0f32; self.components()];
        self.component_log_densities(x, &mut buf)
    }

    /// Statistics of the frames `indices` of `frames` under this mixture's posteriors.
    pub fn accumulate(&self, frames: &dyn Frames, indices: &[usize]) -> Stats {
        let (k, d) = (self.components(), self.dim);
        indices
            .par_chunks(PAR_CHUNK)
            .map(|chunk| {
                let mut stats = Stats::zeros(k, d);
                let mut x = vec![0.0f32; d];
                let mut post = vec![0.0f32; k];
                for &i in chunk {
                    frames.frame(i, &mut x);
                    let ll = self.component_log_densities(&x, &mut post);
                    stats.log_likelihood += ll as f64;
                    for (c, p) in post.iter().enumerate() {
                        let g = (p - ll).exp();
                        if g < 1e-6 {
                            continue;
                        }
                        stats.n[c] += g as f64;
                        let (f, s) = (&mut stats.first[c * d..(c + 1) * d], &mut stats.second[c * d..(c + 1) * d]);
                        for j in 0..d {
                            let gx = (g * x[j]) as f64;
                            f[j] += gx;
                            s[j] += gx * x[j] as f64;
                        }
                    }
                }
                stats
            })
            .collect::<Vec<Stats>>()
            .into_iter()
            // Summed in a fixed order: the same input gives the same mixture on every run.
            .fold(Stats::zeros(k, d), Stats::add)
    }

    /// Trains a `k`-component mixture on the frames `indices` by EM (`iterations` rounds),
    /// starting from `k` distinct random frames as means and the global variance. Components
    /// left with (almost) no frames are restarted by splitting the heaviest one.
    pub fn fit(frames: &dyn Frames, indices: &[usize], k: usize, iterations: usize, seed: u64) -> Option<Self> {
        let d = frames.dim();
        if indices.len() < 2 * k || k == 0 || d == 0 {
            return None;
        }
        // Global mean and variance (the floor and the initial variances).
        let mut mean = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        let mut x = vec![0.0f32; d];
        for &i in indices {
            frames.frame(i, &mut x);
            for j in 0..d {
                mean[j] += x[j] as f64;
                sq[j] += (x[j] as f64).powi(2);
            }
        }
        let n = indices.len() as f64;
        let global_var: Vec<f32> =
            (0..d).map(|j| ((sq[j] / n - (mean[j] / n).powi(2)).max(1e-6)) as f32).collect();
        let floor: Vec<f32> = global_var.iter().map(|v| v * VARIANCE_FLOOR_FRACTION).collect();

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut means = Vec::with_capacity(k * d);
        let mut picked = std::collections::HashSet::new();
        while picked.len() < k {
            let i = indices[rng.random_range(0..indices.len())];
            if picked.insert(i) {
                frames.frame(i, &mut x);
                means.extend_from_slice(&x);
            }
        }
        let variances: Vec<f32> = (0..k).flat_map(|_| global_var.iter().copied()).collect();
        let mut gmm = Self::new(d, vec![1.0; k], means, variances).ok()?;
        for _ in 0..iterations {
            let stats = gmm.accumulate(frames, indices);
            gmm = gmm.maximise(&stats, &floor, &mut rng);
        }
        Some(gmm)
    }

    /// The M step: maximum-likelihood parameters from `stats`, variances floored.
    fn maximise(&self, stats: &Stats, floor: &[f32], rng: &mut ChaCha8Rng) -> Self {
        let (k, d) = (self.components(), self.dim);
        let total = stats.count().max(1e-9);
        let mut weights = vec![0.0f32; k];
        let mut means = self.means.clone();
        let mut variances = self.variances.clone();
        let min_count = (d as f64).max(2.0);
        let mut dead = Vec::new();
        for c in 0..k {
            let nc = stats.n[c];
            if nc < min_count {
                dead.push(c);
                continue;
            }
            weights[c] = (nc / total) as f32;
            for j in 0..d {
                let m = stats.first[c * d + j] / nc;
                let v = stats.second[c * d + j] / nc - m * m;
                means[c * d + j] = m as f32;
                variances[c * d + j] = (v as f32).max(floor[j]);
            }
        }
        // Restart dead components as a perturbed copy of the heaviest one, sharing its weight.
        for c in dead {
            let heavy = (0..k).max_by(|&a, &b| weights[a].total_cmp(&weights[b])).unwrap_or(0);
            let half = weights[heavy] / 2.0;
            weights[heavy] = half;
            weights[c] = half.max(1e-6);
            for j in 0..d {
                let sd = variances[heavy * d + j].sqrt();
                let shift = if rng.random_bool(0.5) { 0.2 * sd } else { -0.2 * sd };
                means[c * d + j] = means[heavy * d + j] + shift;
                means[heavy * d + j] -= shift;
                variances[c * d + j] = variances[heavy * d + j];
            }
        }
        let mut g = Self { dim: d, weights, means, variances, log_norm: Vec::new(), inv_var: Vec::new() };
        let total_w: f32 = g.weights.iter().sum();
        g.weights.iter_mut().for_each(|w| *w = (*w / total_w).max(1e-8));
        g.refresh_cache();
        g
    }

    /// MAP adaptation (Reynolds et al. 2000) of the means, and optionally the weights, to the
    /// frames summarised by `stats` (computed under this mixture): each component moves towards
    /// its data by `n / (n + relevance)`. Variances are kept.
    pub fn map_adapt(&self, stats: &Stats, relevance: f32, adapt_weights: bool) -> Self {
        let (k, d) = (self.components(), self.dim);
        let total = stats.count();
        let mut means = self.means.clone();
        let mut weights = self.weights.clone();
        for c in 0..k {
            let nc = stats.n[c];
            let alpha = nc / (nc + relevance as f64);
            if nc > 0.0 {
                for j in 0..d {
                    let data_mean = stats.first[c * d + j] / nc;
                    means[c * d + j] = (alpha * data_mean + (1.0 - alpha) * self.means[c * d + j] as f64) as f32;
                }
            }
            if adapt_weights && total > 0.0 {
                weights[c] = (alpha * nc / total + (1.0 - alpha) * self.weights[c] as f64) as f32;
            }
        }
        let sum: f32 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w = (*w / sum).max(1e-8));
        let mut g = Self { dim: d, weights, means, variances: self.variances.clone(), log_norm: Vec::new(), inv_var: Vec::new() };
        g.refresh_cache();
        g
    }

    /// Mean supervector of `adapted` relative to this mixture (the one it was adapted from),
    /// scaled so that Euclidean distance approximates the KL divergence between the two:
    /// `√w_c (μ'_c - μ_c) / σ_c` for every component and dimension.
    pub fn supervector(&self, adapted: &DiagGmm) -> Vec<f32> {
        let d = self.dim;
        let mut out = Vec::with_capacity(self.means.len());
        for c in 0..self.components() {
            let sw = self.weights[c].sqrt();
            for j in 0..d {
                let i = c * d + j;
                out.push(sw * (adapted.means[i] - self.means[i]) * self.inv_var[i].sqrt());
            }
        }
        out
    }
}

/// Most likely sequence of two states given per-frame log-likelihoods `scores[t] = [ln p(x_t|0),
/// ln p(x_t|1)]`, where every run of a state lasts at least `min_run` frames and each switch
/// costs `switch_penalty` (log units). A sequence shorter than `min_run` gets the single best
/// state. Returns one state (0 or 1) per frame.
///
/// Each state is a chain of `min_run` sub-states (entered at the first, left from the last,
/// which loops), so the cost is O(frames × min_run) time and one byte per frame of memory.
pub fn viterbi_two_states(scores: &[[f32; 2]], min_run: usize, switch_penalty: f32) -> Vec<u8> {
    let n = scores.len();
    let m = min_run.max(1);
    if n == 0 {
        return Vec::new();
    }
    let single_best = || {
        let total = scores.iter().fold([0.0f64; 2], |acc, s| [acc[0] + s[0] as f64, acc[1] + s[1] as f64]);
        vec![u8::from(total[1] > total[0]); n]
    };
    if n < m {
        return single_best();
    }
    const NEG: f64 = f64::NEG_INFINITY;
    // delta[s][j]: best score of a path ending at this frame in sub-state j of state s.
    let mut delta = [vec![NEG; m], vec![NEG; m]];
    let mut next = [vec![NEG; m], vec![NEG; m]];
    // Per frame, bit s set = the last sub-state of s was reached by a switch (m == 1) or by
    // its self-loop (m > 1) rather than from the previous sub-state.
    let mut decisions = vec![0u8; n];
    for s in 0..2 {
        delta[s][0] = scores[0][s] as f64;
    }
    let penalty = switch_penalty as f64;
    for t in 1..n {
        let mut bits = 0u8;
        for s in 0..2 {
            let e = scores[t][s] as f64;
            let other_last = delta[1 - s][m - 1] - penalty;
            if m == 1 {
                let stay = delta[s][0];
                if other_last > stay {
                    bits |= 1 << s;
                    next[s][0] = other_last + e;
                } else {
                    next[s][0] = stay + e;
                }
                continue;
            }
            next[s][0] = other_last + e;
            for j in 1..m - 1 {
                next[s][j] = delta[s][j - 1] + e;
            }
            let (from_prev, stay) = (delta[s][m - 2], delta[s][m - 1]);
            if stay >= from_prev && stay > NEG {
                bits |= 1 << s;
                next[s][m - 1] = stay + e;
            } else {
                next[s][m - 1] = from_prev + e;
            }
        }
        decisions[t] = bits;
        std::mem::swap(&mut delta, &mut next);
    }
    let (s_end, best) = if delta[1][m - 1] > delta[0][m - 1] { (1, delta[1][m - 1]) } else { (0, delta[0][m - 1]) };
    if best == NEG {
        return single_best();
    }
    // Backtrace.
    let mut out = vec![0u8; n];
    let (mut s, mut j) = (s_end, m - 1);
    for t in (0..n).rev() {
        out[t] = s as u8;
        if t == 0 {
            break;
        }
        let bit = decisions[t] & (1 << s) != 0;
        if m == 1 {
            if bit {
                s = 1 - s;
            }
        } else if j == m - 1 {
            if !bit {
                j = m - 2;
            }
        } else if j > 0 {
            j -= 1;
        } else {
            s = 1 - s;
            j = m - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(rng: &mut ChaCha8Rng) -> f32 {
        // Box-Muller.
        let u1: f64 = rng.random_range(1e-12..1.0);
        let u2: f64 = rng.random_range(0.0..1.0);
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    #[test]
    fn log_likelihood_of_a_single_gaussian_is_exact() {
        let g = DiagGmm::new(2, vec![1.0], vec![1.0, -2.0], vec![4.0, 0.25]).unwrap();
        // ln N((3, -2); (1, -2), diag(4, 0.25)) = -ln(2π) - ½ ln(1) - ½ (4/4 + 0).
        let expected = -(2.0 * std::f32::consts::PI).ln() - 0.5 * (4.0f32 * 0.25).ln() - 0.5;
        assert!((g.log_likelihood(&[3.0, -2.0]) - expected).abs() < 1e-5);
    }

    #[test]
    fn em_recovers_two_separated_gaussians() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut data = Vec::new();
        for i in 0..3000 {
            // 2/3 of the frames around (-3, 0) with sd 1, 1/3 around (4, 2) with sd 0.5.
            let (m, sd) = if i % 3 == 2 { ([4.0, 2.0], 0.5) } else { ([-3.0, 0.0], 1.0) };
            data.push(m[0] + sd * normal(&mut rng));
            data.push(m[1] + sd * normal(&mut rng));
        }
        let frames = DenseFrames { dim: 2, data };
        let idx: Vec<usize> = (0..frames.len()).collect();
        let g = DiagGmm::fit(&frames, &idx, 2, 30, 1).unwrap();
        let big = usize::from(g.weights()[1] > g.weights()[0]);
        let small = 1 - big;
        assert!((g.weights()[big] - 2.0 / 3.0).abs() < 0.02, "{:?}", g.weights());
        assert!((g.means()[big * 2] + 3.0).abs() < 0.1 && g.means()[big * 2 + 1].abs() < 0.1, "{:?}", g.means());
        assert!((g.means()[small * 2] - 4.0).abs() < 0.1 && (g.means()[small * 2 + 1] - 2.0).abs() < 0.1);
        assert!((g.variances()[small * 2] - 0.25).abs() < 0.05, "{:?}", g.variances());
    }

    #[test]
    fn map_adaptation_moves_means_by_the_relevance_factor() {
        // One component at 0; 8 frames at 2 with relevance 8: alpha = 8/16, new mean 1.
        let ubm = DiagGmm::new(1, vec![1.0], vec![0.0], vec![1.0]).unwrap();
        let frames = DenseFrames { dim: 1, data: vec![2.0; 8] };
        let idx: Vec<usize> = (0..8).collect();
        let adapted = ubm.map_adapt(&ubm.accumulate(&frames, &idx), 8.0, true);
        assert!((adapted.means()[0] - 1.0).abs() < 1e-5, "{:?}", adapted.means());
        assert_eq!(ubm.supervector(&adapted), adapted.means().to_vec());
        // Two components: data only near the second pulls its weight up, the first stays put.
        let ubm = DiagGmm::new(1, vec![0.5, 0.5], vec![-10.0, 10.0], vec![1.0, 1.0]).unwrap();
        let frames = DenseFrames { dim: 1, data: vec![10.0; 16] };
        let idx: Vec<usize> = (0..16).collect();
        let adapted = ubm.map_adapt(&ubm.accumulate(&frames, &idx), 16.0, true);
        // alpha_2 = 16/32: w_2 = 0.5 * 1 + 0.5 * 0.5 = 0.75; alpha_1 = 0: w_1 = 0.5; then
        // normalised by 1.25: (0.4, 0.6).
        assert!((adapted.weights()[1] - 0.6).abs() < 1e-4, "{:?}", adapted.weights());
        assert_eq!(adapted.means()[0], -10.0);
    }

    #[test]
    fn bad_mixtures_are_refused() {
        assert!(DiagGmm::new(2, vec![1.0], vec![0.0], vec![1.0, 1.0]).is_err());
        assert_eq!(DiagGmm::new(1, vec![1.0], vec![0.0], vec![0.0]), Err(GmmError::Values));
    }

    fn scores_from(pattern: &[u8], strength: f32) -> Vec<[f32; 2]> {
        pattern.iter().map(|&s| if s == 0 { [0.0, -strength] } else { [-strength, 0.0] }).collect()
    }

    #[test]
    fn viterbi_follows_clear_evidence() {
        let truth: Vec<u8> = [vec![0; 20], vec![1; 30], vec![0; 15]].concat();
        assert_eq!(viterbi_two_states(&scores_from(&truth, 1.0), 10, 2.0), truth);
    }

    #[test]
    fn viterbi_removes_runs_shorter_than_the_minimum() {
        // A 3-frame blip inside a 40-frame run cannot survive an 8-frame minimum (widening it
        // to 8 frames would cost 5 to gain 3); with a 5-frame minimum it is widened (gain 3,
        // cost 2).
        let mut x: Vec<u8> = vec![0; 40];
        x[20..23].fill(1);
        assert_eq!(viterbi_two_states(&scores_from(&x, 1.0), 8, 0.0), vec![0; 40]);
        let widened = viterbi_two_states(&scores_from(&x, 1.0), 5, 0.0);
        assert_eq!(widened.iter().filter(|&&s| s == 1).count(), 5);
        assert!(widened[20..23].iter().all(|&s| s == 1));
        // With a minimum of 1 and no penalty it is kept.
        assert_eq!(viterbi_two_states(&scores_from(&x, 1.0), 1, 0.0), x);
        // The switch penalty (2 switches × 2 > 3 frames × 1) removes it as well.
        assert_eq!(viterbi_two_states(&scores_from(&x, 1.0), 1, 2.0), vec![0; 40]);
    }

    #[test]
    fn viterbi_known_answer_by_exhaustive_search() {
        // Against brute force over all 2^12 sequences with run and penalty constraints.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for trial in 0..30 {
            let n = 12;
            let scores: Vec<[f32; 2]> = (0..n).map(|_| [normal(&mut rng), normal(&mut rng)]).collect();
            let (m, pen) = (1 + trial % 4, (trial % 3) as f32 * 0.7);
            let mut best = (f64::NEG_INFINITY, Vec::new());
            for code in 0u32..(1 << n) {
                let seq: Vec<u8> = (0..n).map(|t| ((code >> t) & 1) as u8).collect();
                let runs_ok = {
                    let mut ok = true;
                    let mut start = 0;
                    for t in 1..=n {
                        if t == n || seq[t] != seq[start] {
                            ok &= t - start >= m;
                            start = t;
                        }
                    }
                    ok
                };
                if !runs_ok {
                    continue;
                }
                let switches = seq.windows(2).filter(|w| w[0] != w[1]).count();
                let score: f64 =
                    seq.iter().zip(&scores).map(|(&s, e)| e[s as usize] as f64).sum::<f64>() - pen as f64 * switches as f64;
                if score > best.0 {
                    best = (score, seq);
                }
            }
            assert_eq!(viterbi_two_states(&scores, m, pen), best.1, "trial {trial} m {m} pen {pen}");
        }
    }

    #[test]
    fn viterbi_on_a_sequence_shorter_than_the_minimum_picks_one_state() {
        let scores = [[0.0, 1.0], [0.0, 1.0], [3.0, 0.0]];
        assert_eq!(viterbi_two_states(&scores, 5, 0.0), vec![0, 0, 0]);
    }
}
