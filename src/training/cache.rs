//! Per-clip model inputs prepared once per run: features (MFCC39, pitch track) and the frozen
//! audio conv encoder's output. Every epoch then starts from these tensors, so the frozen part and
//! feature extraction are never recomputed.
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::TrainingError;
use crate::features::{FeatureExtractor, SegmentFeatures};
use crate::model::fast::WhisperStates;
use crate::model::wav2vec2::FeatureEncoder;
use crate::model::FusedConfig;

/// The audio branch's frozen part, whose output is cached.
pub enum FrozenAudio {
    /// wav2vec2's conv feature encoder on the normalised waveform.
    Wav2Vec2(FeatureEncoder),
    /// Whisper's encoder on the log-Mel spectrogram: every hidden state, pooled.
    Whisper(WhisperStates),
}

impl FrozenAudio {
    /// The cached tensor of one clip: `(1, frames, conv_dim)` f32, or `(1, states, frames,
    /// d_model)` stored as f16 (the head mixes it in f32).
    fn encode(&self, f: &SegmentFeatures, device: &Device) -> Result<Tensor, TrainingError> {
        match self {
            Self::Wav2Vec2(encoder) => {
                let audio = Tensor::from_slice(&f.audio_norm, (1, f.audio_norm.len()), device)?;
                Ok(encoder.forward(&audio)?.contiguous()?.detach())
            }
            Self::Whisper(states) => {
                let (values, frames) = states
                    .pooled_states(&f.whisper_mel, 1)
                    .map_err(|e| TrainingError::Config(format!("whisper encoder: {e}")))?;
                let shape = (1, states.states(), frames, states.dim());
                Ok(Tensor::from_vec(values, shape, device)?.to_dtype(candle_core::DType::F16)?)
            }
        }
    }
}

/// One clip ready for the trainable network.
#[derive(Debug, Clone)]
pub struct PreparedExample {
    /// The frozen audio part's output ([`FrozenAudio`]; no gradient).
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
    /// The "call" the clip belongs to for per-call centring: its speaker, or its speaker and
    /// augmentation copy (a copy's recording conditions differ from the originals').
    pub group: String,
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
    /// See [`PreparedExample::group`].
    pub group: String,
    /// Names the clip, its augmentation and the frozen encoders (a hash): the prepared tensors
    /// are kept under this name in the feature cache, if one is used.
    pub cache_key: Option<String>,
}

/// Prepared tensors kept on disk between runs (`emotrace train --feature-cache DIR`): one
/// safetensors file per example, named by [`RawExample::cache_key`]. Runs that share clips and
/// frozen encoders (e.g. leave-one-speaker-out folds) compute each clip's encoder output once.
pub struct FeatureCache<'a> {
    pub dir: &'a std::path::Path,
}

impl FeatureCache<'_> {
    fn path(&self, key: &str) -> std::path::PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.safetensors"))
    }

    /// The cached tensors, or `None` (missing or unreadable: computed again).
    fn load(&self, key: &str, device: &Device) -> Option<(Tensor, PitchInput, Tensor)> {
        let tensors = candle_core::safetensors::load(self.path(key), device).ok()?;
        let pitch = match (tensors.get("pitch_encoded"), tensors.get("pitch_track")) {
            (Some(t), _) => PitchInput::Encoded(t.clone()),
            (None, Some(t)) => PitchInput::Track(t.clone()),
            _ => return None,
        };
        Some((tensors.get("audio")?.clone(), pitch, tensors.get("mfcc")?.clone()))
    }

    fn load_is_missing(&self, key: &str) -> bool {
        !self.contains(key)
    }

    /// Whether the example `key` is kept (its clip need not be decoded).
    pub fn contains(&self, key: &str) -> bool {
        self.path(key).exists()
    }

    fn store(&self, key: &str, example: &PreparedExample) -> Result<(), TrainingError> {
        let path = self.path(key);
        let (pitch_name, pitch) = match &example.pitch {
            PitchInput::Encoded(t) => ("pitch_encoded", t),
            PitchInput::Track(t) => ("pitch_track", t),
        };
        let tensors: std::collections::HashMap<String, Tensor> = [
            ("audio".to_string(), example.audio_conv.clone()),
            (pitch_name.to_string(), pitch.clone()),
            ("mfcc".to_string(), example.mfcc.clone()),
        ]
        .into_iter()
        .collect();
        let dir = path.parent().unwrap_or(self.dir);
        crate::fsutil::create_private_dir_all(dir).map_err(|e| TrainingError::io(dir, e))?;
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        candle_core::safetensors::save(&tensors, &temp)?;
        crate::fsutil::make_private(&temp).map_err(|e| TrainingError::io(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| TrainingError::io(&path, e))
    }
}

/// Per group ([`PreparedExample::group`]), the mean over every frame of its examples of each
/// cached Whisper state: `(states, d_model)` f32. What per-call centring subtracts in training.
pub fn group_state_means(examples: &[PreparedExample]) -> Result<std::collections::HashMap<String, Tensor>, TrainingError> {
    let mut sums: std::collections::HashMap<String, (Tensor, usize)> = std::collections::HashMap::new();
    for e in examples {
        let states = e.audio_conv.to_dtype(candle_core::DType::F32)?;
        let (_, _, frames, _) = states.dims4()?;
        let sum = states.sum(2)?.squeeze(0)?;
        match sums.get_mut(&e.group) {
            Some((acc, n)) => {
                *acc = (&*acc + sum)?;
                *n += frames;
            }
            None => {
                sums.insert(e.group.clone(), (sum, frames));
            }
        }
    }
    sums.into_iter().map(|(g, (sum, n))| Ok((g, (sum / n.max(1) as f64)?))).collect()
}

/// Extracts features (parallel) and runs the frozen encoders for every clip, in input order.
/// Clips shorter than the encoder's minimum are zero-padded to it; with `length_grid` > 0, longer
/// clips are trimmed to a multiple of it so that clips fall into a few exact-length groups that
/// train as true batches. `progress(done, total)`.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    raw: Vec<RawExample>,
    config: &FusedConfig,
    frozen: &FrozenAudio,
    frozen_pitch: Option<&FeatureEncoder>,
    min_samples: usize,
    length_grid: usize,
    device: &Device,
    cache: Option<&FeatureCache<'_>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PreparedExample>, TrainingError> {
    let extractor = FeatureExtractor::for_model(config);
    let total = raw.len();
    let mut out = Vec::with_capacity(total);
    for chunk in raw.chunks(64) {
        let cached: Vec<Option<(Tensor, PitchInput, Tensor)>> = chunk
            .iter()
            .map(|r| cache.zip(r.cache_key.as_deref()).and_then(|(c, key)| c.load(key, device)))
            .collect();
        let missing: Vec<&RawExample> =
            chunk.iter().zip(&cached).filter(|(r, c)| c.is_none() && !r.samples.is_empty()).map(|(r, _)| r).collect();
        let features = missing
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
        let encoded: Vec<Tensor> = match frozen {
            FrozenAudio::Whisper(_) => features.par_iter().map(|f| frozen.encode(f, device)).collect::<Result<_, _>>()?,
            FrozenAudio::Wav2Vec2(_) => features.iter().map(|f| frozen.encode(f, device)).collect::<Result<_, _>>()?,
        };
        let mut computed = features.into_iter().zip(encoded);
        for (r, hit) in chunk.iter().zip(cached) {
            let (audio_conv, pitch, mfcc) = match hit {
                Some(tensors) => tensors,
                None if r.samples.is_empty() => {
                    return Err(TrainingError::Dataset(format!(
                        "a feature-cache entry ({}) cannot be read; delete the feature cache folder and run again",
                        r.cache_key.as_deref().unwrap_or("?")
                    )))
                }
                None => {
                    let (f, audio_conv) = computed
                        .next()
                        .ok_or_else(|| TrainingError::Config("internal: fewer features than uncached clips".into()))?;
                    let n = f.pitch_track.len();
                    let track = Tensor::from_vec(f.pitch_track, (1, n), device)?;
                    let pitch = match frozen_pitch {
                        Some(encoder) => PitchInput::Encoded(encoder.forward(&track)?.contiguous()?.detach()),
                        None => PitchInput::Track(track),
                    };
                    (audio_conv, pitch, Tensor::from_vec(f.mfcc39, (f.mfcc_frames, crate::features::MFCC39_DIM), device)?)
                }
            };
            let example = PreparedExample {
                audio_conv,
                pitch,
                mfcc,
                label: r.label,
                speaker: r.speaker.clone(),
                source: r.source,
                group: r.group.clone(),
            };
            if let (Some(c), Some(key)) = (cache, r.cache_key.as_deref()) {
                if c.load_is_missing(key) {
                    c.store(key, &example)?;
                }
            }
            out.push(example);
        }
        progress(out.len(), total);
    }
    Ok(out)
}
