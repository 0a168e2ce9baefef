//! Mel-cepstra of short frames for telling voices apart (diarization), plus the log ratio of
//! sub-telephone-band (60-250 Hz) energy to the analysed band: a caller heard through a phone
//! line has almost none of it, a local microphone has some, and low voices more than high ones.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Shape of the cepstral analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CepstraConfig {
    pub n_mels: usize,
    /// Cepstra c1..c_n (c0, the level, is left out: loudness is not identity).
    pub n_ceps: usize,
    pub low_hz: f32,
    pub high_hz: f32,
    pub frame_s: f32,
    pub hop_s: f32,
}

/// A frame: cepstra followed by the low-band log ratio (`n_ceps + 1` values), and the frame's
/// log energy in the analysed band (natural log).
pub struct CepstralFrame<'a> {
    pub features: &'a [f32],
    pub log_energy: f32,
}

/// Reusable mel-cepstrum analyser.
pub struct Cepstra {
    config: CepstraConfig,
    frame_len: usize,
    hop: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    mel: Vec<Vec<(usize, f32)>>,
    dct: Vec<Vec<f32>>,
    low_band: (usize, usize),
    buf: Vec<f32>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    log_mel: Vec<f32>,
    features: Vec<f32>,
}

fn hz_to_mel(hz: f32) -> f32 {
    2595.0 * (1.0 + hz / 700.0).log10()
}
fn mel_to_hz(mel: f32) -> f32 {
    700.0 * (10f32.powf(mel / 2595.0) - 1.0)
}

impl Cepstra {
    pub fn new(sample_rate: u32, config: CepstraConfig) -> Self {
        let sr = sample_rate as f32;
        let frame_len = ((config.frame_s * sr).round() as usize).max(8);
        let hop = ((config.hop_s * sr).round() as usize).max(1);
        let fft_len = frame_len.next_power_of_two();
        let n_bins = fft_len / 2 + 1;
        let bin_hz = sr / fft_len as f32;
        let high = config.high_hz.min(sr / 2.0 - bin_hz);
        let (m_lo, m_hi) = (hz_to_mel(config.low_hz), hz_to_mel(high));
        let n_mels = config.n_mels;
        let edges: Vec<f32> =
            (0..n_mels + 2).map(|i| mel_to_hz(m_lo + (m_hi - m_lo) * i as f32 / (n_mels + 1) as f32)).collect();
        let mel = (0..n_mels)
            .map(|m| {
                let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
                (0..n_bins)
                    .filter_map(|k| {
                        let f = k as f32 * bin_hz;
                        let w = if f > l && f <= c {
                            (f - l) / (c - l)
                        } else if f > c && f < r {
                            (r - f) / (r - c)
                        } else {
                            0.0
                        };
                        (w > 0.0).then_some((k, w))
                    })
                    .collect()
            })
            .collect();
        let dct = (1..=config.n_ceps)
            .map(|q| {
                (0..n_mels)
                    .map(|m| (std::f32::consts::PI * q as f32 * (m as f32 + 0.5) / n_mels as f32).cos() / n_mels as f32)
                    .collect()
            })
            .collect();
        let window = (0..frame_len)
            .map(|n| 0.54 - 0.46 * (2.0 * std::f32::consts::PI * n as f32 / (frame_len - 1) as f32).cos())
            .collect();
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(fft_len);
        let low_band = ((60.0 / bin_hz).ceil() as usize, ((250.0 / bin_hz).floor() as usize + 1).min(n_bins));
        Self {
            config,
            frame_len,
            hop,
            low_band,
            buf: fft.make_input_vec(),
            spec: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            mel,
            dct,
            log_mel: vec![0.0; n_mels],
            features: vec![0.0; config.n_ceps + 1],
        }
    }

    /// Values per frame (`n_ceps + 1`).
    pub fn dim(&self) -> usize {
        self.config.n_ceps + 1
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Samples between frame starts.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Analyses the frame starting at each multiple of the hop in `samples` (whole frames only).
    pub fn for_each_frame(&mut self, samples: &[f32], mut visit: impl FnMut(CepstralFrame<'_>)) {
        let mut start = 0;
        while start + self.frame_len <= samples.len() {
            let log_energy = self.analyse(start, samples);
            visit(CepstralFrame { features: &self.features, log_energy });
            start += self.hop;
        }
    }

    /// Fills `self.features` for the frame at `start`; returns its log band energy.
    fn analyse(&mut self, start: usize, samples: &[f32]) -> f32 {
        let frame = &samples[start..start + self.frame_len];
        for (d, (x, w)) in self.buf.iter_mut().zip(frame.iter().zip(&self.window)) {
            *d = x * w;
        }
        self.buf[self.frame_len..].fill(0.0);
        // Lengths are fixed at construction, so the FFT cannot fail; a failure reads as silence.
        if self.fft.process_with_scratch(&mut self.buf, &mut self.spec, &mut self.scratch).is_err() {
            self.spec.fill(Complex::new(0.0, 0.0));
        }
        let mut total = 0.0f32;
        for (m, filt) in self.mel.iter().enumerate() {
            let e: f32 = filt.iter().map(|&(k, w)| w * self.spec[k].norm_sqr()).sum();
            total += e;
            self.log_mel[m] = (e + 1e-10).ln();
        }
        let n_ceps = self.config.n_ceps;
        for (c, row) in self.features[..n_ceps].iter_mut().zip(&self.dct) {
            *c = row.iter().zip(&self.log_mel).map(|(a, b)| a * b).sum::<f32>();
        }
        let low: f32 = (self.low_band.0..self.low_band.1).map(|k| self.spec[k].norm_sqr()).sum();
        self.features[n_ceps] = (low + 1e-10).ln() - (total + 1e-10).ln();
        (total + 1e-10).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CepstraConfig {
        CepstraConfig { n_mels: 24, n_ceps: 12, low_hz: 250.0, high_hz: 3600.0, frame_s: 0.025, hop_s: 0.010 }
    }

    #[test]
    fn frame_count_and_low_band_ratio() {
        let sr = 16000;
        let tone = |f: f32| -> Vec<f32> { (0..sr).map(|n| (2.0 * std::f32::consts::PI * f * n as f32 / sr as f32).sin()).collect() };
        let mut c = Cepstra::new(sr as u32, config());
        let mut ratios = Vec::new();
        c.for_each_frame(&tone(120.0), |f| ratios.push(f.features[12]));
        // (16000 - 400) / 160 + 1 whole frames.
        assert_eq!(ratios.len(), 98);
        let mut high = Vec::new();
        c.for_each_frame(&tone(1000.0), |f| high.push(f.features[12]));
        // A 120-Hz tone lives in the low band, a 1-kHz tone in the analysed band.
        assert!(ratios[50] > 3.0 && high[50] < -3.0, "{} {}", ratios[50], high[50]);
    }
}
