//! Multi-head attention without masks, every (sequence, head) pair as an independent task that
//! reads its head's columns straight out of the packed projections.
use rayon::prelude::*;

use super::kernels;
use super::matmul::{matmul, Dense, Epilogue, Mat, MatMut};

/// How queries, keys and values are projected. The query weights carry the `head_dim^-1/2` scale.
#[derive(Clone)]
pub(super) enum Projection {
    /// One product gives `[q, k, v]` (`3 d` columns): self-attention.
    Fused(Dense),
    /// Queries from one sequence, `[k, v]` (`2 d` columns) from another: cross-attention.
    Split { query: Dense, key_value: Dense },
}

#[derive(Clone)]
pub(super) struct MultiHead {
    pub projection: Projection,
    pub out: Dense,
    pub heads: usize,
    pub dim: usize,
}

/// A packed projection buffer: `rows` rows of `stride` values; queries, keys and values of head
/// `h` start at column `offset + h * head_dim`.
#[derive(Clone, Copy)]
struct Packed<'a> {
    data: &'a [f32],
    stride: usize,
}

impl MultiHead {
    /// Self-attention over `items` sequences of `t` rows each (`x`: `(items * t, dim)`): the
    /// concatenated head outputs before `out` (`(items * t, dim)`).
    pub fn self_context(&self, x: &[f32], items: usize, t: usize) -> Vec<f32> {
        match &self.projection {
            Projection::Fused(qkv) => {
                let packed = qkv.forward(x, items * t, Epilogue::Bias);
                let p = Packed { data: &packed, stride: 3 * self.dim };
                self.context(p, 0, p, self.dim, 2 * self.dim, items, t, t)
            }
            Projection::Split { .. } => self.cross_context(x, x, items, t, t),
        }
    }

    /// Attention of `query` rows over `key_value` rows, `items` pairs of sequences (`tq`, `tk`
    /// rows each).
    pub fn cross_context(&self, query: &[f32], key_value: &[f32], items: usize, tq: usize, tk: usize) -> Vec<f32> {
        let d = self.dim;
        match &self.projection {
            Projection::Split { query: wq, key_value: wkv } => {
                let (q, kv) =
                    rayon::join(|| wq.forward(query, items * tq, Epilogue::Bias), || wkv.forward(key_value, items * tk, Epilogue::Bias));
                self.context(Packed { data: &q, stride: d }, 0, Packed { data: &kv, stride: 2 * d }, 0, d, items, tq, tk)
            }
            Projection::Fused(qkv) => {
                let (q, kv) =
                    rayon::join(|| qkv.forward(query, items * tq, Epilogue::Bias), || qkv.forward(key_value, items * tk, Epilogue::Bias));
                self.context(Packed { data: &q, stride: 3 * d }, 0, Packed { data: &kv, stride: 3 * d }, d, 2 * d, items, tq, tk)
            }
        }
    }

    /// `softmax(Q Kᵀ) V` per (item, head), written into the head's columns of the context.
    #[allow(clippy::too_many_arguments)]
    fn context(&self, q: Packed<'_>, q_off: usize, kv: Packed<'_>, k_off: usize, v_off: usize, items: usize, tq: usize, tk: usize) -> Vec<f32> {
        let hd = self.dim / self.heads;
        let mut ctx = vec![0f32; items * tq * self.dim];
        let mut tasks: Vec<(usize, usize, MatMut<'_>)> = Vec::with_capacity(items * self.heads);
        for (b, rows) in MatMut::rows(&mut ctx, items * tq, self.dim).row_blocks(tq).into_iter().enumerate() {
            for (h, block) in rows.col_blocks(self.heads, 1).into_iter().enumerate() {
                tasks.push((b, h, block));
            }
        }
        tasks.par_iter_mut().for_each(|(b, h, out)| {
            let q_view = Mat::new(&q.data[*b * tq * q.stride + q_off + *h * hd..], tq, hd, q.stride, 1);
            let kv_base = *b * tk * kv.stride + *h * hd;
            let k_view = Mat::new(&kv.data[kv_base + k_off..], tk, hd, kv.stride, 1);
            let v_view = Mat::new(&kv.data[kv_base + v_off..], tk, hd, kv.stride, 1);
            let mut scores = vec![0f32; tq * tk];
            matmul(&mut MatMut::rows(&mut scores, tq, tk), q_view, k_view.t(), false, gemm::Parallelism::None);
            scores.chunks_exact_mut(tk).for_each(kernels::softmax);
            matmul(out, Mat::rows(&scores, tq, tk), v_view, false, gemm::Parallelism::None);
        });
        ctx
    }
}
