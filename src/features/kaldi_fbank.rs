//! Log mel filterbank energies as Kaldi's `compute-fbank` (and `torchaudio.compliance.kaldi.fbank`)
//! compute them with the options speaker-embedding networks such as CAM++ are trained on:
//! 25-ms frames every 10 ms with `snip_edges` (only whole frames), the DC offset removed,
//! pre-emphasis 0.97, a Povey window (Hann to the power 0.85), the frame zero-padded to a power
//! of two, the power spectrum, triangular filters equally spaced on Kaldi's mel scale
//! (`1127 ln(1 + f / 700)`) from 20 Hz to Nyquist, and the log floored at `f32::EPSILON`. No
//! dither, no energy term. Parity with torchaudio: `tests/campplus.rs`.
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Pre-emphasis coefficient.
const PREEMPHASIS: f32 = 0.97;
/// Lowest filter edge (Hz).
const LOW_FREQ_HZ: f64 = 20.0;

/// A planned filterbank for one sample rate and number of bands.
pub struct KaldiFbank {
    frame_length: usize,
    frame_shift: usize,
    padded: usize,
    n_mels: usize,
    window: Vec<f32>,
    /// `n_mels × (padded / 2 + 1)`, band-major.
    banks: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

fn kaldi_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

impl KaldiFbank {
    pub fn new(sample_rate: u32, n_mels: usize) -> Self {
        let sr = f64::from(sample_rate);
        let frame_length = (sr * 0.025) as usize;
        let frame_shift = (sr * 0.010) as usize;
        let padded = frame_length.next_power_of_two();
        let denominator = (frame_length.max(2) - 1) as f64;
        let window = (0..frame_length)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / denominator).cos()).powf(0.85) as f32)
            .collect();
        // Kaldi's bins: `padded / 2` FFT bins get weights; the Nyquist bin gets none.
        let n_bins = padded / 2 + 1;
        let bin_hz = sr / padded as f64;
        let (mel_low, mel_high) = (kaldi_mel(LOW_FREQ_HZ), kaldi_mel(sr / 2.0));
        let delta = (mel_high - mel_low) / (n_mels + 1) as f64;
        let mut banks = vec![0.0f32; n_mels * n_bins];
        for (m, row) in banks.chunks_exact_mut(n_bins).enumerate() {
            let left = mel_low + m as f64 * delta;
            let (centre, right) = (left + delta, left + 2.0 * delta);
            for (k, w) in row.iter_mut().take(padded / 2).enumerate() {
                let mel = kaldi_mel(k as f64 * bin_hz);
                let up = (mel - left) / (centre - left);
                let down = (right - mel) / (right - centre);
                *w = up.min(down).max(0.0) as f32;
            }
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(padded);
        Self { frame_length, frame_shift, padded, n_mels, window, banks, fft }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Whole frames in `n_samples` samples (`snip_edges`).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        if n_samples < self.frame_length {
            0
        } else {
            1 + (n_samples - self.frame_length) / self.frame_shift
        }
    }

    /// Log filterbank energies of `wav`, frame-major: `n_frames × n_mels`.
    pub fn compute(&self, wav: &[f32]) -> Vec<f32> {
        let n_bins = self.padded / 2 + 1;
        let mut frame = vec![0.0f32; self.padded];
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; n_bins];
        let n_frames = self.n_frames(wav.len());
        let mut out = Vec::with_capacity(n_frames * self.n_mels);
        for t in 0..n_frames {
            let samples = &wav[t * self.frame_shift..t * self.frame_shift + self.frame_length];
            let mean = samples.iter().sum::<f32>() / self.frame_length as f32;
            // Pre-emphasis against the previous sample; the first sample against itself.
            let mut previous = samples[0] - mean;
            for (n, (dst, &x)) in frame.iter_mut().zip(samples).enumerate() {
                let x = x - mean;
                *dst = (x - PREEMPHASIS * previous) * self.window[n];
                previous = x;
            }
            frame[self.frame_length..].fill(0.0);
            // The lengths are planned together, so the transform cannot fail.
            if self.fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch).is_err() {
                out.resize(out.len() + self.n_mels, f32::EPSILON.ln());
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            out.extend(self.banks.chunks_exact(n_bins).map(|row| {
                let energy: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
                energy.max(f32::EPSILON).ln()
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_whole_25_ms_windows_every_10_ms() {
        let fbank = KaldiFbank::new(16_000, 80);
        assert_eq!(fbank.n_frames(399), 0);
        assert_eq!(fbank.n_frames(400), 1);
        assert_eq!(fbank.n_frames(16_000), 98);
        assert_eq!(fbank.compute(&vec![0.1; 16_000]).len(), 98 * 80);
    }

    #[test]
    fn a_tone_peaks_in_the_band_around_its_frequency() {
        let fbank = KaldiFbank::new(16_000, 80);
        let tone: Vec<f32> = (0..8000).map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16_000.0).sin()).collect();
        let energies = fbank.compute(&tone);
        let first = &energies[..80];
        let peak = (0..80).max_by(|&a, &b| first[a].total_cmp(&first[b])).unwrap_or(0);
        // Band centres on Kaldi's mel scale: the band whose centre is nearest 1 kHz.
        let (low, high) = (kaldi_mel(20.0), kaldi_mel(8000.0));
        let centre = |m: usize| low + (m + 1) as f64 * (high - low) / 81.0;
        let nearest = (0..80).min_by(|&a, &b| (centre(a) - kaldi_mel(1000.0)).abs().total_cmp(&(centre(b) - kaldi_mel(1000.0)).abs()));
        assert_eq!(Some(peak), nearest);
    }
}
