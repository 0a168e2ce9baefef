//! Differentiable building blocks.
//!
//! candle's fused `softmax_last_dim`, `layer_norm` and `rms_norm` kernels have no backward pass. Every
//! function here therefore computes with differentiable elementary ops whenever an input is tracked
//! by autograd (a `Var` or derived from one), and uses the fused kernel only when no gradient can be
//! asked for (plain inference), where it is several times faster. The gradient test
//! (tests/model_training.rs) exercises the differentiable path, the parity tests the fast one.
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, D};
use candle_nn::VarBuilder;
use rayon::prelude::*;

/// True when autograd could ask for a gradient through any of `tensors`.
fn tracked(tensors: &[&Tensor]) -> bool {
    tensors.iter().any(|t| t.track_op())
}

/// Softmax over the last dimension.
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    if !tracked(&[xs]) {
        return candle_nn::ops::softmax_last_dim(&xs.contiguous()?);
    }
    // The row maximum is subtracted for stability; it is detached because softmax is invariant to
    // it (the gradient through it is zero).
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let exp = xs.broadcast_sub(&max)?.exp()?;
    let sum = exp.sum_keepdim(D::Minus1)?;
    exp.broadcast_div(&sum)
}

/// Normalises over the last dimension (biased variance, like PyTorch), then applies `weight`/`bias`.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if !tracked(&[xs, weight, bias]) && xs.dtype() == DType::F32 {
        return candle_nn::ops::layer_norm(&xs.contiguous()?, weight, bias, eps as f32);
    }
    let normed = normalize_over(xs, D::Minus1, eps)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

/// `nn.GroupNorm(C, C)` on a channels-last `(batch, time, channels)` tensor: every channel is
/// normalised over time.
pub fn group_norm_per_channel(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let normed = if !tracked(&[xs]) && xs.dtype() == DType::F32 {
        let time = xs.dim(1)?;
        let ones = Tensor::ones(time, DType::F32, xs.device())?;
        let zeros = Tensor::zeros(time, DType::F32, xs.device())?;
        let channels_first = xs.transpose(1, 2)?.contiguous()?;
        candle_nn::ops::layer_norm(&channels_first, &ones, &zeros, eps as f32)?.transpose(1, 2)?
    } else {
        normalize_over(xs, D::Minus2, eps)?
    };
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

fn normalize_over(xs: &Tensor, dim: D, eps: f64) -> Result<Tensor> {
    let mean = xs.mean_keepdim(dim)?;
    let centred = xs.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(dim)?;
    centred.broadcast_div(&(var + eps)?.sqrt()?)
}

/// Exact (erf-based) GELU, as PyTorch's default `nn.GELU` / HF "gelu". On CPU a multi-threaded
/// kernel with a backward pass; elsewhere candle's `gelu_erf`.
pub fn gelu(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == DType::F32 {
        xs.contiguous()?.apply_op1(GeluErfCpu)
    } else {
        xs.gelu_erf()
    }
}

/// GELU with erf from Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), branch-free so that the
/// loop vectorises, parallel over chunks.
struct GeluErfCpu;

/// `exp(y)` for `y <= 0` (relative error ~1e-7): `2^n * p(r)` with `y = n ln2 + r`, `|r| <= ln2/2`.
#[inline(always)]
fn exp_nonpositive(y: f32) -> f32 {
    let y = y.max(-87.0);
    // Round to nearest via truncation of a non-positive value (vectorises without SSE4.1).
    let n = ((y * std::f32::consts::LOG2_E - 0.5) as i32) as f32;
    let r = y - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp_nonpositive(-a * a)).copysign(x)
}

#[inline(always)]
fn gelu_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_approx(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn gelu_slice_portable(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = gelu_scalar(x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_slice_avx2(input: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = gelu_scalar(x);
    }
}

fn gelu_slice(input: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function was compiled for.
        unsafe { gelu_slice_avx2(input, out) };
        return;
    }
    gelu_slice_portable(input, out)
}

impl CustomOp1 for GeluErfCpu {
    fn name(&self) -> &'static str {
        "gelu-erf-cpu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("gelu: input must be contiguous".into()))?;
        let input = match storage {
            CpuStorage::F32(data) => &data[start..end],
            _ => candle_core::bail!("gelu: only f32 is supported on this path"),
        };
        let mut out = vec![0f32; input.len()];
        const CHUNK: usize = 1 << 14;
        out.par_chunks_mut(CHUNK).zip(input.par_chunks(CHUNK)).for_each(|(o, i)| gelu_slice(i, o));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// d/dx [x Phi(x)] = Phi(x) + x phi(x).
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let cdf = ((arg * std::f64::consts::FRAC_1_SQRT_2)?.erf()? + 1.0)? * 0.5;
        let pdf = ((arg.sqr()? * -0.5)?.exp()? * (0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2))?;
        let local = (cdf? + (arg * pdf)?)?;
        Ok(Some(grad_res.mul(&local)?))
    }
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
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) eps: f64,
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
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
}

impl Linear {
    pub fn load(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", init)?;
        let bias = vb.get_with_hints(out_dim, "bias", init)?;
        Ok(Self { weight, bias: Some(bias) })
    }

    /// A linear map without a bias (e.g. Whisper's `k_proj`).
    pub fn load_no_bias(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", candle_nn::Init::Uniform { lo: -bound, up: bound })?;
        Ok(Self { weight, bias: None })
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
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    pub(crate) groups: usize,
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

/// Channels-last im2col for inference: `(batch, time, channels)` -> `(batch, frames, kernel * channels)`
/// where row `t` holds input rows `t*stride .. t*stride+kernel` (contiguous in memory, so each row is
/// one copy). No backward pass: only used on untracked tensors.
struct UnfoldTime {
    kernel: usize,
    stride: usize,
}

impl CustomOp1 for UnfoldTime {
    fn name(&self) -> &'static str {
        "unfold-time"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("unfold: input must be contiguous".into()))?;
        let input = match storage {
            CpuStorage::F32(data) => &data[start..end],
            _ => candle_core::bail!("unfold: only f32 is supported"),
        };
        let (b, t, c) = layout.shape().dims3()?;
        if t < self.kernel {
            candle_core::bail!("unfold: {t} frames is shorter than the kernel {}", self.kernel)
        }
        let frames = (t - self.kernel) / self.stride + 1;
        let row = self.kernel * c;
        let mut out = vec![0f32; b * frames * row];
        out.par_chunks_mut(row).enumerate().for_each(|(i, dst)| {
            let (bi, fi) = (i / frames, i % frames);
            let src = bi * t * c + fi * self.stride * c;
            dst.copy_from_slice(&input[src..src + row]);
        });
        Ok((CpuStorage::F32(out), Shape::from((b, frames, row))))
    }
}

/// A strided, ungrouped, unpadded 1-D convolution on channels-last input `(batch, time, c_in)`
/// -> `(batch, frames, c_out)`. Untracked CPU inputs use im2col + one matrix product with no
/// layout changes; anything else goes through candle's differentiable `conv1d`.
pub fn conv1d_channels_last(
    xs: &Tensor,
    weight: &Tensor,
    unfolded_weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    let (c_out, _c_in, kernel) = weight.dims3()?;
    let out = if xs.device().is_cpu() && xs.dtype() == DType::F32 && !tracked(&[xs, weight]) {
        let (b, _, _) = xs.dims3()?;
        let cols = xs.contiguous()?.apply_op1_no_bwd(&UnfoldTime { kernel, stride })?;
        let frames = cols.dim(1)?;
        cols.reshape((b * frames, ()))?.matmul(unfolded_weight)?.reshape((b, frames, c_out))?
    } else {
        xs.transpose(1, 2)?.conv1d(weight, 0, stride, 1, 1)?.transpose(1, 2)?
    };
    match bias {
        Some(bias) => out.broadcast_add(bias),
        None => Ok(out),
    }
}

/// `(c_out, c_in, kernel)` PyTorch conv weight as the `(kernel * c_in, c_out)` matrix that multiplies
/// [`UnfoldTime`] rows.
pub fn unfold_conv_weight(weight: &Tensor) -> Result<Tensor> {
    let (c_out, c_in, kernel) = weight.dims3()?;
    weight.permute((0, 2, 1))?.contiguous()?.reshape((c_out, kernel * c_in))?.t()?.contiguous()
}

/// Mean over the time axis (dim 1) of a `(batch, time, features)` tensor.
pub fn mean_over_time(xs: &Tensor) -> Result<Tensor> {
    xs.mean(1)
}

/// The floating-point type the model runs in.
pub const MODEL_DTYPE: DType = DType::F32;

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn cpu_gelu_matches_candle_exact_gelu_forward_and_backward() {
        let xs = Tensor::arange(-8000i64, 8000, &Device::Cpu).unwrap().to_dtype(DType::F32).unwrap();
        let xs = (xs * 1e-3).unwrap();
        assert!(max_diff(&gelu(&xs).unwrap(), &xs.gelu_erf().unwrap()) < 1e-6);
        // Large magnitudes saturate correctly (x and 0).
        let big = Tensor::new(&[-100f32, -20.0, 20.0, 100.0], &Device::Cpu).unwrap();
        assert!(max_diff(&gelu(&big).unwrap(), &big.gelu_erf().unwrap()) < 1e-5);

        let var = Var::from_tensor(&xs).unwrap();
        let ours = gelu(var.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        let reference = var.as_tensor().gelu_erf().unwrap().sum_all().unwrap().backward().unwrap();
        let d = max_diff(ours.get(var.as_tensor()).unwrap(), reference.get(var.as_tensor()).unwrap());
        assert!(d < 1e-5, "gradient differs by {d}");
    }

    #[test]
    fn fast_and_differentiable_paths_agree() {
        let dev = Device::Cpu;
        let xs = Tensor::randn(0f32, 2.0, (3, 7, 33), &dev).unwrap();
        let w = Tensor::randn(1f32, 0.2, 33, &dev).unwrap();
        let b = Tensor::randn(0f32, 0.2, 33, &dev).unwrap();
        let tracked_xs = Var::from_tensor(&xs).unwrap();
        let t = tracked_xs.as_tensor();
        assert!(max_diff(&softmax_last_dim(&xs).unwrap(), &softmax_last_dim(t).unwrap()) < 1e-6);
        assert!(max_diff(&layer_norm(&xs, &w, &b, 1e-5).unwrap(), &layer_norm(t, &w, &b, 1e-5).unwrap()) < 1e-5);
        let gw = Tensor::randn(1f32, 0.2, 33, &dev).unwrap();
        let gb = Tensor::randn(0f32, 0.2, 33, &dev).unwrap();
        let fast = group_norm_per_channel(&xs, &gw, &gb, 1e-5).unwrap();
        let slow = group_norm_per_channel(t, &gw, &gb, 1e-5).unwrap();
        assert!(max_diff(&fast, &slow) < 1e-5);

        let w = Tensor::randn(0f32, 0.3, (5, 33, 3), &dev).unwrap();
        let fast = conv1d_channels_last(&xs, &w, &unfold_conv_weight(&w).unwrap(), None, 2).unwrap();
        let slow = conv1d_channels_last(t, &w, &unfold_conv_weight(&w).unwrap(), None, 2).unwrap();
        assert_eq!(fast.dims(), &[3, 3, 5]);
        assert!(max_diff(&fast, &slow) < 1e-5);
    }
}
