//! The fused model (SPEC §5) assembled for training from the same building blocks and variable
//! names as [`crate::model::FusedModel`], so the trained variables load into it unchanged. It
//! differs only where training needs it: the frozen audio conv encoder's output comes from the
//! cache, and `dropout1` / `dropout2` (0.5 in the reference) are applied in training mode with a
//! seeded mask.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::cache::PreparedExample;
use crate::model::attention::AttentionLayer;
use super::fast_lstm::FastBiLstm;
use crate::model::ops::{self, Linear};
use crate::model::wav2vec2::{Encoder, FeatureEncoder, FeatureProjection};
use crate::model::FusedConfig;
use crate::synth::rng::Rng;

/// Variables under this prefix are frozen (the reference freezes the audio conv feature encoder).
pub const FROZEN_PREFIX: &str = "wav2vec2.feature_extractor.";

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
            mfcc_scaling: None,
        })
    }

    /// Logits `(batch,)` for `examples` (each run at its own length; the MFCC branch, always
    /// `frames x mfcc_dim`, runs batched). `dropout`: `(probability, generator)` in training.
    pub fn forward(&self, examples: &[&PreparedExample], dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
        let mut cross_rows = Vec::with_capacity(examples.len());
        for ex in examples {
            let audio_hidden = self.audio_encoder.forward(&self.audio_projection.forward(&ex.audio_conv)?)?;
            let pitch_features = self.pitch_encoder.forward(&ex.pitch)?;
            let pitch_hidden = self.pitch_projection.forward(&pitch_features)?;
            let a_p = self.attn_a_p.forward(&audio_hidden, &pitch_hidden)?;
            let p_a = self.attn_p_a.forward(&pitch_hidden, &audio_hidden)?;
            cross_rows.push(ops::mean_over_time(&Tensor::cat(&[a_p, p_a], 2)?)?);
        }
        let cross = Tensor::cat(&cross_rows, 0)?;
        let mfcc = Tensor::stack(&examples.iter().map(|e| e.mfcc.clone()).collect::<Vec<_>>(), 0)?;
        let mfcc = match &self.mfcc_scaling {
            Some(s) => s.apply(&mfcc)?,
            None => mfcc,
        };
        let lstm_mean = self.lstm.mean_output(&mfcc)?;
        let fused = Tensor::cat(&[cross, lstm_mean], 1)?.unsqueeze(1)?;
        let fused = self.self_attn.forward(&fused, &fused)?.squeeze(1)?;
        let (fused, hidden) = match dropout {
            Some((p, rng)) if p > 0.0 => {
                let fused = apply_dropout(&fused, p, rng)?;
                let hidden = self.fc.forward(&fused)?.tanh()?;
                (fused, apply_dropout(&hidden, p, rng)?)
            }
            _ => {
                let hidden = self.fc.forward(&fused)?.tanh()?;
                (fused, hidden)
            }
        };
        drop(fused);
        self.classifier.forward(&hidden)?.squeeze(1)
    }
}

/// Inverted dropout with a seeded mask.
fn apply_dropout(xs: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..xs.elem_count()).map(|_| if (rng.unit() as f32) < keep { 1.0 / keep } else { 0.0 }).collect();
    xs * Tensor::from_vec(mask, xs.shape(), xs.device())?
}

/// The frozen audio conv encoder, on detached copies of its variables (so it runs the fast
/// inference kernels and never enters the autograd graph).
pub fn load_frozen_encoder(varmap: &candle_nn::VarMap, cfg: &FusedConfig, device: &candle_core::Device) -> Result<FeatureEncoder> {
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
    let tensors: std::collections::HashMap<String, Tensor> = data
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(FROZEN_PREFIX).map(|rest| (rest.to_string(), v.as_tensor().detach())))
        .collect();
    drop(data);
    let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
    FeatureEncoder::load(vb, &cfg.wav2vec2)
}
