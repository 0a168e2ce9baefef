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
        for (acc, &v) in r.iter_mut().zip(block) {
            *acc += f(v);
        }
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
    let mean = numpy_mean_f32(a);
    let sum_sq = 0.0f32
        + pairwise_sum_map(a, move |v| {
            let d = v - mean;
            d * d
        });
    (sum_sq as f64 / a.len() as f64) as f32
}

/// Normalises `x` into `out` (cleared first). Empty input gives empty output; constant input
/// gives zeros (0 / sqrt(1e-7)), as in the reference.
pub fn zero_mean_unit_var(x: &[f32], out: &mut Vec<f32>) {
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
    let var = numpy_var_f32(x);
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
    fn silence_normalises_to_zeros() {
        let mut out = Vec::new();
        zero_mean_unit_var(&[0.0; 100], &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn pairwise_sum_small_cases() {
        assert_eq!(numpy_sum_f32(&[1.0, 2.0, 3.0]), 6.0);
        let x = vec![1.0f32; 1000];
        assert_eq!(numpy_sum_f32(&x), 1000.0);
    }
}
