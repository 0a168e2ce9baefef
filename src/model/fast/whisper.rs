//! The Whisper audio branch on the CPU inference path: conv stem, narrowed positional embedding,
//! pre-norm layers (the wav2vec2 path's [`EncoderLayer`]), and the learned layer mix, accumulated
//! layer by layer so that no more than two hidden states are ever held.
use rayon::prelude::*;

use super::conv::ConvLayer;
use super::encoder::{EncoderLayer, Norm};
use super::matmul::{Dense, Epilogue};
use super::FastError;

#[derive(Clone)]
pub(super) struct FastWhisper {
    pub conv1: ConvLayer,
    pub conv2: ConvLayer,
    /// `(max_positions, d)` row-major.
    pub positions: Vec<f32>,
    pub max_positions: usize,
    pub layers: Vec<EncoderLayer>,
    /// Applied to the last layer's output when the whole encoder runs.
    pub final_norm: Option<Norm>,
    /// Parameter-free normalisation of every hidden state, when configured.
    pub state_norm: Option<Norm>,
    /// Softmax of `layer_weights`, one per hidden state.
    pub mix: Vec<f32>,
    pub projection: Dense,
    pub frame_pooling: usize,
    pub n_mels: usize,
    pub dim: usize,
    /// The statistics head: weights over every state's `[mean, std]` summary, and the bias.
    pub stats_head: Option<(Vec<f32>, f32)>,
}

/// What the branch yields for `items` spectrograms.
pub(super) struct WhisperOutput {
    /// The projected mix `(items * frames, hidden)`.
    pub projected: Vec<f32>,
    pub frames: usize,
    /// The statistics head's logit per item, when the model has one.
    pub stats_logits: Option<Vec<f32>>,
}

impl FastWhisper {
    /// The conv stem and positional embedding of `items` spectrograms (in parallel): the
    /// embedded frames `(items * t, d)` row-major, and `t`.
    fn embed_all(&self, mel: &[f32], items: usize) -> Result<(Vec<f32>, usize), FastError> {
        if items == 0 || mel.is_empty() || mel.len() % (items * self.n_mels) != 0 {
            return Err(FastError(format!("{} log-Mel values are not {items} spectrograms of {} bands", mel.len(), self.n_mels)));
        }
        let mel_frames = mel.len() / (items * self.n_mels);
        let embedded: Vec<Vec<f32>> = mel
            .par_chunks(self.n_mels * mel_frames)
            .map(|one| self.embed(one, mel_frames))
            .collect::<Result<_, _>>()?;
        let t = embedded.first().map_or(0, |e| e.len() / self.dim);
        if t > self.max_positions {
            return Err(FastError(format!("{t} encoder frames exceed Whisper's {} positions", self.max_positions)));
        }
        Ok((embedded.into_iter().flatten().collect(), t))
    }

    /// Runs the layers over the embedded frames `x` in place, handing `visit` each hidden state
    /// and its index (0: the embedding; the last with the final norm when every layer runs).
    fn run_layers(&self, x: &mut [f32], items: usize, t: usize, mut visit: impl FnMut(&[f32], usize)) {
        visit(x, 0);
        let last = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            layer.forward_pre_norm(x, items, t);
            if i + 1 == last {
                if let Some(norm) = &self.final_norm {
                    norm.apply(x);
                }
            }
            visit(x, i + 1);
        }
    }

    /// `mel`: `items` spectrograms `(n_mels, mel_frames)` row-major, back to back ->
    /// (`(items * frames, hidden)`, frames) after the mix, pooling and projection.
    pub fn forward(&self, mel: &[f32], items: usize) -> Result<WhisperOutput, FastError> {
        let (mut x, t) = self.embed_all(mel, items)?;
        let pooled_t = t.div_ceil(self.frame_pooling.max(1));
        let mut mixed = vec![0f32; items * pooled_t * self.dim];
        let mut stats_logits = self.stats_head.as_ref().map(|(_, bias)| vec![*bias; items]);
        // Each state pooled on its own (for its statistics), then mixed; one buffer for all states.
        let mut pooled = if self.stats_head.is_some() { vec![0f32; items * pooled_t * self.dim] } else { Vec::new() };
        self.run_layers(&mut x, items, t, |state, s| match (&self.stats_head, stats_logits.as_mut()) {
            (Some((weights, _)), Some(logits)) => {
                pooled.fill(0.0);
                self.accumulate(state, items, t, 1.0, &mut pooled);
                let weight = self.mix[s];
                mixed.iter_mut().zip(&pooled).for_each(|(m, &v)| *m += weight * v);
                let block = 2 * self.dim;
                let w = &weights[s * block..(s + 1) * block];
                for (item, logit) in logits.iter_mut().enumerate() {
                    *logit += statistics_dot(&pooled[item * pooled_t * self.dim..(item + 1) * pooled_t * self.dim], self.dim, w);
                }
            }
            _ => self.accumulate(state, items, t, self.mix[s], &mut mixed),
        });
        Ok(WhisperOutput { projected: self.projection.forward(&mixed, items * pooled_t, Epilogue::Bias), frames: pooled_t, stats_logits })
    }

    /// Every hidden state, normalised if configured and pooled, without the mix: `items`
    /// spectrograms -> (`(items, states, frames, d)` row-major, frames). What training caches.
    pub fn pooled_states(&self, mel: &[f32], items: usize) -> Result<(Vec<f32>, usize), FastError> {
        let (mut x, t) = self.embed_all(mel, items)?;
        let states = self.layers.len() + 1;
        let pooled_t = t.div_ceil(self.frame_pooling.max(1));
        let block = pooled_t * self.dim;
        let mut out = vec![0f32; items * states * block];
        let mut store = |x: &[f32], s: usize| {
            let mut pooled = vec![0f32; items * block];
            self.accumulate(x, items, t, 1.0, &mut pooled);
            for item in 0..items {
                out[(item * states + s) * block..(item * states + s + 1) * block].copy_from_slice(&pooled[item * block..(item + 1) * block]);
            }
        };
        self.run_layers(&mut x, items, t, &mut store);
        Ok((out, pooled_t))
    }

    /// Conv stem of one spectrogram `(n_mels, mel_frames)` (GELU after each conv, padding 1) plus
    /// the positional embedding: `(frames, d)`.
    fn embed(&self, mel: &[f32], mel_frames: usize) -> Result<Vec<f32>, FastError> {
        // Time-major with one zero frame on each side (the convolutions' padding).
        let mut input = vec![0f32; (mel_frames + 2) * self.n_mels];
        for (band, row) in mel.chunks_exact(mel_frames).enumerate() {
            for (f, &v) in row.iter().enumerate() {
                input[(f + 1) * self.n_mels + band] = v;
            }
        }
        let hidden = self.conv1.forward(&input)?;
        let mut padded = vec![0f32; hidden.len() + 2 * self.dim];
        padded[self.dim..self.dim + hidden.len()].copy_from_slice(&hidden);
        let mut out = self.conv2.forward(&padded)?;
        let frames = out.len() / self.dim;
        if frames > self.max_positions {
            return Err(FastError(format!("{frames} encoder frames exceed Whisper's {} positions", self.max_positions)));
        }
        out.iter_mut().zip(&self.positions[..frames * self.dim]).for_each(|(v, p)| *v += p);
        Ok(out)
    }

    /// `mixed += weight * pool(norm(state))`, item by item.
    fn accumulate(&self, state: &[f32], items: usize, t: usize, weight: f32, mixed: &mut [f32]) {
        let d = self.dim;
        let k = self.frame_pooling.max(1);
        let pooled_t = t.div_ceil(k);
        let normed;
        let state = match &self.state_norm {
            Some(norm) => {
                let mut copy = state.to_vec();
                norm.apply(&mut copy);
                normed = copy;
                &normed
            }
            None => state,
        };
        mixed.par_chunks_mut(pooled_t * d).enumerate().take(items).for_each(|(item, out)| {
            let seq = &state[item * t * d..(item + 1) * t * d];
            for (p, dst) in out.chunks_exact_mut(d).enumerate() {
                let frames = &seq[p * k * d..((p + 1) * k).min(t) * d];
                let n = frames.len() / d;
                let scale = weight / n as f32;
                for frame in frames.chunks_exact(d) {
                    dst.iter_mut().zip(frame).for_each(|(o, &v)| *o += scale * v);
                }
            }
        });
    }
}

/// `w · [mean, std]` of `frames` rows of `dim` values (the statistics head's share of one state;
/// population standard deviation, as `crate::model::whisper::stats_head::state_statistics`).
fn statistics_dot(frames: &[f32], dim: usize, w: &[f32]) -> f32 {
    let n = (frames.len() / dim).max(1) as f64;
    let mut mean = vec![0f64; dim];
    for row in frames.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dim];
    for row in frames.chunks_exact(dim) {
        var.iter_mut().zip(row).zip(&mean).for_each(|((q, &v), m)| *q += (v as f64 - m).powi(2));
    }
    let (w_mean, w_std) = w.split_at(dim);
    let mut dot = 0f64;
    for k in 0..dim {
        dot += w_mean[k] as f64 * mean[k] + w_std[k] as f64 * (var[k] / n).sqrt();
    }
    dot as f32
}
