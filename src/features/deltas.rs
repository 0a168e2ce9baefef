//! `librosa.feature.delta(x, width=9, order=d, mode='interp')`, i.e.
//! `scipy.signal.savgol_filter(x, 9, polyorder=d, deriv=d, mode='interp')` along time:
//! interior points use the Savitzky-Golay convolution, the first and last `width/2` points use
//! the derivative of a degree-`d` least-squares polynomial fitted to the first/last `width`
//! points. Every output is a fixed linear combination of `width` inputs; the weights are solved
//! once in f64.

/// Precomputed weights for one (width, order) pair.
pub struct DeltaFilter {
    width: usize,
    /// `width` rows of `width` weights: row `u` evaluates the derivative at window position `u`.
    rows: Vec<Vec<f64>>,
}

impl DeltaFilter {
    /// `width` odd ≥ 3, `order` ≥ 1 (polyorder = deriv = order, as librosa sets them).
    pub fn new(width: usize, order: usize) -> Self {
        let rows = (0..width).map(|u| derivative_weights(width, order, order, u as f64)).collect();
        DeltaFilter { width, rows }
    }

    /// Applies the filter to `x` (length ≥ width) writing `out` (same length); `acc` is an f64
    /// work buffer of the same length. The interior runs tap by tap over all frames (so it
    /// vectorises), summing each output's taps in the same order as a per-output dot product.
    #[inline(always)]
    pub fn apply(&self, x: &[f32], acc: &mut [f64], out: &mut [f32]) {
        let n = x.len();
        let w = self.width;
        let half = w / 2;
        debug_assert!(n >= w && out.len() == n && acc.len() == n);
        let dot = |row: &[f64], window: &[f32]| -> f32 {
            row.iter().zip(window).map(|(&a, &b)| a * b as f64).sum::<f64>() as f32
        };
        for (i, o) in out.iter_mut().enumerate().take(half) {
            *o = dot(&self.rows[i], &x[..w]);
        }
        let interior = n - 2 * half;
        let acc = &mut acc[..interior];
        acc.fill(0.0);
        for (j, &c) in self.rows[half].iter().enumerate() {
            for (a, &v) in acc.iter_mut().zip(&x[j..j + interior]) {
                *a += c * v as f64;
            }
        }
        for (o, &a) in out[half..n - half].iter_mut().zip(acc.iter()) {
            *o = a as f32;
        }
        for i in n - half..n {
            let u = i - (n - w);
            out[i] = dot(&self.rows[u], &x[n - w..]);
        }
    }
}

/// Weights `c` such that `sum_j c_j x_j` is the `deriv`-th derivative at position `u` of the
/// degree-`degree` least-squares polynomial through points `(j, x_j)`, `j = 0..width`.
fn derivative_weights(width: usize, degree: usize, deriv: usize, u: f64) -> Vec<f64> {
    let m = degree + 1;
    // Normal equations: G = AᵀA (m×m), A_jp = j^p.
    let mut g = vec![vec![0.0f64; m]; m];
    for j in 0..width {
        let t = j as f64;
        for p in 0..m {
            for q in 0..m {
                g[p][q] += t.powi((p + q) as i32);
            }
        }
    }
    // e = d^deriv/du^deriv of [1, u, u², ...] at u.
    let e: Vec<f64> = (0..m)
        .map(|p| {
            if p < deriv {
                0.0
            } else {
                let falling: f64 = ((p - deriv + 1)..=p).map(|k| k as f64).product();
                falling * u.powi((p - deriv) as i32)
            }
        })
        .collect();
    // Solve G z = e (G is small and symmetric positive definite), then c_j = Σ_p z_p j^p.
    let z = solve(g, e);
    (0..width).map(|j| (0..m).map(|p| z[p] * (j as f64).powi(p as i32)).sum()).collect()
}

fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).fold(col, |best, r| if a[r][col].abs() > a[best][col].abs() { r } else { best });
        a.swap(col, pivot);
        b.swap(col, pivot);
        for r in col + 1..n {
            let f = a[r][col] / a[col][col];
            for c in col..n {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_order_interior_is_classic_regression_slope() {
        let f = DeltaFilter::new(9, 1);
        for (k, &c) in f.rows[4].iter().enumerate() {
            assert!((c - (k as f64 - 4.0) / 60.0).abs() < 1e-12);
        }
    }

    #[test]
    fn derivatives_of_polynomials_are_exact() {
        let x: Vec<f32> = (0..20).map(|i| (3.0 * i as f32) - 1.0).collect();
        let (mut out, mut acc) = (vec![0.0; 20], vec![0.0; 20]);
        DeltaFilter::new(9, 1).apply(&x, &mut acc, &mut out);
        assert!(out.iter().all(|&v| (v - 3.0).abs() < 1e-5));
        let x: Vec<f32> = (0..20).map(|i| 0.5 * (i * i) as f32).collect();
        DeltaFilter::new(9, 2).apply(&x, &mut acc, &mut out);
        assert!(out.iter().all(|&v| (v - 1.0).abs() < 1e-4), "{out:?}");
    }
}
