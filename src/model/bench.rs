//! Forward-time benchmark of the fused model at a given size with random weights (no files needed).
//! Used by `emotrace bench model`; scripts/bench_model_torch.py measures PyTorch the same way.
use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::{FusedConfig, FusedModel, ModelError, Wav2Vec2Config};

/// A wav2vec2-base-sized backbone (hidden 768, 12 layers, 12 heads, FFN 3072, conv 7 x 512,
/// "group" norm, post-norm) with the reference head.
pub fn base_config() -> FusedConfig {
    let w2v: Wav2Vec2Config = serde_json::from_value(serde_json::json!({
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "feat_extract_norm": "group",
        "do_stable_layer_norm": false,
        "conv_bias": false,
    }))
    .unwrap_or_else(|_| unreachable!("static config"));
    FusedConfig::reference(w2v)
}

/// A model with freshly initialised (random) weights, as plain tensors (not training variables:
/// autograd would otherwise record the whole forward pass).
pub fn random_model(cfg: &FusedConfig, device: &Device) -> Result<FusedModel, ModelError> {
    let varmap = VarMap::new();
    FusedModel::load(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Internal("poisoned lock".into()))?
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().detach()))
        .collect();
    Ok(FusedModel::load(VarBuilder::from_tensors(tensors, DType::F32, device), cfg)?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchFigure {
    pub batch: usize,
    pub repetitions: usize,
    pub seconds_per_batch: f64,
    pub seconds_per_segment: f64,
    /// Process CPU time (user + system, all threads) per segment, when the OS reports it
    /// (Linux). Less sensitive than wall time to other load on the machine.
    pub cpu_seconds_per_segment: Option<f64>,
}

/// CPU time (user + system) of this process so far, from /proc/self/stat (Linux only).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
    Some((utime + stime) / 100.0)
}

/// Times `repetitions` forward passes of `batch` segments of `samples` samples each (after one
/// warm-up pass). MFCC has the reference 1001 frames.
pub fn time_forward(
    model: &FusedModel,
    device: &Device,
    batch: usize,
    samples: usize,
    repetitions: usize,
) -> Result<BenchFigure, ModelError> {
    let mfcc_dim = model.config().mfcc_dim;
    let audio = match model.config().whisper_branch() {
        // A log-Mel spectrogram in Whisper's range ((log10 + 4) / 4, about -1..1.5).
        Some(w) => Tensor::randn(0f32, 0.5, (batch, w.encoder.num_mel_bins, samples / 160), device)?,
        None => Tensor::randn(0f32, 1.0, (batch, samples), device)?,
    };
    let pitch = Tensor::randn(0f32, 1.0, (batch, samples), device)?;
    let mfcc = Tensor::randn(0f32, 1.0, (batch, 1001, mfcc_dim), device)?;
    let run = || -> Result<(), ModelError> {
        let logits = model.forward(&audio, &pitch, &mfcc)?;
        // Forces completion on asynchronous devices.
        logits.to_device(&Device::Cpu)?;
        Ok(())
    };
    timed(run, batch, repetitions)
}

/// Times the audio branch alone (Whisper: conv stem, encoder layers, layer mix and projection)
/// on the CPU inference path, for `bench model --encoder-only`.
pub fn time_audio_branch(model: &FusedModel, batch: usize, samples: usize, repetitions: usize) -> Result<BenchFigure, ModelError> {
    let fast = model.fast_model()?.ok_or_else(|| ModelError::Internal("the CPU inference path does not apply to this model".into()))?;
    let values = match model.config().whisper_branch() {
        Some(w) => w.encoder.num_mel_bins * (samples / 160),
        None => samples,
    };
    let audio: Vec<f32> = (0..batch * values).map(|i| (i as f32 * 0.618).sin() * 0.5).collect();
    let run = || -> Result<(), ModelError> {
        fast.audio_branch_only(&audio, batch).map_err(|e| ModelError::Internal(e.to_string()))?;
        Ok(())
    };
    timed(run, batch, repetitions)
}

fn timed(run: impl Fn() -> Result<(), ModelError>, batch: usize, repetitions: usize) -> Result<BenchFigure, ModelError> {
    run()?;
    let cpu_start = process_cpu_seconds();
    let start = Instant::now();
    for _ in 0..repetitions.max(1) {
        run()?;
    }
    let per_batch = start.elapsed().as_secs_f64() / repetitions.max(1) as f64;
    let cpu_per_segment = match (cpu_start, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / (repetitions.max(1) * batch) as f64),
        _ => None,
    };
    Ok(BenchFigure {
        batch,
        repetitions: repetitions.max(1),
        seconds_per_batch: per_batch,
        seconds_per_segment: per_batch / batch as f64,
        cpu_seconds_per_segment: cpu_per_segment,
    })
}
