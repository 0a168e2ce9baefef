//! Element-wise and row-reduction kernels of the CPU inference path: exact-erf GELU, layer norm,
//! softmax, dot product. Each has an AVX2+FMA version (chosen at run time) and a portable scalar
//! one; the tests check them against each other and against f64 references.
//!
//! GELU is `x Φ(x)` with `erf(z) = z P(z²)` for `z < 0.75` and `erfc(z) = exp(-z²) Q(1 / (1 + z/2))`
//! above (least-squares fits in f64, ~1e-9 before f32 rounding; Φ in f32 within 1e-7 of exact, see
//! the tests), both branches computed and blended so that 8 lanes run without branches.

/// `erf(z) / z` as a polynomial in `z²` on `[0, 0.75]`.
const ERF_SMALL: [f32; 6] = [std::f32::consts::FRAC_2_SQRT_PI, -0.376_126_23, 0.112_834_4, -0.026_837_515, 0.005_119_877_4, -0.000_678_722_16];
/// `erfc(z) exp(z²)` as a polynomial in `t = 1 / (1 + z/2)`, fitted on `[0.75, 9]` (beyond, erfc
/// is below f32 resolution of Φ for x > 0 and the product with exp(-z²) underflows for x < 0).
const ERFC_LARGE: [f32; 7] =
    [0.003_051_431_6, 0.246_826_08, 0.452_790_26, -0.193_847_69, 0.804_285_8, -0.346_204_6, 0.032_999_955];
const ERF_SPLIT: f32 = 0.75;

/// Whether the AVX2+FMA kernels can run here (checked once).
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    use std::sync::OnceLock;
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
}

#[inline(always)]
fn horner(coefs: &[f32], x: f32) -> f32 {
    coefs.iter().rev().fold(0.0, |acc, &c| acc * x + c)
}

/// `exp(x)` in the Cephes manner: `2^n · p(r)`, `x = n ln 2 + r` (relative error ~1 ulp).
#[inline(always)]
fn exp_scalar(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = horner(&EXP_POLY, r) * r * r + r + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Cephes `expf` polynomial (coefficients of `r²·(…)`, highest degree last).
const EXP_POLY: [f32; 6] = [0.5, 1.666_666_5e-1, 4.166_579_6e-2, 8.333_452e-3, 1.399_82e-3, 1.987_569_1e-4];

/// `Φ(x) = P(X ≤ x)` for a standard normal X.
#[inline(always)]
fn normal_cdf_scalar(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    if z < ERF_SPLIT {
        0.5 + 0.5 * (x.signum() * z * horner(&ERF_SMALL, z * z))
    } else {
        let t = 1.0 / (1.0 + 0.5 * z);
        let half_erfc = 0.5 * exp_scalar(-(z * z)) * horner(&ERFC_LARGE, t);
        if x > 0.0 {
            1.0 - half_erfc
        } else {
            half_erfc
        }
    }
}

/// Exact (erf) GELU, in place.
pub fn gelu(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and FMA.
        unsafe { avx2::gelu(xs) };
        return;
    }
    gelu_scalar(xs)
}

fn gelu_scalar(xs: &mut [f32]) {
    for x in xs {
        *x *= normal_cdf_scalar(*x);
    }
}

/// tanh-approximated GELU (HF "gelu_new"), in place; candle's formula.
pub fn gelu_tanh(xs: &mut [f32]) {
    for x in xs {
        let v = *x;
        *x = 0.5 * v * (1.0 + ((2.0f32 / std::f32::consts::PI).sqrt() * v * (1.0 + 0.044_715 * v * v)).tanh());
    }
}

pub fn relu(xs: &mut [f32]) {
    for x in xs {
        *x = x.max(0.0);
    }
}

/// Normalises every `dim`-wide row of `rows` in place (biased variance, like PyTorch), then
/// scales by `weight` and shifts by `bias`.
pub fn layer_norm_rows(rows: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let dim = weight.len();
    debug_assert_eq!(rows.len() % dim, 0);
    for row in rows.chunks_exact_mut(dim) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and FMA.
            unsafe { avx2::layer_norm(row, weight, bias, eps) };
            continue;
        }
        layer_norm_scalar(row, weight, bias, eps);
    }
}

fn layer_norm_scalar(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
        *v = (*v - mean) * inv * w + b;
    }
}

/// Softmax of one row, in place.
pub fn softmax(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and FMA.
        unsafe { avx2::softmax(row) };
        return;
    }
    softmax_scalar(row)
}

fn softmax_scalar(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = exp_scalar(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `Σ a[i] b[i]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and FMA.
        return unsafe { avx2::dot(a, b) };
    }
    dot_scalar(a, b)
}

fn dot_scalar(a: &[f32], b: &[f32]) -> f32 {
    // Four partial sums: the same association as a 4-lane vector loop, and much faster than
    // one serial chain.
    let mut acc = [0f32; 4];
    let chunks = a.len() / 4 * 4;
    for (ca, cb) in a[..chunks].chunks_exact(4).zip(b[..chunks].chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += ca[l] * cb[l];
        }
    }
    let tail: f32 = a[chunks..].iter().zip(&b[chunks..]).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{ERFC_LARGE, ERF_SMALL, ERF_SPLIT, EXP_POLY};

    #[inline(always)]
    unsafe fn horner(coefs: &[f32], x: __m256) -> __m256 {
        let mut acc = _mm256_set1_ps(coefs[coefs.len() - 1]);
        for &c in coefs[..coefs.len() - 1].iter().rev() {
            acc = _mm256_fmadd_ps(acc, x, _mm256_set1_ps(c));
        }
        acc
    }

    #[inline(always)]
    unsafe fn exp(x: __m256) -> __m256 {
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3)), _mm256_set1_ps(88.3));
        let n = _mm256_round_ps(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.121_944_4e-4), r);
        let r2 = _mm256_mul_ps(r, r);
        let p = _mm256_fmadd_ps(horner(&EXP_POLY, r), r2, _mm256_add_ps(r, _mm256_set1_ps(1.0)));
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
            23,
        ));
        _mm256_mul_ps(p, scale)
    }

    /// Eight lanes of `x Φ(x)`; both erf branches are computed and blended.
    #[inline(always)]
    unsafe fn gelu8(x: __m256) -> __m256 {
        let sign_mask = _mm256_set1_ps(-0.0);
        let z = _mm256_mul_ps(_mm256_andnot_ps(sign_mask, x), _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let z2 = _mm256_mul_ps(z, z);
        let half = _mm256_set1_ps(0.5);
        // Small |z|: Φ = 0.5 + 0.5 sign(x) erf(z).
        let erf_small = _mm256_mul_ps(z, horner(&ERF_SMALL, z2));
        let signed = _mm256_or_ps(erf_small, _mm256_and_ps(x, sign_mask));
        let cdf_small = _mm256_fmadd_ps(half, signed, half);
        // Large |z|: Φ = 1 - erfc/2 for x > 0, erfc/2 otherwise.
        let t = _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_fmadd_ps(half, z, _mm256_set1_ps(1.0)));
        let half_erfc = _mm256_mul_ps(_mm256_mul_ps(half, exp(_mm256_sub_ps(_mm256_setzero_ps(), z2))), horner(&ERFC_LARGE, t));
        let positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
        let cdf_large = _mm256_blendv_ps(half_erfc, _mm256_sub_ps(_mm256_set1_ps(1.0), half_erfc), positive);
        let small = _mm256_cmp_ps(z, _mm256_set1_ps(ERF_SPLIT), _CMP_LT_OQ);
        _mm256_mul_ps(x, _mm256_blendv_ps(cdf_large, cdf_small, small))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gelu(xs: &mut [f32]) {
        let mut chunks = xs.chunks_exact_mut(8);
        for c in &mut chunks {
            let v = _mm256_loadu_ps(c.as_ptr());
            _mm256_storeu_ps(c.as_mut_ptr(), gelu8(v));
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut buf = [0f32; 8];
            buf[..rest.len()].copy_from_slice(rest);
            let v = gelu8(_mm256_loadu_ps(buf.as_ptr()));
            _mm256_storeu_ps(buf.as_mut_ptr(), v);
            let n = rest.len();
            rest.copy_from_slice(&buf[..n]);
        }
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[inline(always)]
    unsafe fn hmax(v: __m256) -> f32 {
        let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (l, a_l) in acc.iter_mut().enumerate() {
                *a_l = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8 * l)), _mm256_loadu_ps(pb.add(i + 8 * l)), *a_l);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
            i += 8;
        }
        let mut sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
        while i < n {
            sum += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn layer_norm(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
        let n = row.len();
        let p = row.as_mut_ptr();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            acc = _mm256_add_ps(acc, _mm256_loadu_ps(p.add(i)));
            i += 8;
        }
        let mut sum = hsum(acc);
        for j in i..n {
            sum += *p.add(j);
        }
        let mean = sum / n as f32;
        let vmean = _mm256_set1_ps(mean);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vmean);
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        let mut sq = hsum(acc);
        for j in i..n {
            let d = *p.add(j) - mean;
            sq += d * d;
        }
        let inv = 1.0 / (sq / n as f32 + eps).sqrt();
        let vinv = _mm256_set1_ps(inv);
        let (pw, pb) = (weight.as_ptr(), bias.as_ptr());
        let mut i = 0;
        while i + 8 <= n {
            let d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vmean), vinv);
            _mm256_storeu_ps(p.add(i), _mm256_fmadd_ps(d, _mm256_loadu_ps(pw.add(i)), _mm256_loadu_ps(pb.add(i))));
            i += 8;
        }
        for j in i..n {
            *p.add(j) = (*p.add(j) - mean) * inv * *pw.add(j) + *pb.add(j);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn softmax(row: &mut [f32]) {
        let n = row.len();
        let p = row.as_mut_ptr();
        let mut vmax = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i + 8 <= n {
            vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(p.add(i)));
            i += 8;
        }
        let mut max = hmax(vmax);
        for j in i..n {
            max = max.max(*p.add(j));
        }
        let vm = _mm256_set1_ps(max);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vm));
            _mm256_storeu_ps(p.add(i), e);
            acc = _mm256_add_ps(acc, e);
            i += 8;
        }
        let mut sum = hsum(acc);
        for j in i..n {
            let e = super::exp_scalar(*p.add(j) - max);
            *p.add(j) = e;
            sum += e;
        }
        let inv = 1.0 / sum;
        let vinv = _mm256_set1_ps(inv);
        let mut i = 0;
        while i + 8 <= n {
            _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), vinv));
            i += 8;
        }
        for j in i..n {
            *p.add(j) *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf64(x: f64) -> f64 {
        statrs::function::erf::erf(x)
    }

    fn grid() -> Vec<f32> {
        (0..=400_000).map(|i| -12.0 + 24.0 * i as f32 / 400_000.0).collect()
    }

    #[test]
    fn normal_cdf_is_accurate_to_1e7() {
        let mut worst = 0f64;
        for x in grid() {
            let exact = 0.5 * (1.0 + erf64(x as f64 / std::f64::consts::SQRT_2));
            worst = worst.max((normal_cdf_scalar(x) as f64 - exact).abs());
        }
        // Measured: 8.8e-8, of which up to 3e-8 is the final rounding of Φ to f32.
        assert!(worst <= 1e-7, "Φ error {worst:e}");
    }

    #[test]
    fn gelu_is_accurate_to_f32_resolution_and_both_versions_agree() {
        let xs = grid();
        let mut fast = xs.clone();
        gelu(&mut fast);
        let mut scalar = xs.clone();
        gelu_scalar(&mut scalar);
        for ((&x, &f), &s) in xs.iter().zip(&fast).zip(&scalar) {
            let exact = 0.5 * x as f64 * (1.0 + erf64(x as f64 / std::f64::consts::SQRT_2));
            // 1e-7 absolute plus one f32 ulp of the result (measured worst: 3.8e-7 at x = 4.9,
            // where rounding the exact value to f32 alone costs up to 2.4e-7).
            let tol = 1e-7 + exact.abs() * f32::EPSILON as f64;
            assert!((f as f64 - exact).abs() <= tol, "gelu({x}) = {f}, exact {exact}");
            assert!((s as f64 - exact).abs() <= tol, "scalar gelu({x}) = {s}, exact {exact}");
        }
        // Lengths that are not a multiple of 8 take the tail path.
        let mut short = vec![-1.0f32, 0.5, 3.0];
        gelu(&mut short);
        assert!((short[2] - 2.995_95).abs() < 1e-5);
        assert!((short[0] + 0.158_655_25).abs() < 1e-7);
    }

    fn sample(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 * 0.618 + seed as f32) * 1.7).sin() * 3.0 + 0.1 * seed as f32).collect()
    }

    #[test]
    fn reductions_match_f64_references() {
        for n in [1usize, 7, 8, 33, 768, 1001] {
            let a = sample(n, 1);
            let b = sample(n, 2);
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((dot(&a, &b) as f64 - exact).abs() <= 1e-5 * (1.0 + exact.abs()));
            assert!((dot_scalar(&a, &b) as f64 - exact).abs() <= 1e-5 * (1.0 + exact.abs()));

            let mut sm = a.clone();
            softmax(&mut sm);
            let mut sm_scalar = a.clone();
            softmax_scalar(&mut sm_scalar);
            let max = a.iter().copied().fold(f64::NEG_INFINITY, |m, v| m.max(v as f64));
            let total: f64 = a.iter().map(|&v| (v as f64 - max).exp()).sum();
            for i in 0..n {
                let exact = (a[i] as f64 - max).exp() / total;
                assert!((sm[i] as f64 - exact).abs() <= 1e-7, "softmax {n} {i}");
                assert!((sm_scalar[i] as f64 - exact).abs() <= 1e-7, "scalar softmax {n} {i}");
            }

            let w = sample(n, 3);
            let bias = sample(n, 4);
            let mut ln = a.clone();
            layer_norm_rows(&mut ln, &w, &bias, 1e-5);
            let mut ln_scalar = a.clone();
            layer_norm_scalar(&mut ln_scalar, &w, &bias, 1e-5);
            let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            for i in 0..n {
                let exact = (a[i] as f64 - mean) / (var + 1e-5).sqrt() * w[i] as f64 + bias[i] as f64;
                assert!((ln[i] as f64 - exact).abs() <= 1e-5, "layer norm {n} {i}: {} vs {exact}", ln[i]);
                assert!((ln_scalar[i] as f64 - exact).abs() <= 1e-5, "scalar layer norm {n} {i}");
            }
        }
    }
}
