//! Whisper's encoder (HF `WhisperEncoder` names) as the fused model's audio branch, and the import
//! of its weights from CTranslate2 or HF folders (SPEC §5b).
pub mod config;
pub mod ct2;
pub mod encoder;
pub mod hf_import;
pub mod stats_head;

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

pub use config::WhisperConfig;
pub use encoder::WhisperEncoder;

use super::config::WhisperBranchConfig;
use super::ops::{self, Linear};

/// The fused model's Whisper audio branch: the encoder (frozen in training), a softmax weighting
/// of its hidden states (SUPERB's learned layer mix) and a projection to the head's width.
#[derive(Debug, Clone)]
pub struct WhisperBranch {
    /// `whisper.*`: the encoder's first `layers` layers.
    pub(crate) encoder: WhisperEncoder,
    /// `layer_weights` `(states,)`: softmax logits of the mix.
    pub(crate) layer_weights: Tensor,
    /// `audio_projection`: `d_model` -> the head's width.
    pub(crate) projection: Linear,
    pub(crate) normalize_layers: bool,
    pub(crate) frame_pooling: usize,
    /// `stats_head.*`, when configured.
    pub(crate) stats_head: Option<stats_head::StatsHead>,
}

/// LayerNorm's epsilon for the parameter-free normalisation of each hidden state.
const STATE_NORM_EPS: f64 = 1e-5;

impl WhisperBranch {
    /// `vb` points at the fused model's root. A fresh branch mixes every state equally.
    pub fn load(vb: VarBuilder, cfg: &WhisperBranchConfig, hidden: usize) -> Result<Self> {
        let encoder = WhisperEncoder::load_first(vb.pp("whisper"), &cfg.encoder, cfg.layers)?;
        let layer_weights = vb.get_with_hints(cfg.mixed_states(), "layer_weights", candle_nn::Init::Const(0.0))?;
        Ok(Self {
            encoder,
            layer_weights,
            projection: Linear::load(vb.pp("audio_projection"), cfg.encoder.d_model, hidden)?,
            normalize_layers: cfg.normalize_layers,
            frame_pooling: cfg.frame_pooling,
            stats_head: if cfg.stats_head {
                Some(stats_head::StatsHead::load(vb.pp("stats_head"), cfg.mixed_states(), cfg.encoder.d_model)?)
            } else {
                None
            },
        })
    }

    /// The statistics head's logits `(batch,)` from the frozen states, when it has one.
    pub fn stats_logits(&self, states: &Tensor) -> Result<Option<Tensor>> {
        self.stats_head.as_ref().map(|h| h.forward(states)).transpose()
    }

    pub fn encoder(&self) -> &WhisperEncoder {
        &self.encoder
    }

    /// The frozen part: every hidden state, normalised if configured and pooled over
    /// `frame_pooling` frames: `(batch, n_mels, mel_frames)` -> `(batch, states, frames, d_model)`.
    pub fn frozen_states(&self, mel: &Tensor) -> Result<Tensor> {
        let states = self
            .encoder
            .hidden_states(mel)?
            .into_iter()
            .map(|h| {
                let h = if self.normalize_layers { normalize_features(&h)? } else { h };
                pool_frames(&h, self.frame_pooling)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&states, 1)
    }

    /// The mixing weights (softmax of `layer_weights`).
    pub fn mix_weights(&self) -> Result<Tensor> {
        ops::softmax_last_dim(&self.layer_weights)
    }

    /// Learned mix of the frozen states and the projection: `(batch, states, frames, d_model)` ->
    /// `(batch, frames, hidden)`.
    pub fn mix(&self, states: &Tensor) -> Result<Tensor> {
        self.projection.forward(&self.mix_states(states)?)
    }

    /// The learned mix alone: `(batch, states, frames, d_model)` -> `(batch, frames, d_model)`.
    pub fn mix_states(&self, states: &Tensor) -> Result<Tensor> {
        let n = states.dim(1)?;
        let weights = self.mix_weights()?.reshape((1, n, 1, 1))?;
        let states = states.to_dtype(weights.dtype())?;
        states.broadcast_mul(&weights)?.sum(1)
    }
}

/// Every row normalised over its features (mean 0, variance 1), no parameters.
pub fn normalize_features(xs: &Tensor) -> Result<Tensor> {
    let d = xs.dim(D::Minus1)?;
    let ones = Tensor::ones(d, xs.dtype(), xs.device())?;
    let zeros = Tensor::zeros(d, xs.dtype(), xs.device())?;
    ops::layer_norm(xs, &ones, &zeros, STATE_NORM_EPS)
}

/// Means over consecutive groups of `k` frames of `(batch, frames, d)` -> `(batch, ceil(frames / k),
/// d)`; the last group averages the frames it has.
pub fn pool_frames(xs: &Tensor, k: usize) -> Result<Tensor> {
    if k <= 1 {
        return Ok(xs.clone());
    }
    let (b, t, d) = xs.dims3()?;
    let full = t / k;
    let mut parts = Vec::with_capacity(2);
    if full > 0 {
        parts.push(xs.narrow(1, 0, full * k)?.reshape((b, full, k, d))?.mean(2)?);
    }
    if t % k > 0 {
        parts.push(xs.narrow(1, full * k, t % k)?.mean_keepdim(1)?);
    }
    Tensor::cat(&parts, 1)
}

/// Frames after [`pool_frames`].
pub fn pooled_frames(frames: usize, k: usize) -> usize {
    frames.div_ceil(k.max(1))
}
