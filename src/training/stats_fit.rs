//! Fitting the statistics head (`crate::model::whisper::stats_head`): an L2-regularised,
//! class-balanced logistic regression on the standardised per-state mean/std summaries of the
//! cached Whisper states, solved to convergence (it is convex, so no epochs or learning rate to
//! tune), then stacked with the fused head's logit on the validation speakers.
use std::collections::HashMap;

use candle_core::Tensor;
use rayon::prelude::*;

use super::cache::PreparedExample;
use super::TrainingError;
use crate::model::whisper::stats_head::state_statistics;

/// The summary `[mean, std]` per hidden state of every example's cached Whisper states.
pub fn clip_statistics(examples: &[PreparedExample]) -> Result<Vec<Vec<f32>>, TrainingError> {
    examples
        .par_iter()
        .map(|e| Ok(state_statistics(&e.audio_conv)?.flatten_all()?.to_vec1::<f32>()?))
        .collect()
}

/// Subtracts from every row the mean row of its group (`groups[i]` names row `i`'s): each
/// speaker's (or call's) summaries heard against their own average.
pub fn centre_by_group(rows: &mut [Vec<f32>], groups: &[&str]) {
    let mut sums: std::collections::HashMap<&str, (Vec<f64>, usize)> = std::collections::HashMap::new();
    for (row, &g) in rows.iter().zip(groups) {
        let entry = sums.entry(g).or_insert_with(|| (vec![0.0; row.len()], 0));
        entry.0.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        entry.1 += 1;
    }
    let means: std::collections::HashMap<&str, Vec<f32>> =
        sums.into_iter().map(|(g, (sum, n))| (g, sum.into_iter().map(|s| (s / n as f64) as f32).collect())).collect();
    for (row, g) in rows.iter_mut().zip(groups) {
        if let Some(mean) = means.get(g) {
            row.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
        }
    }
}

/// A logistic regression on raw summaries (the standardisation folded in): `logit = w·x + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    pub weight: Vec<f32>,
    pub bias: f32,
    /// Gradient steps taken, and the gradient norm (standardised problem) at the end.
    pub iterations: usize,
    pub gradient_norm: f64,
}

impl LogisticFit {
    pub fn logit(&self, x: &[f32]) -> f32 {
        (dot(&self.weight, x) + self.bias as f64) as f32
    }

    /// `stats_head.weight` `(1, d)` and `stats_head.bias` `(1,)` scaled by `scale`.
    pub fn tensors(&self, scale: f64) -> candle_core::Result<[(String, Tensor); 2]> {
        let device = candle_core::Device::Cpu;
        let w: Vec<f32> = self.weight.iter().map(|&v| (v as f64 * scale) as f32).collect();
        Ok([
            ("stats_head.weight".to_string(), Tensor::from_vec(w, (1, self.weight.len()), &device)?),
            ("stats_head.bias".to_string(), Tensor::from_vec(vec![(self.bias as f64 * scale) as f32], 1, &device)?),
        ])
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Minimises `sum_i c_i [log(1 + e^z_i) - y_i z_i] / sum_i c_i + l2 / 2 |w|^2` with
/// `z = w·standardise(x) + b` (each class weighing half when `balanced`), by Nesterov's
/// accelerated gradient with the step from a power-iteration bound on the curvature. Stops when
/// the gradient norm is below `1e-6` or after `max_iterations`.
pub fn fit_logistic(rows: Vec<Vec<f32>>, labels: &[u8], l2: f64, balanced: bool, max_iterations: usize) -> Result<LogisticFit, TrainingError> {
    fit_logistic_with(rows, labels, l2, balanced, max_iterations, None, None)
}

/// Per-row loss weights (summing to 1) under which every group (speaker) weighs the same and,
/// within it, each class half: a group's share of negative clips then says nothing about the
/// class. A group with one class only weighs half.
pub fn group_class_weights(labels: &[u8], groups: &[&str]) -> Vec<f64> {
    let mut cells: HashMap<(&str, u8), usize> = HashMap::new();
    for (&g, &l) in groups.iter().zip(labels) {
        *cells.entry((g, l)).or_default() += 1;
    }
    let n_groups = groups.iter().collect::<std::collections::HashSet<_>>().len().max(1);
    let raw: Vec<f64> = groups.iter().zip(labels).map(|(&g, &l)| 1.0 / (2.0 * cells[&(g, l)] as f64 * n_groups as f64)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

/// Nuisance attribute projection for [`fit_logistic_with`]: the `dims` directions along which the
/// groups' (speakers', recording conditions') class-balanced mean summaries differ most are
/// removed from the problem, so the head cannot read who is speaking or over which line. A fixed
/// linear projection folded into the weights: scores stay per segment, comparable between calls.
#[derive(Debug, Clone, Copy)]
pub struct Nuisance<'a> {
    /// Each row's group.
    pub groups: &'a [&'a str],
    pub dims: usize,
}

/// [`fit_logistic`], optionally with the [`Nuisance`] directions projected out first, and with
/// each row's loss weighted by [`group_class_weights`] of `balance_groups` instead of by class.
pub fn fit_logistic_with(
    rows: Vec<Vec<f32>>,
    labels: &[u8],
    l2: f64,
    balanced: bool,
    max_iterations: usize,
    nuisance: Option<Nuisance<'_>>,
    balance_groups: Option<&[&str]>,
) -> Result<LogisticFit, TrainingError> {
    let n = rows.len();
    if n == 0 || labels.len() != n || !labels.contains(&0) || !labels.contains(&1) {
        return Err(TrainingError::Dataset("the statistics head needs training clips of both classes".into()));
    }
    let d = rows[0].len();
    if d == 0 || rows.iter().any(|r| r.len() != d) {
        return Err(TrainingError::Dataset("clip summaries of unequal length".into()));
    }
    if !(l2 > 0.0 && l2.is_finite()) {
        return Err(TrainingError::Config(format!("the statistics head's L2 weight must be positive, not {l2}")));
    }
    // Column standardisation (the regularisation treats every feature alike).
    let mut mean = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for r in &rows {
        for k in 0..d {
            mean[k] += r[k] as f64;
            sq[k] += (r[k] as f64).powi(2);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let scale: Vec<f64> = sq.iter().zip(&mean).map(|(q, m)| 1.0 / ((q / n as f64 - m * m).max(0.0).sqrt() + 1e-6)).collect();
    let mut x = Vec::with_capacity(n * d);
    for r in rows {
        x.extend(r.iter().enumerate().map(|(k, &v)| ((v as f64 - mean[k]) * scale[k]) as f32));
    }
    let directions = match nuisance {
        Some(Nuisance { groups, dims }) if dims > 0 => {
            if groups.len() != n {
                return Err(TrainingError::Dataset("a group is needed for every clip summary".into()));
            }
            let directions = nuisance_directions(&x, d, labels, groups, dims);
            for row in x.chunks_mut(d) {
                project_out(row, &directions);
            }
            directions
        }
        _ => Vec::new(),
    };
    let (neg, pos) = (labels.iter().filter(|&&l| l == 0).count() as f64, labels.iter().filter(|&&l| l == 1).count() as f64);
    let class_weight = |l: u8| if !balanced { 1.0 } else if l == 1 { n as f64 / (2.0 * pos) } else { n as f64 / (2.0 * neg) };
    let c: Vec<f64> = match balance_groups {
        Some(groups) if groups.len() != n => return Err(TrainingError::Dataset("a speaker is needed for every clip summary".into())),
        Some(groups) => group_class_weights(labels, groups),
        None => labels.iter().map(|&l| class_weight(l) / n as f64).collect(),
    };
    let y: Vec<f64> = labels.iter().map(|&l| l as f64).collect();

    // z = X w + b
    let scores = |w: &[f64], b: f64| -> Vec<f64> {
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        x.par_chunks(d).map(|row| dot(row, &w32) + b).collect()
    };
    // X^T v
    let transposed = |v: &[f64]| -> Vec<f64> {
        x.par_chunks(d)
            .zip(v.par_iter())
            .fold(|| vec![0f64; d], |mut acc, (row, &vi)| {
                if vi != 0.0 {
                    acc.iter_mut().zip(row).for_each(|(a, &r)| *a += vi * r as f64);
                }
                acc
            })
            .reduce(|| vec![0f64; d], |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            })
    };
    let gradient = |w: &[f64], b: f64| -> (Vec<f64>, f64) {
        let z = scores(w, b);
        let r: Vec<f64> = z.iter().zip(&y).zip(&c).map(|((&z, &y), &c)| c * (1.0 / (1.0 + (-z).exp()) - y)).collect();
        let mut g = transposed(&r);
        g.iter_mut().zip(w).for_each(|(g, &w)| *g += l2 * w);
        (g, r.iter().sum())
    };
    // Largest eigenvalue of X^T C X (with the bias column) by power iteration; the logistic
    // curvature is at most a quarter of it.
    let mut v = vec![1.0 / ((d + 1) as f64).sqrt(); d + 1];
    let mut top = 0.0;
    for _ in 0..30 {
        let z = scores(&v[..d], v[d]);
        let cz: Vec<f64> = z.iter().zip(&c).map(|(z, c)| z * c).collect();
        let mut next = transposed(&cz);
        next.push(cz.iter().sum());
        top = next.iter().map(|a| a * a).sum::<f64>().sqrt();
        if top == 0.0 {
            break;
        }
        v = next.into_iter().map(|a| a / top).collect();
    }
    let lipschitz = 0.25 * top * 1.05 + l2;
    let step = 1.0 / lipschitz;
    let momentum = {
        let kappa = (lipschitz / l2).sqrt();
        (kappa - 1.0) / (kappa + 1.0)
    };
    let (mut w, mut b) = (vec![0f64; d], 0f64);
    let (mut w_prev, mut b_prev) = (w.clone(), b);
    let mut iterations = 0;
    let mut gradient_norm = f64::INFINITY;
    while iterations < max_iterations {
        let look_w: Vec<f64> = w.iter().zip(&w_prev).map(|(a, p)| a + momentum * (a - p)).collect();
        let look_b = b + momentum * (b - b_prev);
        let (g, gb) = gradient(&look_w, look_b);
        gradient_norm = (g.iter().map(|v| v * v).sum::<f64>() + gb * gb).sqrt();
        w_prev = std::mem::replace(&mut w, look_w.iter().zip(&g).map(|(a, g)| a - step * g).collect());
        b_prev = std::mem::replace(&mut b, look_b - step * gb);
        iterations += 1;
        if gradient_norm < 1e-6 {
            break;
        }
    }
    // The projection P is symmetric: w·(P z) = (P w)·z.
    if !directions.is_empty() {
        let mut projected: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        project_out(&mut projected, &directions);
        w = projected.into_iter().map(f64::from).collect();
    }
    // Fold the standardisation: w·((x - m) s) + b = (w s)·x + (b - (w s)·m).
    let weight: Vec<f64> = w.iter().zip(&scale).map(|(w, s)| w * s).collect();
    let bias = b - weight.iter().zip(&mean).map(|(w, m)| w * m).sum::<f64>();
    Ok(LogisticFit { weight: weight.into_iter().map(|v| v as f32).collect(), bias: bias as f32, iterations, gradient_norm })
}

/// Removes from `row` its components along the orthonormal `directions`.
fn project_out(row: &mut [f32], directions: &[Vec<f32>]) {
    for u in directions {
        let c = dot(u, row) as f32;
        row.iter_mut().zip(u).for_each(|(v, &u)| *v -= c * u);
    }
}

/// The `dims` leading principal directions (orthonormal, length `d`) of the groups' mean rows of
/// the row-major `x`, each group's mean taken as the average of its two class means (when it has
/// both) so that a group's share of negative clips does not turn emotion into a nuisance.
fn nuisance_directions(x: &[f32], d: usize, labels: &[u8], groups: &[&str], dims: usize) -> Vec<Vec<f32>> {
    let mut sums: std::collections::BTreeMap<&str, [(Vec<f64>, usize); 2]> = std::collections::BTreeMap::new();
    for ((row, &label), &g) in x.chunks(d).zip(labels).zip(groups) {
        let entry = sums.entry(g).or_insert_with(|| [(vec![0.0; d], 0), (vec![0.0; d], 0)]);
        let slot = &mut entry[(label == 1) as usize];
        slot.0.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
        slot.1 += 1;
    }
    let mut means: Vec<Vec<f64>> = sums
        .into_values()
        .map(|classes| {
            let present: Vec<&(Vec<f64>, usize)> = classes.iter().filter(|(_, c)| *c > 0).collect();
            let mut mean = vec![0.0; d];
            for (sum, count) in &present {
                mean.iter_mut().zip(sum).for_each(|(m, s)| *m += s / *count as f64 / present.len() as f64);
            }
            mean
        })
        .collect();
    let g = means.len();
    if g < 2 {
        return Vec::new();
    }
    let centre: Vec<f64> = (0..d).map(|k| means.iter().map(|m| m[k]).sum::<f64>() / g as f64).collect();
    for m in means.iter_mut() {
        m.iter_mut().zip(&centre).for_each(|(v, c)| *v -= c);
    }
    // Eigenvectors of the small Gram matrix M M^T (g x g) by power iteration with deflation;
    // each gives the direction M^T v in feature space.
    let gram: Vec<Vec<f64>> = (0..g).map(|i| (0..g).map(|j| means[i].iter().zip(&means[j]).map(|(a, b)| a * b).sum()).collect()).collect();
    let mut found: Vec<Vec<f64>> = Vec::new();
    let mut directions = Vec::new();
    for k in 0..dims.min(g - 1) {
        let mut v: Vec<f64> = (0..g).map(|i| 1.0 + ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0).collect();
        let mut eigenvalue = 0.0;
        for _ in 0..500 {
            let mut next: Vec<f64> = (0..g).map(|i| gram[i].iter().zip(&v).map(|(a, b)| a * b).sum()).collect();
            for f in &found {
                let c: f64 = f.iter().zip(&next).map(|(a, b)| a * b).sum();
                next.iter_mut().zip(f).for_each(|(x, y)| *x -= c * y);
            }
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            eigenvalue = norm;
            v = next.into_iter().map(|x| x / norm).collect();
        }
        if eigenvalue < 1e-9 {
            break;
        }
        let mut u = vec![0f64; d];
        for (vi, m) in v.iter().zip(&means) {
            u.iter_mut().zip(m).for_each(|(a, b)| *a += vi * b);
        }
        // Orthonormal against the earlier directions (exact in theory; kept so in floating point).
        for prev in &directions {
            let prev: &Vec<f32> = prev;
            let c: f64 = u.iter().zip(prev).map(|(a, &b)| a * b as f64).sum();
            u.iter_mut().zip(prev).for_each(|(a, &b)| *a -= c * b as f64);
        }
        let norm = u.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm < 1e-12 {
            break;
        }
        directions.push(u.into_iter().map(|a| (a / norm) as f32).collect::<Vec<f32>>());
        found.push(v);
    }
    directions
}

/// How the fused head's and the statistics head's logits combine: `fused * a + stats * b + c`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stacking {
    pub fused: f64,
    pub stats: f64,
    pub bias: f64,
}

impl Stacking {
    pub fn apply(&self, fused: f32, stats: f32) -> f32 {
        (self.fused * fused as f64 + self.stats * stats as f64 + self.bias) as f32
    }
}

/// Maximum-likelihood stacking weights on validation logits (Newton's method with step halving
/// and a tiny ridge; the two-input form of Platt scaling, so the result is calibrated).
pub fn fit_stacking(fused: &[f32], stats: &[f32], labels: &[u8]) -> Option<Stacking> {
    let n = labels.len();
    if fused.len() != n || stats.len() != n || !labels.contains(&0) || !labels.contains(&1) {
        return None;
    }
    const RIDGE: f64 = 1e-6;
    let features = |i: usize| [fused[i] as f64, stats[i] as f64, 1.0];
    let nll = |p: &[f64; 3]| -> f64 {
        let mut s = RIDGE * p.iter().map(|v| v * v).sum::<f64>();
        for i in 0..n {
            let f = features(i);
            let z = p[0] * f[0] + p[1] * f[1] + p[2];
            s += z.max(0.0) + (-z.abs()).exp().ln_1p() - labels[i] as f64 * z;
        }
        s
    };
    let mut p = [0.5, 0.5, 0.0];
    let mut current = nll(&p);
    for _ in 0..100 {
        let mut g = [0f64; 3];
        let mut h = [[0f64; 3]; 3];
        for k in 0..3 {
            g[k] = 2.0 * RIDGE * p[k];
            h[k][k] = 2.0 * RIDGE;
        }
        for i in 0..n {
            let f = features(i);
            let z = p[0] * f[0] + p[1] * f[1] + p[2];
            let q = 1.0 / (1.0 + (-z).exp());
            let r = q - labels[i] as f64;
            let w = q * (1.0 - q);
            for a in 0..3 {
                g[a] += r * f[a];
                for b in 0..3 {
                    h[a][b] += w * f[a] * f[b];
                }
            }
        }
        let delta = solve3(h, g)?;
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-10 {
            let next = [p[0] - step * delta[0], p[1] - step * delta[1], p[2] - step * delta[2]];
            let value = nll(&next);
            if value <= current {
                improved = (current - value) > 1e-12 * current.abs().max(1.0);
                p = next;
                current = value;
                break;
            }
            step *= 0.5;
        }
        if !improved {
            break;
        }
    }
    Some(Stacking { fused: p[0], stats: p[1], bias: p[2] })
}

/// `h x = g` for a symmetric positive definite 3x3 `h` (Cramer's rule).
fn solve3(h: [[f64; 3]; 3], g: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(h);
    if !d.is_finite() || d.abs() < 1e-300 {
        return None;
    }
    let mut out = [0f64; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = h;
        for r in 0..3 {
            m[r][k] = g[r];
        }
        *o = det(m) / d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rng::Rng;

    /// Two informative features among noise: the fit ranks held-out rows well, and with a weak
    /// penalty its gradient reaches zero.
    #[test]
    fn logistic_fit_converges_and_separates() {
        let mut rng = Rng::new(7);
        let make = |rng: &mut Rng, n: usize| -> (Vec<Vec<f32>>, Vec<u8>) {
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            for i in 0..n {
                let label = (i % 3 == 0) as u8;
                let shift = if label == 1 { 1.0 } else { -1.0 };
                let mut row: Vec<f32> = (0..20).map(|_| (rng.unit() as f32 - 0.5) * 4.0 + 10.0).collect();
                row[3] += shift * 1.5;
                row[11] -= shift;
                rows.push(row);
                labels.push(label);
            }
            (rows, labels)
        };
        let (train, labels) = make(&mut rng, 600);
        let fit = fit_logistic(train, &labels, 1e-3, true, 5000).unwrap();
        assert!(fit.gradient_norm < 1e-6, "gradient norm {} after {} steps", fit.gradient_norm, fit.iterations);
        assert!(fit.weight[3] > 0.0 && fit.weight[11] < 0.0, "{:?}", fit.weight);
        let (test, test_labels) = make(&mut rng, 300);
        let probs: Vec<f32> = test.iter().map(|r| crate::model::scoring::sigmoid(fit.logit(r))).collect();
        let auc = crate::training::calibration::roc_auc(&probs, &test_labels).unwrap();
        assert!(auc > 0.9, "held-out AUC {auc}");
        // A strong penalty shrinks the weights towards zero.
        let (train, labels) = make(&mut Rng::new(7), 600);
        let strong = fit_logistic(train, &labels, 10.0, true, 5000).unwrap();
        let norm = |w: &[f32]| w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
        assert!(norm(&strong.weight) < norm(&fit.weight) / 10.0);
    }

    /// Feature 5 carries each group's offset (and some label signal); feature 3 only the label.
    /// Projecting out the groups' leading direction leaves the head blind to feature 5, still
    /// ranking by feature 3.
    #[test]
    fn nuisance_projection_removes_the_groups_direction() {
        let mut rng = Rng::new(11);
        let names: Vec<String> = (0..12).map(|g| format!("speaker{g}")).collect();
        let offsets: Vec<f32> = (0..12).map(|g| (g as f32 - 5.5) * 0.3).collect();
        let (mut rows, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..1200 {
            let g = i % 12;
            let label = ((i / 12) % 2) as u8;
            let signal = if label == 1 { 1.0 } else { -1.0 };
            let mut row: Vec<f32> = (0..10).map(|_| rng.unit() as f32 - 0.5).collect();
            row[3] += signal * 0.3;
            row[5] += offsets[g] + signal;
            rows.push(row);
            labels.push(label);
            groups.push(names[g].as_str());
        }
        let plain = fit_logistic(rows.clone(), &labels, 1e-3, true, 5000).unwrap();
        assert!(plain.weight[5].abs() > 0.2 * plain.weight[3].abs(), "{:?}", plain.weight);
        let nuisance = Nuisance { groups: &groups, dims: 1 };
        let fit = fit_logistic_with(rows.clone(), &labels, 1e-3, true, 5000, Some(nuisance), None).unwrap();
        assert!(fit.weight[5].abs() < 0.02 * fit.weight[3].abs(), "{:?}", fit.weight);
        assert!(fit.weight[3] > 0.0);
        let probs: Vec<f32> = rows.iter().map(|r| crate::model::scoring::sigmoid(fit.logit(r))).collect();
        let auc = crate::training::calibration::roc_auc(&probs, &labels).unwrap();
        assert!(auc > 0.8, "AUC {auc}");
        // Zero directions is the plain fit (up to rayon's order of summation in the last bits).
        let none = fit_logistic_with(rows, &labels, 1e-3, true, 5000, Some(Nuisance { groups: &groups, dims: 0 }), None).unwrap();
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * a.abs().max(1.0);
        assert!(none.weight.iter().zip(&plain.weight).all(|(a, b)| close(*a, *b)) && close(none.bias, plain.bias), "{none:?} vs {plain:?}");
    }

    #[test]
    fn group_class_weights_give_every_speaker_and_each_class_within_it_the_same_share() {
        let labels = [0u8, 0, 0, 1, 0, 1, 1, 1, 1, 0];
        let groups = ["a", "a", "a", "a", "b", "b", "b", "b", "b", "c"];
        let w = group_class_weights(&labels, &groups);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let share = |g: &str, l: Option<u8>| -> f64 {
            w.iter().zip(groups.iter().zip(&labels)).filter(|(_, (gg, ll))| **gg == g && l.is_none_or(|l| **ll == l)).map(|(w, _)| w).sum()
        };
        // a and b have both classes: equal shares, each class half of it; c (one class) half as much.
        assert!((share("a", None) - share("b", None)).abs() < 1e-12);
        assert!((share("a", Some(0)) - share("a", Some(1))).abs() < 1e-12);
        assert!((share("b", Some(0)) - share("b", Some(1))).abs() < 1e-12);
        assert!((share("c", None) - share("a", None) / 2.0).abs() < 1e-12);
    }

    /// Feature 0 is each speaker's voice colouring, and speakers with more colour have more
    /// negative clips; within each speaker only feature 1 tells the classes apart. Weighting
    /// every speaker x class cell alike leaves the colouring nothing to explain.
    #[test]
    fn a_speaker_balanced_fit_does_not_take_a_voice_for_emotion() {
        let mut rng = Rng::new(5);
        let (mut rows, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        let names: Vec<String> = (0..8).map(|g| format!("s{g}")).collect();
        for (g, name) in names.iter().enumerate() {
            let colour = g as f32 - 3.5;
            let negative_share = 0.05 + 0.9 * g as f64 / 7.0;
            for _ in 0..200 {
                let label = (rng.unit() >= negative_share) as u8;
                let cue = if label == 1 { 0.3 } else { -0.3 };
                rows.push(vec![colour + (rng.unit() as f32 - 0.5) * 0.2, cue + (rng.unit() as f32 - 0.5) * 2.0]);
                labels.push(label);
                groups.push(name.as_str());
            }
        }
        let plain = fit_logistic_with(rows.clone(), &labels, 1e-3, true, 5000, None, None).unwrap();
        let balanced = fit_logistic_with(rows, &labels, 1e-3, true, 5000, None, Some(&groups)).unwrap();
        let colour_share = |w: &[f32]| w[0].abs() / w[1].abs();
        assert!(colour_share(&plain.weight) > 0.3, "the class-balanced fit should read the colouring here: {:?}", plain.weight);
        assert!(colour_share(&balanced.weight) < 0.1 * colour_share(&plain.weight), "{:?} vs {:?}", balanced.weight, plain.weight);
        assert!(balanced.weight[1] > 0.0);
    }

    #[test]
    fn stacking_recovers_known_weights() {
        let mut rng = Rng::new(3);
        let (mut fused, mut stats, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..20000 {
            let (a, b) = ((rng.unit() * 6.0 - 3.0) as f32, (rng.unit() * 6.0 - 3.0) as f32);
            let p = 1.0 / (1.0 + (-(0.4 * a as f64 + 1.5 * b as f64 - 0.3)).exp());
            labels.push((rng.unit() < p) as u8);
            fused.push(a);
            stats.push(b);
        }
        let s = fit_stacking(&fused, &stats, &labels).unwrap();
        assert!((s.fused - 0.4).abs() < 0.06 && (s.stats - 1.5).abs() < 0.08 && (s.bias + 0.3).abs() < 0.06, "{s:?}");
        assert!(fit_stacking(&fused, &stats, &vec![1; fused.len()]).is_none());
    }

    #[test]
    fn summaries_are_means_then_standard_deviations_per_state() {
        // (1, 2 states, 3 frames, 2 features)
        let values = [1f32, 10., 2., 20., 3., 30., 0., 5., 0., 5., 6., 5.];
        let t = Tensor::from_slice(&values, (1, 2, 3, 2), &candle_core::Device::Cpu).unwrap();
        let s = state_statistics(&t).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let sd = |v: [f32; 3]| {
            let m = v.iter().sum::<f32>() / 3.0;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / 3.0).sqrt()
        };
        let expected = [2.0, 20.0, sd([1., 2., 3.]), sd([10., 20., 30.]), 2.0, 5.0, sd([0., 0., 6.]), 0.0];
        for (a, b) in s.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{s:?}");
        }
    }
}
