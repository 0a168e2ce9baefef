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
        })
    }

    /// Logits `(batch,)` for `examples` (each run at its own length; the MFCC branch, always
    /// `frames x mfcc_dim`, runs batched). `dropout`: `(probability, generator)` in training.
    pub fn forward(&self, examples: &[&PreparedExample], dropout: Option<(f32, &mut Rng)>) -> Result<Tensor> {
        let mut cross_rows = Vec::with_capacity(examples.len());
        for ex in examples {
            let audio_hidden = self.audio_encoder.forward(&self.audio_projection.forward(&ex.audio_conv)?)?;
            let pitch_features = self.pitch_encoder.forward(&ex.pitch)?.transpose(1, 2)?;
            let pitch_hidden = self.pitch_projection.forward(&pitch_features)?;
            let a_p = self.attn_a_p.forward(&audio_hidden, &pitch_hidden)?;
            let p_a = self.attn_p_a.forward(&pitch_hidden, &audio_hidden)?;
            cross_rows.push(ops::mean_over_time(&Tensor::cat(&[a_p, p_a], 2)?)?);
        }
        let cross = Tensor::cat(&cross_rows, 0)?;
        let mfcc = Tensor::stack(&examples.iter().map(|e| e.mfcc.clone()).collect::<Vec<_>>(), 0)?;
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
