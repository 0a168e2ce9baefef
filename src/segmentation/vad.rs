//! Frame-level VAD features: band energy (telephone band) and periodicity.
//!
//! [`FrameAnalyzer`] is fed audio in arbitrary chunks (streaming) and keeps only one frame of
//! pending samples, so a long call costs a few bytes per 10-ms frame, never per sample.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{SegmentationError, SegmentationParams};

/// Energy floor for silent frames (dB); keeps logs finite on digital silence.
pub const SILENCE_DB: f32 = -120.0;

/// Per-frame features of one channel.
#[derive(Debug, Clone, Default)]
pub struct FrameTrack {
    /// Sample rate of the analysed audio.
    pub sample_rate: u32,
    /// Samples between frame starts.
    pub hop: usize,
    /// Samples per frame.
    pub frame_len: usize,
    /// Total samples seen.
    pub n_samples: u64,
    /// Mean power in the analysis band, dB re full scale (a full-scale in-band sine ≈ -3 dB).
    pub energy_db: Vec<f32>,
    /// Peak normalised autocorrelation of the band-limited frame over pitch lags (0-1).
    pub periodicity: Vec<f32>,
    /// Lag (samples) of that peak; 0 when the frame is silent.
    pub pitch_lag: Vec<u16>,
}

impl FrameTrack {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.energy_db.len()
    }

    /// True when no frame was analysed.
    pub fn is_empty(&self) -> bool {
        self.energy_db.is_empty()
    }

    /// Hop in seconds.
    pub fn hop_s(&self) -> f64 {
        self.hop as f64 / self.sample_rate as f64
    }

    /// Time (s) of the centre of frame `i`.
    pub fn frame_centre_s(&self, i: usize) -> f64 {
        (i * self.hop) as f64 / self.sample_rate as f64 + self.frame_len as f64 / 2.0 / self.sample_rate as f64
    }

    /// Duration of the analysed audio in seconds.
    pub fn duration_s(&self) -> f64 {
        self.n_samples as f64 / self.sample_rate as f64
    }
}

/// Streaming frame analyser.
pub struct FrameAnalyzer {
    frame_len: usize,
    hop: usize,
    fft_len: usize,
    band: (usize, usize),
    lags: (usize, usize),
    window: Vec<f32>,
    window_power: f32,
    /// Autocorrelation of the window, normalised to 1 at lag 0 (Boersma's correction).
    window_acf: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    time_buf: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    acf_spectrum: Vec<Complex<f32>>,
    acf: Vec<f32>,
    scratch_fwd: Vec<Complex<f32>>,
    scratch_inv: Vec<Complex<f32>>,
    pending: Vec<f32>,
    track: FrameTrack,
}

/// Lowest and highest pitch searched by the periodicity measure.
const PITCH_MIN_HZ: f32 = 80.0;
const PITCH_MAX_HZ: f32 = 400.0;

impl FrameAnalyzer {
    /// Creates an analyser for audio at `sample_rate` with the given parameters.
    pub fn new(sample_rate: u32, params: &SegmentationParams) -> Result<Self, SegmentationError> {
        params.validate(sample_rate)?;
        let sr = sample_rate as f32;
        let frame_len = ((params.frame_ms / 1000.0 * sr).round() as usize).max(16);
        let hop = ((params.hop_ms / 1000.0 * sr).round() as usize).max(1);
        // Twice the frame so the autocorrelation via FFT is linear, not circular, over pitch lags.
        let fft_len = (2 * frame_len).next_power_of_two();
        let bin_hz = sr / fft_len as f32;
        let n_bins = fft_len / 2 + 1;
        let lo = ((params.band_low_hz / bin_hz).ceil() as usize).clamp(1, n_bins - 1);
        let hi = ((params.band_high_hz.min(sr / 2.0) / bin_hz).floor() as usize).clamp(lo, n_bins - 1);
        let lag_min = ((sr / PITCH_MAX_HZ).floor() as usize).max(2);
        let lag_max = ((sr / PITCH_MIN_HZ).ceil() as usize).min(frame_len * 3 / 4).max(lag_min);

        let window: Vec<f32> = (0..frame_len)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / frame_len as f32).cos())
            .collect();
        let window_power: f32 = window.iter().map(|w| w * w).sum();
        let window_acf: Vec<f32> = (0..=lag_max)
            .map(|lag| {
                let s: f32 = (0..frame_len - lag).map(|n| window[n] * window[n + lag]).sum();
                s / window_power
            })
            .collect();

        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let scratch_fwd = forward.make_scratch_vec();
        let scratch_inv = inverse.make_scratch_vec();
        Ok(Self {
            frame_len,
            hop,
            fft_len,
            band: (lo, hi),
            lags: (lag_min, lag_max),
            window,
            window_power,
            window_acf,
            time_buf: vec![0.0; fft_len],
            spectrum: forward.make_output_vec(),
            acf_spectrum: inverse.make_input_vec(),
            acf: vec![0.0; fft_len],
            forward,
            inverse,
            scratch_fwd,
            scratch_inv,
            pending: Vec::with_capacity(frame_len * 2),
            track: FrameTrack { sample_rate, hop, frame_len, ..FrameTrack::default() },
        })
    }

    /// Feeds the next chunk of samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.track.n_samples += samples.len() as u64;
        let mut input = samples;
        while !input.is_empty() {
            // Fill pending up to one frame, analyse, shift by one hop.
            let need = self.frame_len - self.pending.len();
            let take = need.min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == self.frame_len {
                self.analyse_pending();
                self.pending.drain(..self.hop);
            }
        }
    }

    /// Finishes the stream: a trailing partial frame (more than half a hop) is zero-padded and
    /// analysed so the track covers the end of the audio.
    pub fn finish(mut self) -> FrameTrack {
        let covered = self.track.len() * self.hop + self.frame_len.saturating_sub(self.hop);
        if (self.track.n_samples as usize) > covered + self.hop / 2 && !self.pending.is_empty() {
            self.pending.resize(self.frame_len, 0.0);
            self.analyse_pending();
        }
        if self.track.is_empty() && self.track.n_samples > 0 {
            self.pending.resize(self.frame_len, 0.0);
            self.analyse_pending();
        }
        self.track
    }

    fn analyse_pending(&mut self) {
        for (dst, (x, w)) in self.time_buf.iter_mut().zip(self.pending.iter().zip(&self.window)) {
            *dst = x * w;
        }
        self.time_buf[self.frame_len..].fill(0.0);
        // Lengths are fixed at construction, so the FFT cannot fail; treat failure as silence.
        if self
            .forward
            .process_with_scratch(&mut self.time_buf, &mut self.spectrum, &mut self.scratch_fwd)
            .is_err()
        {
            self.push_frame(SILENCE_DB, 0.0, 0);
            return;
        }
        let (lo, hi) = self.band;
        self.acf_spectrum.fill(Complex::new(0.0, 0.0));
        let mut band_sum = 0.0f64;
        for k in lo..=hi {
            let p = self.spectrum[k].norm_sqr();
            band_sum += p as f64;
            self.acf_spectrum[k] = Complex::new(p, 0.0);
        }
        let power = 2.0 * band_sum / (self.fft_len as f64 * self.window_power as f64);
        let energy_db = (10.0 * (power + 1e-12).log10()) as f32;
        let energy_db = energy_db.max(SILENCE_DB);
        if energy_db <= SILENCE_DB + 1.0 {
            self.push_frame(energy_db, 0.0, 0);
            return;
        }
        if self
            .inverse
            .process_with_scratch(&mut self.acf_spectrum, &mut self.acf, &mut self.scratch_inv)
            .is_err()
        {
            self.push_frame(energy_db, 0.0, 0);
            return;
        }
        let r0 = self.acf[0];
        let (lag_min, lag_max) = self.lags;
        let mut best = 0.0f32;
        let mut best_lag = 0usize;
        if r0 > 0.0 {
            for lag in lag_min..=lag_max {
                let r = self.acf[lag] / r0 / self.window_acf[lag].max(1e-3);
                if r > best {
                    best = r;
                    best_lag = lag;
                }
            }
        }
        // Subharmonics (2T, 3T) correlate as well as the period T: take the shortest lag whose
        // local peak comes close to the best one, so the pitch is not halved.
        let corrected = |lag: usize| self.acf[lag] / r0 / self.window_acf[lag].max(1e-3);
        if best_lag > 0 {
            for lag in lag_min + 1..best_lag {
                let r = corrected(lag);
                if r >= 0.9 * best && r >= corrected(lag - 1) && r >= corrected(lag + 1) {
                    best_lag = lag;
                    break;
                }
            }
        }
        self.push_frame(energy_db, best.min(1.0), best_lag);
    }

    fn push_frame(&mut self, energy_db: f32, periodicity: f32, lag: usize) {
        self.track.energy_db.push(energy_db);
        self.track.periodicity.push(periodicity);
        self.track.pitch_lag.push(lag.min(u16::MAX as usize) as u16);
    }
}

/// Analyses a whole channel (convenience wrapper over the streaming analyser, in 1-s chunks).
pub fn analyse_channel(
    samples: &[f32],
    sample_rate: u32,
    params: &SegmentationParams,
) -> Result<FrameTrack, SegmentationError> {
    let mut analyzer = FrameAnalyzer::new(sample_rate, params)?;
    for chunk in samples.chunks(sample_rate as usize) {
        analyzer.push(chunk);
    }
    Ok(analyzer.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amp: f32, secs: f32) -> Vec<f32> {
        (0..(secs * 16000.0) as usize)
            .map(|n| amp * (2.0 * std::f32::consts::PI * freq * n as f32 / 16000.0).sin())
            .collect()
    }

    #[test]
    fn in_band_sine_energy_is_calibrated_and_periodic() {
        let track = analyse_channel(&sine(200.0 * 5.0, 1.0, 1.0), 16000, &SegmentationParams::default()).unwrap();
        let mid = track.len() / 2;
        assert!((track.energy_db[mid] + 3.0).abs() < 0.5, "energy {}", track.energy_db[mid]);
        assert!(track.periodicity[mid] > 0.9, "periodicity {}", track.periodicity[mid]);
    }

    #[test]
    fn out_of_band_hum_is_ignored() {
        let track = analyse_channel(&sine(50.0, 0.5, 1.0), 16000, &SegmentationParams::default()).unwrap();
        let mid = track.len() / 2;
        assert!(track.energy_db[mid] < -40.0, "energy {}", track.energy_db[mid]);
    }

    #[test]
    fn streaming_in_odd_chunks_matches_whole() {
        let x = sine(440.0, 0.3, 0.7);
        let p = SegmentationParams::default();
        let whole = analyse_channel(&x, 16000, &p).unwrap();
        let mut a = FrameAnalyzer::new(16000, &p).unwrap();
        for c in x.chunks(37) {
            a.push(c);
        }
        let streamed = a.finish();
        assert_eq!(whole.energy_db, streamed.energy_db);
        assert_eq!(whole.periodicity, streamed.periodicity);
    }

    #[test]
    fn silence_is_floor() {
        let track = analyse_channel(&vec![0.0; 16000], 16000, &SegmentationParams::default()).unwrap();
        assert!(track.energy_db.iter().all(|e| *e == SILENCE_DB));
    }
}
