//! The transformer encoder: `Wav2Vec2Encoder` (post-norm) and `Wav2Vec2EncoderStableLayerNorm`
//! (pre-norm), which share weight names.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::pos_conv::PositionalConvEmbedding;
use crate::model::config::Wav2Vec2Config;
use crate::model::attention::MultiheadAttention;
use crate::model::ops::{Activation, LayerNorm, Linear};

#[derive(Debug, Clone)]
pub(crate) struct FeedForward {
    pub(crate) intermediate_dense: Linear,
    pub(crate) output_dense: Linear,
    pub(crate) activation: Activation,
}

impl FeedForward {
    fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        let activation = Activation::from_hf_name(&cfg.hidden_act)
            .ok_or_else(|| candle_core::Error::Msg(format!("unsupported activation {}", cfg.hidden_act)))?;
        Ok(Self {
            intermediate_dense: Linear::load(vb.pp("intermediate_dense"), cfg.hidden_size, cfg.intermediate_size)?,
            output_dense: Linear::load(vb.pp("output_dense"), cfg.intermediate_size, cfg.hidden_size)?,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.activation.apply(&self.intermediate_dense.forward(xs)?)?;
        self.output_dense.forward(&xs)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EncoderLayer {
    /// `Wav2Vec2Attention`: the same attention as the fused head's, with separate q/k/v names.
    pub(crate) attention: MultiheadAttention,
    pub(crate) layer_norm: LayerNorm,
    pub(crate) feed_forward: FeedForward,
    pub(crate) final_layer_norm: LayerNorm,
    pub(crate) pre_norm: bool,
}

impl EncoderLayer {
    fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        Ok(Self {
            attention: MultiheadAttention::load_separate(vb.pp("attention"), cfg.hidden_size, cfg.num_attention_heads)?,
            layer_norm: LayerNorm::load(vb.pp("layer_norm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            feed_forward: FeedForward::load(vb.pp("feed_forward"), cfg)?,
            final_layer_norm: LayerNorm::load(vb.pp("final_layer_norm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            pre_norm: cfg.do_stable_layer_norm,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if self.pre_norm {
            let normed = self.layer_norm.forward(xs)?;
            let xs = (xs + self.attention.forward(&normed, &normed)?)?;
            &xs + self.feed_forward.forward(&self.final_layer_norm.forward(&xs)?)?
        } else {
            let xs = self.layer_norm.forward(&(xs + self.attention.forward(xs, xs)?)?)?;
            let xs = (&xs + self.feed_forward.forward(&xs)?)?;
            self.final_layer_norm.forward(&xs)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Encoder {
    pub(crate) pos_conv_embed: PositionalConvEmbedding,
    pub(crate) layer_norm: LayerNorm,
    pub(crate) layers: Vec<EncoderLayer>,
    pub(crate) pre_norm: bool,
}

impl Encoder {
    /// `vb` points at `...encoder`.
    pub fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        let vb_layers = vb.pp("layers");
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::load(vb_layers.pp(i), cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            pos_conv_embed: PositionalConvEmbedding::load(vb.pp("pos_conv_embed"), cfg)?,
            layer_norm: LayerNorm::load(vb.pp("layer_norm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            layers,
            pre_norm: cfg.do_stable_layer_norm,
        })
    }

    /// `(batch, frames, hidden)` -> `last_hidden_state`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut xs = (xs + self.pos_conv_embed.forward(xs)?)?;
        if !self.pre_norm {
            xs = self.layer_norm.forward(&xs)?;
        }
        for layer in &self.layers {
            xs = layer.forward(&xs)?;
        }
        if self.pre_norm {
            xs = self.layer_norm.forward(&xs)?;
        }
        Ok(xs)
    }
}
