//! The reference "pitch" track (SPEC §4): librosa 0.11 `piptrack(y, sr=16000)` defaults,
//! maximum over frequency bins per frame, then `np.interp` onto one value per sample.
//! This is the highest qualifying spectral peak in 150–4000 Hz, not F0; it must match the
//! reference bit for bit wherever possible because the model was trained on it.

use super::mel::{fft_frequencies, np_linspace};
use super::stft::{StftPlan, StftScratch};
use super::FeatureError;

pub const N_FFT: usize = 2048;
pub const HOP: usize = 512;
pub const FMIN: f64 = 150.0;
pub const FMAX: f64 = 4000.0;
pub const THRESHOLD: f32 = 0.1;

/// Shared, read-only piptrack plan.
pub struct PitchPlan {
    stft: StftPlan,
    /// Bins `lo..hi` satisfy `fmin <= freq < fmax` (librosa's feasible range).
    lo: usize,
    hi: usize,
    hz_per_bin: f64,
}

/// Per-worker buffers for [`PitchPlan`].
pub struct PitchScratch {
    stft: StftScratch,
    mag: Vec<f32>,
}

impl PitchPlan {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate as f64;
        let stft = StftPlan::new(N_FFT, HOP);
        let freqs = fft_frequencies(sr, N_FFT);
        let fmax = FMAX.min(sr / 2.0);
        let fmin = FMIN.max(0.0);
        let lo = freqs.iter().position(|&f| fmin <= f).unwrap_or(freqs.len());
        let hi = freqs.iter().rposition(|&f| f < fmax).map_or(lo, |i| i + 1).max(lo);
        PitchPlan { stft, lo, hi, hz_per_bin: sr / N_FFT as f64 }
    }

    pub fn n_frames(&self, len: usize) -> usize {
        self.stft.n_frames(len)
    }

    pub fn make_scratch(&self) -> PitchScratch {
        PitchScratch { stft: self.stft.make_scratch(), mag: vec![0.0; self.stft.n_bins()] }
    }

    /// Per-frame maximum of piptrack's `pitches` for the whole clip `y`, into `out`.
    pub fn pitch_frames(&self, y: &[f32], s: &mut PitchScratch, out: &mut Vec<f32>) -> Result<(), FeatureError> {
        out.clear();
        for t in 0..self.n_frames(y.len()) {
            self.stft.magnitude_frame(y, t, &mut s.stft, &mut s.mag)?;
            out.push(self.frame_pitch(&s.mag));
        }
        Ok(())
    }

    fn frame_pitch(&self, mag: &[f32]) -> f32 {
        let n = mag.len();
        // ref = threshold * max over all bins of the column (float32 product as NumPy does).
        let column_max = mag.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let reference = THRESHOLD * column_max;
        let thresholded = |k: usize| if mag[k] > reference { mag[k] } else { 0.0 };
        let mut best = 0.0f32;
        for k in self.lo..self.hi {
            // util.localmax along frequency: x[k] > x[k-1] and x[k] >= x[k+1]; the first bin is
            // never a maximum, the last is one when it exceeds its left neighbour.
            let x = thresholded(k);
            let is_max = if k == 0 {
                false
            } else if k == n - 1 {
                x > thresholded(k - 1)
            } else {
                x > thresholded(k - 1) && x >= thresholded(k + 1)
            };
            if !is_max {
                continue;
            }
            let shift = if k == 0 || k == n - 1 { 0.0 } else { parabolic_shift(mag[k - 1], mag[k], mag[k + 1]) };
            let hz = ((k as f64 + shift as f64) * self.hz_per_bin) as f32;
            if hz > best {
                best = hz;
            }
        }
        best
    }
}

/// librosa's `_pi_stencil` as numba compiles it for float32 input: `x[1] + x[-1]` and
/// `x[1] - x[-1]` in float32, the rest promoted to float64 by the integer literals, result
/// stored back to float32.
#[inline]
fn parabolic_shift(left: f32, centre: f32, right: f32) -> f32 {
    let a = (right + left) as f64 - 2.0 * centre as f64;
    let b = (right - left) as f64 / 2.0;
    if b.abs() >= a.abs() {
        0.0
    } else {
        (-b / a) as f32
    }
}

/// `np.interp(np.linspace(0, P, N), np.linspace(0, P, P), pitch)` rounded to float32
/// (the feature extractor casts it), written to `out` (length `n_samples`).
pub fn interpolate_to_samples(pitch: &[f32], n_samples: usize, out: &mut Vec<f32>) {
    out.clear();
    let p = pitch.len();
    if p == 0 || n_samples == 0 {
        out.resize(n_samples, 0.0);
        return;
    }
    let xp = np_linspace(0.0, p as f64, p);
    let last = p - 1;
    let x_step_end = p as f64;
    let x = |i: usize| -> f64 {
        if n_samples == 1 {
            0.0
        } else if i == n_samples - 1 {
            x_step_end
        } else {
            i as f64 * (x_step_end / (n_samples - 1) as f64)
        }
    };
    let mut j = 0usize;
    for i in 0..n_samples {
        let xv = x(i);
        let value = if p == 1 || xv >= xp[last] {
            pitch[last] as f64
        } else {
            while j + 1 < last && xp[j + 1] <= xv {
                j += 1;
            }
            // Here xp[j] <= xv < xp[j+1].
            if xp[j] == xv {
                pitch[j] as f64
            } else {
                let (y0, y1) = (pitch[j] as f64, pitch[j + 1] as f64);
                let slope = (y1 - y0) / (xp[j + 1] - xp[j]);
                slope * (xv - xp[j]) + y0
            }
        };
        out.push(value as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_bins_are_150_to_4000_hz() {
        let plan = PitchPlan::new(16000);
        assert_eq!(plan.lo, 20); // 156.25 Hz
        assert_eq!(plan.hi, 512); // 3992.19 Hz is the last bin below 4000
    }

    #[test]
    fn interpolation_hits_endpoints() {
        let mut out = Vec::new();
        interpolate_to_samples(&[1.0, 3.0, 5.0], 7, &mut out);
        assert_eq!(out.len(), 7);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[6], 5.0);
        interpolate_to_samples(&[2.0], 4, &mut out);
        assert_eq!(out, vec![2.0; 4]);
    }

    #[test]
    fn tone_is_found_near_its_frequency() {
        let plan = PitchPlan::new(16000);
        let y: Vec<f32> = (0..16000).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16000.0).sin()).collect();
        let (mut s, mut out) = (plan.make_scratch(), Vec::new());
        plan.pitch_frames(&y, &mut s, &mut out).unwrap();
        assert_eq!(out.len(), 32);
        assert!((out[10] - 440.0).abs() < 5.0, "{}", out[10]);
    }
}
