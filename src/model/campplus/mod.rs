//! CAM++ (Wang et al., Interspeech 2023; 3D-Speaker's `speakerlab/models/campplus`), a
//! speaker-embedding network trained on far more voices than GE2E: a 2-D convolutional front
//! end (FCM) over 80 Kaldi log-mel bands, a densely connected TDNN whose layers weight their
//! output by context-aware masks (the utterance mean plus 100-frame segment means), statistics
//! pooling and a linear layer to the embedding. Inference only (batch-norm in eval mode).
//!
//! As with the GE2E encoder the weights are a third party's and none ship with emotrace; a
//! user imports them (`import-speaker-encoder`). Weight names are PyTorch's (`head.conv1.weight`,
//! `xvector.block1.tdnnd1.cam_layer.linear_local.weight`, …). Parity with the reference:
//! `tests/campplus.rs`, fixture from `scripts/gen_campplus_fixtures.py`.
mod cpu;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, VarBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use cpu::{Affine, CamPlusCpu, ConvWeights, DenseLayerCpu, ResBlockCpu};

use super::ModelError;
use crate::features::kaldi_fbank::KaldiFbank;

/// The `architecture` a CAM++ encoder folder's `config.json` names.
pub const ARCHITECTURE: &str = "campplus";
/// Batch-norm's variance epsilon (PyTorch's default).
const BN_EPS: f64 = 1e-5;

/// Shape of the network; the defaults are the published 200k-speaker model's
/// (`speech_campplus_sv_zh_en_16k-common_advanced`: 7.2 M parameters, 192-d embeddings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CamPlusConfig {
    /// Always [`ARCHITECTURE`]; tells this config from the GE2E encoder's.
    pub architecture: String,
    /// Audio rate the filterbank is computed at (Hz).
    pub sample_rate: u32,
    /// Log-mel bands (a multiple of 8: the front end halves them three times).
    pub feat_dim: usize,
    pub embedding_size: usize,
    /// Channels each dense TDNN layer adds.
    pub growth_rate: usize,
    /// A dense layer's bottleneck is `bn_size × growth_rate` channels.
    pub bn_size: usize,
    /// Channels of the first TDNN layer.
    pub init_channels: usize,
    /// Channels of the 2-D front end.
    pub m_channels: usize,
    /// Dense blocks: (layers, kernel, dilation).
    pub blocks: Vec<[usize; 3]>,
    /// Frames per segment of the masks' segment pooling.
    pub seg_len: usize,
}

impl Default for CamPlusConfig {
    fn default() -> Self {
        Self {
            architecture: ARCHITECTURE.to_string(),
            sample_rate: 16_000,
            feat_dim: 80,
            embedding_size: 192,
            growth_rate: 32,
            bn_size: 4,
            init_channels: 128,
            m_channels: 32,
            blocks: vec![[12, 3, 1], [24, 3, 2], [16, 3, 2]],
            seg_len: 100,
        }
    }
}

impl CamPlusConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: &str| Err(ModelError::Config(format!("CAM++ speaker encoder: {m}")));
        if self.architecture != ARCHITECTURE {
            return bad("architecture must be \"campplus\"");
        }
        if self.sample_rate < 8000 || self.feat_dim == 0 || self.feat_dim % 8 != 0 {
            return bad("sample_rate ≥ 8000 and feat_dim a positive multiple of 8 are needed");
        }
        let sizes = [self.embedding_size, self.growth_rate, self.bn_size, self.init_channels, self.m_channels, self.seg_len];
        if sizes.contains(&0) || self.blocks.is_empty() {
            return bad("sizes must be positive and there must be at least one block");
        }
        if self.blocks.iter().any(|&[layers, kernel, dilation]| layers == 0 || kernel % 2 == 0 || dilation == 0) {
            return bad("every block needs layers ≥ 1, an odd kernel and a dilation ≥ 1");
        }
        if (self.bn_size * self.growth_rate) / 2 == 0 {
            return bad("bn_size × growth_rate must be at least 2");
        }
        Ok(())
    }
}

/// Batch-norm in eval mode, folded to a per-channel scale and shift.
struct BatchNorm {
    scale: Tensor,
    shift: Tensor,
}

impl BatchNorm {
    fn load(vb: VarBuilder, channels: usize, affine: bool) -> candle_core::Result<Self> {
        let mean = vb.get(channels, "running_mean")?;
        let var = vb.get(channels, "running_var")?;
        let inv_std = (var + BN_EPS)?.sqrt()?.recip()?;
        let (scale, shift) = if affine {
            let scale = vb.get(channels, "weight")?.mul(&inv_std)?;
            let shift = vb.get(channels, "bias")?.sub(&mean.mul(&scale)?)?;
            (scale, shift)
        } else {
            (inv_std.clone(), mean.mul(&inv_std)?.neg()?)
        };
        Ok(Self { scale, shift })
    }

    /// `x` is `(batch, channels, …)`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut shape = vec![1, self.scale.dim(0)?];
        shape.resize(x.rank(), 1);
        x.broadcast_mul(&self.scale.reshape(shape.as_slice())?)?.broadcast_add(&self.shift.reshape(shape.as_slice())?)
    }
}

/// Weights of a convolution laid out for [`cpu`].
trait CpuWeights {
    fn weights(&self) -> candle_core::Result<ConvWeights>;
}

impl CpuWeights for Conv2d {
    fn weights(&self) -> candle_core::Result<ConvWeights> {
        let (out, input, kh, kw) = self.weight().dims4()?;
        let bias = self.bias().map(|b| b.to_vec1()).transpose()?;
        Ok(ConvWeights { matrix: self.weight().flatten_all()?.to_vec1()?, bias, out, input, kernel: (kh, kw) })
    }
}

impl CpuWeights for Conv1d {
    fn weights(&self) -> candle_core::Result<ConvWeights> {
        let (out, input, k) = self.weight().dims3()?;
        let bias = self.bias().map(|b| b.to_vec1()).transpose()?;
        Ok(ConvWeights { matrix: self.weight().flatten_all()?.to_vec1()?, bias, out, input, kernel: (1, k) })
    }
}

impl BatchNorm {
    fn affine(&self) -> candle_core::Result<Affine> {
        Ok(Affine { scale: self.scale.to_vec1()?, shift: self.shift.to_vec1()? })
    }
}

/// Every other row of the frequency axis: a stride (2, 1) convolution is the stride-1 one
/// sampled there (candle's conv2d takes one stride for both axes).
fn every_other_row(x: &Tensor) -> candle_core::Result<Tensor> {
    let rows = x.dim(2)?;
    let keep: Vec<u32> = (0..rows as u32).step_by(2).collect();
    x.index_select(&Tensor::new(keep.as_slice(), x.device())?, 2)
}

fn conv2d_3x3(vb: VarBuilder, cin: usize, cout: usize) -> candle_core::Result<Conv2d> {
    candle_nn::conv2d_no_bias(cin, cout, 3, Conv2dConfig { padding: 1, ..Default::default() }, vb)
}

/// FCM's residual block; `halve` applies the (2, 1) stride.
struct ResBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<(Conv2d, BatchNorm)>,
    halve: bool,
}

impl ResBlock {
    fn load(vb: VarBuilder, cin: usize, planes: usize, halve: bool) -> candle_core::Result<Self> {
        let shortcut = if halve || cin != planes {
            let conv = candle_nn::conv2d_no_bias(cin, planes, 1, Conv2dConfig::default(), vb.pp("shortcut.0"))?;
            Some((conv, BatchNorm::load(vb.pp("shortcut.1"), planes, true)?))
        } else {
            None
        };
        Ok(Self {
            conv1: conv2d_3x3(vb.pp("conv1"), cin, planes)?,
            bn1: BatchNorm::load(vb.pp("bn1"), planes, true)?,
            conv2: conv2d_3x3(vb.pp("conv2"), planes, planes)?,
            bn2: BatchNorm::load(vb.pp("bn2"), planes, true)?,
            shortcut,
            halve,
        })
    }

    fn cpu(&self) -> candle_core::Result<ResBlockCpu> {
        Ok(ResBlockCpu {
            conv1: self.conv1.weights()?,
            bn1: self.bn1.affine()?,
            conv2: self.conv2.weights()?,
            bn2: self.bn2.affine()?,
            shortcut: self.shortcut.as_ref().map(|(c, b)| Ok::<_, candle_core::Error>((c.weights()?, b.affine()?))).transpose()?,
            stride: if self.halve { 2 } else { 1 },
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut out = self.conv1.forward(x)?;
        if self.halve {
            out = every_other_row(&out)?;
        }
        let out = self.bn2.forward(&self.conv2.forward(&self.bn1.forward(&out)?.relu()?)?)?;
        let residual = match &self.shortcut {
            Some((conv, bn)) => {
                let input = if self.halve { every_other_row(x)? } else { x.clone() };
                bn.forward(&conv.forward(&input)?)?
            }
            None => x.clone(),
        };
        (out + residual)?.relu()
    }
}

/// The 2-D front end: `(batch, feat_dim, frames)` -> `(batch, m_channels × feat_dim / 8, frames)`.
struct FrontEnd {
    conv1: Conv2d,
    bn1: BatchNorm,
    blocks: Vec<ResBlock>,
    conv2: Conv2d,
    bn2: BatchNorm,
}

impl FrontEnd {
    fn load(vb: VarBuilder, m: usize) -> candle_core::Result<Self> {
        let mut blocks = Vec::new();
        for layer in ["layer1", "layer2"] {
            blocks.push(ResBlock::load(vb.pp(layer).pp("0"), m, m, true)?);
            blocks.push(ResBlock::load(vb.pp(layer).pp("1"), m, m, false)?);
        }
        Ok(Self {
            conv1: conv2d_3x3(vb.pp("conv1"), 1, m)?,
            bn1: BatchNorm::load(vb.pp("bn1"), m, true)?,
            blocks,
            conv2: conv2d_3x3(vb.pp("conv2"), m, m)?,
            bn2: BatchNorm::load(vb.pp("bn2"), m, true)?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut out = self.bn1.forward(&self.conv1.forward(&x.unsqueeze(1)?)?)?.relu()?;
        for block in &self.blocks {
            out = block.forward(&out)?;
        }
        let out = self.bn2.forward(&every_other_row(&self.conv2.forward(&out)?)?)?.relu()?;
        let (batch, channels, rows, frames) = out.dims4()?;
        out.reshape((batch, channels * rows, frames))
    }
}

/// A dense TDNN layer: batch-norm, ReLU, 1×1 bottleneck, batch-norm, ReLU, then the
/// context-aware masked convolution (`cam_layer`).
struct DenseTdnnLayer {
    bn_in: BatchNorm,
    bottleneck: Conv1d,
    bn_mid: BatchNorm,
    local: Conv1d,
    mask_hidden: Conv1d,
    mask_out: Conv1d,
    seg_len: usize,
}

impl DenseTdnnLayer {
    fn load(vb: VarBuilder, cin: usize, cfg: &CamPlusConfig, kernel: usize, dilation: usize) -> candle_core::Result<Self> {
        let bottleneck_channels = cfg.bn_size * cfg.growth_rate;
        let cam = vb.pp("cam_layer");
        let local_cfg = Conv1dConfig { padding: (kernel - 1) / 2 * dilation, dilation, ..Default::default() };
        Ok(Self {
            bn_in: BatchNorm::load(vb.pp("nonlinear1.batchnorm"), cin, true)?,
            bottleneck: candle_nn::conv1d_no_bias(cin, bottleneck_channels, 1, Conv1dConfig::default(), vb.pp("linear1"))?,
            bn_mid: BatchNorm::load(vb.pp("nonlinear2.batchnorm"), bottleneck_channels, true)?,
            local: candle_nn::conv1d_no_bias(bottleneck_channels, cfg.growth_rate, kernel, local_cfg, cam.pp("linear_local"))?,
            mask_hidden: candle_nn::conv1d(bottleneck_channels, bottleneck_channels / 2, 1, Conv1dConfig::default(), cam.pp("linear1"))?,
            mask_out: candle_nn::conv1d(bottleneck_channels / 2, cfg.growth_rate, 1, Conv1dConfig::default(), cam.pp("linear2"))?,
            seg_len: cfg.seg_len,
        })
    }

    fn cpu(&self, dilation: usize) -> candle_core::Result<DenseLayerCpu> {
        Ok(DenseLayerCpu {
            bn_in: self.bn_in.affine()?,
            bottleneck: self.bottleneck.weights()?,
            bn_mid: self.bn_mid.affine()?,
            local: self.local.weights()?,
            dilation,
            mask_hidden: self.mask_hidden.weights()?,
            mask_out: self.mask_out.weights()?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.bn_in.forward(x)?.relu()?;
        let x = self.bn_mid.forward(&self.bottleneck.forward(&x)?)?.relu()?;
        let y = self.local.forward(&x)?;
        let context = segment_means(&x, self.seg_len)?.broadcast_add(&x.mean_keepdim(D::Minus1)?)?;
        let mask = candle_nn::ops::sigmoid(&self.mask_out.forward(&self.mask_hidden.forward(&context)?.relu()?)?)?;
        y.mul(&mask)
    }
}

/// Each frame replaced by the mean of its `seg_len`-frame segment (the last segment may be
/// shorter and is averaged over its own frames, as `avg_pool1d(ceil_mode=True)` does).
fn segment_means(x: &Tensor, seg_len: usize) -> candle_core::Result<Tensor> {
    let frames = x.dim(D::Minus1)?;
    let mut parts = Vec::with_capacity(frames.div_ceil(seg_len));
    let mut start = 0;
    while start < frames {
        let len = seg_len.min(frames - start);
        let segment = x.narrow(D::Minus1, start, len)?;
        let (batch, channels, _) = segment.dims3()?;
        parts.push(segment.mean_keepdim(D::Minus1)?.broadcast_as((batch, channels, len))?);
        start += len;
    }
    Tensor::cat(&parts, D::Minus1)
}

/// Batch-norm, ReLU and a 1×1 convolution halving the channels between dense blocks.
struct Transit {
    bn: BatchNorm,
    linear: Conv1d,
}

pub struct CamPlus {
    config: CamPlusConfig,
    front_end: FrontEnd,
    tdnn: Conv1d,
    tdnn_bn: BatchNorm,
    /// Per block: its dense layers, then the transition.
    blocks: Vec<(Vec<DenseTdnnLayer>, Transit)>,
    out_bn: BatchNorm,
    dense: Tensor,
    dense_bn: BatchNorm,
    fbank: KaldiFbank,
    device: Device,
    /// The same weights laid out for [`cpu`], used when `device` is the CPU.
    cpu: CamPlusCpu,
}

impl CamPlus {
    /// `vb` holds `head.*` and `xvector.*`.
    pub fn load(vb: VarBuilder, config: &CamPlusConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let front_end = FrontEnd::load(vb.pp("head"), config.m_channels)?;
        let x = vb.pp("xvector");
        let mut channels = config.m_channels * (config.feat_dim / 8);
        let tdnn_cfg = Conv1dConfig { padding: 2, stride: 2, ..Default::default() };
        let tdnn = candle_nn::conv1d_no_bias(channels, config.init_channels, 5, tdnn_cfg, x.pp("tdnn.linear"))?;
        let tdnn_bn = BatchNorm::load(x.pp("tdnn.nonlinear.batchnorm"), config.init_channels, true)?;
        channels = config.init_channels;
        let mut blocks = Vec::with_capacity(config.blocks.len());
        for (i, &[layers, kernel, dilation]) in config.blocks.iter().enumerate() {
            let block = x.pp(format!("block{}", i + 1));
            let dense = (0..layers)
                .map(|j| {
                    let cin = channels + j * config.growth_rate;
                    DenseTdnnLayer::load(block.pp(format!("tdnnd{}", j + 1)), cin, config, kernel, dilation)
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            channels += layers * config.growth_rate;
            let transit = x.pp(format!("transit{}", i + 1));
            let transit = Transit {
                bn: BatchNorm::load(transit.pp("nonlinear.batchnorm"), channels, true)?,
                linear: candle_nn::conv1d_no_bias(channels, channels / 2, 1, Conv1dConfig::default(), transit.pp("linear"))?,
            };
            channels /= 2;
            blocks.push((dense, transit));
        }
        let out_bn = BatchNorm::load(x.pp("out_nonlinear.batchnorm"), channels, true)?;
        let dense = x.pp("dense.linear").get((config.embedding_size, 2 * channels, 1), "weight")?.squeeze(2)?;
        let dense_bn = BatchNorm::load(x.pp("dense.nonlinear.batchnorm"), config.embedding_size, false)?;
        let cpu = CamPlusCpu {
            conv1: front_end.conv1.weights()?,
            bn1: front_end.bn1.affine()?,
            blocks: front_end.blocks.iter().map(ResBlock::cpu).collect::<candle_core::Result<_>>()?,
            conv2: front_end.conv2.weights()?,
            bn2: front_end.bn2.affine()?,
            tdnn: tdnn.weights()?,
            tdnn_bn: tdnn_bn.affine()?,
            dense: blocks
                .iter()
                .zip(&config.blocks)
                .map(|((layers, transit), &[_, _, dilation])| {
                    let layers = layers.iter().map(|l| l.cpu(dilation)).collect::<candle_core::Result<_>>()?;
                    Ok((layers, transit.bn.affine()?, transit.linear.weights()?))
                })
                .collect::<candle_core::Result<_>>()?,
            out_bn: out_bn.affine()?,
            embedding: ConvWeights {
                matrix: dense.flatten_all()?.to_vec1()?,
                bias: None,
                out: config.embedding_size,
                input: dense.dim(1)?,
                kernel: (1, 1),
            },
            embedding_bn: dense_bn.affine()?,
            seg_len: config.seg_len,
        };
        Ok(Self {
            config: config.clone(),
            front_end,
            tdnn,
            tdnn_bn,
            blocks,
            out_bn,
            dense,
            dense_bn,
            fbank: KaldiFbank::new(config.sample_rate, config.feat_dim),
            device: vb.device().clone(),
            cpu,
        })
    }

    pub fn config(&self) -> &CamPlusConfig {
        &self.config
    }

    /// Embeddings (not normalised) of mean-normalised log-mel features `(batch, frames,
    /// feat_dim)` -> `(batch, embedding_size)`.
    pub fn forward(&self, features: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.front_end.forward(&features.transpose(1, 2)?.contiguous()?)?;
        let mut x = self.tdnn_bn.forward(&self.tdnn.forward(&x)?)?.relu()?;
        for (layers, transit) in &self.blocks {
            for layer in layers {
                let added = layer.forward(&x)?;
                x = Tensor::cat(&[&x, &added], 1)?;
            }
            x = transit.linear.forward(&transit.bn.forward(&x)?.relu()?)?;
        }
        let x = self.out_bn.forward(&x)?.relu()?;
        let pooled = Tensor::cat(&[x.mean(D::Minus1)?, unbiased_std(&x)?], 1)?;
        self.dense_bn.forward(&pooled.matmul(&self.dense.t()?)?)
    }

    /// The network's input for `wav` (audio at `config().sample_rate`): Kaldi log-mel bands,
    /// minus their mean over the utterance; frame-major `frames × feat_dim`.
    pub fn features(&self, wav: &[f32]) -> Vec<f32> {
        let dim = self.config.feat_dim;
        let mut features = self.fbank.compute(wav);
        let frames = features.len() / dim;
        if frames > 0 {
            let mut mean = vec![0.0f32; dim];
            for frame in features.chunks_exact(dim) {
                mean.iter_mut().zip(frame).for_each(|(m, x)| *m += x / frames as f32);
            }
            for frame in features.chunks_exact_mut(dim) {
                frame.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
            }
        }
        features
    }

    /// One unit-length embedding per utterance. An utterance too short for one filterbank frame
    /// (25 ms) gets the zero vector. On the CPU the utterances run in parallel through [`cpu`].
    pub fn embed_utterances(&self, wavs: &[&[f32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let dim = self.config.feat_dim;
        let embed = |wav: &&[f32]| -> Result<Vec<f32>, ModelError> {
            let features = self.features(wav);
            let frames = features.len() / dim;
            if frames == 0 {
                return Ok(vec![0.0; self.config.embedding_size]);
            }
            let embedding = if self.device.is_cpu() {
                self.cpu.forward(&features, frames, dim)
            } else {
                let input = Tensor::from_vec(features, (1, frames, dim), &self.device)?;
                self.forward(&input)?.to_dtype(DType::F32)?.squeeze(0)?.to_vec1::<f32>()?
            };
            Ok(unit_length(embedding))
        };
        if self.device.is_cpu() {
            wavs.par_iter().map(embed).collect()
        } else {
            wavs.iter().map(embed).collect()
        }
    }
}

/// Standard deviation over the last axis with Bessel's correction; zero for a single frame
/// (where PyTorch's would be NaN).
fn unbiased_std(x: &Tensor) -> candle_core::Result<Tensor> {
    let frames = x.dim(D::Minus1)?;
    let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let sum_sq = centred.sqr()?.sum(D::Minus1)?;
    (sum_sq / (frames.max(2) - 1) as f64)?.sqrt()
}

fn unit_length(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
