//! CAM++ on the CPU without candle's per-op overhead: every convolution is one `gemm` product
//! (im2col for kernels wider than 1), a dense block writes each layer's output straight into
//! its concatenated buffer, and the context masks are computed once per 100-frame segment
//! (they are constant within one). One utterance per thread, each product single-threaded, so
//! the two cores of a small machine work on two pieces at once. Same numbers as
//! [`super::CamPlus::forward`] up to float rounding (`tests/campplus.rs` checks both against
//! the reference).
use gemm::Parallelism;

use super::super::fast::matmul::{matmul, Mat, MatMut};
use super::super::scoring::sigmoid;

/// A convolution's weight as the `(out, in × kernel)` matrix that multiplies im2col columns.
pub(super) struct ConvWeights {
    pub matrix: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub out: usize,
    pub input: usize,
    /// Kernel rows (1 for a 1-D convolution) and columns.
    pub kernel: (usize, usize),
}

/// Batch-norm folded to a per-channel scale and shift.
pub(super) struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl Affine {
    /// `x` is `channels × len`; applies the scale and shift, then a ReLU when asked.
    fn apply(&self, x: &mut [f32], len: usize, relu: bool) {
        for ((row, s), b) in x.chunks_exact_mut(len).zip(&self.scale).zip(&self.shift) {
            for v in row {
                let y = *v * s + b;
                *v = if relu { y.max(0.0) } else { y };
            }
        }
    }

    fn applied(&self, x: &[f32], len: usize, relu: bool) -> Vec<f32> {
        let mut out = x.to_vec();
        self.apply(&mut out, len, relu);
        out
    }
}

/// `out = W · cols` (+ bias), `cols` being `(in × kernel) × len`.
fn product(w: &ConvWeights, cols: &[f32], len: usize) -> Vec<f32> {
    let depth = w.input * w.kernel.0 * w.kernel.1;
    let mut out = vec![0.0f32; w.out * len];
    matmul(
        &mut MatMut::rows(&mut out, w.out, len),
        Mat::rows(&w.matrix, w.out, depth),
        Mat::rows(cols, depth, len),
        false,
        Parallelism::None,
    );
    if let Some(bias) = &w.bias {
        for (row, b) in out.chunks_exact_mut(len).zip(bias) {
            row.iter_mut().for_each(|v| *v += b);
        }
    }
    out
}

/// A 2-D convolution of `x` (`in × rows × cols`), zero-padded by `kernel / 2`, stride `(stride, 1)`.
/// Returns the output and its number of rows.
fn conv2d(x: &[f32], rows: usize, cols: usize, w: &ConvWeights, stride: usize) -> (Vec<f32>, usize) {
    let (kh, kw) = w.kernel;
    let (ph, pw) = (kh / 2, kw / 2);
    let out_rows = (rows + 2 * ph - kh) / stride + 1;
    let len = out_rows * cols;
    let mut im2col = vec![0.0f32; w.input * kh * kw * len];
    for c in 0..w.input {
        let plane = &x[c * rows * cols..(c + 1) * rows * cols];
        for ky in 0..kh {
            for kx in 0..kw {
                let dst = &mut im2col[((c * kh + ky) * kw + kx) * len..][..len];
                for i in 0..out_rows {
                    let Some(src_row) = (i * stride + ky).checked_sub(ph).filter(|&r| r < rows) else { continue };
                    let src = &plane[src_row * cols..(src_row + 1) * cols];
                    let line = &mut dst[i * cols..(i + 1) * cols];
                    // Column j reads source column j + kx - pw.
                    let (from, to) = (pw.saturating_sub(kx), (cols + pw).saturating_sub(kx).min(cols));
                    if from < to {
                        line[from..to].copy_from_slice(&src[from + kx - pw..to + kx - pw]);
                    }
                }
            }
        }
    }
    (product(w, &im2col, len), out_rows)
}

/// A 1-D convolution of `x` (`in × len`) with `padding`, `stride` and `dilation`. Returns the
/// output and its length.
fn conv1d(x: &[f32], len: usize, w: &ConvWeights, padding: usize, stride: usize, dilation: usize) -> (Vec<f32>, usize) {
    let k = w.kernel.1;
    let out_len = (len + 2 * padding - dilation * (k - 1) - 1) / stride + 1;
    if k == 1 && stride == 1 && padding == 0 {
        return (product(w, x, len), len);
    }
    let mut im2col = vec![0.0f32; w.input * k * out_len];
    for c in 0..w.input {
        let src = &x[c * len..(c + 1) * len];
        for kk in 0..k {
            let dst = &mut im2col[(c * k + kk) * out_len..][..out_len];
            for (j, v) in dst.iter_mut().enumerate() {
                if let Some(t) = (j * stride + kk * dilation).checked_sub(padding).filter(|&t| t < len) {
                    *v = src[t];
                }
            }
        }
    }
    (product(w, &im2col, out_len), out_len)
}

pub(super) struct ResBlockCpu {
    pub conv1: ConvWeights,
    pub bn1: Affine,
    pub conv2: ConvWeights,
    pub bn2: Affine,
    pub shortcut: Option<(ConvWeights, Affine)>,
    pub stride: usize,
}

pub(super) struct DenseLayerCpu {
    pub bn_in: Affine,
    pub bottleneck: ConvWeights,
    pub bn_mid: Affine,
    pub local: ConvWeights,
    pub dilation: usize,
    pub mask_hidden: ConvWeights,
    pub mask_out: ConvWeights,
}

pub(super) struct CamPlusCpu {
    pub conv1: ConvWeights,
    pub bn1: Affine,
    pub blocks: Vec<ResBlockCpu>,
    pub conv2: ConvWeights,
    pub bn2: Affine,
    pub tdnn: ConvWeights,
    pub tdnn_bn: Affine,
    /// Per dense block: its layers and the transition (batch-norm, 1×1 convolution).
    pub dense: Vec<(Vec<DenseLayerCpu>, Affine, ConvWeights)>,
    pub out_bn: Affine,
    pub embedding: ConvWeights,
    pub embedding_bn: Affine,
    pub seg_len: usize,
}

impl CamPlusCpu {
    /// The embedding (not normalised) of mean-normalised features `frames × feat_dim`.
    pub fn forward(&self, features: &[f32], frames: usize, feat_dim: usize) -> Vec<f32> {
        // (1, feat_dim, frames): bands are rows, frames columns.
        let mut x = vec![0.0f32; feat_dim * frames];
        for (t, frame) in features.chunks_exact(feat_dim).enumerate() {
            for (f, v) in frame.iter().enumerate() {
                x[f * frames + t] = *v;
            }
        }
        let (mut x, mut rows) = conv2d(&x, feat_dim, frames, &self.conv1, 1);
        self.bn1.apply(&mut x, rows * frames, true);
        for block in &self.blocks {
            let (mut out, out_rows) = conv2d(&x, rows, frames, &block.conv1, block.stride);
            block.bn1.apply(&mut out, out_rows * frames, true);
            let (mut out, _) = conv2d(&out, out_rows, frames, &block.conv2, 1);
            block.bn2.apply(&mut out, out_rows * frames, false);
            let residual = match &block.shortcut {
                Some((conv, bn)) => {
                    let (mut s, _) = conv2d(&x, rows, frames, conv, block.stride);
                    bn.apply(&mut s, out_rows * frames, false);
                    s
                }
                None => x,
            };
            out.iter_mut().zip(&residual).for_each(|(o, r)| *o = (*o + r).max(0.0));
            (x, rows) = (out, out_rows);
        }
        let (mut x, rows) = conv2d(&x, rows, frames, &self.conv2, 2);
        self.bn2.apply(&mut x, rows * frames, true);
        // (channels × rows, frames) is the same memory as (channels, rows, frames).
        let (mut x, len) = conv1d(&x, frames, &self.tdnn, 2, 2, 1);
        self.tdnn_bn.apply(&mut x, len, true);
        let mut channels = self.tdnn.out;
        for (layers, transit_bn, transit) in &self.dense {
            let growth = layers.first().map_or(0, |l| l.local.out);
            let total = channels + layers.len() * growth;
            x.resize(total * len, 0.0);
            for layer in layers {
                let added = layer.forward(&x[..channels * len], len, self.seg_len);
                x[channels * len..(channels + growth) * len].copy_from_slice(&added);
                channels += growth;
            }
            x = product(transit, &transit_bn.applied(&x, len, true), len);
            channels = transit.out;
        }
        self.out_bn.apply(&mut x, len, true);
        let mut pooled = vec![0.0f32; 2 * channels];
        for (c, row) in x.chunks_exact(len).enumerate() {
            let mean = row.iter().sum::<f32>() / len as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / (len.max(2) - 1) as f32;
            pooled[c] = mean;
            pooled[channels + c] = var.sqrt();
        }
        let mut embedding = product(&self.embedding, &pooled, 1);
        self.embedding_bn.apply(&mut embedding, 1, false);
        embedding
    }
}

impl DenseLayerCpu {
    /// The `growth × len` channels this layer adds to `x` (`in × len`).
    fn forward(&self, x: &[f32], len: usize, seg_len: usize) -> Vec<f32> {
        let mut h = product(&self.bottleneck, &self.bn_in.applied(x, len, true), len);
        self.bn_mid.apply(&mut h, len, true);
        let k = self.local.kernel.1;
        let (mut y, _) = conv1d(&h, len, &self.local, (k - 1) / 2 * self.dilation, 1, self.dilation);
        // The mask's input is the utterance mean plus the frame's segment mean: one column per
        // segment.
        let segments = len.div_ceil(seg_len);
        let channels = self.bottleneck.out;
        let mut context = vec![0.0f32; channels * segments];
        for (row, ctx) in h.chunks_exact(len).zip(context.chunks_exact_mut(segments)) {
            let mean = row.iter().sum::<f32>() / len as f32;
            for (s, c) in ctx.iter_mut().enumerate() {
                let part = &row[s * seg_len..((s + 1) * seg_len).min(len)];
                *c = mean + part.iter().sum::<f32>() / part.len() as f32;
            }
        }
        let mut hidden = product(&self.mask_hidden, &context, segments);
        hidden.iter_mut().for_each(|v| *v = v.max(0.0));
        let mask = product(&self.mask_out, &hidden, segments);
        for (row, m) in y.chunks_exact_mut(len).zip(mask.chunks_exact(segments)) {
            for (t, v) in row.iter_mut().enumerate() {
                *v *= sigmoid(m[t / seg_len]);
            }
        }
        y
    }
}
