//! The fused model (SPEC §5) for training: [`crate::model::FusedModel`] itself, loaded from the
//! training variables (so they load into the product unchanged), run through its shared stages
//! with what training needs: the frozen audio conv encoder's output comes from the cache, each clip
//! runs the attention branches at its own length, and `dropout1` / `dropout2` (0.5 in the
//! reference) are applied with a seeded mask.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::cache::PreparedExample;
use crate::model::fused::Dropout;
use crate::model::wav2vec2::FeatureEncoder;
use crate::model::{FusedConfig, FusedModel};
use crate::synth::rng::Rng;

/// Variables under this prefix are frozen (the reference freezes the audio conv feature encoder).
pub const FROZEN_PREFIX: &str = "wav2vec2.feature_extractor.";

pub struct TrainableNet {
    /// Every variable, the frozen conv encoder's included (it runs from the cache instead).
    model: FusedModel,
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
    /// Creates (or looks up) every variable under the product's names, in the product's order
    /// (which seeded initialisation depends on). The frozen conv encoder's copy used for the
    /// cache is loaded separately ([`load_frozen_encoder`]).
    pub fn load(vb: VarBuilder, cfg: &FusedConfig) -> Result<Self> {
        Ok(Self { model: FusedModel::load(vb, cfg)?, config: cfg.clone(), mfcc_scaling: None })
    }

    /// Logits `(batch,)` for `examples` (each run at its own length; the MFCC branch, always
    /// `frames x mfcc_dim`, runs batched). `dropout`: `(probability, generator)` in training.
    pub fn forward(&self, examples: &[&PreparedExample], dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
        let mut cross_rows = Vec::with_capacity(examples.len());
        for ex in examples {
            let (audio_hidden, pitch_hidden) = self.model.branch_states(&ex.audio_conv, &ex.pitch)?;
            cross_rows.push(self.model.cross_attention_mean(&audio_hidden, &pitch_hidden)?);
        }
        let cross = Tensor::cat(&cross_rows, 0)?;
        let mfcc = Tensor::stack(&examples.iter().map(|e| e.mfcc.clone()).collect::<Vec<_>>(), 0)?;
        let mfcc = match &self.mfcc_scaling {
            Some(s) => s.apply(&mfcc)?,
            None => mfcc,
        };
        let lstm_mean = self.model.lstm_mean(&mfcc)?;
        match dropout {
            Some((p, rng)) if p > 0.0 => {
                let drop: &mut Dropout = &mut |xs: &Tensor| apply_dropout(xs, p, rng);
                self.model.head(&cross, &lstm_mean, Some(drop))
            }
            _ => self.model.head(&cross, &lstm_mean, None),
        }
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
