//! The statistics head: every Whisper hidden state summarised over the clip by its mean and
//! standard deviation per feature, and one linear map of that summary to a logit, which is added
//! to the fused head's. Linear probes of exactly this summary ranked unseen speakers' emotion
//! better than the attention head alone (docs/model-card.md), so the shipped model keeps both.
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::ops::Linear;

/// `stats_head.weight` `(1, states * 2 * d_model)` and `stats_head.bias` `(1,)`.
#[derive(Debug, Clone)]
pub struct StatsHead {
    pub(crate) linear: Linear,
}

impl StatsHead {
    /// `vb` points at `stats_head`.
    pub fn load(vb: VarBuilder, states: usize, d_model: usize) -> Result<Self> {
        Ok(Self { linear: Linear::load(vb, statistics_width(states, d_model), 1)? })
    }

    /// Logits `(batch,)` from the frozen states `(batch, states, frames, d_model)`.
    pub fn forward(&self, states: &Tensor) -> Result<Tensor> {
        let stats = state_statistics(states)?.to_dtype(self.linear.weight.dtype())?;
        self.linear.forward(&stats)?.squeeze(1)
    }
}

/// Length of the summary of `states` hidden states of width `d_model`.
pub fn statistics_width(states: usize, d_model: usize) -> usize {
    states * 2 * d_model
}

/// `(batch, states, frames, d_model)` -> `(batch, states * 2 * d_model)`: per state, the mean
/// over frames of every feature, then its population standard deviation. Computed in f32.
pub fn state_statistics(states: &Tensor) -> Result<Tensor> {
    let states = states.to_dtype(candle_core::DType::F32)?;
    let (batch, n, _, d) = states.dims4()?;
    let mean = states.mean_keepdim(2)?;
    let var = states.broadcast_sub(&mean)?.sqr()?.mean_keepdim(2)?;
    let std = var.sqrt()?;
    Tensor::cat(&[mean, std], 2)?.reshape((batch, n * 2 * d))
}
