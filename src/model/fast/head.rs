//! The fused head: cross-attention between the audio and pitch branches, the BiLSTM over MFCC,
//! and self-attention + classifier on the fused vector.
use rayon::prelude::*;

use super::attention::MultiHead;
use super::encoder::Norm;
use super::matmul::{Dense, Epilogue};
use crate::model::lstm;

/// What follows the attention in the reference code's `AttentionLayer`: residual + `norm1`, ReLU
/// feed-forward, residual + `norm2`.
#[derive(Clone)]
pub(super) struct PostAttention {
    pub linear1: Dense,
    pub linear2: Dense,
    pub norm1: Norm,
    pub norm2: Norm,
}

impl PostAttention {
    /// `x = norm1(residual + out(ctx))`; `norm2(x + linear2(relu(linear1(x))))`.
    fn apply(&self, out: &Dense, ctx: &[f32], mut x: Vec<f32>, rows: usize) -> Vec<f32> {
        out.forward_into(ctx, rows, &mut x, Epilogue::Bias, true);
        self.norm1.apply(&mut x);
        let hidden = self.linear1.forward(&x, rows, Epilogue::BiasRelu);
        self.linear2.forward_into(&hidden, rows, &mut x, Epilogue::Bias, true);
        self.norm2.apply(&mut x);
        x
    }
}

/// The reference code's `AttentionLayer` used across the branches.
#[derive(Clone)]
pub(super) struct CrossAttentionLayer {
    pub attention: MultiHead,
    pub rest: PostAttention,
}

impl CrossAttentionLayer {
    /// `src` attended by `tar` (queries from `tar`, keys and values from `src`), `items` pairs of
    /// `t`-row sequences: `(items * t, dim)`.
    pub fn forward(&self, src: &[f32], tar: &[f32], items: usize, t: usize) -> Vec<f32> {
        let ctx = self.attention.cross_context(tar, src, items, t, t);
        self.rest.apply(&self.attention.out, &ctx, src.to_vec(), items * t)
    }
}

/// The reference `AttentionLayer` on a length-1 sequence (the fused vector): softmax over a single
/// key is exactly 1, so attention reduces to `out(value(x))` and queries and keys are never needed.
#[derive(Clone)]
pub(super) struct SingleTokenLayer {
    pub value: Dense,
    pub out: Dense,
    pub rest: PostAttention,
}

impl SingleTokenLayer {
    /// One row `(dim)` -> `(dim)`.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let ctx = self.value.forward(x, 1, Epilogue::Bias);
        self.rest.apply(&self.out, &ctx, x.to_vec(), 1)
    }
}

#[derive(Clone)]
pub(super) struct LstmDirection {
    /// Input projection with `bias_ih + bias_hh`.
    pub input: Dense,
    /// `W_hh` in the recurrence's layout.
    pub recurrent_t: Vec<f32>,
}

/// Single-layer bidirectional LSTM reduced to the mean of its outputs over time.
#[derive(Clone)]
pub(super) struct BiLstm {
    pub forward_dir: LstmDirection,
    pub backward_dir: LstmDirection,
    pub hidden: usize,
    pub input: usize,
}

impl BiLstm {
    /// `mfcc` `(items * frames, input)` -> `(items, 2 * hidden)`; every (item, direction) runs as its
    /// own task.
    pub fn mean_output(&self, mfcc: &[f32], items: usize, frames: usize) -> Vec<f32> {
        let h = self.hidden;
        let mut out = vec![0f32; items * 2 * h];
        out.par_chunks_mut(h).enumerate().for_each(|(task, dst)| {
            let (item, reverse) = (task / 2, task % 2 == 1);
            let dir = if reverse { &self.backward_dir } else { &self.forward_dir };
            let x = &mfcc[item * frames * self.input..(item + 1) * frames * self.input];
            let gates = dir.input.forward(x, frames, Epilogue::Bias);
            let sum = lstm::sum_of_hidden_states(&gates, &dir.recurrent_t, frames, h, reverse);
            // As the differentiable path: multiply by the reciprocal of the frame count.
            let scale = (1.0 / frames as f64) as f32;
            dst.iter_mut().zip(sum).for_each(|(d, s)| *d = s * scale);
        });
        out
    }
}

#[derive(Clone)]
pub(super) struct Head {
    pub attn_a_p: CrossAttentionLayer,
    pub attn_p_a: CrossAttentionLayer,
    pub self_attn: SingleTokenLayer,
    pub fc: Dense,
    pub classifier: Dense,
}

impl Head {
    /// `mean_t [attn_a_p(audio, pitch), attn_p_a(pitch, audio)]`: `(items, 2 * dim)`.
    pub fn cross_mean(&self, audio: &[f32], pitch: &[f32], items: usize, t: usize, dim: usize) -> Vec<f32> {
        let (a_p, p_a) = rayon::join(
            || self.attn_a_p.forward(audio, pitch, items, t),
            || self.attn_p_a.forward(pitch, audio, items, t),
        );
        let mut out = vec![0f32; items * 2 * dim];
        for (item, dst) in out.chunks_mut(2 * dim).enumerate() {
            for (half, states) in [&a_p, &p_a].into_iter().enumerate() {
                let seq = &states[item * t * dim..(item + 1) * t * dim];
                let mut sum = vec![0f64; dim];
                for frame in seq.chunks_exact(dim) {
                    sum.iter_mut().zip(frame).for_each(|(s, &v)| *s += v as f64);
                }
                for (d, s) in dst[half * dim..(half + 1) * dim].iter_mut().zip(sum) {
                    *d = (s / t as f64) as f32;
                }
            }
        }
        out
    }

    /// Logits `(items)` from the cross-attention means and the LSTM means.
    pub fn logits(&self, cross: &[f32], lstm_mean: &[f32], items: usize) -> Vec<f32> {
        let cross_dim = cross.len() / items;
        let lstm_dim = lstm_mean.len() / items;
        let mut fused = Vec::with_capacity(items * (cross_dim + lstm_dim));
        for item in 0..items {
            fused.extend_from_slice(&cross[item * cross_dim..(item + 1) * cross_dim]);
            fused.extend_from_slice(&lstm_mean[item * lstm_dim..(item + 1) * lstm_dim]);
        }
        // Item by item: a segment's logit never depends on the others' rows.
        (0..items)
            .map(|item| {
                let row = &fused[item * (cross_dim + lstm_dim)..(item + 1) * (cross_dim + lstm_dim)];
                let x = self.self_attn.forward(row);
                let mut hidden = self.fc.forward(&x, 1, Epilogue::Bias);
                hidden.iter_mut().for_each(|v| *v = v.tanh());
                self.classifier.forward(&hidden, 1, Epilogue::Bias)[0]
            })
            .collect()
    }
}
