//! `Wav2Vec2PositionalConvEmbedding`: a grouped, weight-normalised convolution over time.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::Wav2Vec2Config;
use crate::model::ops::{Activation, Conv1d, Conv1dSpec};

#[derive(Debug, Clone)]
pub struct PositionalConvEmbedding {
    pub(crate) conv: Conv1d,
    pub(crate) remove_last_frame: bool,
    pub(crate) activation: Activation,
}

/// Where the weight-norm parameters live in a state_dict.
enum WeightNormNames {
    /// torch.nn.utils.weight_norm: `weight_g`, `weight_v`.
    Legacy,
    /// torch.nn.utils.parametrizations.weight_norm: `parametrizations.weight.original0/1`.
    Parametrized,
    /// Weight norm already folded into a plain `weight`.
    Plain,
}

impl PositionalConvEmbedding {
    /// `vb` points at `...encoder.pos_conv_embed`.
    pub fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        let h = cfg.hidden_size;
        let k = cfg.num_conv_pos_embeddings;
        let groups = cfg.num_conv_pos_embedding_groups;
        let spec = Conv1dSpec {
            in_channels: h,
            out_channels: h,
            kernel: k,
            stride: 1,
            padding: k / 2,
            groups,
            bias: true,
        };
        let vb = vb.pp("conv");
        let names = if vb.contains_tensor("weight_g") || vb.contains_tensor("weight_v") {
            WeightNormNames::Legacy
        } else if vb.contains_tensor("weight") {
            WeightNormNames::Plain
        } else {
            WeightNormNames::Parametrized
        };
        let v_shape = (h, h / groups, k);
        let fan_in = (h / groups * k) as f64;
        let init_v = candle_nn::Init::Randn { mean: 0.0, stdev: (2.0 / fan_in).sqrt() };
        let weight = match names {
            WeightNormNames::Plain => vb.get_with_hints(v_shape, "weight", init_v)?,
            WeightNormNames::Legacy | WeightNormNames::Parametrized => {
                let (g_name, v_name) = match names {
                    WeightNormNames::Legacy => ("weight_g", "weight_v"),
                    _ => ("parametrizations.weight.original0", "parametrizations.weight.original1"),
                };
                let g = vb.get_with_hints((1, 1, k), g_name, candle_nn::Init::Const(1.0))?;
                let v = vb.get_with_hints(v_shape, v_name, init_v)?;
                weight_norm_dim2(&g, &v)?
            }
        };
        let bound = 1.0 / fan_in.sqrt();
        let bias = vb.get_with_hints(h, "bias", candle_nn::Init::Uniform { lo: -bound, up: bound })?;
        let activation = Activation::from_hf_name(&cfg.feat_extract_activation)
            .ok_or_else(|| candle_core::Error::Msg(format!("unsupported activation {}", cfg.feat_extract_activation)))?;
        Ok(Self { conv: Conv1d::from_parts(weight, Some(bias), spec), remove_last_frame: k % 2 == 0, activation })
    }

    /// `(batch, frames, hidden)` -> `(batch, frames, hidden)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let ys = self.conv.forward(&xs.transpose(1, 2)?)?;
        let ys = if self.remove_last_frame {
            let len = ys.dim(2)?;
            ys.narrow(2, 0, len - 1)?
        } else {
            ys
        };
        self.activation.apply(&ys)?.transpose(1, 2)
    }
}

/// `w = g * v / ||v||` with the norm taken over every dim except 2 (PyTorch `weight_norm(dim=2)`).
fn weight_norm_dim2(g: &Tensor, v: &Tensor) -> Result<Tensor> {
    let norm = v.sqr()?.sum_keepdim(0)?.sum_keepdim(1)?.sqrt()?;
    v.broadcast_mul(&g.broadcast_div(&norm)?)
}
