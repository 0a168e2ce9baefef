//! HF transformers' `WhisperEncoder` in candle, with the state_dict's names (`conv1`, `conv2`,
//! `embed_positions`, `layers.N.{self_attn,self_attn_layer_norm,fc1,fc2,final_layer_norm}`,
//! `layer_norm`). Differentiable (training, GPUs); the CPU inference path is `model::fast`.
//!
//! Input is a clip-length log-Mel spectrogram: the learned positional embedding is narrowed to the
//! clip's frames instead of padding every segment to Whisper's 30-s window (as candle-transformers
//! does), so a 3-s segment costs a tenth of a 30-s window.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::config::{WhisperConfig, WHISPER_LAYER_NORM_EPS};
use crate::model::attention::MultiheadAttention;
use crate::model::ops::{Activation, Conv1d, Conv1dSpec, LayerNorm, Linear};

/// `WhisperEncoderLayer`: pre-norm self-attention and feed-forward.
#[derive(Debug, Clone)]
pub(crate) struct WhisperEncoderLayer {
    pub(crate) self_attn: MultiheadAttention,
    pub(crate) self_attn_layer_norm: LayerNorm,
    pub(crate) fc1: Linear,
    pub(crate) fc2: Linear,
    pub(crate) final_layer_norm: LayerNorm,
    pub(crate) activation: Activation,
}

/// `WhisperAttention` of the encoder: `k_proj` has no bias.
fn load_attention(vb: VarBuilder, d: usize, heads: usize) -> Result<MultiheadAttention> {
    Ok(MultiheadAttention {
        q_proj: Linear::load(vb.pp("q_proj"), d, d)?,
        k_proj: Linear::load_no_bias(vb.pp("k_proj"), d, d)?,
        v_proj: Linear::load(vb.pp("v_proj"), d, d)?,
        out_proj: Linear::load(vb.pp("out_proj"), d, d)?,
        num_heads: heads,
        head_dim: d / heads,
    })
}

impl WhisperEncoderLayer {
    fn load(vb: VarBuilder, cfg: &WhisperConfig, activation: Activation) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            self_attn: load_attention(vb.pp("self_attn"), d, cfg.encoder_attention_heads)?,
            self_attn_layer_norm: LayerNorm::load(vb.pp("self_attn_layer_norm"), d, WHISPER_LAYER_NORM_EPS)?,
            fc1: Linear::load(vb.pp("fc1"), d, cfg.encoder_ffn_dim)?,
            fc2: Linear::load(vb.pp("fc2"), cfg.encoder_ffn_dim, d)?,
            final_layer_norm: LayerNorm::load(vb.pp("final_layer_norm"), d, WHISPER_LAYER_NORM_EPS)?,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let normed = self.self_attn_layer_norm.forward(xs)?;
        let xs = (xs + self.self_attn.forward(&normed, &normed)?)?;
        let hidden = self.activation.apply(&self.fc1.forward(&self.final_layer_norm.forward(&xs)?)?)?;
        &xs + self.fc2.forward(&hidden)?
    }
}

#[derive(Debug, Clone)]
pub struct WhisperEncoder {
    pub(crate) conv1: Conv1d,
    pub(crate) conv2: Conv1d,
    /// `(max_source_positions, d_model)`.
    pub(crate) embed_positions: Tensor,
    pub(crate) layers: Vec<WhisperEncoderLayer>,
    /// The final norm (present when every layer is loaded).
    pub(crate) layer_norm: Option<LayerNorm>,
    pub(crate) activation: Activation,
    pub(crate) config: WhisperConfig,
}

impl WhisperEncoder {
    /// `vb` points at the encoder's root (`whisper` inside the fused model). Loads every layer
    /// the config names.
    pub fn load(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        Self::load_first(vb, cfg, cfg.encoder_layers)
    }

    /// Only the first `layers` layers (all of them: with the final `layer_norm`, which belongs to
    /// the last layer's output and is not loaded otherwise).
    pub fn load_first(vb: VarBuilder, cfg: &WhisperConfig, layers: usize) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::wrap)?;
        let activation = Activation::from_hf_name(&cfg.activation_function)
            .ok_or_else(|| candle_core::Error::Msg(format!("unsupported activation {}", cfg.activation_function)))?;
        let d = cfg.d_model;
        let conv = |name: &str, c_in: usize, stride: usize| {
            Conv1d::load(
                vb.pp(name),
                Conv1dSpec { in_channels: c_in, out_channels: d, kernel: 3, stride, padding: 1, groups: 1, bias: true },
            )
        };
        let vb_layers = vb.pp("layers");
        Ok(Self {
            conv1: conv("conv1", cfg.num_mel_bins, 1)?,
            conv2: conv("conv2", d, 2)?,
            embed_positions: vb.pp("embed_positions").get((cfg.max_source_positions, d), "weight")?,
            layers: (0..layers.min(cfg.encoder_layers))
                .map(|i| WhisperEncoderLayer::load(vb_layers.pp(i), cfg, activation))
                .collect::<Result<_>>()?,
            layer_norm: if layers >= cfg.encoder_layers {
                Some(LayerNorm::load(vb.pp("layer_norm"), d, WHISPER_LAYER_NORM_EPS)?)
            } else {
                None
            },
            activation,
            config: cfg.clone(),
        })
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.config
    }

    /// The embedding output: conv stem and narrowed positional embedding, `(batch, mel_frames)`
    /// -> `(batch, frames, d_model)`. `mel`: `(batch, num_mel_bins, mel_frames)`.
    pub fn embed(&self, mel: &Tensor) -> Result<Tensor> {
        let xs = self.activation.apply(&self.conv1.forward(mel)?)?;
        let xs = self.activation.apply(&self.conv2.forward(&xs)?)?.transpose(1, 2)?;
        let frames = xs.dim(1)?;
        if frames > self.config.max_source_positions {
            candle_core::bail!(
                "{frames} encoder frames exceed Whisper's {} positions ({} s)",
                self.config.max_source_positions,
                self.config.max_source_positions / 50
            );
        }
        xs.broadcast_add(&self.embed_positions.narrow(0, 0, frames)?)
    }

    /// HF's `hidden_states` (with `output_hidden_states=True`) of the loaded layers: the
    /// embedding output, then each layer's output; the last one has the final `layer_norm`
    /// applied when every layer is loaded, as HF returns it. `layers + 1` tensors
    /// `(batch, frames, d_model)`.
    pub fn hidden_states(&self, mel: &Tensor) -> Result<Vec<Tensor>> {
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        let mut xs = self.embed(mel)?;
        states.push(xs.clone());
        for layer in &self.layers {
            xs = layer.forward(&xs)?;
            states.push(xs.clone());
        }
        if let (Some(norm), Some(last)) = (&self.layer_norm, states.last_mut()) {
            *last = norm.forward(last)?;
        }
        Ok(states)
    }

    /// The last hidden state `(batch, frames, d_model)` (HF's `last_hidden_state` when every layer
    /// is loaded).
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let mut states = self.hidden_states(mel)?;
        states.pop().ok_or_else(|| candle_core::Error::Msg("whisper encoder without output".into()))
    }
}
