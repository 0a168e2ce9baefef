//! Scoring segments. The model has no padding mask, so a segment is only ever batched with segments
//! of exactly its own length: its score never depends on its batch-mates.
use std::collections::BTreeMap;

use candle_core::{Device, Tensor};

use super::{FusedModel, ModelError};

/// One segment's model inputs (SPEC §4 preprocessing already applied).
#[derive(Debug, Clone)]
pub struct SegmentInput {
    /// The audio branch's input: the normalised 16 kHz waveform (wav2vec2), or Whisper's log-Mel
    /// spectrogram `(80, frames)` row-major.
    pub audio: Vec<f32>,
    /// Normalised pitch track, one value per audio sample.
    pub pitch: Vec<f32>,
    /// MFCC39, time-major: `frames * mfcc_dim` values.
    pub mfcc: Vec<f32>,
}

impl SegmentInput {
    /// The inputs a model with `backbone` takes, from a segment's features.
    pub fn from_features(features: crate::features::SegmentFeatures, backbone: crate::model::config::Backbone) -> Self {
        let audio = match backbone {
            crate::model::config::Backbone::Wav2vec2 => features.audio_norm,
            crate::model::config::Backbone::Whisper => features.whisper_mel,
        };
        Self { audio, pitch: features.pitch_track, mfcc: features.mfcc39 }
    }
}

/// Logits, one per segment, in input order. `max_batch` bounds how many equal-length segments run
/// together.
pub fn score_segments(
    model: &FusedModel,
    device: &Device,
    segments: &[SegmentInput],
    max_batch: usize,
) -> Result<Vec<f32>, ModelError> {
    let cfg = model.config();
    let min_samples = cfg.min_samples();
    let whisper = cfg.whisper_branch().is_some();
    let mut groups: BTreeMap<(usize, usize, usize), Vec<usize>> = BTreeMap::new();
    for (i, s) in segments.iter().enumerate() {
        if whisper && (s.audio.is_empty() || s.audio.len() % model.audio_input_dims(s.audio.len())[0] != 0) {
            return Err(ModelError::Input(format!("segment {i}: {} log-Mel values is not a whole spectrogram", s.audio.len())));
        }
        if !whisper && s.audio.len() != s.pitch.len() {
            return Err(ModelError::Input(format!(
                "segment {i}: audio has {} samples but the pitch track {}",
                s.audio.len(),
                s.pitch.len()
            )));
        }
        if s.pitch.len() < min_samples {
            return Err(ModelError::Input(format!(
                "segment {i}: {} samples is shorter than the model's minimum of {min_samples}",
                s.pitch.len()
            )));
        }
        if s.mfcc.is_empty() || s.mfcc.len() % cfg.mfcc_dim != 0 {
            return Err(ModelError::Input(format!(
                "segment {i}: {} MFCC values is not a whole number of {}-value frames",
                s.mfcc.len(),
                cfg.mfcc_dim
            )));
        }
        groups.entry((s.audio.len(), s.pitch.len(), s.mfcc.len())).or_default().push(i);
    }
    let mut logits = vec![0f32; segments.len()];
    for ((audio_len, samples, mfcc_len), members) in groups {
        for chunk in members.chunks(max_batch.max(1)) {
            let b = chunk.len();
            let stack = |get: &dyn Fn(&SegmentInput) -> &[f32]| -> Result<Vec<f32>, ModelError> {
                Ok(chunk.iter().flat_map(|&i| get(&segments[i]).iter().copied()).collect())
            };
            let mut audio_dims = vec![b];
            audio_dims.extend(model.audio_input_dims(audio_len));
            let audio = Tensor::from_vec(stack(&|s| &s.audio)?, audio_dims, device)?;
            let pitch = Tensor::from_vec(stack(&|s| &s.pitch)?, (b, samples), device)?;
            let frames = mfcc_len / cfg.mfcc_dim;
            let mfcc = Tensor::from_vec(stack(&|s| &s.mfcc)?, (b, frames, cfg.mfcc_dim), device)?;
            let out = model.forward(&audio, &pitch, &mfcc)?.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
            for (&i, logit) in chunk.iter().zip(out) {
                logits[i] = logit;
            }
        }
    }
    Ok(logits)
}

pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}
