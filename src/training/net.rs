//! The fused model (SPEC §5) assembled for training from the same building blocks and variable
//! names as [`crate::model::FusedModel`], so the trained variables load into it unchanged. It
//! differs only where training needs it: the frozen audio conv encoder's output comes from the
//! cache, and `dropout1` / `dropout2` (0.5 in the reference) are applied in training mode with a
//! seeded mask.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::cache::{PitchInput, PreparedExample};
use crate::model::attention::AttentionLayer;
use super::fast_lstm::FastBiLstm;
use crate::model::ops::{self, Linear};
use crate::model::wav2vec2::{Encoder, FeatureEncoder, FeatureProjection};
use crate::model::FusedConfig;
use crate::synth::rng::Rng;

/// Variables under this prefix are frozen (the reference freezes the audio conv feature encoder).
pub const FROZEN_PREFIX: &str = "wav2vec2.feature_extractor.";
/// Prefix of the pitch conv encoder, frozen too when [`super::TrainOptions::freeze_pitch_encoder`].
pub const PITCH_ENCODER_PREFIX: &str = "pitch_encoder.";

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
}

pub struct TrainableNet {
    audio_projection: FeatureProjection,
    audio_encoder: Encoder,
    pitch_encoder: FeatureEncoder,
    pitch_projection: FeatureProjection,
    lstm: FastBiLstm,
    attn_a_p: AttentionLayer,
    attn_p_a: AttentionLayer,
    self_attn: AttentionLayer,
    fc: Linear,
    classifier: Linear,
    pub config: FusedConfig,
    pub branches: Branches,
    /// Training-time standardisation of the LSTM input (see [`MfccScaling`]).
    pub mfcc_scaling: Option<MfccScaling>,
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
    /// Loads every trainable part; the frozen conv encoder is loaded separately
    /// ([`load_frozen_encoder`]) so its variables exist under the same names.
    pub fn load(vb: VarBuilder, cfg: &FusedConfig) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::wrap)?;
        let w = &cfg.wav2vec2;
        let h = w.hidden_size;
        let fusion = cfg.fusion_dim();
        // Creation order matters for seeded initialisation: follow FusedModel::load.
        let _ = FeatureEncoder::load(vb.pp("wav2vec2").pp("feature_extractor"), w)?;
        let audio_projection = FeatureProjection::load(vb.pp("wav2vec2").pp("feature_projection"), w)?;
        let audio_encoder = Encoder::load(vb.pp("wav2vec2").pp("encoder"), w)?;
        Ok(Self {
            audio_projection,
            audio_encoder,
            pitch_encoder: FeatureEncoder::load(vb.pp("pitch_encoder"), w)?,
            pitch_projection: FeatureProjection::load(vb.pp("pitch_projection"), w)?,
            lstm: FastBiLstm::load(vb.pp("lstm"), cfg.mfcc_dim, cfg.lstm_hidden)?,
            attn_a_p: AttentionLayer::load(vb.pp("attn_a_p"), h, cfg.cross_heads, cfg.attn_ffn_multiplier)?,
            attn_p_a: AttentionLayer::load(vb.pp("attn_p_a"), h, cfg.cross_heads, cfg.attn_ffn_multiplier)?,
            self_attn: AttentionLayer::load(vb.pp("self_attn"), fusion, cfg.self_heads, cfg.attn_ffn_multiplier)?,
            fc: Linear::load(vb.pp("fc"), fusion, cfg.fc_dim)?,
            classifier: Linear::load(vb.pp("classifier"), cfg.fc_dim, 1)?,
            config: cfg.clone(),
            branches: Branches::Fused,
            mfcc_scaling: None,
        })
    }

    /// The audio and pitch part of the fused vector `(batch, 2H)` for examples of one exact length.
    fn cross_part(&self, group: &[&PreparedExample]) -> Result<Tensor> {
        let h = self.config.wav2vec2.hidden_size;
        let b = group.len();
        let zeros = || Tensor::zeros((b, h), candle_core::DType::F32, group[0].audio_conv.device());
        let audio_hidden = || -> Result<Tensor> {
            let conv = Tensor::cat(&group.iter().map(|e| e.audio_conv.clone()).collect::<Vec<_>>(), 0)?;
            self.audio_encoder.forward(&self.audio_projection.forward(&conv)?)
        };
        let pitch_hidden = || -> Result<Tensor> {
            let parts: Vec<Tensor> = group.iter().map(|e| match &e.pitch {
                PitchInput::Track(t) | PitchInput::Encoded(t) => t.clone(),
            }).collect();
            let features = match &group[0].pitch {
                PitchInput::Track(_) => self.pitch_encoder.forward(&Tensor::cat(&parts, 0)?)?,
                PitchInput::Encoded(_) => Tensor::cat(&parts, 0)?,
            };
            self.pitch_projection.forward(&features)
        };
        match self.branches {
            Branches::MfccOnly => Tensor::cat(&[zeros()?, zeros()?], 1),
            Branches::AudioOnly => Tensor::cat(&[ops::mean_over_time(&audio_hidden()?)?, zeros()?], 1),
            Branches::PitchOnly => Tensor::cat(&[zeros()?, ops::mean_over_time(&pitch_hidden()?)?], 1),
            Branches::NoAttention => Tensor::cat(&[ops::mean_over_time(&audio_hidden()?)?, ops::mean_over_time(&pitch_hidden()?)?], 1),
            Branches::Fused => {
                let (audio_hidden, pitch_hidden) = (audio_hidden()?, pitch_hidden()?);
                let a_p = self.attn_a_p.forward(&audio_hidden, &pitch_hidden)?;
                let p_a = self.attn_p_a.forward(&pitch_hidden, &audio_hidden)?;
                ops::mean_over_time(&Tensor::cat(&[a_p, p_a], 2)?)
            }
        }
    }

    /// Logits `(batch,)` for `examples`. Examples of equal length run as one batch (no padding,
    /// so each logit is what the example gets alone); the MFCC branch, always
    /// `frames x mfcc_dim`, runs batched. `dropout`: `(probability, generator)` in training.
    pub fn forward(&self, examples: &[&PreparedExample], dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
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
        let rows: Vec<Tensor> = rows.into_iter().map(|r| r.ok_or_else(|| candle_core::Error::Msg("unbatched example".into()))).collect::<Result<_>>()?;
        let cross = Tensor::cat(&rows, 0)?;
        let lstm_mean = if matches!(self.branches, Branches::AudioOnly | Branches::PitchOnly) {
            Tensor::zeros((examples.len(), 2 * self.config.lstm_hidden), candle_core::DType::F32, cross.device())?
        } else {
            let mfcc = Tensor::stack(&examples.iter().map(|e| e.mfcc.clone()).collect::<Vec<_>>(), 0)?;
            let mfcc = match &self.mfcc_scaling {
                Some(s) => s.apply(&mfcc)?,
                None => mfcc,
            };
            self.lstm.mean_output(&mfcc)?
        };
        let fused = Tensor::cat(&[cross, lstm_mean], 1)?;
        let fused = if self.branches == Branches::NoAttention {
            fused
        } else {
            let fused = fused.unsqueeze(1)?;
            self.self_attn.forward(&fused, &fused)?.squeeze(1)?
        };
        let hidden = match dropout {
            Some((p, rng)) if p > 0.0 => {
                let fused = apply_dropout(&fused, p, rng)?;
                apply_dropout(&self.fc.forward(&fused)?.tanh()?, p, rng)?
            }
            _ => self.fc.forward(&fused)?.tanh()?,
        };
        self.classifier.forward(&hidden)?.squeeze(1)
    }
}

/// Inverted dropout with a seeded mask.
fn apply_dropout(xs: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..xs.elem_count()).map(|_| if (rng.unit() as f32) < keep { 1.0 / keep } else { 0.0 }).collect();
    xs * Tensor::from_vec(mask, xs.shape(), xs.device())?
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
