//! Model configurations: the HF `Wav2Vec2Config` subset we need (unknown fields are kept so the
//! embedded config round-trips) and our fused-model config.
use serde::{Deserialize, Serialize};

use super::ModelError;

fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_feat_extract_norm() -> String {
    "group".into()
}
fn default_layer_norm_eps() -> f64 {
    1e-5
}
fn default_conv_dim() -> Vec<usize> {
    vec![512; 7]
}
fn default_conv_kernel() -> Vec<usize> {
    vec![10, 3, 3, 3, 3, 2, 2]
}
fn default_conv_stride() -> Vec<usize> {
    vec![5, 2, 2, 2, 2, 2, 2]
}
fn default_pos_kernel() -> usize {
    128
}
fn default_pos_groups() -> usize {
    16
}
fn default_hidden_size() -> usize {
    768
}
fn default_layers() -> usize {
    12
}
fn default_heads() -> usize {
    12
}
fn default_intermediate() -> usize {
    3072
}

/// HF transformers `Wav2Vec2Config` (config.json). Defaults are HF's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wav2Vec2Config {
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "default_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "default_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "default_intermediate")]
    pub intermediate_size: usize,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    #[serde(default = "default_feat_extract_norm")]
    pub feat_extract_norm: String,
    #[serde(default = "default_hidden_act")]
    pub feat_extract_activation: String,
    #[serde(default = "default_conv_dim")]
    pub conv_dim: Vec<usize>,
    #[serde(default = "default_conv_kernel")]
    pub conv_kernel: Vec<usize>,
    #[serde(default = "default_conv_stride")]
    pub conv_stride: Vec<usize>,
    #[serde(default)]
    pub conv_bias: bool,
    #[serde(default = "default_pos_kernel")]
    pub num_conv_pos_embeddings: usize,
    #[serde(default = "default_pos_groups")]
    pub num_conv_pos_embedding_groups: usize,
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Every other field of the HF config, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// How the conv feature encoder normalises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatExtractNorm {
    /// GroupNorm (one group per channel) on the first conv layer only (base models).
    Group,
    /// LayerNorm over channels after every conv layer (large / XLSR models).
    Layer,
}

impl Wav2Vec2Config {
    pub fn from_json_str(text: &str) -> Result<Self, ModelError> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| ModelError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn feat_extract_norm(&self) -> Result<FeatExtractNorm, ModelError> {
        match self.feat_extract_norm.as_str() {
            "group" => Ok(FeatExtractNorm::Group),
            "layer" => Ok(FeatExtractNorm::Layer),
            other => Err(ModelError::Config(format!(
                "feat_extract_norm is {other:?}, expected \"group\" or \"layer\""
            ))),
        }
    }

    /// Number of output frames of the conv feature encoder for `samples` input samples.
    pub fn frames_for_samples(&self, samples: usize) -> usize {
        let mut len = samples;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            len = if len >= k { (len - k) / s + 1 } else { 0 };
        }
        len
    }

    /// Smallest input length that yields at least one frame.
    pub fn min_samples(&self) -> usize {
        let mut len = 1;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride).rev() {
            len = (len - 1) * s + k;
        }
        len
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |msg: String| Err(ModelError::Config(msg));
        if self.conv_dim.is_empty()
            || self.conv_dim.len() != self.conv_kernel.len()
            || self.conv_dim.len() != self.conv_stride.len()
        {
            return bad(format!(
                "conv_dim ({}), conv_kernel ({}) and conv_stride ({}) must be non-empty and of equal length",
                self.conv_dim.len(),
                self.conv_kernel.len(),
                self.conv_stride.len()
            ));
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.num_conv_pos_embedding_groups == 0 || self.hidden_size % self.num_conv_pos_embedding_groups != 0
        {
            return bad(format!(
                "hidden_size {} is not divisible by num_conv_pos_embedding_groups {}",
                self.hidden_size, self.num_conv_pos_embedding_groups
            ));
        }
        self.feat_extract_norm()?;
        let flag = |key: &str| self.extra.get(key).is_some_and(|v| !v.is_null() && v != &serde_json::Value::Bool(false));
        if flag("add_adapter") || flag("adapter_attn_dim") {
            return bad("wav2vec2 adapters (add_adapter / adapter_attn_dim) are not supported".into());
        }
        for name in [&self.hidden_act, &self.feat_extract_activation] {
            if crate::model::ops::Activation::from_hf_name(name).is_none() {
                return bad(format!("unsupported activation {name:?}"));
            }
        }
        Ok(())
    }
}

fn default_mfcc_dim() -> usize {
    39
}
fn default_lstm_hidden() -> usize {
    256
}
fn default_cross_heads() -> usize {
    16
}
fn default_self_heads() -> usize {
    8
}
fn default_fc_dim() -> usize {
    512
}
fn default_ffn_multiplier() -> usize {
    4
}

/// Which pretrained speech encoder the audio branch is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backbone {
    /// HF `Wav2Vec2Model` on the normalised waveform (the reference model, SPEC §5).
    #[default]
    Wav2vec2,
    /// HF `WhisperEncoder` on the clip-length log-Mel spectrogram, every hidden state combined by
    /// learned softmax weights (SPEC §5b).
    Whisper,
}

fn is_padded(frames: &MfccFrames) -> bool {
    *frames == MfccFrames::Padded10s
}

fn default_frame_pooling() -> usize {
    1
}

/// The Whisper audio branch: the encoder, and how its hidden states reach the fused head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhisperBranchConfig {
    /// The imported encoder's HF config (all of its layers, even when fewer run).
    pub encoder: crate::model::whisper::WhisperConfig,
    /// Encoder layers that run; hidden states 0 (the embedding output) ..= `layers` are mixed.
    /// Fewer than the encoder has saves their cost (their weights are not stored).
    pub layers: usize,
    /// Each hidden state is normalised over its features (no parameters) before the weighting,
    /// so layers of different scales mix on equal terms.
    #[serde(default)]
    pub normalize_layers: bool,
    /// The mixed states and the pitch branch are averaged over this many 20-ms frames before
    /// the cross-attention (1 = Whisper's 50 frames/s).
    #[serde(default = "default_frame_pooling")]
    pub frame_pooling: usize,
    /// Per-call centring: the mean of the encoder's (mixed) states over all of a call's caller
    /// segments is subtracted before the head, so the audio branch hears how each segment differs
    /// from the caller's own voice on this line. Trained with each speaker's mean subtracted.
    /// Scores then depend on the whole call (see docs/model-card.md on comparing calls).
    #[serde(default)]
    pub per_call_centring: bool,
    /// The statistics head (`stats_head.*`): a linear map from every hidden state's mean and
    /// standard deviation over the clip's frames to a logit added to the fused head's. Fitted as
    /// an L2-regularised logistic regression and stacked with the fused head on validation
    /// speakers (`emotrace train --stats-head`); see docs/model-card.md.
    #[serde(default)]
    pub stats_head: bool,
    /// The statistics head hears each segment against the call: its summary less the mean summary
    /// of the call's caller segments (in training, of the speaker's clips). The head is linear, so
    /// this is its logit less the call's mean logit (bias kept). Removes much of what a voice
    /// and a line add to every segment alike; scores then depend on the whole call.
    #[serde(default)]
    pub stats_centring: bool,
}

impl WhisperBranchConfig {
    /// Hidden states that are mixed.
    pub fn mixed_states(&self) -> usize {
        self.layers + 1
    }
}

/// Which MFCC frames the BiLSTM reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfccFrames {
    /// All 1001 frames of the clip zero-padded to 10 s, as the reference (SPEC §4): the LSTM
    /// mean is mostly the padding's.
    #[default]
    Padded10s,
    /// Only the frames centred inside the clip (the same MFCC values, the padding's frames left
    /// out): the mean describes the speech, and a short clip costs the LSTM a fraction of 10 s.
    Clip,
}

/// The fused model (SPEC §5). Serialised as a bundle's config.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedConfig {
    /// The audio branch's encoder (absent in older bundles: wav2vec2).
    #[serde(default)]
    pub backbone: Backbone,
    /// The HF wav2vec2 config of the pitch branch (a second conv feature encoder and projection,
    /// as in the reference), and of the audio backbone when it is wav2vec2. `hidden_size` is the
    /// fused head's width; with the Whisper backbone the transformer fields are unused.
    pub wav2vec2: Wav2Vec2Config,
    /// The Whisper audio branch (`backbone` = whisper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whisper: Option<WhisperBranchConfig>,
    /// MFCC feature size per frame (39 = 13 MFCC + deltas + delta-deltas).
    #[serde(default = "default_mfcc_dim")]
    pub mfcc_dim: usize,
    /// Which MFCC frames the BiLSTM reads.
    #[serde(default, skip_serializing_if = "is_padded")]
    pub mfcc_frames: MfccFrames,
    /// LSTM hidden size per direction.
    #[serde(default = "default_lstm_hidden")]
    pub lstm_hidden: usize,
    /// Heads of `attn_a_p` and `attn_p_a`.
    #[serde(default = "default_cross_heads")]
    pub cross_heads: usize,
    /// Heads of `self_attn`.
    #[serde(default = "default_self_heads")]
    pub self_heads: usize,
    /// Output size of `fc`.
    #[serde(default = "default_fc_dim")]
    pub fc_dim: usize,
    /// Feed-forward width of each AttentionLayer as a multiple of its model size.
    #[serde(default = "default_ffn_multiplier")]
    pub attn_ffn_multiplier: usize,
}

impl FusedConfig {
    /// The reference architecture's head around a given backbone.
    pub fn reference(wav2vec2: Wav2Vec2Config) -> Self {
        Self {
            backbone: Backbone::Wav2vec2,
            wav2vec2,
            whisper: None,
            mfcc_dim: default_mfcc_dim(),
            mfcc_frames: MfccFrames::Padded10s,
            lstm_hidden: default_lstm_hidden(),
            cross_heads: default_cross_heads(),
            self_heads: default_self_heads(),
            fc_dim: default_fc_dim(),
            attn_ffn_multiplier: default_ffn_multiplier(),
        }
    }

    /// Size of the fused vector: audio-pitch attention (2H) + BiLSTM mean (2 * lstm_hidden).
    pub fn fusion_dim(&self) -> usize {
        2 * self.wav2vec2.hidden_size + 2 * self.lstm_hidden
    }

    /// The Whisper branch's config, when that is the backbone.
    pub fn whisper_branch(&self) -> Option<&WhisperBranchConfig> {
        match self.backbone {
            Backbone::Whisper => self.whisper.as_ref(),
            Backbone::Wav2vec2 => None,
        }
    }

    /// Fewest samples a segment may have (the pitch branch's conv stack needs one frame).
    pub fn min_samples(&self) -> usize {
        self.wav2vec2.min_samples()
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        self.wav2vec2.validate()?;
        match (self.backbone, &self.whisper) {
            (Backbone::Wav2vec2, None) => {}
            (Backbone::Wav2vec2, Some(_)) => {
                return Err(ModelError::Config("a `whisper` section needs \"backbone\": \"whisper\"".into()))
            }
            (Backbone::Whisper, None) => {
                return Err(ModelError::Config("\"backbone\": \"whisper\" needs a `whisper` section".into()))
            }
            (Backbone::Whisper, Some(w)) => {
                w.encoder.validate()?;
                if w.layers > w.encoder.encoder_layers {
                    return Err(ModelError::Config(format!(
                        "whisper.layers {} exceeds the encoder's {} layers",
                        w.layers, w.encoder.encoder_layers
                    )));
                }
                if w.frame_pooling == 0 {
                    return Err(ModelError::Config("whisper.frame_pooling must be at least 1".into()));
                }
                if w.stats_head && w.per_call_centring {
                    return Err(ModelError::Config("the statistics head does not combine with per-call centring".into()));
                }
                if w.stats_centring && !w.stats_head {
                    return Err(ModelError::Config("whisper.stats_centring needs the statistics head".into()));
                }
            }
        }
        let h = self.wav2vec2.hidden_size;
        if self.cross_heads == 0 || h % self.cross_heads != 0 {
            return Err(ModelError::Config(format!(
                "hidden_size {h} is not divisible by cross_heads {}",
                self.cross_heads
            )));
        }
        let f = self.fusion_dim();
        if self.self_heads == 0 || f % self.self_heads != 0 {
            return Err(ModelError::Config(format!(
                "fusion size {f} is not divisible by self_heads {}",
                self.self_heads
            )));
        }
        if self.mfcc_dim == 0 || self.lstm_hidden == 0 || self.fc_dim == 0 || self.attn_ffn_multiplier == 0 {
            return Err(ModelError::Config("mfcc_dim, lstm_hidden, fc_dim and attn_ffn_multiplier must be > 0".into()));
        }
        Ok(())
    }
}
