//! Per-clip model inputs prepared once per run: features (MFCC39, pitch track) and the frozen
//! audio conv encoder's output. Every epoch then starts from these tensors, so the frozen part and
//! feature extraction are never recomputed.
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::TrainingError;
use crate::features::FeatureExtractor;
use crate::model::wav2vec2::FeatureEncoder;

/// One clip ready for the trainable network.
#[derive(Debug, Clone)]
pub struct PreparedExample {
    /// Frozen conv encoder output `(1, frames, conv_dim)` (no gradient).
    pub audio_conv: Tensor,
    /// The pitch branch's input: the normalised track `(1, samples)`, or the frozen pitch conv
    /// encoder's output `(1, frames, conv_dim)` when that encoder is frozen.
    pub pitch: PitchInput,
    /// MFCC39 `(mfcc_frames, 39)`.
    pub mfcc: Tensor,
    /// 1 = non-negative, 0 = negative.
    pub label: u8,
    pub speaker: String,
    /// Index of the source clip in the dataset (augmented copies share it).
    pub source: usize,
}

#[derive(Debug, Clone)]
pub enum PitchInput {
    Track(Tensor),
    Encoded(Tensor),
}

impl PreparedExample {
    /// Key of examples that can share one batched forward exactly (same lengths, no padding).
    pub fn length_key(&self) -> (usize, usize) {
        let pitch = match &self.pitch {
            PitchInput::Track(t) | PitchInput::Encoded(t) => t.dims().iter().product::<usize>(),
        };
        (self.audio_conv.dims().iter().product(), pitch)
    }
}

/// Input for [`prepare`]: a decoded clip and what it is.
pub struct RawExample {
    pub samples: Vec<f32>,
    pub label: u8,
    pub speaker: String,
    pub source: usize,
}

/// Extracts features (parallel) and runs the frozen encoders for every clip, in input order.
/// Clips shorter than the encoder's minimum are zero-padded to it; with `length_grid` > 0, longer
/// clips are trimmed to a multiple of it so that clips fall into a few exact-length groups that
/// train as true batches. `progress(done, total)`.
pub fn prepare(
    raw: Vec<RawExample>,
    frozen: &FeatureEncoder,
    frozen_pitch: Option<&FeatureEncoder>,
    min_samples: usize,
    length_grid: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PreparedExample>, TrainingError> {
    let extractor = FeatureExtractor::new();
    let total = raw.len();
    let mut out = Vec::with_capacity(total);
    for chunk in raw.chunks(64) {
        let features = chunk
            .par_iter()
            .map_init(
                || extractor.make_scratch(),
                |s, r| {
                    let mut clip = r.samples.clone();
                    if clip.len() < min_samples {
                        clip.resize(min_samples, 0.0);
                    } else if length_grid > 0 {
                        let trimmed = (clip.len() / length_grid * length_grid).max(min_samples);
                        clip.truncate(trimmed);
                    }
                    extractor.extract_with(&clip, s)
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        for (r, f) in chunk.iter().zip(features) {
            let n = f.audio_norm.len();
            let audio = Tensor::from_vec(f.audio_norm, (1, n), device)?;
            let audio_conv = frozen.forward(&audio)?.contiguous()?.detach();
            let track = Tensor::from_vec(f.pitch_track, (1, n), device)?;
            let pitch = match frozen_pitch {
                Some(encoder) => PitchInput::Encoded(encoder.forward(&track)?.contiguous()?.detach()),
                None => PitchInput::Track(track),
            };
            out.push(PreparedExample {
                audio_conv,
                pitch,
                mfcc: Tensor::from_vec(f.mfcc39, (f.mfcc_frames, crate::features::MFCC39_DIM), device)?,
                label: r.label,
                speaker: r.speaker.clone(),
                source: r.source,
            });
        }
        progress(out.len(), total);
    }
    Ok(out)
}
