//! Scoring segments. The model has no padding mask, so a segment is only ever batched with segments
//! of exactly its own length: its score never depends on its batch-mates.
use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

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

/// One segment's branch outputs before the head: the projected audio states (`audio_frames`
/// rows), the pitch branch's (`pitch_frames` rows) and the LSTM mean. A model with per-call
/// centring needs all of a call's segments this far before any head runs.
#[derive(Debug, Clone)]
pub struct SegmentParts {
    pub audio: Vec<f32>,
    pub audio_frames: usize,
    pub pitch: Vec<f32>,
    pub pitch_frames: usize,
    pub lstm_mean: Vec<f32>,
    /// The statistics head's logit (its bias included), when the model has one.
    pub stats_logit: Option<f32>,
}

/// Logits, one per segment, in input order. `max_batch` bounds how many equal-length segments run
/// together. With per-call centring the segments are taken as one call.
pub fn score_segments(
    model: &FusedModel,
    device: &Device,
    segments: &[SegmentInput],
    max_batch: usize,
) -> Result<Vec<f32>, ModelError> {
    if model.centres_per_call() {
        let parts = segment_parts(model, device, segments, max_batch)?;
        let offsets = centring_offset(model, &parts)?;
        return logits_from_parts(model, device, &parts, &offsets);
    }
    run_grouped(model, device, segments, max_batch, &|b, audio, pitch, mfcc| {
        let logits = model.forward(audio, pitch, mfcc)?.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
        Ok(logits.into_iter().take(b).map(Output::Logit).collect())
    })
    .map(|outputs| outputs.into_iter().map(|o| if let Output::Logit(l) = o { l } else { f32::NAN }).collect())
}

/// What one grouped forward yields per segment.
enum Output {
    Logit(f32),
    Parts(SegmentParts),
}

/// The parts of every segment, in input order (see [`SegmentParts`]).
pub fn segment_parts(model: &FusedModel, device: &Device, segments: &[SegmentInput], max_batch: usize) -> Result<Vec<SegmentParts>, ModelError> {
    let fast = model.fast_model()?.filter(|_| device.is_cpu());
    let outputs = run_grouped(model, device, segments, max_batch, &|b, audio, pitch, mfcc| {
        let mut out = Vec::with_capacity(b);
        match &fast {
            Some(fast) => {
                let values = |t: &Tensor| -> Result<Vec<f32>, ModelError> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
                let p = fast
                    .parts(&values(audio)?, &values(pitch)?, &values(mfcc)?, b)
                    .map_err(|e| ModelError::Input(e.to_string()))?;
                let h = fast.hidden();
                let lstm = p.lstm_mean.len() / b;
                let stats = p.stats_logits.as_deref();
                for k in 0..b {
                    out.push(Output::Parts(SegmentParts {
                            audio: p.audio_hidden[k * p.audio_frames * h..(k + 1) * p.audio_frames * h].to_vec(),
                            audio_frames: p.audio_frames,
                            pitch: p.pitch_hidden[k * p.pitch_frames * h..(k + 1) * p.pitch_frames * h].to_vec(),
                            pitch_frames: p.pitch_frames,
                            lstm_mean: p.lstm_mean[k * lstm..(k + 1) * lstm].to_vec(),
                            stats_logit: stats.and_then(|s| s.get(k).copied()),
                        }));
                }
            }
            None => {
                let conv = model.audio_conv_features(audio)?;
                let stats = model.stats_logits(&conv)?.map(|s| s.to_device(&Device::Cpu)?.to_vec1::<f32>()).transpose()?;
                let audio_hidden = model.audio_hidden(&conv)?.to_device(&Device::Cpu)?;
                let pitch_hidden = model.pitch_hidden(&model.pitch_conv_features(pitch)?)?.to_device(&Device::Cpu)?;
                let lstm = model.lstm_mean(mfcc)?.to_device(&Device::Cpu)?;
                for k in 0..b {
                    let a = audio_hidden.get(k)?;
                    let p = pitch_hidden.get(k)?;
                    out.push(Output::Parts(SegmentParts {
                            audio_frames: a.dim(0)?,
                            audio: a.flatten_all()?.to_vec1::<f32>()?,
                            pitch_frames: p.dim(0)?,
                            pitch: p.flatten_all()?.to_vec1::<f32>()?,
                            lstm_mean: lstm.get(k)?.to_vec1::<f32>()?,
                            stats_logit: stats.as_ref().and_then(|s| s.get(k).copied()),
                        }));
                }
            }
        }
        Ok(out)
    })?;
    outputs
        .into_iter()
        .map(|o| match o {
            Output::Parts(p) => Ok(p),
            Output::Logit(_) => Err(ModelError::Internal("a segment yielded no parts".into())),
        })
        .collect()
}

/// What per-call centring subtracts for one call (nothing for a model that does not centre).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallOffsets {
    /// From every projected audio frame: the call's mean projected state less the projection's
    /// bias, so that subtracting it gives the projection of the centred mix, as in training.
    pub states: Option<Vec<f32>>,
    /// From every statistics-head logit: the call's mean logit less the head's bias, i.e. the
    /// head applied to the call's mean summary (the head is linear).
    pub stats: f32,
}

/// Per-call centring's offsets for a call's parts (see [`CallOffsets`]).
pub fn centring_offset(model: &FusedModel, parts: &[SegmentParts]) -> Result<CallOffsets, ModelError> {
    let mut offsets = CallOffsets::default();
    if parts.is_empty() {
        return Ok(offsets);
    }
    if model.centres_states_per_call() {
        if let Some(bias) = model.audio_projection_bias()? {
            let h = bias.len();
            let mut sum = vec![0f64; h];
            let mut frames = 0usize;
            for p in parts {
                for row in p.audio.chunks_exact(h) {
                    sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
                }
                frames += p.audio_frames;
            }
            if frames > 0 {
                offsets.states = Some(sum.iter().zip(&bias).map(|(s, b)| (s / frames as f64) as f32 - b).collect());
            }
        }
    }
    if model.centres_stats_per_call() {
        let logits: Vec<f32> = parts.iter().filter_map(|p| p.stats_logit).collect();
        if logits.len() != parts.len() {
            return Err(ModelError::Internal("a segment has no statistics-head logit".into()));
        }
        offsets.stats = model.stats_call_offset(&logits)?;
    }
    Ok(offsets)
}

/// Logits from parts, with a call's `offsets` subtracted (per-call centring): the fused head's
/// plus the statistics head's.
pub fn logits_from_parts(model: &FusedModel, device: &Device, parts: &[SegmentParts], offsets: &CallOffsets) -> Result<Vec<f32>, ModelError> {
    let fast = model.fast_model()?.filter(|_| device.is_cpu());
    parts
        .iter()
        .map(|p| {
            let frames = p.audio_frames.min(p.pitch_frames);
            if frames == 0 {
                return Err(ModelError::Input("a segment too short for the model".into()));
            }
            let h = p.audio.len() / p.audio_frames;
            let mut audio = p.audio[..frames * h].to_vec();
            if let Some(offset) = &offsets.states {
                for row in audio.chunks_exact_mut(h) {
                    row.iter_mut().zip(offset).for_each(|(v, o)| *v -= o);
                }
            }
            let pitch = &p.pitch[..frames * h];
            let head = match &fast {
                Some(fast) => fast.head_logits(&audio, pitch, &p.lstm_mean, 1, frames)[0],
                None => {
                    let a = Tensor::from_vec(audio, (1, frames, h), device)?;
                    let q = Tensor::from_slice(pitch, (1, frames, h), device)?;
                    let l = Tensor::from_slice(&p.lstm_mean, (1, p.lstm_mean.len()), device)?;
                    let cross = model.cross_attention_mean(&a, &q)?;
                    model.head(&cross, &l, None)?.to_device(&Device::Cpu)?.to_vec1::<f32>()?[0]
                }
            };
            Ok(head + p.stats_logit.map_or(0.0, |s| s - offsets.stats))
        })
        .collect()
}

/// One grouped forward: `(batch size, audio, pitch, mfcc)` -> what it yields per segment, in
/// batch order.
type BatchRun<'a> = dyn Fn(usize, &Tensor, &Tensor, &Tensor) -> Result<Vec<Output>, ModelError> + Sync + 'a;

/// Checks the segments, groups equal lengths into batches of at most `max_batch`, and collects
/// what `run` yields per segment, in input order. On the CPU the batches run concurrently: a
/// short segment's products are too small to keep both cores busy on their own, and each
/// segment's score depends only on its own batch, so the order of work changes no value.
fn run_grouped(
    model: &FusedModel,
    device: &Device,
    segments: &[SegmentInput],
    max_batch: usize,
    run: &BatchRun<'_>,
) -> Result<Vec<Output>, ModelError> {
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
    let batches: Vec<(usize, usize, usize, &[usize])> = groups
        .iter()
        .flat_map(|(&(audio_len, samples, mfcc_len), members)| {
            members.chunks(max_batch.max(1)).map(move |chunk| (audio_len, samples, mfcc_len, chunk))
        })
        .collect();
    let run_batch = |&(audio_len, samples, mfcc_len, chunk): &(usize, usize, usize, &[usize])| -> Result<Vec<Output>, ModelError> {
        let b = chunk.len();
        let stack = |get: &dyn Fn(&SegmentInput) -> &[f32]| -> Vec<f32> { chunk.iter().flat_map(|&i| get(&segments[i]).iter().copied()).collect() };
        let mut audio_dims = vec![b];
        audio_dims.extend(model.audio_input_dims(audio_len));
        let audio = Tensor::from_vec(stack(&|s| &s.audio), audio_dims, device)?;
        let pitch = Tensor::from_vec(stack(&|s| &s.pitch), (b, samples), device)?;
        let frames = mfcc_len / cfg.mfcc_dim;
        let mfcc = Tensor::from_vec(stack(&|s| &s.mfcc), (b, frames, cfg.mfcc_dim), device)?;
        run(b, &audio, &pitch, &mfcc)
    };
    // A GPU runs one batch at a time: concurrent batches would only multiply its memory.
    let yielded: Vec<Vec<Output>> = if device.is_cpu() {
        batches.par_iter().map(run_batch).collect::<Result<_, _>>()?
    } else {
        batches.iter().map(run_batch).collect::<Result<_, _>>()?
    };
    let mut outputs: Vec<Option<Output>> = (0..segments.len()).map(|_| None).collect();
    for ((_, _, _, chunk), batch_outputs) in batches.iter().zip(yielded) {
        for (&i, output) in chunk.iter().zip(batch_outputs) {
            outputs[i] = Some(output);
        }
    }
    outputs.into_iter().map(|o| o.ok_or_else(|| ModelError::Internal("a segment was not scored".into()))).collect()
}

pub fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}
