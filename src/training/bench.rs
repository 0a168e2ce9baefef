//! Timing of one training step and one forward pass for a config, on random inputs of a given
//! clip length (used by `emotrace train --measure` to size the default model before a run).
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::cache::PreparedExample;
use super::cache::PitchInput;
use super::net::{load_frozen_encoder, FROZEN_PREFIX, PITCH_ENCODER_PREFIX};
use super::trainer::{TrainOptions, Trainer};
use super::TrainingError;
use crate::model::FusedConfig;
use crate::synth::rng::Rng;

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub clip_seconds: f64,
    pub mfcc_frames: usize,
    pub batch: usize,
    /// Inference forward of one clip (trainable parts, from the cached conv output).
    pub forward_seconds: f64,
    /// Forward + backward + AdamW of one batch.
    pub train_step_seconds: f64,
    /// Frozen conv encoder of one clip (paid once per clip per run).
    pub frozen_encoder_seconds: f64,
}

/// Median of `reps` timings (after one warm-up).
fn time(reps: usize, mut f: impl FnMut() -> Result<(), TrainingError>) -> Result<f64, TrainingError> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}

/// `freeze_pitch`: time the recipe that also freezes (and caches) the pitch conv encoder.
pub fn measure(cfg: &FusedConfig, clip_seconds: f64, mfcc_frames: usize, batch: usize, freeze_pitch: bool, reps: usize) -> Result<StepTiming, TrainingError> {
    let device = Device::Cpu;
    let opts = TrainOptions { batch, freeze_pitch_encoder: freeze_pitch, ..Default::default() };
    let trainer = Trainer::new(cfg.clone(), None, opts, &device)?;
    let frozen = load_frozen_encoder(trainer.varmap(), FROZEN_PREFIX, cfg, &device)?;
    let frozen_pitch = load_frozen_encoder(trainer.varmap(), PITCH_ENCODER_PREFIX, cfg, &device)?;
    let n = (clip_seconds * 16_000.0) as usize;
    let mut rng = Rng::new(1);
    let mut make = |label: u8| -> Result<PreparedExample, TrainingError> {
        let audio: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let pitch: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let mfcc: Vec<f32> = (0..mfcc_frames * cfg.mfcc_dim).map(|_| rng.normal() as f32).collect();
        let audio = Tensor::from_vec(audio, (1, n), &device)?;
        Ok(PreparedExample {
            audio_conv: frozen.forward(&audio)?.contiguous()?,
            pitch: {
                let track = Tensor::from_vec(pitch, (1, n), &device)?;
                if freeze_pitch {
                    PitchInput::Encoded(frozen_pitch.forward(&track)?.contiguous()?)
                } else {
                    PitchInput::Track(track)
                }
            },
            mfcc: Tensor::from_vec(mfcc, (mfcc_frames, cfg.mfcc_dim), &device)?,
            label,
            speaker: "bench".into(),
            source: 0,
            group: "bench".into(),
        })
    };
    let examples: Vec<PreparedExample> = (0..batch).map(|i| make((i % 2) as u8)).collect::<Result<_, _>>()?;
    let audio = Tensor::ones((1, n), candle_core::DType::F32, &device)?;
    let frozen_encoder_seconds = time(reps, || {
        frozen.forward(&audio)?;
        Ok(())
    })?;
    let one = [&examples[0]];
    let forward_seconds = time(reps, || {
        trainer.net().forward(&one, None)?.detach();
        Ok(())
    })?;
    let refs: Vec<&PreparedExample> = examples.iter().collect();
    let mut step_rng = Rng::new(2);
    let train_step_seconds = time(reps, || {
        let loss = trainer.batch_loss(&refs, &vec![1.0; refs.len()], Some(&mut step_rng))?;
        let _grads = loss.backward()?;
        Ok(())
    })?;
    Ok(StepTiming { clip_seconds, mfcc_frames, batch, forward_seconds, train_step_seconds, frozen_encoder_seconds })
}
