//! The centred STFT of [`super::stft`] in float32 arithmetic, for the stages whose tolerance
//! allows it (twice the vector width of the f64 transform). librosa transforms in f64; the
//! float32 spectrum differs from its complex64 rounding by ~1e-7 of the frame's largest bin,
//! so callers either stay well inside their tolerance or check their decisions against a
//! margin and redo ambiguous frames in f64 (see `pitch.rs`).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::stft::{as_flat_mut, centred_frame_count, hann_periodic, split_twiddles, window_frame, FftBuffers};

/// A planned float32 STFT: periodic Hann window, real FFT of `n_fft` points done as a complex
/// FFT of `n_fft / 2` points plus a split step (as [`super::stft::StftPlan`]).
pub struct StftPlanF32 {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    /// `W^k = exp(-2πik/n_fft)` for `k = 0..=n_fft/2`, interleaved `(re, im)`, with
    /// `W^(M-k) = (-re_k, im_k)` exactly (M = n_fft/2), which the paired split relies on.
    twiddle: Vec<f32>,
    /// `(-im_k, -re_k)` per `k`, for the vectorised split.
    twiddle_swapped_neg: Vec<f32>,
}

/// Per-worker buffers for [`StftPlanF32`].
pub type StftScratchF32 = FftBuffers<f32>;

impl StftPlanF32 {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        assert!(n_fft >= 4 && n_fft % 2 == 0, "n_fft must be even");
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n_fft / 2);
        // Rounding commutes with negation, so the f64 table's exact symmetries survive.
        let (twiddle, swapped_neg) = split_twiddles(n_fft);
        let twiddle = twiddle.into_iter().map(|w| w as f32).collect();
        let twiddle_swapped_neg = swapped_neg.into_iter().map(|w| w as f32).collect();
        let window = hann_periodic(n_fft).into_iter().map(|w| w as f32).collect();
        StftPlanF32 { n_fft, hop, window, fft, twiddle, twiddle_swapped_neg }
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames (`1 + len // hop`, as librosa).
    pub fn n_frames(&self, len: usize) -> usize {
        centred_frame_count(len, self.hop)
    }

    pub fn make_scratch(&self) -> StftScratchF32 {
        FftBuffers::for_fft(&*self.fft)
    }

    /// `re² + im²` of every bin of frame `t` of `y` (centred, zero padded), into `power`.
    #[inline(always)]
    pub fn power_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratchF32, power: &mut [f32]) {
        self.transform_frame(y, t, scratch);
        self.split(&scratch.transformed, power);
    }

    /// Bin `k` of the frame last transformed into `scratch` (the values `power_frame` squared).
    #[inline(always)]
    pub fn last_frame_bin(&self, scratch: &StftScratchF32, k: usize) -> (f32, f32) {
        self.bin(&scratch.transformed, k)
    }

    #[inline(always)]
    fn transform_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratchF32) {
        window_frame(y, t * self.hop, &self.window, as_flat_mut(&mut scratch.packed));
        scratch.transform(&*self.fft);
    }

    /// Split step (see `StftPlan::split`) and `re² + im²` per bin.
    #[inline(always)]
    fn split(&self, z: &[Complex<f32>], power: &mut [f32]) {
        let half = self.n_fft / 2;
        assert!(z.len() == half && power.len() > half);
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked just above); lengths were checked above.
            done = unsafe { self.split_quads_avx2(z, power) };
        }
        for k in [0, half].into_iter().chain(done + 1..half - done) {
            let (re, im) = self.bin(z, k);
            power[k] = re * re + im * im;
        }
    }

    /// Bin `k` of the split step.
    #[inline(always)]
    fn bin(&self, z: &[Complex<f32>], k: usize) -> (f32, f32) {
        let half = z.len();
        let a = z[k % half];
        let b = z[(half - k) % half];
        let (wr, wi) = (self.twiddle[2 * k], self.twiddle[2 * k + 1]);
        let sum_re = a.re + b.re;
        let sum_im = a.im - b.im;
        let diff_re = a.re - b.re;
        let diff_im = a.im + b.im;
        let t = wr * diff_im + wi * diff_re;
        let u = wi * diff_im - wr * diff_re;
        (0.5 * (sum_re + t), 0.5 * (sum_im + u))
    }

    /// The split step and squares for bins `k..k+4` and their mirrors `M-k-3..=M-k` at once,
    /// for `k = 1, 5, 9, …` while `2k + 6 < M`; returns the last low bin done (0 if none).
    /// Every operation matches [`Self::bin`] exactly (the mirror reuses the sums with exact
    /// negations), so both paths give identical bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn split_quads_avx2(&self, z: &[Complex<f32>], power: &mut [f32]) -> usize {
        use std::arch::x86_64::*;
        let half = z.len();
        let zp = z.as_ptr().cast::<f32>();
        let tw = self.twiddle.as_ptr();
        let tw_neg = self.twiddle_swapped_neg.as_ptr();
        let halves = _mm256_set1_ps(0.5);
        let odd_sign = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        let reverse_pairs = _mm256_setr_epi32(6, 7, 4, 5, 2, 3, 0, 1);
        let gather_powers = _mm256_setr_epi32(0, 1, 4, 5, 7, 6, 3, 2);
        let out = power.as_mut_ptr();
        let mut k = 1;
        let mut done = 0;
        while 2 * k + 6 < half {
            let m = half - k - 3; // mirrors of k+3 .. k are m .. m+3
            let a = _mm256_loadu_ps(zp.add(2 * k)); // Z[k..k+4]
            let b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(zp.add(2 * m)), reverse_pairs); // Z[M-k], Z[M-k-1], ..
            let s = _mm256_add_ps(a, b); // (sum_re, diff_im) per bin
            let d = _mm256_sub_ps(a, b); // (diff_re, sum_im) per bin
            let diff_im = _mm256_movehdup_ps(s);
            let diff_re = _mm256_moveldup_ps(d);
            let p = _mm256_mul_ps(_mm256_loadu_ps(tw.add(2 * k)), diff_im); // (wr·di, wi·di)
            let q = _mm256_mul_ps(_mm256_loadu_ps(tw_neg.add(2 * k)), diff_re); // (-wi·dr, -wr·dr)
            let tu = _mm256_addsub_ps(p, q); // (t, u)
            let sums = _mm256_blend_ps(s, d, 0b1010_1010); // (sum_re, sum_im)
            let low = _mm256_mul_ps(_mm256_add_ps(sums, tu), halves); // X[k..k+4]
            let mirror = _mm256_mul_ps(_mm256_xor_ps(_mm256_sub_ps(sums, tu), odd_sign), halves); // X[M-k], X[M-k-1], ..
            // Per 128-bit lane: [P(k), P(k+1), P(M-k), P(M-k-1)] | [P(k+2), P(k+3), P(M-k-2), P(M-k-3)].
            let sq = _mm256_hadd_ps(_mm256_mul_ps(low, low), _mm256_mul_ps(mirror, mirror));
            let sq = _mm256_permutevar8x32_ps(sq, gather_powers);
            _mm_storeu_ps(out.add(k), _mm256_castps256_ps128(sq));
            _mm_storeu_ps(out.add(m), _mm256_extractf128_ps(sq, 1));
            done = k + 3;
            k += 4;
        }
        done
    }
}

/// A float32 STFT that transforms two consecutive frames with one complex FFT of `n_fft`
/// points (frame `t` in the real part, `t + 1` in the imaginary part), which rustfft does
/// faster than two half-size transforms plus split steps, and needs no twiddles to separate:
/// `X_t[k] = (Z[k] + conj Z[n-k]) / 2`, `X_{t+1}[k] = (Z[k] - conj Z[n-k]) / 2i`.
pub struct PairedStftPlanF32 {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

/// Per-worker buffers for [`PairedStftPlanF32`].
pub type PairedStftScratchF32 = FftBuffers<f32>;

impl PairedStftPlanF32 {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        assert!(n_fft >= 4 && n_fft % 2 == 0, "n_fft must be even");
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let window = hann_periodic(n_fft).into_iter().map(|w| w as f32).collect();
        PairedStftPlanF32 { n_fft, hop, window, fft }
    }

    /// Number of centred frames (`1 + len // hop`, as librosa).
    pub fn n_frames(&self, len: usize) -> usize {
        centred_frame_count(len, self.hop)
    }

    pub fn make_scratch(&self) -> PairedStftScratchF32 {
        FftBuffers::for_fft(&*self.fft)
    }

    /// `re² + im²` of every bin of frames `t` (into `power_a`) and `t + 1` (into `power_b`)
    /// of `y` (centred, zero padded).
    #[inline(always)]
    pub fn power_frames(&self, y: &[f32], t: usize, scratch: &mut PairedStftScratchF32, power_a: &mut [f32], power_b: &mut [f32]) {
        let (n, half) = (self.n_fft, self.n_fft / 2);
        let start_a = (t * self.hop) as isize - half as isize;
        let start_b = start_a + self.hop as isize;
        let packed = as_flat_mut(&mut scratch.packed);
        if start_a >= 0 && start_b as usize + n <= y.len() {
            let (ya, yb) = (&y[start_a as usize..start_a as usize + n], &y[start_b as usize..start_b as usize + n]);
            for (((slot, &w), &a), &b) in packed.chunks_exact_mut(2).zip(&self.window).zip(ya).zip(yb) {
                slot[0] = w * a;
                slot[1] = w * b;
            }
        } else {
            let sample = |idx: isize| if idx >= 0 && (idx as usize) < y.len() { y[idx as usize] } else { 0.0 };
            for (i, (slot, &w)) in packed.chunks_exact_mut(2).zip(&self.window).enumerate() {
                slot[0] = w * sample(start_a + i as isize);
                slot[1] = w * sample(start_b + i as isize);
            }
        }
        scratch.transform(&*self.fft);
        self.separate(&scratch.transformed, power_a, power_b);
    }

    #[inline(always)]
    fn separate(&self, z: &[Complex<f32>], power_a: &mut [f32], power_b: &mut [f32]) {
        let half = self.n_fft / 2;
        assert!(z.len() == self.n_fft && power_a.len() > half && power_b.len() > half);
        let mut next = 0;
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked just above); lengths were checked above.
            next = unsafe { separate_quads_avx2(z, power_a, power_b) };
        }
        for k in [0].into_iter().chain(next.max(1)..=half) {
            let (a, b) = separate_bin(z, k);
            power_a[k] = a;
            power_b[k] = b;
        }
    }
}

/// Bin `k`'s powers of the two frames: with `Z[k] = (p, q)` and `Z[n-k] = (r, s)`,
/// `((p+r)² + (q-s)²) / 4` and `((q+s)² + (p-r)²) / 4`.
#[inline(always)]
fn separate_bin(z: &[Complex<f32>], k: usize) -> (f32, f32) {
    let n = z.len();
    let (a, b) = (z[k], z[(n - k) % n]);
    let (sum_re, sum_im, diff_re, diff_im) = (a.re + b.re, a.im + b.im, a.re - b.re, a.im - b.im);
    ((sum_re * sum_re + diff_im * diff_im) * 0.25, (sum_im * sum_im + diff_re * diff_re) * 0.25)
}

/// [`separate_bin`] for bins `1, 2, …` four at a time while the four fit in `1..=n/2`;
/// returns the first bin not done. Identical operations, so identical bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn separate_quads_avx2(z: &[Complex<f32>], power_a: &mut [f32], power_b: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let n = z.len();
    let half = n / 2;
    let zp = z.as_ptr().cast::<f32>();
    let reverse_pairs = _mm256_setr_epi32(6, 7, 4, 5, 2, 3, 0, 1);
    let gather = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    let quarter = _mm256_set1_ps(0.25);
    let mut k = 1;
    while k + 3 <= half {
        let a = _mm256_loadu_ps(zp.add(2 * k)); // Z[k..k+4]
        let b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(zp.add(2 * (n - k - 3))), reverse_pairs); // Z[n-k], Z[n-k-1], ..
        let sum = _mm256_add_ps(a, b); // (p+r, q+s)
        let diff = _mm256_sub_ps(a, b); // (p-r, q-s)
        let first = _mm256_blend_ps(sum, diff, 0b1010_1010); // (p+r, q-s)
        let second = _mm256_blend_ps(diff, sum, 0b1010_1010); // (p-r, q+s)
        // Per 128-bit lane: [A(k), A(k+1), B(k), B(k+1)] | [A(k+2), A(k+3), B(k+2), B(k+3)].
        let sq = _mm256_hadd_ps(_mm256_mul_ps(first, first), _mm256_mul_ps(second, second));
        let sq = _mm256_mul_ps(_mm256_permutevar8x32_ps(sq, gather), quarter);
        _mm_storeu_ps(power_a.as_mut_ptr().add(k), _mm256_castps256_ps128(sq));
        _mm_storeu_ps(power_b.as_mut_ptr().add(k), _mm256_extractf128_ps(sq, 1));
        k += 4;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::super::stft::StftPlan;
    use super::*;

    fn signal(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i as f32) * 0.0371).sin() * 0.6 + ((i * i % 97) as f32 / 97.0 - 0.5) * 0.2).collect()
    }

    #[test]
    fn vector_split_matches_scalar_bins() {
        for n_fft in [400, 2048, 16, 30] {
            let plan = StftPlanF32::new(n_fft, n_fft / 4);
            let y = signal(3 * n_fft);
            let mut s = plan.make_scratch();
            let mut power = vec![0.0; plan.n_bins()];
            plan.power_frame(&y, 4, &mut s, &mut power);
            for (k, &p) in power.iter().enumerate() {
                let (re, im) = plan.last_frame_bin(&s, k);
                assert_eq!(p.to_bits(), (re * re + im * im).to_bits(), "n_fft {n_fft} bin {k}");
            }
        }
    }

    #[test]
    fn paired_frames_match_single_frames() {
        for n_fft in [400, 2048, 16, 30] {
            let (single, paired) = (StftPlanF32::new(n_fft, n_fft / 4), PairedStftPlanF32::new(n_fft, n_fft / 4));
            let y = signal(3 * n_fft);
            let (mut s1, mut s2) = (single.make_scratch(), paired.make_scratch());
            let n = single.n_bins();
            let (mut want_a, mut want_b, mut a, mut b) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            for t in [0, 3, 11] {
                single.power_frame(&y, t, &mut s1, &mut want_a);
                single.power_frame(&y, t + 1, &mut s1, &mut want_b);
                paired.power_frames(&y, t, &mut s2, &mut a, &mut b);
                let peak = want_a.iter().chain(&want_b).cloned().fold(0.0f32, f32::max).sqrt();
                for k in 0..n {
                    for (got, want) in [(a[k], want_a[k]), (b[k], want_b[k])] {
                        let err = (got.sqrt() - want.sqrt()).abs();
                        assert!(err <= 1e-5 * peak, "n_fft {n_fft} frame {t} bin {k}: {got} vs {want}");
                    }
                }
                // The vector separation and the scalar one agree bit for bit.
                for k in 0..n {
                    let (pa, pb) = separate_bin(&s2.transformed, k);
                    assert_eq!((pa.to_bits(), pb.to_bits()), (a[k].to_bits(), b[k].to_bits()), "n_fft {n_fft} bin {k}");
                }
            }
        }
    }

    #[test]
    fn float32_power_is_close_to_the_f64_transform() {
        for n_fft in [400, 2048] {
            let (p32, p64) = (StftPlanF32::new(n_fft, 160), StftPlan::new(n_fft, 160));
            let y = signal(8 * n_fft);
            let (mut s32, mut s64) = (p32.make_scratch(), p64.make_scratch());
            let (mut a, mut b) = (vec![0.0; p32.n_bins()], vec![0.0; p32.n_bins()]);
            for t in 0..p32.n_frames(y.len()) {
                p32.power_frame(&y, t, &mut s32, &mut a);
                p64.power_frame(&y, t, &mut s64, &mut b);
                let peak = b.iter().cloned().fold(0.0f32, f32::max).sqrt();
                for (k, (&x, &e)) in a.iter().zip(&b).enumerate() {
                    let err = (x.sqrt() - e.sqrt()).abs();
                    assert!(err <= 1e-5 * peak, "n_fft {n_fft} frame {t} bin {k}: {err} vs peak {peak}");
                }
            }
        }
    }
}
