//! A GE2E speaker encoder (Wan et al., ICASSP 2018) as Resemblyzer defines it: three
//! unidirectional LSTM layers over 40 mel bands of 16-kHz audio; the last layer's final hidden
//! state goes through a linear layer and a ReLU and is L2-normalised. An utterance's embedding is
//! the normalised mean of the embeddings of its 1.6-s partials (`embed_utterance`).
//!
//! Trained on thousands of voices, such an encoder tells two voices apart where our cepstral
//! statistics, learned from the 43 speakers of `../shared/data`, cannot (issue 5). The weights are
//! a third party's, so none ship with emotrace: a user imports them
//! ([`super::speaker_encoder_store`]) and the mono diarizer uses them when present.
//! Weight names are PyTorch's (`lstm.weight_ih_l0`, …, `linear.weight`).
use std::ops::Range;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fast::matmul::{matmul, Mat, MatMut};
use super::scoring::sigmoid;
use super::ModelError;
use gemm::Parallelism;
use crate::features::mel::slaney_mel_dense;
use crate::features::stft::StftPlan;

/// Partials run through the network together: bounds memory (the input projections of a batch
/// take `batch x 160 x 1024` floats, 21 MB) and is large enough for efficient matmuls.
const PARTIALS_PER_BATCH: usize = 32;

/// Shape of the network and of its input; the defaults are Resemblyzer's (`hparams.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpeakerEncoderConfig {
    /// Audio rate the mel bands are computed at (Hz).
    pub sample_rate: u32,
    /// STFT window (samples; 25 ms).
    pub n_fft: usize,
    /// STFT hop (samples; 10 ms).
    pub hop_length: usize,
    pub n_mels: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub embedding_size: usize,
    /// Frames of one partial utterance (160 = 1.6 s).
    pub partial_frames: usize,
    /// Partials started per second of audio.
    pub partial_rate: f64,
    /// A last partial running past the end of the audio is kept when at least this share of it
    /// is audio.
    pub min_coverage: f64,
}

impl Default for SpeakerEncoderConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 400,
            hop_length: 160,
            n_mels: 40,
            hidden_size: 256,
            num_layers: 3,
            embedding_size: 256,
            partial_frames: 160,
            partial_rate: 1.3,
            min_coverage: 0.75,
        }
    }
}

impl SpeakerEncoderConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: &str| Err(ModelError::Config(format!("speaker encoder: {m}")));
        if self.sample_rate < 8000 || self.n_fft < 4 || self.n_fft % 2 != 0 || self.hop_length == 0 {
            return bad("sample_rate ≥ 8000, an even n_fft ≥ 4 and a positive hop_length are needed");
        }
        if [self.n_mels, self.hidden_size, self.num_layers, self.embedding_size, self.partial_frames].contains(&0) {
            return bad("n_mels, hidden_size, num_layers, embedding_size and partial_frames must be positive");
        }
        if !(self.partial_rate > 0.0 && self.partial_rate.is_finite()) || !(0.0..=1.0).contains(&self.min_coverage) {
            return bad("partial_rate must be positive and min_coverage in [0, 1]");
        }
        Ok(())
    }

    /// Partials of an utterance of `n_samples` samples, as mel-frame ranges (Resemblyzer's
    /// `compute_partial_slices`): one every `1 / partial_rate` s, covering the whole utterance;
    /// the last is dropped when less than `min_coverage` of it is audio, unless it is the only one.
    pub fn partial_slices(&self, n_samples: usize) -> Vec<Range<usize>> {
        let hop = self.hop_length;
        let n_frames = (n_samples + 1).div_ceil(hop);
        let frame_step = ((self.sample_rate as f64 / self.partial_rate / hop as f64).round() as usize).max(1);
        let steps = (n_frames + frame_step + 1).saturating_sub(self.partial_frames).max(1);
        let mut slices: Vec<Range<usize>> = (0..steps).step_by(frame_step).map(|i| i..i + self.partial_frames).collect();
        if let Some(last) = slices.last() {
            let (start, stop) = (last.start * hop, last.end * hop);
            let coverage = (n_samples as f64 - start as f64) / (stop - start) as f64;
            if coverage < self.min_coverage && slices.len() > 1 {
                slices.pop();
            }
        }
        slices
    }
}

/// One unidirectional `nn.LSTM` layer (PyTorch gate order i, f, g, o; zero initial state).
struct LstmLayer {
    /// `W_ih` transposed: `(input, 4 hidden)`.
    weight_ih_t: Tensor,
    /// `W_hh` transposed: `(hidden, 4 hidden)`.
    weight_hh_t: Tensor,
    /// `b_ih + b_hh`.
    bias: Tensor,
    hidden: usize,
}

impl LstmLayer {
    fn load(vb: &VarBuilder, input: usize, hidden: usize, layer: usize) -> candle_core::Result<Self> {
        let weight_ih = vb.get((4 * hidden, input), &format!("weight_ih_l{layer}"))?;
        let weight_hh = vb.get((4 * hidden, hidden), &format!("weight_hh_l{layer}"))?;
        let bias_ih = vb.get(4 * hidden, &format!("bias_ih_l{layer}"))?;
        let bias_hh = vb.get(4 * hidden, &format!("bias_hh_l{layer}"))?;
        Ok(Self {
            weight_ih_t: weight_ih.t()?.contiguous()?,
            weight_hh_t: weight_hh.t()?.contiguous()?,
            bias: (bias_ih + bias_hh)?,
            hidden,
        })
    }

    /// `xs` `(batch, time, input)` -> every hidden state `(batch, time, hidden)` when
    /// `keep_all`, and the last one `(batch, hidden)`.
    fn run(&self, xs: &Tensor, keep_all: bool) -> candle_core::Result<(Option<Tensor>, Tensor)> {
        let (b, t, input) = xs.dims3()?;
        let h = self.hidden;
        // The input's share of every gate for all frames at once.
        let gates_x = xs
            .reshape((b * t, input))?
            .matmul(&self.weight_ih_t)?
            .broadcast_add(&self.bias)?
            .reshape((b, t, 4 * h))?;
        if xs.device().is_cpu() && xs.dtype() == DType::F32 {
            return self.recur_cpu(&gates_x, keep_all);
        }
        let mut hidden = Tensor::zeros((b, h), xs.dtype(), xs.device())?;
        let mut cell = hidden.clone();
        let mut all = Vec::with_capacity(if keep_all { t } else { 0 });
        for step in 0..t {
            let gates = (gates_x.narrow(1, step, 1)?.squeeze(1)? + hidden.matmul(&self.weight_hh_t)?)?;
            let sig = candle_nn::ops::sigmoid(&gates)?;
            let (i, f, o) = (sig.narrow(1, 0, h)?, sig.narrow(1, h, h)?, sig.narrow(1, 3 * h, h)?);
            let g = gates.narrow(1, 2 * h, h)?.tanh()?;
            cell = ((f * &cell)? + (i * g)?)?;
            hidden = (o * cell.tanh()?)?;
            if keep_all {
                all.push(hidden.clone());
            }
        }
        let all = if keep_all { Some(Tensor::stack(&all, 1)?) } else { None };
        Ok((all, hidden))
    }

    /// The recurrence on the CPU. The batch's rows are split into one block per thread and each
    /// thread runs every step of its block (its own small matmul, then the gates), so the threads
    /// meet once per layer instead of twice per step: with ~12 tensor ops per step the
    /// allocations and hand-offs cost as much as the matmul, and a fork-join per step still
    /// cost ~14 %. Sigmoid is 1 / (1 + e^-x); tanh goes through exp ([`tanh`]).
    fn recur_cpu(&self, gates_x: &Tensor, keep_all: bool) -> candle_core::Result<(Option<Tensor>, Tensor)> {
        let (b, t, four_h) = gates_x.dims3()?;
        let h = self.hidden;
        let gx: Vec<f32> = gates_x.flatten_all()?.to_vec1()?;
        let weight_hh_t: Vec<f32> = self.weight_hh_t.flatten_all()?.to_vec1()?;
        let mut hidden = vec![0f32; b * h];
        let mut cell = vec![0f32; b * h];
        let mut all = vec![0f32; if keep_all { b * t * h } else { 0 }];
        let block_rows = b.div_ceil(rayon::current_num_threads().max(1)).max(1);
        let mut all_blocks: Vec<Option<&mut [f32]>> = if keep_all {
            all.chunks_mut(block_rows * t * h).map(Some).collect()
        } else {
            (0..b.div_ceil(block_rows)).map(|_| None).collect()
        };
        hidden
            .par_chunks_mut(block_rows * h)
            .zip(cell.par_chunks_mut(block_rows * h))
            .zip(all_blocks.par_iter_mut())
            .enumerate()
            .for_each(|(block, ((hs, cs), all_block))| {
                let rows = hs.len() / h;
                let first_row = block * block_rows;
                let mut recurrent = vec![0f32; rows * four_h];
                for step in 0..t {
                    matmul(
                        &mut MatMut::rows(&mut recurrent, rows, four_h),
                        Mat::rows(hs, rows, h),
                        Mat::rows(&weight_hh_t, h, four_h),
                        false,
                        Parallelism::None,
                    );
                    for r in 0..rows {
                        let at = ((first_row + r) * t + step) * four_h;
                        let x = &gx[at..at + four_h];
                        let rec = &recurrent[r * four_h..(r + 1) * four_h];
                        let (hr, cr) = (&mut hs[r * h..(r + 1) * h], &mut cs[r * h..(r + 1) * h]);
                        for j in 0..h {
                            let i = sigmoid(x[j] + rec[j]);
                            let f = sigmoid(x[h + j] + rec[h + j]);
                            let g = tanh(x[2 * h + j] + rec[2 * h + j]);
                            let o = sigmoid(x[3 * h + j] + rec[3 * h + j]);
                            cr[j] = f * cr[j] + i * g;
                            hr[j] = o * tanh(cr[j]);
                        }
                        if let Some(out) = all_block.as_deref_mut() {
                            out[(r * t + step) * h..(r * t + step + 1) * h].copy_from_slice(hr);
                        }
                    }
                }
            });
        let device = gates_x.device();
        let all = if keep_all { Some(Tensor::from_vec(all, (b, t, h), device)?) } else { None };
        Ok((all, Tensor::from_vec(hidden, (b, h), device)?))
    }
}

/// `tanh` through `exp`: libm's `tanhf` goes through `expm1f`, which took a third of the
/// encoder's time. Within ~1e-6 relative of `f32::tanh` (an odd Taylor polynomial near 0, where
/// `1 - e^-2|x|` would lose digits).
#[inline]
fn tanh(x: f32) -> f32 {
    let a = x.abs();
    if a < 0.1 {
        let x2 = x * x;
        return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0))));
    }
    let e = (-2.0 * a).exp();
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

pub struct SpeakerEncoder {
    config: SpeakerEncoderConfig,
    layers: Vec<LstmLayer>,
    linear: Linear,
    /// Dense `n_mels × (n_fft/2 + 1)` Slaney filterbank, as librosa's default.
    mel_basis: Vec<f32>,
    stft: StftPlan,
    device: Device,
}

impl SpeakerEncoder {
    /// `vb` holds `lstm.*` and `linear.*`.
    pub fn load(vb: VarBuilder, config: &SpeakerEncoderConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let lstm = vb.pp("lstm");
        let layers = (0..config.num_layers)
            .map(|k| {
                let input = if k == 0 { config.n_mels } else { config.hidden_size };
                LstmLayer::load(&lstm, input, config.hidden_size, k)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let linear = candle_nn::linear(config.hidden_size, config.embedding_size, vb.pp("linear"))?;
        let sr = config.sample_rate as f64;
        Ok(Self {
            config: config.clone(),
            layers,
            linear,
            mel_basis: slaney_mel_dense(sr, config.n_fft, config.n_mels, 0.0, sr / 2.0),
            stft: StftPlan::new(config.n_fft, config.hop_length),
            device: vb.device().clone(),
        })
    }

    pub fn config(&self) -> &SpeakerEncoderConfig {
        &self.config
    }

    /// Embeddings of a batch of partials `(batch, frames, n_mels)` -> `(batch, embedding)`,
    /// each of unit length (an all-zero ReLU output stays zero instead of becoming NaN).
    pub fn forward(&self, mels: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = mels.clone();
        for (k, layer) in self.layers.iter().enumerate() {
            let last = k + 1 == self.layers.len();
            let (all, final_hidden) = layer.run(&x, !last)?;
            x = match all {
                Some(all) if !last => all,
                _ => final_hidden,
            };
        }
        let raw = self.linear.forward(&x)?.relu()?;
        let norm = raw.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        raw.broadcast_div(&norm)
    }

    /// Mel power spectrogram of `wav` as `librosa.feature.melspectrogram` computes it with this
    /// config (centred, zero-padded frames, power 2, no log), frame-major: `frames × n_mels`.
    pub fn mel_spectrogram(&self, wav: &[f32]) -> Vec<f32> {
        let (n_mels, n_bins) = (self.config.n_mels, self.stft.n_bins());
        let n_frames = self.stft.n_frames(wav.len());
        let mut out = vec![0.0f32; n_frames * n_mels];
        let mut scratch = self.stft.make_scratch();
        let mut power = vec![0.0f32; n_bins];
        for (t, frame) in out.chunks_exact_mut(n_mels).enumerate() {
            self.stft.power_frame(wav, t, &mut scratch, &mut power);
            for (m, value) in frame.iter_mut().enumerate() {
                let row = &self.mel_basis[m * n_bins..(m + 1) * n_bins];
                *value = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            }
        }
        out
    }

    /// The partials' mel windows of one utterance (`partials × partial_frames × n_mels`), padded
    /// as Resemblyzer's `embed_utterance` pads the audio.
    fn partial_mels(&self, wav: &[f32]) -> (usize, Vec<f32>) {
        let cfg = &self.config;
        let slices = self.config.partial_slices(wav.len());
        let needed = slices.last().map_or(0, |s| s.end * cfg.hop_length);
        let mel = if needed >= wav.len() {
            let mut padded = wav.to_vec();
            padded.resize(needed, 0.0);
            self.mel_spectrogram(&padded)
        } else {
            self.mel_spectrogram(wav)
        };
        let width = cfg.partial_frames * cfg.n_mels;
        let mut out = Vec::with_capacity(slices.len() * width);
        for s in &slices {
            // The mel of the padded audio always reaches the last slice; guard anyway.
            let start = (s.start * cfg.n_mels).min(mel.len());
            let end = (s.end * cfg.n_mels).min(mel.len());
            out.extend_from_slice(&mel[start..end]);
            out.resize(out.len() + width - (end - start), 0.0);
        }
        (slices.len(), out)
    }

    /// Embeddings of the partials of every utterance, in order (`partials × embedding`).
    pub fn embed_partials(&self, wavs: &[&[f32]]) -> Result<Vec<Vec<Vec<f32>>>, ModelError> {
        let cfg = &self.config;
        let width = cfg.partial_frames * cfg.n_mels;
        let windows: Vec<(usize, Vec<f32>)> = wavs.par_iter().map(|w| self.partial_mels(w)).collect();
        let flat: Vec<(usize, &[f32])> = windows
            .iter()
            .enumerate()
            .flat_map(|(u, (_, mels))| mels.chunks_exact(width).map(move |m| (u, m)))
            .collect();
        let mut out: Vec<Vec<Vec<f32>>> = windows.iter().map(|(n, _)| Vec::with_capacity(*n)).collect();
        for batch in flat.chunks(PARTIALS_PER_BATCH) {
            let data: Vec<f32> = batch.iter().flat_map(|(_, m)| m.iter().copied()).collect();
            let input = Tensor::from_vec(data, (batch.len(), cfg.partial_frames, cfg.n_mels), &self.device)?;
            let embeddings = self.forward(&input)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
            for ((u, _), e) in batch.iter().zip(embeddings) {
                out[*u].push(e);
            }
        }
        Ok(out)
    }

    /// One unit-length embedding per utterance (16-kHz audio at `config().sample_rate`): the
    /// normalised mean of its partials' embeddings.
    pub fn embed_utterances(&self, wavs: &[&[f32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(self.embed_partials(wavs)?.into_iter().map(|partials| normalised_mean(&partials)).collect())
    }
}

/// The mean of `vectors`, scaled to unit length (zero stays zero).
fn normalised_mean(vectors: &[Vec<f32>]) -> Vec<f32> {
    let dim = vectors.first().map_or(0, Vec::len);
    let mut mean = vec![0.0f32; dim];
    for v in vectors {
        mean.iter_mut().zip(v).for_each(|(m, x)| *m += x / vectors.len() as f32);
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        mean.iter_mut().for_each(|x| *x /= norm);
    }
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_through_exp_matches_the_library_tanh() {
        let mut worst = 0.0f64;
        for k in -200_000..=200_000 {
            let x = k as f32 * 1e-4;
            let (ours, reference) = (tanh(x) as f64, (x as f64).tanh());
            worst = worst.max((ours - reference).abs() / reference.abs().max(1e-30));
        }
        assert!(worst < 2e-6, "largest relative error {worst}");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(60.0), 1.0);
        assert_eq!(tanh(-60.0), -1.0);
    }

    #[test]
    fn partial_slices_follow_resemblyzer() {
        let cfg = SpeakerEncoderConfig::default();
        // 2 s: frames 201, step 77 -> starts 0 and 77; the last covers 19680 of 25600 samples (0.77).
        assert_eq!(cfg.partial_slices(32_000), vec![0..160, 77..237]);
        // 1 s: one partial, kept though mostly padding.
        assert_eq!(cfg.partial_slices(16_000), vec![0..160]);
        // 1.9 s: the second partial would be 0.65 audio, below 0.75: dropped.
        assert_eq!(cfg.partial_slices(30_400), vec![0..160]);
        assert_eq!(cfg.partial_slices(0), vec![0..160]);
    }

    #[test]
    fn normalised_mean_has_unit_length_and_keeps_zero() {
        let m = normalised_mean(&[vec![3.0, 0.0], vec![0.0, 4.0]]);
        assert!((m[0] - 0.6).abs() < 1e-6 && (m[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalised_mean(&[vec![0.0, 0.0]]), vec![0.0, 0.0]);
    }
}
