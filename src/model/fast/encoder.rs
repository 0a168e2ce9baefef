//! The wav2vec2 transformer encoder (positional convolution, post- or pre-norm layers) on
//! `(items * frames, hidden)` row-major states.
use rayon::prelude::*;

use super::attention::MultiHead;
use super::kernels;
use super::matmul::{activate, matmul, Dense, Epilogue, Mat, MatMut};

/// `nn.LayerNorm` weights.
#[derive(Clone)]
pub(super) struct Norm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl Norm {
    /// Normalises every row of `rows` in place, rows in parallel.
    pub fn apply(&self, rows: &mut [f32]) {
        let dim = self.weight.len();
        rows.par_chunks_mut(dim * 32).for_each(|c| kernels::layer_norm_rows(c, &self.weight, &self.bias, self.eps));
    }
}

/// `Wav2Vec2PositionalConvEmbedding`: a grouped convolution over time (padding `kernel / 2`, the
/// extra last frame of an even kernel dropped), then the activation. Each group is one product of
/// the group's zero-padded channels, read as overlapping rows, with its weights.
#[derive(Clone)]
pub(super) struct PositionalConv {
    /// Per group: `(group_width, kernel * group_width)` row-major (output channel, tap, input
    /// channel).
    pub group_weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
    pub kernel: usize,
    pub activation: Epilogue,
}

impl PositionalConv {
    /// `x` `(items * t, dim)` -> the embedding to add, same shape.
    pub fn forward(&self, x: &[f32], items: usize, t: usize, dim: usize) -> Vec<f32> {
        let groups = self.group_weights.len();
        let width = dim / groups;
        let pad = self.kernel / 2;
        let mut out = vec![0f32; items * t * dim];
        let mut tasks: Vec<(usize, usize, MatMut<'_>)> = Vec::with_capacity(items * groups);
        for (b, rows) in MatMut::rows(&mut out, items * t, dim).row_blocks(t).into_iter().enumerate() {
            for (g, block) in rows.col_blocks(groups, 1).into_iter().enumerate() {
                tasks.push((b, g, block));
            }
        }
        tasks.par_iter_mut().for_each(|(b, g, block)| {
            // The group's channels with `pad` zero frames before and enough after for every window.
            let padded_frames = t + self.kernel - 1;
            let mut padded = vec![0f32; padded_frames * width];
            for s in 0..t {
                let src = &x[(*b * t + s) * dim + *g * width..][..width];
                padded[(s + pad) * width..(s + pad + 1) * width].copy_from_slice(src);
            }
            let lhs = Mat::new(&padded, t, self.kernel * width, width, 1);
            let rhs = Mat::rows(&self.group_weights[*g], width, self.kernel * width).t();
            matmul(block, lhs, rhs, false, gemm::Parallelism::None);
            let bias = &self.bias[*g * width..(*g + 1) * width];
            let activation = self.activation;
            block.for_each_row(|_, row| {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                activate(row, activation);
            });
        });
        out
    }
}

#[derive(Clone)]
pub(super) struct EncoderLayer {
    pub attention: MultiHead,
    pub layer_norm: Norm,
    pub intermediate: Dense,
    pub output: Dense,
    pub final_layer_norm: Norm,
    pub activation: Epilogue,
}

impl EncoderLayer {
    fn forward_post_norm(&self, x: &mut [f32], items: usize, t: usize) {
        let rows = items * t;
        let ctx = self.attention.self_context(x, items, t);
        self.attention.out.forward_into(&ctx, rows, x, Epilogue::Bias, true);
        self.layer_norm.apply(x);
        let hidden = self.intermediate.forward(x, rows, self.activation);
        self.output.forward_into(&hidden, rows, x, Epilogue::Bias, true);
        self.final_layer_norm.apply(x);
    }

    pub fn forward_pre_norm(&self, x: &mut [f32], items: usize, t: usize) {
        let rows = items * t;
        let mut normed = x.to_vec();
        self.layer_norm.apply(&mut normed);
        let ctx = self.attention.self_context(&normed, items, t);
        self.attention.out.forward_into(&ctx, rows, x, Epilogue::Bias, true);
        normed.copy_from_slice(x);
        self.final_layer_norm.apply(&mut normed);
        let hidden = self.intermediate.forward(&normed, rows, self.activation);
        self.output.forward_into(&hidden, rows, x, Epilogue::Bias, true);
    }
}

/// `Wav2Vec2Encoder` (post-norm) / `Wav2Vec2EncoderStableLayerNorm` (pre-norm).
#[derive(Clone)]
pub(super) struct Encoder {
    pub pos_conv: PositionalConv,
    pub layer_norm: Norm,
    pub layers: Vec<EncoderLayer>,
    pub pre_norm: bool,
    pub dim: usize,
}

impl Encoder {
    /// `(items * t, dim)` projected features -> `last_hidden_state`, same shape.
    pub fn forward(&self, mut x: Vec<f32>, items: usize, t: usize) -> Vec<f32> {
        let pos = self.pos_conv.forward(&x, items, t, self.dim);
        x.par_chunks_mut(1 << 14).zip(pos.par_chunks(1 << 14)).for_each(|(a, p)| {
            a.iter_mut().zip(p).for_each(|(v, q)| *v += q);
        });
        if !self.pre_norm {
            self.layer_norm.apply(&mut x);
        }
        for layer in &self.layers {
            if self.pre_norm {
                layer.forward_pre_norm(&mut x, items, t);
            } else {
                layer.forward_post_norm(&mut x, items, t);
            }
        }
        if self.pre_norm {
            self.layer_norm.apply(&mut x);
        }
        x
    }
}
