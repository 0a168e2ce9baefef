//! Voiceprints: a learned linear projection of a speech piece's cepstral statistics in which
//! two different voices lie far apart while one voice's emotions, loudness and words do not.
//!
//! The call-level GMM fingerprints of [`super::resegment`] describe *everything* that varies in
//! a call, and in a call whose parties share a recording path the largest variation is often
//! the caller's arousal (calm vs agitated speech), not the second voice. The projection here is
//! linear discriminant analysis trained on synthetic calls of other speakers
//! ([`super::voiceprint_training`]): its within-class scatter is one speaker's pieces across all
//! of their emotions in one call, its between-class scatter the difference of the two speakers
//! of the same call (same line, same noise). So it keeps the directions that tell two people
//! on one line apart and scales away the ones along which a single person varies.
//!
//! The shipped projection lives in `models/diarization/voiceprint.json` (built into the
//! binary); `emotrace train-voiceprint` rebuilds it.

use serde::{Deserialize, Serialize};

use super::gmm::Frames;
use super::speech_frames::{SpeechFrames, FRAME_FEATURES};

/// The shipped projection (trained on the tuning speakers of `scripts/diarization_eval.sh`).
const DEFAULT_JSON: &str = include_str!("../../models/diarization/voiceprint.json");

/// Fewest active frames (0.2 s at a 10-ms hop) whose statistics make a voiceprint.
pub const MIN_PIECE_FRAMES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum VoiceprintError {
    #[error("voiceprint projection: {0}")]
    Format(String),
    #[error("voiceprint training: {0}")]
    Training(String),
}

/// A linear projection whose output has about unit within-speaker variance per axis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinearProjection {
    /// Length of the input vector.
    pub input_dim: usize,
    /// Mean of the training inputs, subtracted before projecting.
    pub mean: Vec<f32>,
    /// One row per output dimension, `input_dim` weights each, best-separating first.
    pub axes: Vec<Vec<f32>>,
    /// Between- to within-speaker variance ratio along each axis (training data).
    pub eigenvalues: Vec<f32>,
}

impl LinearProjection {
    fn validate(&self, what: &str, input_dim: usize) -> Result<(), VoiceprintError> {
        let bad = |m: &str| Err(VoiceprintError::Format(format!("{what}: {m}")));
        if self.input_dim != input_dim || self.mean.len() != input_dim {
            return bad(&format!("expected {input_dim} inputs"));
        }
        if self.axes.is_empty() || self.axes.iter().any(|a| a.len() != input_dim) {
            return bad("every axis needs input_dim weights");
        }
        if self.eigenvalues.len() != self.axes.len() {
            return bad("one eigenvalue per axis");
        }
        if self.mean.iter().chain(self.axes.iter().flatten()).any(|v| !v.is_finite()) {
            return bad("non-finite weights");
        }
        Ok(())
    }

    /// `input` projected on the first `dims` axes (all when `dims` is larger).
    pub fn project(&self, input: &[f32], dims: usize) -> Vec<f32> {
        self.axes
            .iter()
            .take(dims)
            .map(|axis| axis.iter().zip(input).zip(&self.mean).map(|((w, x), m)| w * (x - m)).sum())
            .collect()
    }
}

/// The diarizer's learned voice projection of the statistics of <= 2-s pieces.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VoiceprintModel {
    /// Over piece statistics ([`piece_statistics`]): per frame feature the mean, then the
    /// standard deviation.
    pub pieces: LinearProjection,
    /// How it was made (speakers, calls, command).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl VoiceprintModel {
    /// The model built into the binary.
    pub fn shipped() -> Result<Self, VoiceprintError> {
        Self::from_json(DEFAULT_JSON)
    }

    pub fn from_json(text: &str) -> Result<Self, VoiceprintError> {
        let m: Self = serde_json::from_str(text).map_err(|e| VoiceprintError::Format(e.to_string()))?;
        m.pieces.validate("piece projection", 2 * FRAME_FEATURES)?;
        Ok(m)
    }
}

/// Statistics of a piece: per frame feature the mean, then the standard deviation, of the
/// un-normalised frames `indices` (raw values, so that they do not depend on the rest of the
/// call). Empty `indices` give zeros.
pub fn piece_statistics(frames: &SpeechFrames, indices: &[usize]) -> Vec<f32> {
    let d = frames.dim();
    let mut sum = vec![0.0f64; d];
    let mut sq = vec![0.0f64; d];
    let mut x = vec![0.0f32; d];
    for &i in indices {
        frames.raw_frame(i, &mut x);
        for j in 0..d {
            sum[j] += x[j] as f64;
            sq[j] += (x[j] as f64).powi(2);
        }
    }
    let n = indices.len().max(1) as f64;
    let mut out = vec![0.0f32; 2 * d];
    for j in 0..d {
        let mean = sum[j] / n;
        out[j] = mean as f32;
        out[d + j] = (sq[j] / n - mean * mean).max(0.0).sqrt() as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_loads() {
        let m = VoiceprintModel::shipped().expect("shipped voiceprint model");
        assert!(m.pieces.axes.len() >= 4);
        // Axes are ordered by how well they separate voices.
        assert!(m.pieces.eigenvalues.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn bad_model_files_are_refused() {
        assert!(VoiceprintModel::from_json("{}").is_err());
        let good = VoiceprintModel::shipped().unwrap();
        let mut bad = good.clone();
        bad.pieces.axes[0].pop();
        assert!(VoiceprintModel::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
        let mut bad = good.clone();
        bad.pieces.mean[0] = f32::NAN;
        assert!(VoiceprintModel::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
        let p = LinearProjection { input_dim: 2, mean: vec![1.0, 0.0], axes: vec![vec![1.0, 0.0], vec![0.0, 2.0]], eigenvalues: vec![2.0, 1.0] };
        assert_eq!(p.project(&[3.0, 5.0], 8), vec![2.0, 10.0]);
        assert_eq!(p.project(&[3.0, 5.0], 1), vec![2.0]);
    }
}
