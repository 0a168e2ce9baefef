//! Inference-only CPU path of the fused model, used when the model runs on the CPU and no gradient
//! can be asked for (scoring, analysis, evaluation, benchmarks). The differentiable candle modules
//! stay for training and for GPUs; this path reads the same weights, copied once into contiguous
//! f32 buffers, and computes the same function with fewer passes over memory:
//!
//! - conv layers as products on strided views of their input, in parallel time blocks with the
//!   norm and activation fused in, the first layer's GroupNorm folded into its weights and
//!   kernel-3, stride-2 layers in polyphase form (see `conv`);
//! - attention per (sequence, head) on views of the packed projections (`attention`);
//! - AVX2 kernels for GELU, layer norm and softmax (`kernels`);
//! - the audio branch, the pitch branch and the BiLSTM run concurrently, so a single segment keeps
//!   every core busy.
//!
//! tests/model_fast_path.rs checks it against the differentiable path and PyTorch.
mod attention;
mod conv;
mod encoder;
mod head;
mod kernels;
pub(crate) mod matmul;
mod whisper;

use candle_core::{Device, Result as CandleResult, Tensor};
use rayon::prelude::*;

use attention::{MultiHead, Projection};
use conv::{ConvLayer, ConvNorm, ConvStack, FeatureProjection};
use encoder::{Encoder, EncoderLayer, Norm, PositionalConv};
use head::{BiLstm, CrossAttentionLayer, Head, LstmDirection, PostAttention, SingleTokenLayer};
use matmul::{Dense, Epilogue};
use whisper::FastWhisper;

use super::fused::{AudioBranch, FusedModel};
use super::ops::{self, Activation};
use super::wav2vec2::feature_encoder::{ConvNorm as CandleConvNorm, FeatureEncoder};

/// A failure of the fast path (an input it cannot take).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FastError(pub String);

/// Every stage of a forward pass, as [`super::FusedOutput`] but in plain buffers.
pub struct FastStages {
    pub frames: usize,
    /// `(items, frames, hidden)`.
    pub audio_hidden: Vec<f32>,
    /// `(items, frames, hidden)`.
    pub pitch_hidden: Vec<f32>,
    /// `(items, 2 * lstm_hidden)`.
    pub lstm_mean: Vec<f32>,
    /// `(items)`.
    pub logits: Vec<f32>,
}

/// The audio branch on this path.
#[derive(Clone)]
enum FastAudio {
    Wav2Vec2 { conv: ConvStack, projection: FeatureProjection, encoder: Encoder },
    Whisper(FastWhisper),
}

#[derive(Clone)]
pub struct FastModel {
    audio: FastAudio,
    pitch_conv: ConvStack,
    pitch_projection: FeatureProjection,
    lstm: BiLstm,
    head: Head,
    hidden: usize,
    mfcc_dim: usize,
}

impl std::fmt::Debug for FastModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastModel").field("hidden", &self.hidden).finish_non_exhaustive()
    }
}

impl FastModel {
    /// The fast path for `model`, or `None` when it does not apply: weights that are training
    /// variables (gradients may be asked for) or live on another device.
    pub fn build(model: &FusedModel) -> CandleResult<Option<Self>> {
        let probe = &model.classifier.weight;
        if probe.is_variable() || !probe.device().is_cpu() {
            return Ok(None);
        }
        let mut reader = Reader { applicable: true };
        let cfg = &model.config;
        let audio = match &model.audio {
            AudioBranch::Wav2Vec2(w2v) => FastAudio::Wav2Vec2 {
                conv: reader.conv_stack(&w2v.feature_extractor)?,
                projection: reader.projection(&w2v.feature_projection)?,
                encoder: reader.encoder(&w2v.encoder, cfg.wav2vec2.hidden_size)?,
            },
            AudioBranch::Whisper(w) => FastAudio::Whisper(reader.whisper(w)?),
        };
        let fast = Self {
            audio,
            pitch_conv: reader.conv_stack(&model.pitch_encoder)?,
            pitch_projection: reader.projection(&model.pitch_projection)?,
            lstm: reader.lstm(&model.lstm, cfg.mfcc_dim)?,
            head: Head {
                attn_a_p: reader.cross_attention_layer(&model.attn_a_p)?,
                attn_p_a: reader.cross_attention_layer(&model.attn_p_a)?,
                self_attn: reader.single_token_layer(&model.self_attn)?,
                fc: reader.dense(&model.fc)?,
                classifier: reader.dense(&model.classifier)?,
            },
            hidden: cfg.wav2vec2.hidden_size,
            mfcc_dim: cfg.mfcc_dim,
        };
        Ok(reader.applicable.then_some(fast))
    }

    /// `audio`: `(items, samples)` normalised waveforms (wav2vec2) or `(items, n_mels,
    /// mel_frames)` log-Mel spectrograms (Whisper); `pitch`: `(items, samples)`; `mfcc`:
    /// `(items, frames, mfcc_dim)`, all row-major.
    pub fn forward(&self, audio: &[f32], pitch: &[f32], mfcc: &[f32], items: usize) -> Result<FastStages, FastError> {
        let consistent = items > 0
            && !audio.is_empty()
            && audio.len() % items == 0
            && !pitch.is_empty()
            && pitch.len() % items == 0
            && (matches!(self.audio, FastAudio::Whisper(_)) || audio.len() == pitch.len())
            && !mfcc.is_empty()
            && mfcc.len() % (items * self.mfcc_dim) == 0;
        if !consistent {
            return Err(FastError(format!(
                "inconsistent input sizes: {} audio, {} pitch and {} MFCC values for {items} segments",
                audio.len(),
                pitch.len(),
                mfcc.len()
            )));
        }
        let parts = self.parts_unchecked(audio, pitch, mfcc, items)?;
        let (audio_hidden, pitch_hidden, frames) = parts.cropped(self.hidden, None);
        let mut logits = self.head_logits(&audio_hidden, &pitch_hidden, &parts.lstm_mean, items, frames);
        if let Some(stats) = &parts.stats_logits {
            logits.iter_mut().zip(stats).for_each(|(l, s)| *l += s);
        }
        Ok(FastStages { frames, audio_hidden, pitch_hidden, lstm_mean: parts.lstm_mean, logits })
    }

    /// Everything before the head, per segment (see [`FastParts`]).
    pub fn parts(&self, audio: &[f32], pitch: &[f32], mfcc: &[f32], items: usize) -> Result<FastParts, FastError> {
        if items == 0 || audio.len() % items.max(1) != 0 || pitch.len() % items.max(1) != 0 || mfcc.len() % (items.max(1) * self.mfcc_dim) != 0 {
            return Err(FastError(format!("inconsistent input sizes for {items} segments")));
        }
        self.parts_unchecked(audio, pitch, mfcc, items)
    }

    fn parts_unchecked(&self, audio: &[f32], pitch: &[f32], mfcc: &[f32], items: usize) -> Result<FastParts, FastError> {
        let samples = pitch.len() / items;
        let mfcc_frames = mfcc.len() / (items * self.mfcc_dim);
        let ((audio_hidden, pitch_hidden), lstm_mean) = rayon::join(
            || {
                rayon::join(
                    || self.audio_branch(audio, items),
                    || self.pitch_branch(pitch, items, samples),
                )
            },
            || self.lstm.mean_output(mfcc, items, mfcc_frames),
        );
        let (audio_hidden, audio_frames, stats_logits) = audio_hidden?;
        let (pitch_hidden, pitch_frames) = pitch_hidden?;
        Ok(FastParts { items, audio_hidden, audio_frames, pitch_hidden, pitch_frames, lstm_mean, stats_logits })
    }

    /// Logits from cropped branch states `(items, frames, hidden)` and LSTM means.
    pub fn head_logits(&self, audio_hidden: &[f32], pitch_hidden: &[f32], lstm_mean: &[f32], items: usize, frames: usize) -> Vec<f32> {
        let cross = self.head.cross_mean(audio_hidden, pitch_hidden, items, frames, self.hidden);
        self.head.logits(&cross, lstm_mean, items)
    }

    /// The head's width (the projected audio and pitch states).
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The audio branch alone (for benchmarks): `(items * frames, hidden)` and frames.
    pub fn audio_branch_only(&self, audio: &[f32], items: usize) -> Result<(Vec<f32>, usize), FastError> {
        self.audio_branch(audio, items).map(|(hidden, frames, _)| (hidden, frames))
    }

    /// The audio branch's states `(items * frames, hidden)`, frames, and the statistics head's
    /// logits when the model has one.
    fn audio_branch(&self, audio: &[f32], items: usize) -> Result<(Vec<f32>, usize, Option<Vec<f32>>), FastError> {
        match &self.audio {
            FastAudio::Wav2Vec2 { conv, projection, encoder } => {
                let (projected, frames) = branch_features(conv, projection, audio, items, audio.len() / items)?;
                Ok((encoder.forward(projected, items, frames), frames, None))
            }
            FastAudio::Whisper(whisper) => {
                let out = whisper.forward(audio, items)?;
                Ok((out.projected, out.frames, out.stats_logits))
            }
        }
    }

    /// The pitch branch's projected conv features, pooled like the Whisper branch's frames.
    fn pitch_branch(&self, pitch: &[f32], items: usize, samples: usize) -> Result<(Vec<f32>, usize), FastError> {
        let (states, frames) = branch_features(&self.pitch_conv, &self.pitch_projection, pitch, items, samples)?;
        match &self.audio {
            FastAudio::Whisper(w) if w.frame_pooling > 1 => Ok(pool_frames(&states, items, frames, self.hidden, w.frame_pooling)),
            _ => Ok((states, frames)),
        }
    }

    /// The tensor form used by [`FusedModel::forward_stages`].
    pub fn forward_tensors(&self, audio: &Tensor, pitch: &Tensor, mfcc: &Tensor) -> CandleResult<super::FusedOutput> {
        let items = audio.dim(0)?;
        let values = |t: &Tensor| -> CandleResult<Vec<f32>> { t.flatten_all()?.to_vec1::<f32>() };
        let stages = self
            .forward(&values(audio)?, &values(pitch)?, &values(mfcc)?, items)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let dev = Device::Cpu;
        let lstm_dim = stages.lstm_mean.len() / items;
        Ok(super::FusedOutput {
            audio_hidden: Tensor::from_vec(stages.audio_hidden, (items, stages.frames, self.hidden), &dev)?,
            pitch_hidden: Tensor::from_vec(stages.pitch_hidden, (items, stages.frames, self.hidden), &dev)?,
            lstm_mean: Tensor::from_vec(stages.lstm_mean, (items, lstm_dim), &dev)?,
            logit: Tensor::from_vec(stages.logits, items, &dev)?,
        })
    }
}

/// The branches' outputs before the head, for `items` segments of one length: the projected audio
/// states `(items, audio_frames, hidden)` (not yet cut to the pitch branch's length), the pitch
/// states `(items, pitch_frames, hidden)` and the LSTM means `(items, 2 * lstm_hidden)`.
pub struct FastParts {
    pub items: usize,
    pub audio_hidden: Vec<f32>,
    pub audio_frames: usize,
    pub pitch_hidden: Vec<f32>,
    pub pitch_frames: usize,
    pub lstm_mean: Vec<f32>,
    /// The statistics head's logit per segment, to add to the head's (when the model has one).
    pub stats_logits: Option<Vec<f32>>,
}

impl FastParts {
    /// Audio and pitch states cut to their common length, `offset` (per hidden unit) subtracted
    /// from every audio frame first: (audio, pitch, frames).
    pub fn cropped(&self, hidden: usize, offset: Option<&[f32]>) -> (Vec<f32>, Vec<f32>, usize) {
        let frames = self.audio_frames.min(self.pitch_frames);
        let mut audio = first_frames(self.audio_hidden.clone(), self.items, self.audio_frames, frames, hidden);
        if let Some(offset) = offset {
            for row in audio.chunks_exact_mut(hidden) {
                row.iter_mut().zip(offset).for_each(|(v, o)| *v -= o);
            }
        }
        (audio, first_frames(self.pitch_hidden.clone(), self.items, self.pitch_frames, frames, hidden), frames)
    }
}

/// The Whisper branch's frozen part on this path: what training caches per clip.
#[derive(Clone)]
pub struct WhisperStates(FastWhisper);

impl WhisperStates {
    /// `None` when the branch's encoder weights are training variables or not on the CPU.
    pub fn build(branch: &super::whisper::WhisperBranch) -> CandleResult<Option<Self>> {
        let mut reader = Reader { applicable: true };
        let fast = reader.whisper(branch)?;
        Ok(reader.applicable.then_some(Self(fast)))
    }

    /// Hidden states per clip (the embedding output and one per layer).
    pub fn states(&self) -> usize {
        self.0.layers.len() + 1
    }

    /// Width of each state.
    pub fn dim(&self) -> usize {
        self.0.dim
    }

    /// `items` log-Mel spectrograms `(n_mels, mel_frames)` -> every hidden state, normalised if
    /// configured and pooled: (`(items, states, frames, d_model)`, frames).
    pub fn pooled_states(&self, mel: &[f32], items: usize) -> Result<(Vec<f32>, usize), FastError> {
        self.0.pooled_states(mel, items)
    }
}

/// The first `keep` of every item's `frames` rows of `dim` values.
fn first_frames(x: Vec<f32>, items: usize, frames: usize, keep: usize, dim: usize) -> Vec<f32> {
    if keep == frames {
        return x;
    }
    (0..items).flat_map(|i| x[i * frames * dim..(i * frames + keep) * dim].iter().copied()).collect()
}

/// Means over groups of `k` frames per item (the last group averages what it has).
fn pool_frames(x: &[f32], items: usize, frames: usize, dim: usize, k: usize) -> (Vec<f32>, usize) {
    let pooled = frames.div_ceil(k);
    let mut out = vec![0f32; items * pooled * dim];
    for item in 0..items {
        for p in 0..pooled {
            let rows = &x[(item * frames + p * k) * dim..(item * frames + ((p + 1) * k).min(frames)) * dim];
            let n = (rows.len() / dim) as f32;
            let dst = &mut out[(item * pooled + p) * dim..(item * pooled + p + 1) * dim];
            for row in rows.chunks_exact(dim) {
                dst.iter_mut().zip(row).for_each(|(o, &v)| *o += v / n);
            }
        }
    }
    (out, pooled)
}

/// Conv features of every segment (segments in parallel, each parallel inside), projected:
/// `(items * frames, hidden)`.
fn branch_features(
    conv: &ConvStack,
    projection: &FeatureProjection,
    x: &[f32],
    items: usize,
    samples: usize,
) -> Result<(Vec<f32>, usize), FastError> {
    let per_item: Vec<(Vec<f32>, usize)> =
        x.par_chunks(samples).map(|segment| conv.forward(segment)).collect::<Result<_, _>>()?;
    let frames = per_item.first().map_or(0, |p| p.1);
    let features: Vec<f32> = per_item.into_iter().flat_map(|p| p.0).collect();
    Ok((projection.forward(features, items * frames), frames))
}

/// Copies weights out of the candle modules, noting whether any is a training variable.
struct Reader {
    applicable: bool,
}

impl Reader {
    fn values(&mut self, t: &Tensor) -> CandleResult<Vec<f32>> {
        if t.is_variable() || !t.device().is_cpu() {
            self.applicable = false;
        }
        t.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()
    }

    fn dense(&mut self, linear: &ops::Linear) -> CandleResult<Dense> {
        let (output, input) = linear.weight.dims2()?;
        let bias = match &linear.bias {
            Some(b) => self.values(b)?,
            None => vec![0.0; output],
        };
        Ok(Dense::new(self.values(&linear.weight)?, bias, input, output))
    }

    /// Several linear maps of the same input stacked into one (rows of the first, then the
    /// second, …); `scales` multiplies each one's weights and bias.
    fn stacked(&mut self, parts: &[(&ops::Linear, f32)]) -> CandleResult<Dense> {
        let mut weight = Vec::new();
        let mut bias = Vec::new();
        let mut input = 0;
        for (linear, scale) in parts {
            let d = self.dense(linear)?;
            input = d.input;
            weight.extend(d.weight.iter().map(|v| v * scale));
            bias.extend(d.bias.iter().map(|v| v * scale));
        }
        let output = bias.len();
        Ok(Dense::new(weight, bias, input, output))
    }

    /// An encoder's self-attention with q, k, v as one product (the 1/sqrt(head_dim) scale folded
    /// into q).
    fn multi_head(&mut self, a: &super::attention::MultiheadAttention, dim: usize) -> CandleResult<MultiHead> {
        let scale = (a.head_dim as f64).powf(-0.5) as f32;
        Ok(MultiHead {
            projection: Projection::Fused(self.stacked(&[(&a.q_proj, scale), (&a.k_proj, 1.0), (&a.v_proj, 1.0)])?),
            out: self.dense(&a.out_proj)?,
            heads: a.num_heads,
            dim,
        })
    }

    fn norm(&mut self, ln: &ops::LayerNorm) -> CandleResult<Norm> {
        Ok(Norm { weight: self.values(&ln.weight)?, bias: self.values(&ln.bias)?, eps: ln.eps as f32 })
    }

    fn conv_stack(&mut self, encoder: &FeatureEncoder) -> CandleResult<ConvStack> {
        let mut layers = Vec::with_capacity(encoder.conv_layers.len());
        for (index, layer) in encoder.conv_layers.iter().enumerate() {
            let (c_out, c_in, kernel) = layer.weight.dims3()?;
            let weight = self.values(&layer.weight)?;
            let norm = match &layer.norm {
                CandleConvNorm::None => ConvNorm::None,
                CandleConvNorm::Group { weight, bias } => {
                    if index != 0 || c_in != 1 {
                        self.applicable = false;
                    }
                    ConvNorm::Group { weight: self.values(weight)?, bias: self.values(bias)? }
                }
                CandleConvNorm::Layer(ln) => ConvNorm::Layer { weight: self.values(&ln.weight)?, bias: self.values(&ln.bias)? },
            };
            let bias = layer.bias.as_ref().map(|b| self.values(b)).transpose()?;
            layers.push(ConvLayer::new(c_out, c_in, kernel, layer.stride, &weight, bias, norm, epilogue(layer.activation)));
        }
        Ok(ConvStack { layers })
    }

    fn projection(&mut self, p: &super::wav2vec2::FeatureProjection) -> CandleResult<FeatureProjection> {
        let norm = self.norm(&p.layer_norm)?;
        Ok(FeatureProjection {
            norm_weight: norm.weight,
            norm_bias: norm.bias,
            eps: norm.eps,
            projection: self.dense(&p.projection)?,
        })
    }

    fn encoder(&mut self, e: &super::wav2vec2::Encoder, dim: usize) -> CandleResult<Encoder> {
        let pos = &e.pos_conv_embed;
        let (channels, width, kernel) = pos.conv.weight.dims3()?;
        let groups = pos.conv.groups;
        if pos.conv.stride != 1 || pos.conv.padding != kernel / 2 || channels != dim || width * groups != dim {
            self.applicable = false;
        }
        let w = self.values(&pos.conv.weight)?;
        let group_weights = (0..groups)
            .map(|g| {
                let mut gw = vec![0f32; width * kernel * width];
                for o in 0..width {
                    for i in 0..width {
                        for j in 0..kernel {
                            gw[(o * kernel + j) * width + i] = w[((g * width + o) * width + i) * kernel + j];
                        }
                    }
                }
                gw
            })
            .collect();
        let bias = match &pos.conv.bias {
            Some(b) => self.values(b)?,
            None => vec![0.0; dim],
        };
        let pos_conv = PositionalConv { group_weights, bias, kernel, activation: epilogue(pos.activation) };
        let mut layers = Vec::with_capacity(e.layers.len());
        for layer in &e.layers {
            layers.push(EncoderLayer {
                attention: self.multi_head(&layer.attention, dim)?,
                layer_norm: self.norm(&layer.layer_norm)?,
                intermediate: self.dense(&layer.feed_forward.intermediate_dense)?,
                output: self.dense(&layer.feed_forward.output_dense)?,
                final_layer_norm: self.norm(&layer.final_layer_norm)?,
                activation: epilogue(layer.feed_forward.activation),
            });
        }
        Ok(Encoder { pos_conv, layer_norm: self.norm(&e.layer_norm)?, layers, pre_norm: e.pre_norm, dim })
    }

    fn whisper(&mut self, w: &super::whisper::WhisperBranch) -> CandleResult<FastWhisper> {
        let e = &w.encoder;
        let cfg = e.config();
        let d = cfg.d_model;
        let gelu = epilogue(e.activation);
        let conv = |reader: &mut Self, c: &ops::Conv1d, c_in: usize, stride: usize| -> CandleResult<ConvLayer> {
            let bias = c.bias.as_ref().map(|b| reader.values(b)).transpose()?;
            Ok(ConvLayer::new(d, c_in, 3, stride, &reader.values(&c.weight)?, bias, ConvNorm::None, gelu))
        };
        let conv1 = conv(self, &e.conv1, cfg.num_mel_bins, 1)?;
        let conv2 = conv(self, &e.conv2, d, 2)?;
        let mut layers = Vec::with_capacity(e.layers.len());
        for layer in &e.layers {
            layers.push(EncoderLayer {
                attention: self.multi_head(&layer.self_attn, d)?,
                layer_norm: self.norm(&layer.self_attn_layer_norm)?,
                intermediate: self.dense(&layer.fc1)?,
                output: self.dense(&layer.fc2)?,
                final_layer_norm: self.norm(&layer.final_layer_norm)?,
                activation: epilogue(layer.activation),
            });
        }
        let final_norm = e.layer_norm.as_ref().map(|n| self.norm(n)).transpose()?;
        let mix = w.mix_weights()?.detach();
        if w.layer_weights.is_variable() {
            self.applicable = false;
        }
        Ok(FastWhisper {
            conv1,
            conv2,
            positions: self.values(&e.embed_positions)?,
            max_positions: cfg.max_source_positions,
            layers,
            final_norm,
            state_norm: w.normalize_layers.then(|| Norm { weight: vec![1.0; d], bias: vec![0.0; d], eps: 1e-5 }),
            mix: mix.to_vec1::<f32>()?,
            projection: self.dense(&w.projection)?,
            frame_pooling: w.frame_pooling,
            n_mels: cfg.num_mel_bins,
            dim: d,
            stats_head: match &w.stats_head {
                Some(head) => {
                    let bias = head.linear.bias.as_ref().map(|b| self.values(b)).transpose()?.and_then(|b| b.first().copied()).unwrap_or(0.0);
                    Some((self.values(&head.linear.weight)?, bias))
                }
                None => None,
            },
        })
    }

    fn post_attention(&mut self, layer: &super::attention::AttentionLayer) -> CandleResult<PostAttention> {
        Ok(PostAttention {
            linear1: self.dense(&layer.linear1)?,
            linear2: self.dense(&layer.linear2)?,
            norm1: self.norm(&layer.norm1)?,
            norm2: self.norm(&layer.norm2)?,
        })
    }

    fn cross_attention_layer(&mut self, layer: &super::attention::AttentionLayer) -> CandleResult<CrossAttentionLayer> {
        let mha = &layer.self_attn;
        let scale = (mha.head_dim as f64).powf(-0.5) as f32;
        let attention = MultiHead {
            projection: Projection::Split {
                query: self.stacked(&[(&mha.q_proj, scale)])?,
                key_value: self.stacked(&[(&mha.k_proj, 1.0), (&mha.v_proj, 1.0)])?,
            },
            out: self.dense(&mha.out_proj)?,
            heads: mha.num_heads,
            dim: mha.out_proj.weight.dims2()?.0,
        };
        Ok(CrossAttentionLayer { attention, rest: self.post_attention(layer)? })
    }

    fn single_token_layer(&mut self, layer: &super::attention::AttentionLayer) -> CandleResult<SingleTokenLayer> {
        let mha = &layer.self_attn;
        Ok(SingleTokenLayer {
            value: self.dense(&mha.v_proj)?,
            out: self.dense(&mha.out_proj)?,
            rest: self.post_attention(layer)?,
        })
    }

    fn lstm(&mut self, l: &super::lstm::BiLstm, input: usize) -> CandleResult<BiLstm> {
        let h = l.hidden;
        let mut direction = |d: &super::lstm::Direction| -> CandleResult<LstmDirection> {
            let whh = self.values(&d.weight_hh)?;
            Ok(LstmDirection {
                input: Dense::new(self.values(&d.weight_ih)?, self.values(&d.bias)?, input, 4 * h),
                recurrent_t: super::lstm::transpose_recurrent(&whh, h),
            })
        };
        Ok(BiLstm { forward_dir: direction(&l.forward_dir)?, backward_dir: direction(&l.backward_dir)?, hidden: h, input })
    }
}

fn epilogue(activation: Activation) -> Epilogue {
    match activation {
        Activation::Gelu => Epilogue::BiasGelu,
        Activation::GeluTanh => Epilogue::BiasGeluTanh,
        Activation::Relu => Epilogue::BiasRelu,
    }
}

