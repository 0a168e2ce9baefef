//! The fused model (SPEC §5) for training: [`crate::model::FusedModel`] itself, loaded from the
//! training variables (so they load into the product unchanged), run through its shared stages
//! with what training needs: the frozen audio conv encoder's output comes from the cache, each clip
//! runs the attention branches at its own length, and `dropout1` / `dropout2` (0.5 in the
//! reference) are applied with a seeded mask.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::cache::{PitchInput, PreparedExample};
use crate::model::fused::Dropout;
use crate::model::ops;
use crate::model::wav2vec2::FeatureEncoder;
use crate::model::{FusedConfig, FusedModel};
use crate::synth::rng::Rng;

/// Variables under this prefix are frozen (the reference freezes the audio conv feature encoder).
pub const FROZEN_PREFIX: &str = "wav2vec2.feature_extractor.";
/// Prefix of the pitch conv encoder, frozen too when [`super::TrainOptions::freeze_pitch_encoder`].
pub const PITCH_ENCODER_PREFIX: &str = "pitch_encoder.";
/// Whisper's encoder is frozen: its hidden states are cached per clip, and the head learns how
/// to mix them (`layer_weights`).
pub const WHISPER_PREFIX: &str = "whisper.";
/// The statistics head is fitted by its own convex fit (`super::stats_fit`), never by SGD.
pub const STATS_HEAD_PREFIX: &str = "stats_head.";

/// Which branches feed the classifier: the full fused model, or one of the paper's ablations
/// (SPEC §5). An ablation replaces the missing parts of the fused vector with zeros, so it trains
/// the same variables; its weights are for the ablation table, not for scoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Branches {
    #[default]
    Fused,
    /// MFCC39 BiLSTM only.
    MfccOnly,
    /// The wav2vec2 branch only (mean of its hidden states).
    AudioOnly,
    /// The pitch branch only (mean of its projected conv features).
    PitchOnly,
    /// All three branches, concatenated without the cross- and self-attention layers.
    NoAttention,
    /// The linear-probe baseline (SUPERB / seed 004): the Whisper states' learned layer mix,
    /// averaged over time, one linear layer (`probe`) to the logit; no pitch, MFCC or head.
    EncoderLinear,
}

pub struct TrainableNet {
    /// Every variable, the frozen conv encoder's included (it runs from the cache instead).
    model: FusedModel,
    pub config: FusedConfig,
    pub branches: Branches,
    /// Training-time standardisation of the LSTM input (see [`MfccScaling`]).
    pub mfcc_scaling: Option<MfccScaling>,
    /// Per-call centring (Whisper): each group's mean states `(states, d_model)`, by
    /// [`PreparedExample::group`].
    pub group_means: Option<std::collections::HashMap<String, Tensor>>,
    /// A per-call-centred statistics head: each group's offset (its mean statistics-head logit
    /// less the head's bias), subtracted from its examples' statistics-head logits.
    pub stats_offsets: Option<std::collections::HashMap<String, f32>>,
    /// The linear probe of [`Branches::EncoderLinear`] (created only for that ablation).
    probe: Option<ops::Linear>,
}

/// Per-coefficient standardisation `x' = (x - mean) * scale` of the MFCC39 input. Raw MFCCs span
/// hundreds of units (c0 is log energy), which saturates freshly initialised LSTM gates. Being
/// affine, it is folded into `lstm.weight_ih_l0*` / `lstm.bias_ih_l0*` when a bundle is
/// written ([`fold_mfcc_scaling`]), so the shipped model takes raw MFCC39 exactly as the product
/// computes it (SPEC §4) and scores identically.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MfccScaling {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl MfccScaling {
    /// Mean and 1/std per coefficient over every frame of `examples`.
    pub fn fit(examples: &[PreparedExample]) -> Result<Self> {
        let dim = examples.first().map_or(0, |e| e.mfcc.dim(1).unwrap_or(0));
        let mut sum = vec![0f64; dim];
        let mut sq = vec![0f64; dim];
        let mut n = 0usize;
        for e in examples {
            for row in e.mfcc.to_vec2::<f32>()? {
                for (k, v) in row.iter().enumerate() {
                    sum[k] += *v as f64;
                    sq[k] += (*v as f64).powi(2);
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let scale = sq.iter().zip(&mean).map(|(q, m)| (1.0 / ((q / n - m * m).max(0.0).sqrt() + 1e-3)) as f32).collect();
        Ok(Self { mean: mean.into_iter().map(|m| m as f32).collect(), scale })
    }

    fn apply(&self, mfcc: &Tensor) -> Result<Tensor> {
        let d = self.mean.len();
        let mean = Tensor::from_slice(&self.mean, d, mfcc.device())?;
        let scale = Tensor::from_slice(&self.scale, d, mfcc.device())?;
        mfcc.broadcast_sub(&mean)?.broadcast_mul(&scale)
    }
}

/// Folds `scaling` into the LSTM input weights of a tensor map (PyTorch names), so the model
/// takes raw MFCC39: `W' = W diag(scale)`, `b' = b - W' mean`.
pub fn fold_mfcc_scaling(tensors: &mut std::collections::HashMap<String, Tensor>, scaling: &MfccScaling) -> Result<()> {
    for suffix in ["", "_reverse"] {
        let w_name = format!("lstm.weight_ih_l0{suffix}");
        let b_name = format!("lstm.bias_ih_l0{suffix}");
        let (Some(w), Some(b)) = (tensors.get(&w_name), tensors.get(&b_name)) else {
            candle_core::bail!("cannot fold MFCC scaling: {w_name} or {b_name} missing");
        };
        let d = scaling.scale.len();
        let scale = Tensor::from_slice(&scaling.scale, (1, d), w.device())?;
        let mean = Tensor::from_slice(&scaling.mean, (d, 1), w.device())?;
        let w_folded = w.broadcast_mul(&scale)?;
        let b_folded = (b - w_folded.matmul(&mean)?.squeeze(1)?)?;
        tensors.insert(w_name, w_folded);
        tensors.insert(b_name, b_folded);
    }
    Ok(())
}

impl TrainableNet {
    /// Per group ([`PreparedExample::group`]), the mean statistics-head logit of its examples less
    /// the head's bias: what a per-call-centred head subtracts (`None` without a centred head).
    pub fn stats_group_offsets<'a>(&self, examples: impl IntoIterator<Item = &'a PreparedExample>) -> Result<Option<std::collections::HashMap<String, f32>>> {
        if !self.model.centres_stats_per_call() {
            return Ok(None);
        }
        let mut logits: std::collections::HashMap<String, Vec<f32>> = std::collections::HashMap::new();
        for e in examples {
            if let Some(logit) = self.model.stats_logits(&e.audio_conv)? {
                logits.entry(e.group.clone()).or_default().push(logit.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?[0]);
            }
        }
        logits.into_iter().map(|(g, l)| Ok((g, self.model.stats_call_offset(&l)?))).collect::<Result<_>>().map(Some)
    }

    /// Creates (or looks up) every variable under the product's names, in the product's order
    /// (which seeded initialisation depends on). The frozen conv encoder's copy used for the
    /// cache is loaded separately ([`load_frozen_encoder`]).
    pub fn load(vb: VarBuilder, cfg: &FusedConfig) -> Result<Self> {
        Ok(Self { model: FusedModel::load(vb, cfg)?, config: cfg.clone(), branches: Branches::Fused, mfcc_scaling: None, group_means: None, stats_offsets: None, probe: None })
    }

    /// Creates the linear probe the [`Branches::EncoderLinear`] baseline needs (a Whisper model).
    pub fn add_probe(&mut self, vb: VarBuilder) -> Result<()> {
        let d = self
            .config
            .whisper_branch()
            .ok_or_else(|| candle_core::Error::Msg("the encoder-linear baseline needs a Whisper model".into()))?
            .encoder
            .d_model;
        self.probe = Some(ops::Linear::load(vb.pp("probe"), d, 1)?);
        Ok(())
    }

    /// The audio and pitch part of the fused vector `(batch, 2H)` for examples of one exact length.
    fn cross_part(&self, group: &[&PreparedExample]) -> Result<Tensor> {
        let h = self.config.wav2vec2.hidden_size;
        let b = group.len();
        let zeros = || Tensor::zeros((b, h), candle_core::DType::F32, group[0].audio_conv.device());
        let audio_hidden = || -> Result<Tensor> {
            let conv = Tensor::cat(&group.iter().map(|e| e.audio_conv.clone()).collect::<Vec<_>>(), 0)?;
            match &self.group_means {
                Some(means) => {
                    let offsets = group
                        .iter()
                        .map(|e| {
                            means
                                .get(&e.group)
                                .ok_or_else(|| candle_core::Error::Msg(format!("no mean states for group {}", e.group)))?
                                .unsqueeze(0)?
                                .unsqueeze(2)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    self.model.audio_hidden_centred(&conv, &Tensor::cat(&offsets, 0)?)
                }
                None => self.model.audio_hidden(&conv),
            }
        };
        let pitch_hidden = || -> Result<Tensor> {
            let parts: Vec<Tensor> = group
                .iter()
                .map(|e| match &e.pitch {
                    PitchInput::Track(t) | PitchInput::Encoded(t) => t.clone(),
                })
                .collect();
            let stacked = Tensor::cat(&parts, 0)?;
            let conv = match &group[0].pitch {
                PitchInput::Track(_) => self.model.pitch_conv_features(&stacked)?,
                PitchInput::Encoded(_) => stacked,
            };
            self.model.pitch_hidden(&conv)
        };
        match self.branches {
            Branches::MfccOnly => Tensor::cat(&[zeros()?, zeros()?], 1),
            Branches::AudioOnly => Tensor::cat(&[ops::mean_over_time(&audio_hidden()?)?, zeros()?], 1),
            Branches::PitchOnly => Tensor::cat(&[zeros()?, ops::mean_over_time(&pitch_hidden()?)?], 1),
            Branches::NoAttention => {
                Tensor::cat(&[ops::mean_over_time(&audio_hidden()?)?, ops::mean_over_time(&pitch_hidden()?)?], 1)
            }
            Branches::Fused | Branches::EncoderLinear => self.model.cross_attention_mean(&audio_hidden()?, &pitch_hidden()?),
        }
    }

    /// Logits `(batch,)` for `examples`. Examples of equal length run as one batch (no padding,
    /// so each logit is what the example gets alone); the MFCC branch, always
    /// `frames x mfcc_dim`, runs batched. `dropout`: `(probability, generator)` in training.
    pub fn forward(&self, examples: &[&PreparedExample], dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
        if self.branches == Branches::EncoderLinear {
            return self.probe_forward(examples);
        }
        let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
        for (i, ex) in examples.iter().enumerate() {
            let key = ex.length_key();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        let mut rows: Vec<Option<Tensor>> = vec![None; examples.len()];
        for (_, members) in &groups {
            let group: Vec<&PreparedExample> = members.iter().map(|&i| examples[i]).collect();
            let part = self.cross_part(&group)?;
            for (k, &i) in members.iter().enumerate() {
                rows[i] = Some(part.narrow(0, k, 1)?);
            }
        }
        let rows: Vec<Tensor> = rows
            .into_iter()
            .map(|r| r.ok_or_else(|| candle_core::Error::Msg("an example was not in any length group".into())))
            .collect::<Result<_>>()?;
        let cross = Tensor::cat(&rows, 0)?;
        let lstm_mean = if matches!(self.branches, Branches::AudioOnly | Branches::PitchOnly) {
            Tensor::zeros((examples.len(), 2 * self.config.lstm_hidden), candle_core::DType::F32, cross.device())?
        } else {
            self.lstm_mean(examples)?
        };
        let self_attention = self.branches != Branches::NoAttention;
        let logits = match dropout {
            Some((p, rng)) if p > 0.0 => {
                let drop: &mut Dropout = &mut |xs: &Tensor| apply_dropout(xs, p, rng);
                self.model.head_with(&cross, &lstm_mean, self_attention, Some(drop))?
            }
            _ => self.model.head_with(&cross, &lstm_mean, self_attention, None)?,
        };
        if self.branches == Branches::Fused && self.model.has_stats_head() {
            // The (frozen) statistics head's logit is part of the model's: the head learns on top of it.
            let stats = examples
                .iter()
                .map(|e| self.model.stats_logits(&e.audio_conv).map(|s| s.map(|s| s.detach())))
                .collect::<Result<Option<Vec<_>>>>()?;
            if let Some(stats) = stats {
                let mut stats = Tensor::cat(&stats, 0)?;
                if let Some(offsets) = &self.stats_offsets {
                    let shift = examples
                        .iter()
                        .map(|e| offsets.get(&e.group).copied().ok_or_else(|| candle_core::Error::Msg(format!("no statistics offset for group {}", e.group))))
                        .collect::<Result<Vec<f32>>>()?;
                    stats = (stats - Tensor::from_vec(shift, examples.len(), logits.device())?.to_dtype(logits.dtype())?)?;
                }
                return logits + stats;
            }
        }
        Ok(logits)
    }
}

impl TrainableNet {
    /// [`Branches::EncoderLinear`]: `probe(mean_t(mix(states)))`, clip by clip.
    fn probe_forward(&self, examples: &[&PreparedExample]) -> Result<Tensor> {
        let probe = self.probe.as_ref().ok_or_else(|| candle_core::Error::Msg("the linear probe was not created".into()))?;
        let rows = examples
            .iter()
            .map(|e| {
                let mixed = self.model.audio_mixed_states(&e.audio_conv)?;
                probe.forward(&mixed.mean(1)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&rows, 0)?.squeeze(1)
    }

    /// The BiLSTM means `(batch, 2 * lstm_hidden)`, run as one batch per MFCC length (clip-length
    /// MFCC frames differ between clips of different lengths), rows in input order.
    fn lstm_mean(&self, examples: &[&PreparedExample]) -> Result<Tensor> {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, ex) in examples.iter().enumerate() {
            let frames = ex.mfcc.dim(0)?;
            match groups.iter_mut().find(|(f, _)| *f == frames) {
                Some((_, members)) => members.push(i),
                None => groups.push((frames, vec![i])),
            }
        }
        let mut rows: Vec<Option<Tensor>> = vec![None; examples.len()];
        for (_, members) in &groups {
            let mfcc = Tensor::stack(&members.iter().map(|&i| examples[i].mfcc.clone()).collect::<Vec<_>>(), 0)?;
            let mfcc = match &self.mfcc_scaling {
                Some(s) => s.apply(&mfcc)?,
                None => mfcc,
            };
            let mean = self.model.lstm_mean(&mfcc)?;
            for (k, &i) in members.iter().enumerate() {
                rows[i] = Some(mean.narrow(0, k, 1)?);
            }
        }
        let rows: Vec<Tensor> = rows
            .into_iter()
            .map(|r| r.ok_or_else(|| candle_core::Error::Msg("an example was not in any MFCC length group".into())))
            .collect::<Result<_>>()?;
        Tensor::cat(&rows, 0)
    }
}

/// Inverted dropout with a seeded mask.
fn apply_dropout(xs: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..xs.elem_count()).map(|_| if (rng.unit() as f32) < keep { 1.0 / keep } else { 0.0 }).collect();
    xs * Tensor::from_vec(mask, xs.shape(), xs.device())?
}

/// The Whisper branch's frozen encoder on the CPU inference path, from detached copies of the
/// variables (what the cache runs).
pub fn load_frozen_whisper(varmap: &candle_nn::VarMap, cfg: &FusedConfig) -> Result<crate::model::fast::WhisperStates> {
    let branch_cfg = cfg.whisper_branch().ok_or_else(|| candle_core::Error::Msg("not a whisper model".into()))?;
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
    let tensors: std::collections::HashMap<String, Tensor> = data
        .iter()
        .filter(|(k, _)| {
            k.starts_with(WHISPER_PREFIX) || k.as_str() == "layer_weights" || k.starts_with("audio_projection.") || k.starts_with(STATS_HEAD_PREFIX)
        })
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    drop(data);
    let device = candle_core::Device::Cpu;
    let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, &device);
    let branch = crate::model::whisper::WhisperBranch::load(vb, branch_cfg, cfg.wav2vec2.hidden_size)?;
    crate::model::fast::WhisperStates::build(&branch)?
        .ok_or_else(|| candle_core::Error::Msg("the whisper encoder cannot run on the inference path".into()))
}

/// A frozen conv encoder (`prefix`: [`FROZEN_PREFIX`] or [`PITCH_ENCODER_PREFIX`]), on detached
/// copies of its variables (so it runs the fast inference kernels and never enters the autograd
/// graph).
pub fn load_frozen_encoder(varmap: &candle_nn::VarMap, prefix: &str, cfg: &FusedConfig, device: &candle_core::Device) -> Result<FeatureEncoder> {
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
    let tensors: std::collections::HashMap<String, Tensor> = data
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.as_tensor().detach())))
        .collect();
    drop(data);
    let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
    FeatureEncoder::load(vb, &cfg.wav2vec2)
}
