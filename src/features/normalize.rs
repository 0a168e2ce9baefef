//! Zero-mean / unit-variance normalisation as HF `Wav2Vec2FeatureExtractor` does it
//! (`(x - x.mean()) / sqrt(x.var() + 1e-7)` on a float32 array), reproducing NumPy's float32
//! arithmetic: pairwise summation, mean/var divided in f64 and rounded to f32.

/// NumPy's `pairwise_sum` for contiguous float32 data (8 accumulators, blocks of 128), over
/// `f(x)` for each element (so `sum((x - mean)²)` needs no temporary array).
#[inline(always)]
fn pairwise_sum_map<F: Fn(f32) -> f32 + Copy>(a: &[f32], f: F) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { pairwise_avx2(a, f) };
    }
    pairwise_portable(a, f)
}

fn pairwise_portable<F: Fn(f32) -> f32 + Copy>(a: &[f32], f: F) -> f32 {
    let n = a.len();
    if n <= 128 {
        pairwise_leaf(a, f)
    } else {
        let n2 = pairwise_split(n);
        pairwise_portable(&a[..n2], f) + pairwise_portable(&a[n2..], f)
    }
}

/// The same recursion compiled for AVX2 (one 8-lane register per leaf; identical results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pairwise_avx2<F: Fn(f32) -> f32 + Copy>(a: &[f32], f: F) -> f32 {
    let n = a.len();
    if n <= 128 {
        pairwise_leaf(a, f)
    } else if n <= 256 {
        // Two sibling leaves: run their (latency-bound) accumulations interleaved.
        let n2 = pairwise_split(n);
        let (left, right) = pairwise_leaf_pair(&a[..n2], &a[n2..], f);
        left + right
    } else {
        let n2 = pairwise_split(n);
        pairwise_avx2(&a[..n2], f) + pairwise_avx2(&a[n2..], f)
    }
}

#[inline(always)]
fn pairwise_split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

/// `r[j] += f(block[j])` for one block of eight (fixed size, so it becomes one vector add).
#[inline(always)]
fn add_block<F: Fn(f32) -> f32 + Copy>(r: &mut [f32; 8], block: &[f32], f: F) {
    let block: &[f32; 8] = match block.try_into() {
        Ok(b) => b,
        Err(_) => return debug_assert!(false, "blocks are eight values"),
    };
    for j in 0..8 {
        r[j] += f(block[j]);
    }
}

/// `(pairwise_leaf(a), pairwise_leaf(b))` for `8 <= len <= 128`, with both leaves' eight
/// accumulators advanced in the same loop (each sum keeps exactly its own order).
#[inline(always)]
fn pairwise_leaf_pair<F: Fn(f32) -> f32 + Copy>(a: &[f32], b: &[f32], f: F) -> (f32, f32) {
    debug_assert!(a.len() >= 8 && b.len() >= 8 && a.len() <= 128 && b.len() <= 128);
    let mut ra = [0.0f32; 8];
    let mut rb = [0.0f32; 8];
    for i in 0..8 {
        ra[i] = f(a[i]);
        rb[i] = f(b[i]);
    }
    let (full_a, full_b) = (a.len() - a.len() % 8, b.len() - b.len() % 8);
    let common = full_a.min(full_b);
    for (xa, xb) in a[8..common].chunks_exact(8).zip(b[8..common].chunks_exact(8)) {
        add_block(&mut ra, xa, f);
        add_block(&mut rb, xb, f);
    }
    for block in a[common.max(8)..full_a].chunks_exact(8) {
        add_block(&mut ra, block, f);
    }
    for block in b[common.max(8)..full_b].chunks_exact(8) {
        add_block(&mut rb, block, f);
    }
    let finish = |r: [f32; 8], rest: &[f32]| {
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in rest {
            res += f(v);
        }
        res
    };
    (finish(ra, &a[full_a..]), finish(rb, &b[full_b..]))
}

#[inline(always)]
fn pairwise_leaf<F: Fn(f32) -> f32 + Copy>(a: &[f32], f: F) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0f32;
        for &v in a {
            res += f(v);
        }
        return res;
    }
    let mut r = [0.0f32; 8];
    for (acc, &v) in r.iter_mut().zip(a) {
        *acc = f(v);
    }
    let full = n - n % 8;
    for block in a[8..full].chunks_exact(8) {
        add_block(&mut r, block, f);
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for &v in &a[full..] {
        res += f(v);
    }
    res
}

/// NumPy's `pairwise_sum` for contiguous float32 data.
pub fn numpy_pairwise_sum_f32(a: &[f32]) -> f32 {
    pairwise_sum_map(a, |v| v)
}

/// `np.sum` of a contiguous float32 array (the reduction starts from 0).
pub fn numpy_sum_f32(a: &[f32]) -> f32 {
    0.0f32 + numpy_pairwise_sum_f32(a)
}

/// `x.mean()` for float32 `x`.
pub fn numpy_mean_f32(a: &[f32]) -> f32 {
    (numpy_sum_f32(a) as f64 / a.len() as f64) as f32
}

/// `x.var()` for float32 `x` (ddof 0): mean, then the mean of float32 `(x - mean)²`.
pub fn numpy_var_f32(a: &[f32]) -> f32 {
    numpy_var_f32_about(a, numpy_mean_f32(a))
}

/// [`numpy_var_f32`] given `mean = numpy_mean_f32(a)` (saves a pass when the caller has it).
fn numpy_var_f32_about(a: &[f32], mean: f32) -> f32 {
    let sum_sq = 0.0f32
        + pairwise_sum_map(a, move |v| {
            let d = v - mean;
            d * d
        });
    (sum_sq as f64 / a.len() as f64) as f32
}

/// Normalises `x` into `out` (cleared first), with the mean and variance summed in f64 in one
/// pass instead of NumPy's three float32 passes: they agree to ~1e-7 relative, so outputs agree
/// within ~1e-6 (tolerance 1e-4) at a third less memory traffic, except for nearly constant
/// input (standard deviation below a tenth of the mean), which takes NumPy's exact path.
/// Empty input gives empty output; constant input gives zeros (0 / sqrt(1e-7)), as in the
/// reference.
pub fn zero_mean_unit_var(x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    match scaling(x) {
        Some((mean, denom)) => out.extend(x.iter().map(|&v| (v - mean) / denom)),
        None => zero_mean_unit_var_numpy(x, out),
    }
}

/// [`zero_mean_unit_var`] in place (one buffer instead of two; `spare` receives NumPy's
/// output for nearly constant input before it is copied back).
pub fn zero_mean_unit_var_in_place(x: &mut [f32], spare: &mut Vec<f32>) {
    match scaling(x) {
        Some((mean, denom)) => {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { scale_avx2(x, mean, denom) };
            }
            scale(x, mean, denom)
        }
        None => {
            zero_mean_unit_var_numpy(x, spare);
            x.copy_from_slice(spare);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scale_avx2(x: &mut [f32], mean: f32, denom: f32) {
    scale(x, mean, denom)
}

#[inline(always)]
fn scale(x: &mut [f32], mean: f32, denom: f32) {
    for v in x.iter_mut() {
        *v = (*v - mean) / denom;
    }
}

/// The float32 mean and `sqrt(var + 1e-7)` of `x` from f64 sums, or `None` when `x` is empty
/// or nearly constant: then the output is x − mean over a tiny deviation, i.e. the reference's
/// float32 rounding of the mean, amplified, which only NumPy's own arithmetic reproduces (the
/// pitch track of a steady tone or of a one-frame clip).
fn scaling(x: &[f32]) -> Option<(f32, f32)> {
    if x.is_empty() {
        return None;
    }
    let (total, total_sq) = moments(x);
    let n = x.len() as f64;
    let mean = total / n;
    let var = (total_sq / n - mean * mean).max(0.0);
    if var + 1e-7 < 0.01 * mean * mean {
        return None;
    }
    let (mean, var) = (mean as f32, var as f32);
    Some((mean, (var + 1e-7f32).sqrt()))
}

/// `(Σx, Σx²)` in f64 over eight lanes (`x[j]` goes to lane `j % 8`), lanes summed in order,
/// then the tail.
fn moments(x: &[f32]) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { moments_avx2(x) };
    }
    moments_portable(x)
}

/// [`moments_portable`] with the lanes in AVX2 registers (the compiler does not vectorise the
/// widening loop well); identical results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn moments_avx2(x: &[f32]) -> (f64, f64) {
    use std::arch::x86_64::*;
    let blocks = x.len() / 8;
    let (mut s0, mut s1, mut q0, mut q1) = (_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd());
    let p = x.as_ptr();
    for b in 0..blocks {
        let v = _mm256_loadu_ps(p.add(8 * b));
        let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        let hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_add_pd(s0, lo);
        s1 = _mm256_add_pd(s1, hi);
        q0 = _mm256_add_pd(q0, _mm256_mul_pd(lo, lo));
        q1 = _mm256_add_pd(q1, _mm256_mul_pd(hi, hi));
    }
    let (mut sum, mut sum_sq) = ([0.0f64; 8], [0.0f64; 8]);
    _mm256_storeu_pd(sum.as_mut_ptr(), s0);
    _mm256_storeu_pd(sum.as_mut_ptr().add(4), s1);
    _mm256_storeu_pd(sum_sq.as_mut_ptr(), q0);
    _mm256_storeu_pd(sum_sq.as_mut_ptr().add(4), q1);
    combine(&x[8 * blocks..], sum, sum_sq)
}

fn moments_portable(x: &[f32]) -> (f64, f64) {
    let (mut sum, mut sum_sq) = ([0.0f64; 8], [0.0f64; 8]);
    let mut blocks = x.chunks_exact(8);
    for block in &mut blocks {
        for j in 0..8 {
            let v = block[j] as f64;
            sum[j] += v;
            sum_sq[j] += v * v;
        }
    }
    combine(blocks.remainder(), sum, sum_sq)
}

#[inline(always)]
fn combine(tail: &[f32], sum: [f64; 8], sum_sq: [f64; 8]) -> (f64, f64) {
    let (mut total, mut total_sq) = (sum.iter().sum::<f64>(), sum_sq.iter().sum::<f64>());
    for &v in tail {
        total += v as f64;
        total_sq += v as f64 * v as f64;
    }
    (total, total_sq)
}

/// [`zero_mean_unit_var`] with NumPy's float32 pairwise statistics, bit for bit (three passes).
pub fn zero_mean_unit_var_numpy(x: &[f32], out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { zero_mean_unit_var_avx2(x, out) };
    }
    zero_mean_unit_var_portable(x, out)
}

/// [`zero_mean_unit_var`] compiled for AVX2 (8-lane divisions; identical results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn zero_mean_unit_var_avx2(x: &[f32], out: &mut Vec<f32>) {
    zero_mean_unit_var_portable(x, out)
}

#[inline(always)]
fn zero_mean_unit_var_portable(x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    if x.is_empty() {
        return;
    }
    let mean = numpy_mean_f32(x);
    let var = numpy_var_f32_about(x, mean);
    let denom = (var + 1e-7f32).sqrt();
    out.extend(x.iter().map(|&v| (v - mean) / denom));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_signal_has_zero_mean_unit_variance() {
        let x: Vec<f32> = (0..10_000).map(|i| ((i as f32) * 0.37).sin() * 3.0 + 1.0).collect();
        let mut out = Vec::new();
        zero_mean_unit_var(&x, &mut out);
        let mean: f64 = out.iter().map(|&v| v as f64).sum::<f64>() / out.len() as f64;
        let var: f64 = out.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / out.len() as f64;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{mean} {var}");
    }

    #[test]
    fn one_pass_statistics_match_numpy_within_1e6() {
        for scale in [1e-3f32, 0.3, 250.0] {
            let x: Vec<f32> = (0..160_003).map(|i| (((i as f32) * 0.0137).sin() + 0.2) * scale + (i % 7) as f32 * scale * 0.01).collect();
            let (mut fast, mut exact) = (Vec::new(), Vec::new());
            zero_mean_unit_var(&x, &mut fast);
            zero_mean_unit_var_numpy(&x, &mut exact);
            let worst = fast.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 1e-6, "scale {scale}: {worst}");
            assert_eq!(moments(&x), moments_portable(&x), "vector and portable sums must agree bit for bit");
            let mut in_place = x.clone();
            zero_mean_unit_var_in_place(&mut in_place, &mut Vec::new());
            assert_eq!(in_place, fast);
        }
        // Nearly constant input reproduces the reference's rounding exactly.
        for x in [vec![440.0f32; 160_000], vec![312.5f32], (0..5000).map(|i| 200.0 + (i % 3) as f32 * 1e-3).collect()] {
            let (mut fast, mut exact) = (Vec::new(), Vec::new());
            zero_mean_unit_var(&x, &mut fast);
            zero_mean_unit_var_numpy(&x, &mut exact);
            assert_eq!(fast, exact);
            let mut in_place = x.clone();
            zero_mean_unit_var_in_place(&mut in_place, &mut Vec::new());
            assert_eq!(in_place, exact);
        }
    }

    #[test]
    fn silence_normalises_to_zeros() {
        let mut out = Vec::new();
        zero_mean_unit_var(&[0.0; 100], &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn paired_leaves_sum_like_single_leaves() {
        let x: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.713).sin() * 1e3 + 0.1 * i as f32).collect();
        for (la, lb) in [(64, 64), (64, 72), (120, 128), (8, 13), (127, 9)] {
            let (a, b) = (&x[..la], &x[la..la + lb]);
            let (pa, pb) = pairwise_leaf_pair(a, b, |v| v * v);
            assert_eq!(pa.to_bits(), pairwise_leaf(a, |v| v * v).to_bits());
            assert_eq!(pb.to_bits(), pairwise_leaf(b, |v| v * v).to_bits());
        }
        for n in [129, 200, 256, 257, 160_000] {
            let y: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).cos() * 0.3).collect();
            assert_eq!(pairwise_sum_map(&y, |v| v).to_bits(), pairwise_portable(&y, |v| v).to_bits(), "n = {n}");
        }
    }

    #[test]
    fn pairwise_sum_small_cases() {
        assert_eq!(numpy_sum_f32(&[1.0, 2.0, 3.0]), 6.0);
        let x = vec![1.0f32; 1000];
        assert_eq!(numpy_sum_f32(&x), 1000.0);
    }
}
