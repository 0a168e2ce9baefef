//! Differentiable building blocks.
//!
//! candle's fused `softmax_last_dim`, `layer_norm` and `rms_norm` kernels have no backward pass, so
//! every module of the model uses these compositions of elementary ops instead: the same code serves
//! inference and training.
use candle_core::{DType, Result, Tensor, D};
use candle_nn::VarBuilder;

/// Softmax over the last dimension. The row maximum is subtracted for stability; it is detached
/// because softmax is invariant to it (the gradient through it is zero).
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let exp = xs.broadcast_sub(&max)?.exp()?;
    let sum = exp.sum_keepdim(D::Minus1)?;
    exp.broadcast_div(&sum)
}

/// Normalises over the last dimension (biased variance, like PyTorch), then applies `weight`/`bias`.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let normed = normalize_over(xs, D::Minus1, eps)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

/// `nn.GroupNorm(C, C)` on a `(batch, channels, time)` tensor: every channel is normalised over time.
pub fn group_norm_per_channel(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let channels = weight.dim(0)?;
    let normed = normalize_over(xs, D::Minus1, eps)?;
    let weight = weight.reshape((1, channels, 1))?;
    let bias = bias.reshape((1, channels, 1))?;
    normed.broadcast_mul(&weight)?.broadcast_add(&bias)
}

fn normalize_over(xs: &Tensor, dim: D, eps: f64) -> Result<Tensor> {
    let mean = xs.mean_keepdim(dim)?;
    let centred = xs.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(dim)?;
    centred.broadcast_div(&(var + eps)?.sqrt()?)
}

/// Exact (erf-based) GELU, as PyTorch's default `nn.GELU` / HF "gelu".
pub fn gelu(xs: &Tensor) -> Result<Tensor> {
    xs.gelu_erf()
}

/// Activation functions named in HF configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Gelu,
    GeluTanh,
    Relu,
}

impl Activation {
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            _ => None,
        }
    }

    pub fn apply(self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Self::Gelu => gelu(xs),
            Self::GeluTanh => xs.gelu(),
            Self::Relu => xs.relu(),
        }
    }
}

/// `nn.LayerNorm` with PyTorch names `weight`/`bias`.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        let weight = vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?;
        let bias = vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self { weight, bias, eps })
    }

    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        layer_norm(xs, &self.weight, &self.bias, self.eps)
    }
}

/// `nn.Linear` with PyTorch names and PyTorch's default initialisation (for fresh heads).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn load(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", init)?;
        let bias = vb.get_with_hints(out_dim, "bias", init)?;
        Ok(Self { weight, bias: Some(bias) })
    }

    pub fn from_parts(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self { weight, bias }
    }

    /// `xs @ W^T + b` for inputs of any rank >= 2.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let out = match xs.dims() {
            [b, t, d] => xs.reshape((b * t, *d))?.matmul(&self.weight.t()?)?.reshape((*b, *t, ()))?,
            _ => xs.matmul(&self.weight.t()?)?,
        };
        match &self.bias {
            Some(bias) => out.broadcast_add(bias),
            None => Ok(out),
        }
    }
}

/// `nn.Conv1d` (PyTorch names `weight`, `bias`).
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    padding: usize,
    groups: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Conv1dSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
    pub bias: bool,
}

impl Conv1d {
    pub fn load(vb: VarBuilder, spec: Conv1dSpec) -> Result<Self> {
        let fan_in = spec.in_channels / spec.groups * spec.kernel;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
        let weight = vb.get_with_hints(
            (spec.out_channels, spec.in_channels / spec.groups, spec.kernel),
            "weight",
            init,
        )?;
        let bias = if spec.bias { Some(vb.get_with_hints(spec.out_channels, "bias", init)?) } else { None };
        Ok(Self::from_parts(weight, bias, spec))
    }

    pub fn from_parts(weight: Tensor, bias: Option<Tensor>, spec: Conv1dSpec) -> Self {
        Self { weight, bias, stride: spec.stride, padding: spec.padding, groups: spec.groups }
    }

    /// `(batch, in_channels, time)` -> `(batch, out_channels, time')`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let out = xs.conv1d(&self.weight, self.padding, self.stride, 1, self.groups)?;
        match &self.bias {
            Some(bias) => out.broadcast_add(&bias.reshape((1, (), 1))?),
            None => Ok(out),
        }
    }
}

/// Mean over the time axis (dim 1) of a `(batch, time, features)` tensor.
pub fn mean_over_time(xs: &Tensor) -> Result<Tensor> {
    xs.mean(1)
}

/// The floating-point type the model runs in.
pub const MODEL_DTYPE: DType = DType::F32;
