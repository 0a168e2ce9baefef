//! `Wav2Vec2FeatureProjection`: LayerNorm over conv channels, then a linear map to the hidden size.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::Wav2Vec2Config;
use crate::model::ops::{LayerNorm, Linear};

#[derive(Debug, Clone)]
pub struct FeatureProjection {
    pub(crate) layer_norm: LayerNorm,
    pub(crate) projection: Linear,
}

impl FeatureProjection {
    pub fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        let conv_out = *cfg.conv_dim.last().ok_or_else(|| candle_core::Error::Msg("empty conv_dim".into()))?;
        Ok(Self {
            layer_norm: LayerNorm::load(vb.pp("layer_norm"), conv_out, cfg.layer_norm_eps)?,
            projection: Linear::load(vb.pp("projection"), conv_out, cfg.hidden_size)?,
        })
    }

    /// `(batch, frames, conv_dim[-1])` -> `(batch, frames, hidden)`. HF also returns the normalised
    /// input (for quantisation); only the projected states are used here. Dropout is inference-off.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.projection.forward(&self.layer_norm.forward(xs)?)
    }
}
