//! Centred short-time Fourier transform with zero padding, as librosa 0.11 `stft` computes it
//! for float32 input: the frame is windowed and transformed in f64 and the spectrum is stored
//! as complex64; magnitudes are taken the way NumPy's `abs` does it for complex64.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftNum, FftPlanner};

/// `scipy.signal.get_window('hann', n, fftbins=True)`: periodic Hann built like SciPy's
/// `general_cosine` (0.5 + 0.5·cos over `linspace(-pi, pi, n + 1)[:n]`).
pub fn hann_periodic(n: usize) -> Vec<f64> {
    let m = n + 1;
    let start = -std::f64::consts::PI;
    let step = (std::f64::consts::PI - start) / (m - 1) as f64;
    (0..n)
        .map(|i| {
            let fac = i as f64 * step + start;
            0.5 + 0.5 * fac.cos()
        })
        .collect()
}

/// |z| for a complex64 value exactly as NumPy 2.x's SIMD `absolute` computes it
/// (ratio scaling, fused `ratio*ratio + 1`, all in float32).
#[inline(always)]
pub fn numpy_cabs_f32(re: f32, im: f32) -> f32 {
    let (a, b) = (re.abs(), im.abs());
    let larger = if a > b { a } else { b };
    let smaller = if a > b { b } else { a };
    // Branch-free so the loop vectorises; 0/1 gives the 0 NumPy selects for |z| = 0.
    let divisor = if larger == 0.0 { 1.0 } else { larger };
    let ratio = smaller / divisor;
    // NumPy fuses ratio * ratio + 1 (one rounding). Compiled with FMA (the AVX2 kernels) this
    // is one instruction; the portable build calls libm's exact fmaf.
    let t = ratio.mul_add(ratio, 1.0);
    t.sqrt() * larger
}

/// Maximum of non-negative, NaN-free values (0 for an empty slice), written with eight
/// independent lanes so it vectorises; the maximum is exact in any order.
#[inline(always)]
pub fn max_non_negative(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    let mut best = 0.0f32;
    for &v in lanes.iter().chain(chunks.remainder()) {
        best = if v > best { v } else { best };
    }
    best
}

/// A planned STFT: periodic Hann window and a real FFT of `n_fft` points done as a complex
/// FFT of `n_fft / 2` points (even samples in the real part, odd in the imaginary part) plus
/// our own split step, which rounds each bin to complex64 and squares it in the same pass.
/// Arithmetic is f64 throughout, as NumPy's `rfft` of the float64 windowed frame; only the
/// order of f64 roundings differs from pocketfft's (relative 1e-16, far below float32).
pub struct StftPlan {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    fft: Arc<dyn Fft<f64>>,
    /// `W^k = exp(-2πik/n_fft)` for `k = 0..=n_fft/2`, interleaved `(re, im)`; built so that
    /// `W^(M-k) = (-re_k, im_k)` holds exactly (M = n_fft/2), which the paired split relies on.
    twiddle: Vec<f64>,
    /// `(-im_k, -re_k)` per `k`, for the vectorised split.
    twiddle_swapped_neg: Vec<f64>,
}

/// Per-worker buffers of one planned complex FFT (input, output, rustfft's scratch); allocate
/// once, reuse for every frame.
pub struct FftBuffers<T> {
    pub(super) packed: Vec<Complex<T>>,
    pub(super) transformed: Vec<Complex<T>>,
    fft_scratch: Vec<Complex<T>>,
}

impl<T: FftNum> FftBuffers<T> {
    pub(super) fn for_fft(fft: &dyn Fft<T>) -> Self {
        let zero = Complex::new(T::zero(), T::zero());
        FftBuffers {
            packed: vec![zero; fft.len()],
            transformed: vec![zero; fft.len()],
            fft_scratch: vec![zero; fft.get_outofplace_scratch_len()],
        }
    }

    /// `transformed = FFT(packed)` (`packed` is clobbered).
    #[inline(always)]
    pub(super) fn transform(&mut self, fft: &dyn Fft<T>) {
        fft.process_outofplace_with_scratch(&mut self.packed, &mut self.transformed, &mut self.fft_scratch);
    }
}

/// Per-worker buffers for [`StftPlan`].
pub type StftScratch = FftBuffers<f64>;

impl StftPlan {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        assert!(n_fft >= 4 && n_fft % 2 == 0, "n_fft must be even");
        let fft = FftPlanner::<f64>::new().plan_fft_forward(n_fft / 2);
        let (twiddle, twiddle_swapped_neg) = split_twiddles(n_fft);
        StftPlan { n_fft, hop, window: hann_periodic(n_fft), fft, twiddle, twiddle_swapped_neg }
    }

    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames librosa produces for `len` samples (`1 + len // hop`).
    pub fn n_frames(&self, len: usize) -> usize {
        centred_frame_count(len, self.hop)
    }

    pub fn make_scratch(&self) -> StftScratch {
        FftBuffers::for_fft(&*self.fft)
    }

    /// Power of frame `t` of `y` (centred, zero padded; samples past the end of `y` are
    /// zeros): `re² + im²` in float32 of the complex64-rounded spectrum, i.e. `np.abs(S) ** 2`
    /// without its square root and re-squaring (within 2 float32 ulps), into `power` (`n_bins`).
    #[inline(always)]
    pub fn power_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratch, power: &mut [f32]) {
        self.transform_frame(y, t, scratch);
        self.split::<false>(&scratch.transformed, &mut [], power);
    }

    /// The complex64 spectrum of frame `t` (what librosa stores), interleaved `(re, im)` in
    /// `spectrum` (`2 · n_bins`), plus `re² + im²` in float32 in `power` (`n_bins`).
    #[inline(always)]
    pub fn spectrum_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratch, spectrum: &mut [f32], power: &mut [f32]) {
        self.transform_frame(y, t, scratch);
        self.split::<true>(&scratch.transformed, spectrum, power);
    }

    /// Bin `k` (complex64) of the frame last transformed into `scratch` by
    /// [`Self::power_frame`] or [`Self::spectrum_frame`]: identical bits to `spectrum_frame`'s.
    #[inline(always)]
    pub fn last_frame_bin(&self, scratch: &StftScratch, k: usize) -> (f32, f32) {
        self.bin(&scratch.transformed, k)
    }

    /// Windows frame `t` into the packed complex buffer and runs the half-size complex FFT.
    #[inline(always)]
    fn transform_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratch) {
        window_frame(y, t * self.hop, &self.window, as_flat_mut(&mut scratch.packed));
        scratch.transform(&*self.fft);
    }

    /// Split step of the packed real FFT, `X[k] = E[k] + W^k O[k]` with
    /// `E = (Z[k] + conj Z[M-k]) / 2` and `O = -i (Z[k] - conj Z[M-k]) / 2`, rounded to
    /// complex64 (into `spectrum` when `SPEC`) and squared in float32 (into `power`).
    #[inline(always)]
    fn split<const SPEC: bool>(&self, z: &[Complex<f64>], spectrum: &mut [f32], power: &mut [f32]) {
        let half = self.n_fft / 2;
        assert!(z.len() == half && power.len() > half && (!SPEC || spectrum.len() > 2 * half + 1));
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (checked just above); lengths were checked above.
            done = unsafe { self.split_pairs_avx2::<SPEC>(z, spectrum, power) };
        }
        // Bins the vector loop did not cover (all of them on other CPUs); the same
        // arithmetic bin by bin, so results do not depend on the path.
        for k in [0, half].into_iter().chain(done + 1..half - done) {
            let (re, im) = self.bin(z, k);
            if SPEC {
                spectrum[2 * k] = re;
                spectrum[2 * k + 1] = im;
            }
            power[k] = re * re + im * im;
        }
    }

    /// Bin `k` of the split step, rounded to complex64.
    #[inline(always)]
    fn bin(&self, z: &[Complex<f64>], k: usize) -> (f32, f32) {
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
        ((0.5 * (sum_re + t)) as f32, (0.5 * (sum_im + u)) as f32)
    }

    /// The split step for bins `k, k+1` and their mirrors `M-k, M-k-1` at once, for
    /// `k = 1, 3, 5, …` while `2k + 2 < M`; returns the last `k + 1` done (0 if none). The
    /// mirror bin reuses the sums: `X[M-k] = ((s_re - t) / 2, (u - s_im) / 2)` where
    /// `X[k] = ((s_re + t) / 2, (s_im + u) / 2)`; every operation matches [`Self::bin`]
    /// exactly (negation and halving are exact), so both paths give identical bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn split_pairs_avx2<const SPEC: bool>(&self, z: &[Complex<f64>], spectrum: &mut [f32], power: &mut [f32]) -> usize {
        use std::arch::x86_64::*;
        let half = z.len();
        let zp = z.as_ptr().cast::<f64>();
        let tw = self.twiddle.as_ptr();
        let tw_neg = self.twiddle_swapped_neg.as_ptr();
        let halves = _mm256_set1_pd(0.5);
        let odd_sign = _mm256_setr_pd(0.0, -0.0, 0.0, -0.0);
        let mut k = 1;
        let mut done = 0;
        while 2 * k + 2 < half {
            let m = half - k - 1; // mirrors of k+1 and k are m and m+1
            let a = _mm256_loadu_pd(zp.add(2 * k)); // Z[k], Z[k+1]
            let b_rev = _mm256_loadu_pd(zp.add(2 * m)); // Z[M-k-1], Z[M-k]
            let b = _mm256_permute2f128_pd(b_rev, b_rev, 0x01); // Z[M-k], Z[M-k-1]
            let s = _mm256_add_pd(a, b); // (sum_re, diff_im) per bin
            let d = _mm256_sub_pd(a, b); // (diff_re, sum_im) per bin
            let diff_im = _mm256_permute_pd(s, 0b1111);
            let diff_re = _mm256_permute_pd(d, 0b0000);
            let p = _mm256_mul_pd(_mm256_loadu_pd(tw.add(2 * k)), diff_im); // (wr·di, wi·di)
            let q = _mm256_mul_pd(_mm256_loadu_pd(tw_neg.add(2 * k)), diff_re); // (-wi·dr, -wr·dr)
            let tu = _mm256_addsub_pd(p, q); // (t, u)
            let sums = _mm256_blend_pd(s, d, 0b1010); // (sum_re, sum_im)
            let low = _mm256_mul_pd(_mm256_add_pd(sums, tu), halves); // X[k], X[k+1]
            let mirror = _mm256_xor_pd(_mm256_sub_pd(sums, tu), odd_sign);
            let mirror = _mm256_mul_pd(mirror, halves); // X[M-k], X[M-k-1]
            let mirror = _mm256_permute2f128_pd(mirror, mirror, 0x01); // X[M-k-1], X[M-k]
            let low32 = _mm256_cvtpd_ps(low);
            let mirror32 = _mm256_cvtpd_ps(mirror);
            if SPEC {
                _mm_storeu_ps(spectrum.as_mut_ptr().add(2 * k), low32);
                _mm_storeu_ps(spectrum.as_mut_ptr().add(2 * m), mirror32);
            }
            let squares = _mm_hadd_ps(_mm_mul_ps(low32, low32), _mm_mul_ps(mirror32, mirror32));
            let squares = _mm_castps_pd(squares);
            _mm_storel_pd(power.as_mut_ptr().add(k).cast::<f64>(), squares);
            _mm_storeh_pd(power.as_mut_ptr().add(m).cast::<f64>(), squares);
            done = k + 1;
            k += 2;
        }
        done
    }
}

/// The interleaved `(re, im)` view of a complex buffer.
pub(super) fn as_flat_mut<T>(buf: &mut [Complex<T>]) -> &mut [T] {
    // SAFETY: `Complex<T>` is `#[repr(C)] { re: T, im: T }` (no padding), so `n` complex
    // values are exactly `2n` values of `T` with the same alignment.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<T>(), buf.len() * 2) }
}

/// Number of centred frames (`1 + len // hop`, as librosa; none for an empty signal).
pub fn centred_frame_count(len: usize, hop: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + len / hop
    }
}

/// Twiddles of the packed real FFT's split step for `n_fft` points: `W^k = exp(-2πik/n_fft)`
/// for `k = 0..=n_fft/2`, interleaved `(re, im)`, built so that `W^(M-k) = (-re_k, im_k)` holds
/// exactly (M = n_fft/2), which the paired split relies on; and `(-im_k, -re_k)` per `k` for
/// the vectorised split.
pub(super) fn split_twiddles(n_fft: usize) -> (Vec<f64>, Vec<f64>) {
    let half = n_fft / 2;
    let mut twiddle = vec![0.0f64; 2 * (half + 1)];
    for k in 0..=half / 2 {
        // Exact values where sin/cos are exactly 0 or ±1, so bins 0 and n/2 come out
        // purely real as the definition requires.
        let (re, im) = if k == 0 {
            (1.0, 0.0)
        } else if 4 * k == n_fft {
            (0.0, -1.0)
        } else {
            let angle = -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
            (angle.cos(), angle.sin())
        };
        twiddle[2 * k] = re;
        twiddle[2 * k + 1] = im;
        twiddle[2 * (half - k)] = -re;
        twiddle[2 * (half - k) + 1] = im;
    }
    let swapped_neg = twiddle.chunks_exact(2).flat_map(|w| [-w[1], -w[0]]).collect();
    (twiddle, swapped_neg)
}

/// A sample type of a transform buffer (f32 or f64).
pub(super) trait Sample: Copy + Default + std::ops::Mul<Output = Self> {
    fn from_f32(v: f32) -> Self;
}

impl Sample for f32 {
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
}

/// The frame of `y` centred on sample `start` (samples `start - n/2 .. start + n/2`, zeros
/// outside the signal), times the window, into `out`.
#[inline(always)]
pub(super) fn window_frame<T: Sample>(y: &[f32], start: usize, window: &[T], out: &mut [T]) {
    let (n, half) = (window.len(), window.len() / 2);
    if start >= half && start - half + n <= y.len() {
        // Fully inside the signal: no padding checks (vectorises).
        let src = &y[start - half..start - half + n];
        for ((slot, &w), &v) in out.iter_mut().zip(window).zip(src) {
            *slot = w * T::from_f32(v);
        }
    } else {
        let offset = start as isize - half as isize;
        for (i, (slot, &w)) in out.iter_mut().zip(window).enumerate() {
            let idx = offset + i as isize;
            *slot = if idx >= 0 && (idx as usize) < y.len() { w * T::from_f32(y[idx as usize]) } else { T::default() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_is_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w.len(), 8);
        assert!(w[0].abs() < 1e-15);
        assert!((w[4] - 1.0).abs() < 1e-15);
        assert!((w[1] - w[7]).abs() < 1e-15);
    }

    #[test]
    fn frame_count_matches_librosa() {
        let plan = StftPlan::new(400, 160);
        assert_eq!(plan.n_frames(160_000), 1001);
        assert_eq!(plan.n_frames(300), 2);
        let plan = StftPlan::new(2048, 512);
        assert_eq!(plan.n_frames(300), 1);
        assert_eq!(plan.n_frames(48_000), 94);
    }

    /// Direct DFT of the windowed frame in f64, rounded to complex64.
    fn naive_frame(plan: &StftPlan, y: &[f32], t: usize) -> Vec<(f32, f32)> {
        let n = plan.n_fft;
        let start = (t * plan.hop) as isize - (n / 2) as isize;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let idx = start + i as isize;
                if idx >= 0 && (idx as usize) < y.len() { plan.window[i] * y[idx as usize] as f64 } else { 0.0 }
            })
            .collect();
        (0..=n / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (i, &v) in x.iter().enumerate() {
                    let angle = -2.0 * std::f64::consts::PI * ((k * i) % n) as f64 / n as f64;
                    re += v * angle.cos();
                    im += v * angle.sin();
                }
                (re as f32, im as f32)
            })
            .collect()
    }

    #[test]
    fn split_fft_matches_direct_dft_and_scalar_path() {
        let y: Vec<f32> = (0..5000).map(|i| ((i as f32 * 0.173).sin() + (i as f32 * 0.0311).cos() * 0.4) * 0.3).collect();
        for (n_fft, hop) in [(400, 160), (2048, 512), (12, 5)] {
            let plan = StftPlan::new(n_fft, hop);
            let mut s = plan.make_scratch();
            let mut spec = vec![0.0f32; 2 * plan.n_bins()];
            let mut power = vec![0.0f32; plan.n_bins()];
            let mut power_only = vec![0.0f32; plan.n_bins()];
            for t in [0, 3, plan.n_frames(y.len()) - 1] {
                plan.spectrum_frame(&y, t, &mut s, &mut spec, &mut power);
                let want = naive_frame(&plan, &y, t);
                let scale = want.iter().map(|&(r, i)| r.hypot(i)).fold(0.0f32, f32::max);
                for (k, &(re, im)) in want.iter().enumerate() {
                    let (gr, gi) = (spec[2 * k], spec[2 * k + 1]);
                    assert!((gr - re).abs() <= 1e-6 * scale && (gi - im).abs() <= 1e-6 * scale, "n_fft {n_fft} bin {k}");
                    assert_eq!(power[k], gr * gr + gi * gi);
                }
                // The vectorised split and the bin-by-bin formula give identical bits.
                for k in 0..plan.n_bins() {
                    let (re, im) = plan.bin(&s.transformed, k);
                    assert_eq!((re.to_bits(), im.to_bits()), (spec[2 * k].to_bits(), spec[2 * k + 1].to_bits()), "bin {k}");
                }
                plan.power_frame(&y, t, &mut s, &mut power_only);
                assert_eq!(power, power_only);
                let (re, im) = plan.last_frame_bin(&s, 5);
                assert_eq!((re, im), (spec[10], spec[11]));
            }
            assert_eq!(spec[1], 0.0);
            assert_eq!(spec[2 * (plan.n_bins() - 1) + 1], 0.0);
        }
    }

    #[test]
    fn sine_peaks_at_its_bin() {
        let plan = StftPlan::new(400, 160);
        let y: Vec<f32> = (0..4000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16000.0).sin()).collect();
        let mut s = plan.make_scratch();
        let mut power = vec![0.0; plan.n_bins()];
        plan.power_frame(&y, 10, &mut s, &mut power);
        let peak = power.iter().enumerate().fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        assert_eq!(peak.0, 25); // 1000 Hz / 40 Hz per bin
    }
}
