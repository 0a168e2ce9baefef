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
    c_in: usize,
    pub c_out: usize,
    kernel: usize,
    stride: usize,
    /// `(c_out, kernel * c_in)` row-major: output channel `o`, tap `j`, input channel `i` at
    /// `o * kernel * c_in + j * c_in + i`.
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    norm: ConvNorm,
    activation: Epilogue,
    /// `W0 + W2` `(c_out, c_in)` for kernel-3, stride-2 layers computed in polyphase form.
    outer_taps: Option<Vec<f32>>,
}

/// Input channels from which the polyphase form of a kernel-3, stride-2 layer pays off (it saves a
/// sixth of the multiply-adds for a few extra passes over the input).
const POLYPHASE_MIN_CHANNELS: usize = 32;

impl ConvLayer {
    /// `weight` in PyTorch's layout `(c_out, c_in, kernel)`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        c_out: usize,
        c_in: usize,
        kernel: usize,
        stride: usize,
        torch_weight: &[f32],
        bias: Option<Vec<f32>>,
        norm: ConvNorm,
        activation: Epilogue,
    ) -> Self {
        assert_eq!(torch_weight.len(), c_out * c_in * kernel);
        let mut weight = vec![0f32; torch_weight.len()];
        for o in 0..c_out {
            for i in 0..c_in {
                for j in 0..kernel {
                    weight[(o * kernel + j) * c_in + i] = torch_weight[(o * c_in + i) * kernel + j];
                }
            }
        }
        let polyphase = kernel == 3 && stride == 2 && c_in >= POLYPHASE_MIN_CHANNELS && !matches!(norm, ConvNorm::Group { .. });
        let outer_taps = polyphase.then(|| {
            let row = 3 * c_in;
            (0..c_out)
                .flat_map(|o| (0..c_in).map(move |i| (o, i)))
                .map(|(o, i)| weight[o * row + i] + weight[o * row + 2 * c_in + i])
                .collect()
        });
        Self { c_in, c_out, kernel, stride, weight, bias, norm, activation, outer_taps }
    }

    /// Output frames for `frames` input frames (`None` if the input is shorter than the kernel).
    fn output_frames(&self, frames: usize) -> Option<usize> {
        (frames >= self.kernel).then(|| (frames - self.kernel) / self.stride + 1)
    }

    /// `input` `(frames, c_in)` -> `(frames', c_out)`.
    pub fn forward(&self, input: &[f32]) -> Result<Vec<f32>, FastError> {
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
        let mut out = vec![0f32; frames * self.c_out];
        out.par_chunks_mut(BLOCK_FRAMES * self.c_out).enumerate().for_each(|(block, chunk)| {
            let first = block * BLOCK_FRAMES;
            match &self.outer_taps {
                Some(outer) => self.block_polyphase(input, first, chunk, outer),
                None => self.block_direct(input, first, chunk, weight),
            }
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

    /// Output frames `first..` (as many as `chunk` holds) as one product with overlapping rows of
    /// the input.
    fn block_direct(&self, input: &[f32], first: usize, chunk: &mut [f32], weight: &[f32]) {
        let row = self.kernel * self.c_in;
        let step = self.stride * self.c_in;
        let rows = chunk.len() / self.c_out;
        let lhs = Mat::new(&input[first * step..], rows, row, step, 1);
        let rhs = Mat::rows(weight, self.c_out, row).t();
        matmul(&mut MatMut::rows(chunk, rows, self.c_out), lhs, rhs, false, gemm::Parallelism::None);
    }

    /// Kernel 3, stride 2, two output frames at a time (Winograd F(2,2) on the even input frames):
    /// with `d0, d1, d2` the even and `o0, o1` the odd input frames of a pair,
    /// `y0 = W0 (d0 - d1) + W1 o0 + m` and `y1 = W2 (d2 - d1) + W1 o1 + m`, `m = (W0 + W2) d1`:
    /// five products of `c_in` columns per pair instead of six.
    fn block_polyphase(&self, input: &[f32], first: usize, chunk: &mut [f32], outer: &[f32]) {
        let (c, co) = (self.c_in, self.c_out);
        let rows = chunk.len() / co;
        let pairs = rows / 2;
        let (paired, last) = chunk.split_at_mut(pairs * 2 * co);
        if pairs > 0 {
            let base = 2 * first * c;
            let (mut even, mut odd) = MatMut::rows(paired, pairs, 2 * co).split_cols(co);
            let middle = Mat::new(&input[base + 2 * c..], pairs, c, 4 * c, 1);
            matmul(&mut even, middle, Mat::rows(outer, co, c).t(), false, gemm::Parallelism::None);
            for r in 0..pairs {
                odd.row(r).copy_from_slice(even.row(r));
            }
            // [d0 - d1 | o0] and [o1 | d2 - d1] per pair, multiplied by [W0 | W1] and [W1 | W2]:
            // the first and last two thirds of every weight row.
            let mut first_half = vec![0f32; pairs * 2 * c];
            let mut second_half = vec![0f32; pairs * 2 * c];
            for p in 0..pairs {
                let x = &input[base + 4 * p * c..base + (4 * p + 5) * c];
                let (d0, o0, d1, o1, d2) = (&x[..c], &x[c..2 * c], &x[2 * c..3 * c], &x[3 * c..4 * c], &x[4 * c..]);
                let (e_diff, e_odd) = first_half[p * 2 * c..(p + 1) * 2 * c].split_at_mut(c);
                e_diff.iter_mut().zip(d0).zip(d1).for_each(|((e, a), b)| *e = a - b);
                e_odd.copy_from_slice(o0);
                let (s_odd, s_diff) = second_half[p * 2 * c..(p + 1) * 2 * c].split_at_mut(c);
                s_odd.copy_from_slice(o1);
                s_diff.iter_mut().zip(d2).zip(d1).for_each(|((e, a), b)| *e = a - b);
            }
            let w_first = Mat::new(&self.weight, 2 * c, co, 1, 3 * c);
            let w_second = Mat::new(&self.weight[c..], 2 * c, co, 1, 3 * c);
            matmul(&mut even, Mat::rows(&first_half, pairs, 2 * c), w_first, true, gemm::Parallelism::None);
            matmul(&mut odd, Mat::rows(&second_half, pairs, 2 * c), w_second, true, gemm::Parallelism::None);
        }
        if !last.is_empty() {
            self.block_direct(input, first + 2 * pairs, last, &self.weight);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 * 0.618 + seed) * 2.1).sin()).collect()
    }

    /// `(frames_out, c_out)` by the definition, in f64.
    fn naive(input: &[f32], torch_weight: &[f32], c_in: usize, c_out: usize, kernel: usize, stride: usize) -> Vec<f64> {
        let frames = (input.len() / c_in - kernel) / stride + 1;
        let mut out = vec![0f64; frames * c_out];
        for t in 0..frames {
            for o in 0..c_out {
                let mut s = 0f64;
                for i in 0..c_in {
                    for j in 0..kernel {
                        s += torch_weight[(o * c_in + i) * kernel + j] as f64 * input[(t * stride + j) * c_in + i] as f64;
                    }
                }
                out[t * c_out + o] = s;
            }
        }
        out
    }

    #[test]
    fn direct_and_polyphase_layers_match_the_definition() {
        // 1100 input frames -> 549 outputs: more than one block, and an odd count (the last frame
        // of the polyphase form has no partner).
        for (c_in, kernel, stride, frames_in) in [(32, 3, 2, 1100), (32, 3, 2, 1101), (5, 3, 2, 1100), (32, 2, 2, 1100), (1, 10, 5, 3000)] {
            let c_out = 8;
            let weight = values(c_out * c_in * kernel, 0.3);
            let layer = ConvLayer::new(c_out, c_in, kernel, stride, &weight, None, ConvNorm::None, Epilogue::Bias);
            assert_eq!(layer.outer_taps.is_some(), c_in >= POLYPHASE_MIN_CHANNELS && kernel == 3 && stride == 2);
            let input = values(frames_in * c_in, 0.7);
            let got = layer.forward(&input).unwrap();
            let want = naive(&input, &weight, c_in, c_out, kernel, stride);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()), "c_in {c_in}, k {kernel}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn folded_group_norm_matches_normalising_the_output() {
        let (c_out, kernel, stride) = (6, 10, 5);
        let weight = values(c_out * kernel, 0.2);
        let bias = values(c_out, 0.9);
        let (gamma, beta) = (values(c_out, 1.3), values(c_out, 1.7));
        let input: Vec<f32> = values(4000, 0.4).iter().map(|v| 3.0 * v + 0.5).collect();
        let norm = ConvNorm::Group { weight: gamma.clone(), bias: beta.clone() };
        let layer = ConvLayer::new(c_out, 1, kernel, stride, &weight, Some(bias.clone()), norm, Epilogue::Bias);
        let got = layer.forward(&input).unwrap();
        let mut want = naive(&input, &weight, 1, c_out, kernel, stride);
        let frames = want.len() / c_out;
        for o in 0..c_out {
            let column: Vec<f64> = (0..frames).map(|t| want[t * c_out + o] + bias[o] as f64).collect();
            let mean = column.iter().sum::<f64>() / frames as f64;
            let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / frames as f64;
            for t in 0..frames {
                want[t * c_out + o] = (column[t] - mean) / (var + CONV_NORM_EPS).sqrt() * gamma[o] as f64 + beta[o] as f64;
            }
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }
}
