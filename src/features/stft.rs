//! Centred short-time Fourier transform with zero padding, as librosa 0.11 `stft` computes it
//! for float32 input: the frame is windowed and transformed in f64, the spectrum is stored as
//! complex64, and magnitudes are taken the way NumPy's `abs` does it for complex64.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::FeatureError;

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

/// A planned STFT (window + FFT), shared read-only between workers.
pub struct StftPlan {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
}

/// Per-worker buffers for [`StftPlan`]; allocate once, reuse for every frame.
pub struct StftScratch {
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
}

impl StftPlan {
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        StftPlan { n_fft, hop, window: hann_periodic(n_fft), fft: planner.plan_fft_forward(n_fft) }
    }

    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of centred frames librosa produces for `len` samples (`1 + len // hop`).
    pub fn n_frames(&self, len: usize) -> usize {
        if len == 0 {
            0
        } else {
            1 + len / self.hop
        }
    }

    pub fn make_scratch(&self) -> StftScratch {
        StftScratch {
            frame: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft_scratch: self.fft.make_scratch_vec(),
        }
    }

    /// Magnitudes of frame `t` of `y` (centred, zero padded), rounded to float32 as librosa
    /// stores them, written to `mag` (length `n_bins`).
    #[inline(always)]
    pub fn magnitude_frame(
        &self,
        y: &[f32],
        t: usize,
        scratch: &mut StftScratch,
        mag: &mut [f32],
    ) -> Result<(), FeatureError> {
        self.transform_frame(y, t, scratch)?;
        for (m, c) in mag.iter_mut().zip(&scratch.spectrum) {
            *m = numpy_cabs_f32(c.re as f32, c.im as f32);
        }
        Ok(())
    }

    /// Like [`Self::magnitude_frame`] but squared in float32 (`np.abs(S) ** 2`).
    #[inline(always)]
    pub fn power_frame(
        &self,
        y: &[f32],
        t: usize,
        scratch: &mut StftScratch,
        power: &mut [f32],
    ) -> Result<(), FeatureError> {
        self.transform_frame(y, t, scratch)?;
        for (p, c) in power.iter_mut().zip(&scratch.spectrum) {
            let m = numpy_cabs_f32(c.re as f32, c.im as f32);
            *p = m * m;
        }
        Ok(())
    }

    /// Spectrum of frame `t` as complex64 parts widened to f64 (what librosa stores), for
    /// callers that need more than magnitudes.
    #[inline(always)]
    pub fn spectrum_frame<'a>(
        &self,
        y: &[f32],
        t: usize,
        scratch: &'a mut StftScratch,
    ) -> Result<&'a [Complex<f64>], FeatureError> {
        self.transform_frame(y, t, scratch)?;
        Ok(&scratch.spectrum)
    }

    #[inline(always)]
    fn transform_frame(&self, y: &[f32], t: usize, scratch: &mut StftScratch) -> Result<(), FeatureError> {
        let half = self.n_fft / 2;
        let frame = &mut scratch.frame;
        let start = t * self.hop;
        if start >= half && start - half + self.n_fft <= y.len() {
            // Fully inside the signal: no padding checks (vectorises).
            let src = &y[start - half..start - half + self.n_fft];
            for ((slot, w), &v) in frame.iter_mut().zip(&self.window).zip(src) {
                *slot = w * v as f64;
            }
        } else {
            let start = start as isize - half as isize;
            for (i, (slot, w)) in frame.iter_mut().zip(&self.window).enumerate() {
                let idx = start + i as isize;
                *slot = if idx >= 0 && (idx as usize) < y.len() { w * y[idx as usize] as f64 } else { 0.0 };
            }
        }
        self.fft
            .process_with_scratch(frame, &mut scratch.spectrum, &mut scratch.fft_scratch)
            .map_err(|e| FeatureError::Internal(format!("fft: {e}")))
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

    #[test]
    fn sine_peaks_at_its_bin() {
        let plan = StftPlan::new(400, 160);
        let y: Vec<f32> = (0..4000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16000.0).sin()).collect();
        let mut s = plan.make_scratch();
        let mut mag = vec![0.0; plan.n_bins()];
        plan.magnitude_frame(&y, 10, &mut s, &mut mag).unwrap();
        let peak = mag.iter().enumerate().fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        assert_eq!(peak.0, 25); // 1000 Hz / 40 Hz per bin
    }
}
