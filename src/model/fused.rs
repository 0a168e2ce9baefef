//! The fused speech-emotion model (SPEC §5). Output: one logit per segment,
//! `p = sigmoid(logit) = P(non-negative)`.
use std::sync::{Arc, OnceLock};

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::attention::AttentionLayer;
use super::config::{Backbone, FusedConfig};
use super::fast::FastModel;
use super::lstm::BiLstm;
use super::ops::{self, Linear};
use super::wav2vec2::{FeatureEncoder, FeatureProjection, Wav2Vec2Model};
use super::whisper::WhisperBranch;

/// The audio branch: the pretrained speech encoder the fused head listens through.
#[derive(Debug, Clone)]
pub enum AudioBranch {
    /// `wav2vec2.*`: HF `Wav2Vec2Model` on the normalised waveform.
    Wav2Vec2(Wav2Vec2Model),
    /// `whisper.*`, `layer_weights`, `audio_projection.*`: Whisper's encoder on the log-Mel
    /// spectrogram, hidden states mixed by learned softmax weights and projected to the head.
    Whisper(WhisperBranch),
}

#[derive(Debug, Clone)]
pub struct FusedModel {
    pub(crate) audio: AudioBranch,
    pub(crate) pitch_encoder: FeatureEncoder,
    pub(crate) pitch_projection: FeatureProjection,
    pub(crate) lstm: BiLstm,
    pub(crate) attn_a_p: AttentionLayer,
    pub(crate) attn_p_a: AttentionLayer,
    pub(crate) self_attn: AttentionLayer,
    pub(crate) fc: Linear,
    pub(crate) classifier: Linear,
    pub(crate) config: FusedConfig,
    /// The CPU inference path, built on first use (`None` when it does not apply); shared by
    /// clones.
    fast: Arc<OnceLock<Option<Arc<FastModel>>>>,
}

/// Every intermediate stage, for parity tests and inspection.
#[derive(Debug, Clone)]
pub struct FusedOutput {
    /// `wav2vec2` last_hidden_state `(batch, frames, hidden)`.
    pub audio_hidden: Tensor,
    /// `pitch_projection(pitch_encoder(pitch))` `(batch, frames, hidden)`.
    pub pitch_hidden: Tensor,
    /// Mean BiLSTM output over time `(batch, 2 * lstm_hidden)`.
    pub lstm_mean: Tensor,
    /// `(batch,)`.
    pub logit: Tensor,
}

impl FusedModel {
    pub fn load(vb: VarBuilder, cfg: &FusedConfig) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::wrap)?;
        let w = &cfg.wav2vec2;
        let h = w.hidden_size;
        let fusion = cfg.fusion_dim();
        Ok(Self {
            audio: match cfg.backbone {
                Backbone::Wav2vec2 => AudioBranch::Wav2Vec2(Wav2Vec2Model::load(vb.pp("wav2vec2"), w)?),
                Backbone::Whisper => {
                    let branch = cfg.whisper.as_ref().ok_or_else(|| candle_core::Error::Msg("whisper backbone without its config".into()))?;
                    AudioBranch::Whisper(WhisperBranch::load(vb.clone(), branch, h)?)
                }
            },
            pitch_encoder: FeatureEncoder::load(vb.pp("pitch_encoder"), w)?,
            pitch_projection: FeatureProjection::load(vb.pp("pitch_projection"), w)?,
            lstm: BiLstm::load(vb.pp("lstm"), cfg.mfcc_dim, cfg.lstm_hidden)?,
            attn_a_p: AttentionLayer::load(vb.pp("attn_a_p"), h, cfg.cross_heads, cfg.attn_ffn_multiplier)?,
            attn_p_a: AttentionLayer::load(vb.pp("attn_p_a"), h, cfg.cross_heads, cfg.attn_ffn_multiplier)?,
            self_attn: AttentionLayer::load(vb.pp("self_attn"), fusion, cfg.self_heads, cfg.attn_ffn_multiplier)?,
            fc: Linear::load(vb.pp("fc"), fusion, cfg.fc_dim)?,
            classifier: Linear::load(vb.pp("classifier"), cfg.fc_dim, 1)?,
            config: cfg.clone(),
            fast: Arc::default(),
        })
    }

    /// The pretrained speech encoder's branch (e.g. to run the encoder alone).
    pub fn audio_branch(&self) -> &AudioBranch {
        &self.audio
    }

    pub fn config(&self) -> &FusedConfig {
        &self.config
    }

    /// `audio`: the audio branch's input ([`Self::audio_input_dims`]): the normalised waveform
    /// `(batch, samples)` for wav2vec2, the log-Mel spectrogram `(batch, n_mels, mel_frames)` for
    /// Whisper; `pitch`: `(batch, samples)` normalised; `mfcc`: `(batch, frames, mfcc_dim)`.
    /// Rows of a batch must have equal lengths (no padding mask exists); run unequal segments
    /// separately. Dropout layers are inference-off. On the CPU, without anything autograd could
    /// differentiate, this runs the inference path ([`FastModel`]); otherwise
    /// [`Self::differentiable_forward_stages`].
    pub fn forward_stages(&self, audio: &Tensor, pitch: &Tensor, mfcc: &Tensor) -> Result<FusedOutput> {
        let plain_cpu_f32 =
            |t: &Tensor| t.device().is_cpu() && t.dtype() == candle_core::DType::F32 && !t.track_op();
        if [audio, pitch, mfcc].into_iter().all(plain_cpu_f32) {
            if let Some(fast) = self.fast_model()? {
                return fast.forward_tensors(audio, pitch, mfcc);
            }
        }
        self.differentiable_forward_stages(audio, pitch, mfcc)
    }

    /// The CPU inference path, if it applies to this model (built once).
    pub fn fast_model(&self) -> Result<Option<Arc<FastModel>>> {
        if let Some(fast) = self.fast.get() {
            return Ok(fast.clone());
        }
        let built = FastModel::build(self)?.map(Arc::new);
        // Another thread may have built it meanwhile; either copy is the same.
        Ok(self.fast.get_or_init(|| built).clone())
    }

    /// [`Self::forward_stages`] with the differentiable candle modules, whatever the device.
    pub fn differentiable_forward_stages(&self, audio: &Tensor, pitch: &Tensor, mfcc: &Tensor) -> Result<FusedOutput> {
        let audio_conv = self.audio_conv_features(audio)?;
        let (audio_hidden, pitch_hidden) = self.branch_states(&audio_conv, pitch)?;
        let frames = audio_hidden.dim(1)?.min(pitch_hidden.dim(1)?);
        let (audio_hidden, pitch_hidden) = (audio_hidden.narrow(1, 0, frames)?, pitch_hidden.narrow(1, 0, frames)?);
        let cross = self.cross_attention_mean(&audio_hidden, &pitch_hidden)?;
        let lstm_mean = self.lstm_mean(mfcc)?;
        let mut logit = self.head(&cross, &lstm_mean, None)?;
        if let Some(stats) = self.stats_logits(&audio_conv)? {
            logit = (logit + stats)?;
        }
        Ok(FusedOutput { audio_hidden, pitch_hidden, lstm_mean, logit })
    }

    /// Logits `(batch,)`.
    pub fn forward(&self, audio: &Tensor, pitch: &Tensor, mfcc: &Tensor) -> Result<Tensor> {
        Ok(self.forward_stages(audio, pitch, mfcc)?.logit)
    }

    // The stages below are shared with training (`crate::training::net`), which caches the frozen
    // conv encoder's output, runs the attention branches per clip and applies dropout.

    /// The frozen part of the audio branch (its output is cached in training): wav2vec2's conv
    /// feature encoder `(batch, samples)` -> `(batch, frames, conv_dim)`; Whisper's whole encoder
    /// `(batch, n_mels, mel_frames)` -> the pooled hidden states `(batch, states, frames, d_model)`.
    pub fn audio_conv_features(&self, audio: &Tensor) -> Result<Tensor> {
        match &self.audio {
            AudioBranch::Wav2Vec2(w) => w.conv_features(audio),
            AudioBranch::Whisper(w) => w.frozen_states(audio),
        }
    }

    /// The statistics head's logits `(batch,)` from the frozen states ([`Self::audio_conv_features`]),
    /// to be added to [`Self::head`]'s; `None` without one (wav2vec2, or not configured).
    pub fn stats_logits(&self, audio_conv: &Tensor) -> Result<Option<Tensor>> {
        match &self.audio {
            AudioBranch::Whisper(w) => w.stats_logits(audio_conv),
            AudioBranch::Wav2Vec2(_) => Ok(None),
        }
    }

    /// Whether the model has a statistics head.
    pub fn has_stats_head(&self) -> bool {
        matches!(&self.audio, AudioBranch::Whisper(w) if w.stats_head.is_some())
    }

    /// Shape of one segment's audio-branch input whose flattened values number `values`.
    pub fn audio_input_dims(&self, values: usize) -> Vec<usize> {
        match &self.audio {
            AudioBranch::Wav2Vec2(_) => vec![values],
            AudioBranch::Whisper(w) => {
                let mels = w.encoder.config().num_mel_bins;
                vec![mels, values / mels.max(1)]
            }
        }
    }

    /// Which input the audio branch takes.
    pub fn backbone(&self) -> Backbone {
        self.config.backbone
    }

    /// Whether scores depend on the whole call (per-call centring of the Whisper states, or of
    /// the statistics head).
    pub fn centres_per_call(&self) -> bool {
        self.centres_states_per_call() || self.centres_stats_per_call()
    }

    /// Whether the fused head's Whisper states are centred on the call's mean.
    pub fn centres_states_per_call(&self) -> bool {
        self.config.whisper_branch().is_some_and(|w| w.per_call_centring)
    }

    /// Whether the statistics head's logit is centred on the call's mean.
    pub fn centres_stats_per_call(&self) -> bool {
        self.has_stats_head() && self.config.whisper_branch().is_some_and(|w| w.stats_centring)
    }

    /// The statistics head's bias (`None` without a head): the part of its logit that centring keeps.
    pub fn stats_head_bias(&self) -> Result<Option<f32>> {
        match &self.audio {
            AudioBranch::Whisper(w) => match &w.stats_head {
                Some(head) => match &head.linear.bias {
                    Some(b) => Ok(b.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?.first().copied()),
                    None => Ok(Some(0.0)),
                },
                None => Ok(None),
            },
            AudioBranch::Wav2Vec2(_) => Ok(None),
        }
    }

    /// A centred statistics head's offset for one call (or training group) from its segments'
    /// statistics-head logits: their mean less the head's bias, i.e. the head applied to the
    /// call's mean summary (the head is linear). 0 without logits.
    pub fn stats_call_offset(&self, logits: &[f32]) -> Result<f32> {
        if logits.is_empty() {
            return Ok(0.0);
        }
        let bias = self.stats_head_bias()?.unwrap_or(0.0) as f64;
        Ok((logits.iter().map(|&l| l as f64).sum::<f64>() / logits.len() as f64 - bias) as f32)
    }

    /// The bias of the Whisper branch's `audio_projection` (`None` for wav2vec2).
    pub(crate) fn audio_projection_bias(&self) -> Result<Option<Vec<f32>>> {
        match &self.audio {
            AudioBranch::Whisper(w) => w.projection.bias.as_ref().map(|b| b.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()).transpose(),
            AudioBranch::Wav2Vec2(_) => Ok(None),
        }
    }

    /// Audio `last_hidden_state` from the conv features, and the pitch branch from the pitch
    /// track: both `(batch, frames, hidden)`.
    pub fn branch_states(&self, audio_conv: &Tensor, pitch: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.audio_hidden(audio_conv)?, self.pitch_hidden(&self.pitch_conv_features(pitch)?)?))
    }

    /// The audio branch's states `(batch, frames, hidden)` from its frozen part's output
    /// ([`Self::audio_conv_features`]).
    pub fn audio_hidden(&self, audio_conv: &Tensor) -> Result<Tensor> {
        match &self.audio {
            AudioBranch::Wav2Vec2(w) => w.forward_from_conv_features(audio_conv),
            AudioBranch::Whisper(w) => w.mix(audio_conv),
        }
    }

    /// The pitch branch's conv feature encoder: `(batch, samples)` -> `(batch, frames, conv_dim)`.
    pub fn pitch_conv_features(&self, pitch: &Tensor) -> Result<Tensor> {
        self.pitch_encoder.forward(pitch)
    }

    /// The Whisper states' learned layer mix before the projection: `(batch, states, frames,
    /// d_model)` -> `(batch, frames, d_model)` (the linear-probe baseline's input).
    pub fn audio_mixed_states(&self, states: &Tensor) -> Result<Tensor> {
        match &self.audio {
            AudioBranch::Whisper(w) => w.mix_states(states),
            AudioBranch::Wav2Vec2(_) => candle_core::bail!("the layer mix needs the Whisper backbone"),
        }
    }

    /// [`Self::audio_hidden`] of Whisper states from which `offsets` `(batch, states, 1, d_model)`
    /// (a call's mean states) are subtracted before the mix: per-call centring.
    pub fn audio_hidden_centred(&self, states: &Tensor, offsets: &Tensor) -> Result<Tensor> {
        match &self.audio {
            AudioBranch::Whisper(w) => w.mix(&states.to_dtype(offsets.dtype())?.broadcast_sub(offsets)?),
            AudioBranch::Wav2Vec2(_) => candle_core::bail!("per-call centring needs the Whisper backbone"),
        }
    }

    /// `pitch_projection` of the pitch conv features: `(batch, frames, hidden)` (pooled like the
    /// Whisper branch's frames).
    pub fn pitch_hidden(&self, pitch_conv: &Tensor) -> Result<Tensor> {
        let projected = self.pitch_projection.forward(pitch_conv)?;
        match &self.audio {
            AudioBranch::Wav2Vec2(_) => Ok(projected),
            AudioBranch::Whisper(w) => super::whisper::pool_frames(&projected, w.frame_pooling),
        }
    }

    /// `mean_t concat(attn_a_p(audio, pitch), attn_p_a(pitch, audio))`: `(batch, 2 * hidden)`.
    /// The two sequences are cut to the shorter one (Whisper's frames and the pitch branch's
    /// may differ by one).
    pub fn cross_attention_mean(&self, audio_hidden: &Tensor, pitch_hidden: &Tensor) -> Result<Tensor> {
        let frames = audio_hidden.dim(1)?.min(pitch_hidden.dim(1)?);
        let audio_hidden = &audio_hidden.narrow(1, 0, frames)?;
        let pitch_hidden = &pitch_hidden.narrow(1, 0, frames)?;
        let a_p = self.attn_a_p.forward(audio_hidden, pitch_hidden)?;
        let p_a = self.attn_p_a.forward(pitch_hidden, audio_hidden)?;
        ops::mean_over_time(&Tensor::cat(&[a_p, p_a], 2)?)
    }

    /// Mean BiLSTM output over the MFCC frames `(batch, frames, mfcc_dim)` -> `(batch, 2 * lstm_hidden)`.
    pub fn lstm_mean(&self, mfcc: &Tensor) -> Result<Tensor> {
        self.lstm.mean_output(mfcc)
    }

    /// `self_attn` on `[cross, lstm_mean]` as a length-1 sequence, `dropout1`, `fc`, tanh,
    /// `dropout2`, `classifier`: logits `(batch,)`. `dropout` is applied at both dropout layers
    /// (training); `None` is inference.
    pub fn head(&self, cross: &Tensor, lstm_mean: &Tensor, dropout: Option<&mut Dropout<'_>>) -> Result<Tensor> {
        self.head_with(cross, lstm_mean, true, dropout)
    }

    /// [`Self::head`], optionally without `self_attn` (the "no attention" ablation in training).
    pub fn head_with(&self, cross: &Tensor, lstm_mean: &Tensor, self_attention: bool, mut dropout: Option<&mut Dropout<'_>>) -> Result<Tensor> {
        let mut fused = Tensor::cat(&[cross, lstm_mean], 1)?;
        if self_attention {
            let seq = fused.unsqueeze(1)?;
            fused = self.self_attn.forward(&seq, &seq)?.squeeze(1)?;
        }
        if let Some(drop) = dropout.as_mut() {
            fused = drop(&fused)?;
        }
        let mut hidden = self.fc.forward(&fused)?.tanh()?;
        if let Some(drop) = dropout.as_mut() {
            hidden = drop(&hidden)?;
        }
        self.classifier.forward(&hidden)?.squeeze(1)
    }
}

/// A dropout layer in training mode (the model's two dropout layers share it).
pub type Dropout<'a> = dyn FnMut(&Tensor) -> Result<Tensor> + 'a;
