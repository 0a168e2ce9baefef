//! `Wav2Vec2FeatureEncoder`: the stack of strided 1-D convolutions over the raw waveform.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::{FeatExtractNorm, Wav2Vec2Config};
use crate::model::ops::{self, Activation, Conv1d, Conv1dSpec};

/// Conv layers use PyTorch's default norm epsilon, not `layer_norm_eps`.
const CONV_NORM_EPS: f64 = 1e-5;

#[derive(Debug, Clone)]
enum ConvNorm {
    None,
    /// `nn.GroupNorm(C, C)` (weights under `layer_norm`).
    Group { weight: Tensor, bias: Tensor },
    /// `nn.LayerNorm(C)` over channels.
    Layer(ops::LayerNorm),
}

#[derive(Debug, Clone)]
struct ConvLayer {
    conv: Conv1d,
    norm: ConvNorm,
    activation: Activation,
}

impl ConvLayer {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.conv.forward(xs)?;
        let xs = match &self.norm {
            ConvNorm::None => xs,
            ConvNorm::Group { weight, bias } => ops::group_norm_per_channel(&xs, weight, bias, CONV_NORM_EPS)?,
            ConvNorm::Layer(ln) => ln.forward(&xs.transpose(1, 2)?)?.transpose(1, 2)?,
        };
        self.activation.apply(&xs)
    }
}

#[derive(Debug, Clone)]
pub struct FeatureEncoder {
    conv_layers: Vec<ConvLayer>,
}

impl FeatureEncoder {
    /// `vb` points at the encoder (e.g. `wav2vec2.feature_extractor` or `pitch_encoder`).
    pub fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        let norm_kind = cfg.feat_extract_norm().map_err(candle_core::Error::wrap)?;
        let activation = Activation::from_hf_name(&cfg.feat_extract_activation)
            .ok_or_else(|| candle_core::Error::Msg(format!("unsupported activation {}", cfg.feat_extract_activation)))?;
        let vb = vb.pp("conv_layers");
        let mut conv_layers = Vec::with_capacity(cfg.conv_dim.len());
        for i in 0..cfg.conv_dim.len() {
            let vb_i = vb.pp(i);
            let out = cfg.conv_dim[i];
            let spec = Conv1dSpec {
                in_channels: if i == 0 { 1 } else { cfg.conv_dim[i - 1] },
                out_channels: out,
                kernel: cfg.conv_kernel[i],
                stride: cfg.conv_stride[i],
                padding: 0,
                groups: 1,
                bias: cfg.conv_bias,
            };
            let conv = Conv1d::load(vb_i.pp("conv"), spec)?;
            let norm = match norm_kind {
                FeatExtractNorm::Group if i == 0 => {
                    let vb_n = vb_i.pp("layer_norm");
                    ConvNorm::Group {
                        weight: vb_n.get_with_hints(out, "weight", candle_nn::Init::Const(1.0))?,
                        bias: vb_n.get_with_hints(out, "bias", candle_nn::Init::Const(0.0))?,
                    }
                }
                FeatExtractNorm::Group => ConvNorm::None,
                FeatExtractNorm::Layer => ConvNorm::Layer(ops::LayerNorm::load(vb_i.pp("layer_norm"), out, CONV_NORM_EPS)?),
            };
            conv_layers.push(ConvLayer { conv, norm, activation });
        }
        Ok(Self { conv_layers })
    }

    /// `(batch, samples)` -> `(batch, conv_dim[-1], frames)`.
    pub fn forward(&self, input_values: &Tensor) -> Result<Tensor> {
        let mut xs = input_values.unsqueeze(1)?;
        for layer in &self.conv_layers {
            xs = layer.forward(&xs)?;
        }
        Ok(xs)
    }
}
