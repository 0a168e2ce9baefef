//! Data augmentation suited to telephony: speed perturbation, gain, the telephone channel
//! (300-3400 Hz band-pass, 8 kHz, μ-law; reused from [`crate::synth::telephony`]) and additive
//! noise at a random SNR. Augmented copies are made once, before training, with a seeded
//! generator, so their features and frozen-encoder outputs can be cached like the originals.
use serde::{Deserialize, Serialize};

use super::TrainingError;
use crate::synth::rng::Rng;
use crate::synth::telephony::telephone_channel;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Augmented copies per training clip (0 = no augmentation).
    pub copies: usize,
    /// Probability of passing a copy through the telephone channel.
    pub telephony_prob: f64,
    /// Probability of adding noise, and the SNR range in dB.
    pub noise_prob: f64,
    pub snr_db: (f64, f64),
    /// Gain range in dB.
    pub gain_db: (f64, f64),
    /// Speed factor range (1 = unchanged; changes tempo and pitch together).
    pub speed: (f64, f64),
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self { copies: 0, telephony_prob: 0.5, noise_prob: 0.5, snr_db: (10.0, 30.0), gain_db: (-6.0, 6.0), speed: (0.9, 1.1) }
    }
}

/// Resamples by linear interpolation so that the clip plays `factor` times faster.
pub fn change_speed(x: &[f32], factor: f64) -> Vec<f32> {
    if x.len() < 2 || (factor - 1.0).abs() < 1e-9 {
        return x.to_vec();
    }
    let n = ((x.len() as f64) / factor).floor().max(1.0) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * factor;
            let k = (pos.floor() as usize).min(x.len() - 1);
            let frac = (pos - k as f64) as f32;
            let next = x[(k + 1).min(x.len() - 1)];
            x[k] + frac * (next - x[k])
        })
        .collect()
}

/// The 16-kHz clip through the telephone channel and back to 16 kHz.
pub fn telephony(x: &[f32]) -> Result<Vec<f32>, TrainingError> {
    let narrow = telephone_channel(x, 16_000);
    let mut back = crate::audio::resample(&[narrow], 8_000, 16_000)
        .map_err(|source| TrainingError::Audio { path: "<augmentation>".into(), source })?;
    let mut y = back.pop().unwrap_or_default();
    y.resize(x.len(), 0.0);
    Ok(y)
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// One augmented copy of `clip`.
pub fn augment(clip: &[f32], cfg: &AugmentConfig, rng: &mut Rng) -> Result<Vec<f32>, TrainingError> {
    let mut y = change_speed(clip, rng.uniform(cfg.speed.0, cfg.speed.1));
    if rng.unit() < cfg.telephony_prob {
        y = telephony(&y)?;
    }
    if rng.unit() < cfg.noise_prob {
        let signal = rms(&y);
        let snr = rng.uniform(cfg.snr_db.0, cfg.snr_db.1);
        let noise_rms = signal / 10f64.powf(snr / 20.0);
        for v in y.iter_mut() {
            *v += (noise_rms * rng.normal()) as f32;
        }
    }
    let gain = 10f64.powf(rng.uniform(cfg.gain_db.0, cfg.gain_db.1) / 20.0) as f32;
    y.iter_mut().for_each(|v| *v = (*v * gain).clamp(-1.0, 1.0));
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_changes_length_and_augmentation_is_seeded() {
        let x: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        assert_eq!(change_speed(&x, 1.25).len(), 12800);
        let cfg = AugmentConfig { copies: 1, telephony_prob: 1.0, noise_prob: 1.0, ..Default::default() };
        let a = augment(&x, &cfg, &mut Rng::new(3)).unwrap();
        let b = augment(&x, &cfg, &mut Rng::new(3)).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        assert_ne!(a, x);
    }
}
