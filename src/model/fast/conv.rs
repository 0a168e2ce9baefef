//! The conv feature encoder and feature projection, time-major (`frames x channels`).
//!
//! Each conv layer is one matrix product per block of output frames, read straight from the input:
//! with stride `s`, kernel `k` and `c` input channels, output frame `t` needs the `k * c`
//! contiguous values starting at `t * s * c`, i.e. overlapping rows of a strided view (no im2col
//! copy). Blocks run in parallel; bias, norm and activation are applied to each block while it is
//! in cache. The first layer's GroupNorm (per channel, over time) is folded into its weights from
//! exact f64 statistics of the input windows, so the layer needs no second pass.
use rayon::prelude::*;

use super::kernels;
use super::matmul::{activate, matmul, Dense, Epilogue, Mat, MatMut};
use super::FastError;

/// PyTorch's default norm epsilon, used by the conv layers' norms.
const CONV_NORM_EPS: f64 = 1e-5;
/// Output frames per block (one product each).
const BLOCK_FRAMES: usize = 512;

#[derive(Clone)]
pub(super) enum ConvNorm {
    None,
    /// `nn.GroupNorm(C, C)`: every channel normalised over time (first layer only).
    Group { weight: Vec<f32>, bias: Vec<f32> },
    /// `nn.LayerNorm(C)` over the channels of every frame.
    Layer { weight: Vec<f32>, bias: Vec<f32> },
}

#[derive(Clone)]
pub(super) struct ConvLayer {
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    /// `(c_out, kernel * c_in)` row-major: output channel `o`, tap `j`, input channel `i` at
    /// `o * kernel * c_in + j * c_in + i`.
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub norm: ConvNorm,
    pub activation: Epilogue,
}

impl ConvLayer {
    /// Output frames for `frames` input frames (`None` if the input is shorter than the kernel).
    fn output_frames(&self, frames: usize) -> Option<usize> {
        (frames >= self.kernel).then(|| (frames - self.kernel) / self.stride + 1)
    }

    /// `input` `(frames, c_in)` -> `(frames', c_out)`.
    fn forward(&self, input: &[f32]) -> Result<Vec<f32>, FastError> {
        let frames_in = input.len() / self.c_in;
        let frames = self
            .output_frames(frames_in)
            .ok_or_else(|| FastError(format!("{frames_in} frames is shorter than the conv kernel {}", self.kernel)))?;
        let folded;
        let (weight, bias, layer_norm) = match &self.norm {
            ConvNorm::Group { weight, bias } => {
                folded = self.fold_group_norm(input, frames, weight, bias)?;
                (&folded.0, Some(&folded.1), None)
            }
            ConvNorm::Layer { weight, bias } => (&self.weight, self.bias.as_ref(), Some((weight, bias))),
            ConvNorm::None => (&self.weight, self.bias.as_ref(), None),
        };
        let row = self.kernel * self.c_in;
        let step = self.stride * self.c_in;
        let rhs = Mat::rows(weight, self.c_out, row).t();
        let mut out = vec![0f32; frames * self.c_out];
        out.par_chunks_mut(BLOCK_FRAMES * self.c_out).enumerate().for_each(|(block, chunk)| {
            let rows = chunk.len() / self.c_out;
            let lhs = Mat::new(&input[block * BLOCK_FRAMES * step..], rows, row, step, 1);
            matmul(&mut MatMut::rows(chunk, rows, self.c_out), lhs, rhs, false, gemm::Parallelism::None);
            if let Some(bias) = bias {
                for r in chunk.chunks_exact_mut(self.c_out) {
                    r.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
            }
            if let Some((w, b)) = layer_norm {
                kernels::layer_norm_rows(chunk, w, b, CONV_NORM_EPS as f32);
            }
            activate(chunk, self.activation);
        });
        Ok(out)
    }

    /// Weights and bias with the GroupNorm folded in: every output channel `y = w·x + b` is
    /// normalised by its mean and variance over time, which follow from the mean `m` and second
    /// moments `S` of the input windows: `E[y] = w·m + b`, `E[y²] = wᵀSw + 2b w·m + b²`.
    fn fold_group_norm(&self, input: &[f32], frames: usize, gamma: &[f32], beta: &[f32]) -> Result<(Vec<f32>, Vec<f32>), FastError> {
        if self.c_in != 1 {
            return Err(FastError("GroupNorm is only supported on the first (1-channel) conv layer".into()));
        }
        let k = self.kernel;
        let mut mean = vec![0f64; k];
        let mut second = vec![0f64; k * k];
        for t in 0..frames {
            let window = &input[t * self.stride..t * self.stride + k];
            for j in 0..k {
                let xj = window[j] as f64;
                mean[j] += xj;
                for l in j..k {
                    second[j * k + l] += xj * window[l] as f64;
                }
            }
        }
        let n = frames as f64;
        mean.iter_mut().for_each(|v| *v /= n);
        for j in 0..k {
            for l in j..k {
                second[j * k + l] /= n;
                second[l * k + j] = second[j * k + l];
            }
        }
        let mut weight = vec![0f32; self.weight.len()];
        let mut bias = vec![0f32; self.c_out];
        for c in 0..self.c_out {
            let w = &self.weight[c * k..(c + 1) * k];
            let b = self.bias.as_ref().map_or(0.0, |b| b[c] as f64);
            let wm: f64 = w.iter().zip(&mean).map(|(&a, m)| a as f64 * m).sum();
            let mut wsw = 0f64;
            for j in 0..k {
                for l in 0..k {
                    wsw += w[j] as f64 * second[j * k + l] * w[l] as f64;
                }
            }
            let mu = wm + b;
            let var = (wsw + 2.0 * b * wm + b * b - mu * mu).max(0.0);
            let scale = gamma[c] as f64 / (var + CONV_NORM_EPS).sqrt();
            for j in 0..k {
                weight[c * k + j] = (w[j] as f64 * scale) as f32;
            }
            bias[c] = ((b - mu) * scale + beta[c] as f64) as f32;
        }
        Ok((weight, bias))
    }
}

/// `Wav2Vec2FeatureEncoder`.
#[derive(Clone)]
pub(super) struct ConvStack {
    pub layers: Vec<ConvLayer>,
}

impl ConvStack {
    /// One segment's samples -> `(frames, channels)` and the frame count.
    pub fn forward(&self, samples: &[f32]) -> Result<(Vec<f32>, usize), FastError> {
        let mut layers = self.layers.iter();
        let first = layers.next().ok_or_else(|| FastError("no conv layers".into()))?;
        let mut x = first.forward(samples)?;
        let mut channels = first.c_out;
        for layer in layers {
            x = layer.forward(&x)?;
            channels = layer.c_out;
        }
        let frames = x.len() / channels;
        Ok((x, frames))
    }
}

/// `Wav2Vec2FeatureProjection`: LayerNorm over conv channels, then a linear map.
#[derive(Clone)]
pub(super) struct FeatureProjection {
    pub norm_weight: Vec<f32>,
    pub norm_bias: Vec<f32>,
    pub eps: f32,
    pub projection: Dense,
}

impl FeatureProjection {
    /// `(rows, conv_dim)` (normalised in place) -> `(rows, hidden)`.
    pub fn forward(&self, mut features: Vec<f32>, rows: usize) -> Vec<f32> {
        let dim = self.norm_weight.len();
        features
            .par_chunks_mut(dim * 64)
            .for_each(|c| kernels::layer_norm_rows(c, &self.norm_weight, &self.norm_bias, self.eps));
        self.projection.forward(&features, rows, Epilogue::Bias)
    }
}
