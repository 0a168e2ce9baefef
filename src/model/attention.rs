//! The reference code's `AttentionLayer`: `nn.MultiheadAttention` (names `self_attn.in_proj_weight`,
//! `self_attn.in_proj_bias`, `self_attn.out_proj.*`) followed by a post-norm ReLU feed-forward.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::{self, LayerNorm, Linear};

/// PyTorch's `nn.LayerNorm` default.
const NORM_EPS: f64 = 1e-5;

/// Multi-head scaled dot-product attention, no mask, inference (no dropout): PyTorch's
/// `nn.MultiheadAttention` (packed input projection, [`MultiheadAttention::load`]) or HF's
/// `Wav2Vec2Attention` (separate projections, [`MultiheadAttention::load_separate`]).
#[derive(Debug, Clone)]
pub struct MultiheadAttention {
    pub(crate) q_proj: Linear,
    pub(crate) k_proj: Linear,
    pub(crate) v_proj: Linear,
    pub(crate) out_proj: Linear,
    pub(crate) num_heads: usize,
    pub(crate) head_dim: usize,
}

impl MultiheadAttention {
    pub fn load(vb: VarBuilder, d: usize, num_heads: usize) -> Result<Self> {
        // Xavier-uniform for the packed projection and zero biases, like PyTorch.
        let bound = (6.0 / (d + 3 * d) as f64).sqrt();
        let in_w = vb.get_with_hints((3 * d, d), "in_proj_weight", candle_nn::Init::Uniform { lo: -bound, up: bound })?;
        let in_b = vb.get_with_hints(3 * d, "in_proj_bias", candle_nn::Init::Const(0.0))?;
        let part = |i: usize| -> Result<Linear> {
            Ok(Linear::from_parts(in_w.narrow(0, i * d, d)?, Some(in_b.narrow(0, i * d, d)?)))
        };
        Ok(Self {
            q_proj: part(0)?,
            k_proj: part(1)?,
            v_proj: part(2)?,
            out_proj: Linear::load(vb.pp("out_proj"), d, d)?,
            num_heads,
            head_dim: d / num_heads,
        })
    }

    /// The same attention stored with separate projections (`q_proj`, `k_proj`, `v_proj`,
    /// `out_proj`, each with weight and bias), as HF's `Wav2Vec2Attention` names them.
    pub fn load_separate(vb: VarBuilder, d: usize, num_heads: usize) -> Result<Self> {
        Ok(Self {
            q_proj: Linear::load(vb.pp("q_proj"), d, d)?,
            k_proj: Linear::load(vb.pp("k_proj"), d, d)?,
            v_proj: Linear::load(vb.pp("v_proj"), d, d)?,
            out_proj: Linear::load(vb.pp("out_proj"), d, d)?,
            num_heads,
            head_dim: d / num_heads,
        })
    }

    /// `query` `(batch, tq, d)`, `key_value` `(batch, tk, d)` -> `(batch, tq, d)`.
    pub fn forward(&self, query: &Tensor, key_value: &Tensor) -> Result<Tensor> {
        let (b, tq, d) = query.dims3()?;
        let tk = key_value.dim(1)?;
        let split = |x: Tensor, t: usize| -> Result<Tensor> {
            x.reshape((b, t, self.num_heads, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let scale = (self.head_dim as f64).powf(-0.5);
        let q = split((self.q_proj.forward(query)? * scale)?, tq)?;
        let k = split(self.k_proj.forward(key_value)?, tk)?;
        let v = split(self.v_proj.forward(key_value)?, tk)?;
        let weights = ops::softmax_last_dim(&q.matmul(&k.t()?.contiguous()?)?)?;
        let out = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, tq, d))?;
        self.out_proj.forward(&out)
    }
}

#[derive(Debug, Clone)]
pub struct AttentionLayer {
    pub(crate) self_attn: MultiheadAttention,
    pub(crate) linear1: Linear,
    pub(crate) linear2: Linear,
    pub(crate) norm1: LayerNorm,
    pub(crate) norm2: LayerNorm,
}

impl AttentionLayer {
    pub fn load(vb: VarBuilder, d: usize, num_heads: usize, ffn_multiplier: usize) -> Result<Self> {
        Ok(Self {
            self_attn: MultiheadAttention::load(vb.pp("self_attn"), d, num_heads)?,
            linear1: Linear::load(vb.pp("linear1"), d, ffn_multiplier * d)?,
            linear2: Linear::load(vb.pp("linear2"), ffn_multiplier * d, d)?,
            norm1: LayerNorm::load(vb.pp("norm1"), d, NORM_EPS)?,
            norm2: LayerNorm::load(vb.pp("norm2"), d, NORM_EPS)?,
        })
    }

    /// `a = MHA(query=tar, key=src, value=src)`; `x = LN1(src + a)`; `x = LN2(x + W2 ReLU(W1 x))`.
    pub fn forward(&self, src: &Tensor, tar: &Tensor) -> Result<Tensor> {
        let attended = self.self_attn.forward(tar, src)?;
        let x = self.norm1.forward(&(src + attended)?)?;
        let ff = self.linear2.forward(&self.linear1.forward(&x)?.relu()?)?;
        self.norm2.forward(&(x + ff)?)
    }
}
