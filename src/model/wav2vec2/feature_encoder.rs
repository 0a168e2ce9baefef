//! `Wav2Vec2FeatureEncoder`: the stack of strided 1-D convolutions over the raw waveform.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::{FeatExtractNorm, Wav2Vec2Config};
use crate::model::ops::{self, Activation};

/// Conv layers use PyTorch's default norm epsilon, not `layer_norm_eps`.
const CONV_NORM_EPS: f64 = 1e-5;

#[derive(Debug, Clone)]
pub(crate) enum ConvNorm {
    None,
    /// `nn.GroupNorm(C, C)` (weights under `layer_norm`).
    Group { weight: Tensor, bias: Tensor },
    /// `nn.LayerNorm(C)` over channels.
    Layer(ops::LayerNorm),
}

/// One conv layer, computed channels-last (`(batch, time, channels)`) so that no layer needs a
/// layout change: im2col rows are contiguous and the channel LayerNorm runs on the last axis.
#[derive(Debug, Clone)]
pub(crate) struct ConvLayer {
    pub(crate) weight: Tensor,
    pub(crate) unfolded_weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) stride: usize,
    pub(crate) norm: ConvNorm,
    pub(crate) activation: Activation,
}

impl ConvLayer {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = ops::conv1d_channels_last(xs, &self.weight, &self.unfolded_weight, self.bias.as_ref(), self.stride)?;
        let xs = match &self.norm {
            ConvNorm::None => xs,
            ConvNorm::Group { weight, bias } => ops::group_norm_per_channel(&xs, weight, bias, CONV_NORM_EPS)?,
            ConvNorm::Layer(ln) => ln.forward(&xs)?,
        };
        self.activation.apply(&xs)
    }
}

#[derive(Debug, Clone)]
pub struct FeatureEncoder {
    pub(crate) conv_layers: Vec<ConvLayer>,
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
            let c_in = if i == 0 { 1 } else { cfg.conv_dim[i - 1] };
            let kernel = cfg.conv_kernel[i];
            let vb_c = vb_i.pp("conv");
            let bound = 1.0 / ((c_in * kernel) as f64).sqrt();
            let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
            let weight = vb_c.get_with_hints((out, c_in, kernel), "weight", init)?;
            let bias = if cfg.conv_bias { Some(vb_c.get_with_hints(out, "bias", init)?) } else { None };
            let unfolded_weight = ops::unfold_conv_weight(&weight)?;
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
            conv_layers.push(ConvLayer { weight, unfolded_weight, bias, stride: cfg.conv_stride[i], norm, activation });
        }
        Ok(Self { conv_layers })
    }

    /// `(batch, samples)` -> `(batch, frames, conv_dim[-1])` (HF's output transposed, as
    /// `Wav2Vec2Model` uses it).
    pub fn forward(&self, input_values: &Tensor) -> Result<Tensor> {
        let mut xs = input_values.unsqueeze(2)?;
        for layer in &self.conv_layers {
            xs = layer.forward(&xs)?;
        }
        Ok(xs)
    }
}
