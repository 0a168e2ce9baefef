//! The HF transformers `WhisperConfig` subset the encoder needs. Unknown fields are kept, so an HF
//! config.json round-trips through a bundle.
use serde::{Deserialize, Serialize};

use crate::model::ModelError;

fn default_d_model() -> usize {
    512
}
fn default_layers() -> usize {
    6
}
fn default_heads() -> usize {
    8
}
fn default_ffn() -> usize {
    2048
}
fn default_mel_bins() -> usize {
    80
}
fn default_positions() -> usize {
    1500
}
fn default_activation() -> String {
    "gelu".into()
}

/// HF `WhisperConfig` (encoder part). Defaults are Whisper base's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhisperConfig {
    #[serde(default = "default_d_model")]
    pub d_model: usize,
    #[serde(default = "default_layers")]
    pub encoder_layers: usize,
    #[serde(default = "default_heads")]
    pub encoder_attention_heads: usize,
    #[serde(default = "default_ffn")]
    pub encoder_ffn_dim: usize,
    #[serde(default = "default_mel_bins")]
    pub num_mel_bins: usize,
    /// Positions of the learned positional embedding (1500 = 30 s at 50 frames/s).
    #[serde(default = "default_positions")]
    pub max_source_positions: usize,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Every other field of the HF config, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// LayerNorm epsilon of every Whisper norm (PyTorch's default; HF does not configure it).
pub const WHISPER_LAYER_NORM_EPS: f64 = 1e-5;

impl WhisperConfig {
    /// Whisper base (multilingual): 512 wide, 6 layers, 8 heads.
    pub fn base() -> Self {
        Self {
            d_model: default_d_model(),
            encoder_layers: default_layers(),
            encoder_attention_heads: default_heads(),
            encoder_ffn_dim: default_ffn(),
            num_mel_bins: default_mel_bins(),
            max_source_positions: default_positions(),
            activation_function: default_activation(),
            extra: Default::default(),
        }
    }

    pub fn from_json_str(text: &str) -> Result<Self, ModelError> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| ModelError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Hidden states the encoder exposes: the embedding output and one per layer.
    pub fn hidden_states(&self) -> usize {
        self.encoder_layers + 1
    }

    /// Encoder frames for `mel_frames` log-Mel frames (conv2 has stride 2, padding 1, kernel 3).
    pub fn frames_for_mel_frames(mel_frames: usize) -> usize {
        mel_frames.div_ceil(2)
    }

    /// The most log-Mel frames one forward can take (two per position).
    pub fn max_mel_frames(&self) -> usize {
        2 * self.max_source_positions
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.d_model == 0 || self.encoder_layers == 0 || self.encoder_ffn_dim == 0 || self.num_mel_bins == 0 {
            return bad("whisper d_model, encoder_layers, encoder_ffn_dim and num_mel_bins must be > 0".into());
        }
        if self.encoder_attention_heads == 0 || self.d_model % self.encoder_attention_heads != 0 {
            return bad(format!(
                "whisper d_model {} is not divisible by encoder_attention_heads {}",
                self.d_model, self.encoder_attention_heads
            ));
        }
        if self.max_source_positions == 0 {
            return bad("whisper max_source_positions must be > 0".into());
        }
        if crate::model::ops::Activation::from_hf_name(&self.activation_function).is_none() {
            return bad(format!("unsupported whisper activation {:?}", self.activation_function));
        }
        Ok(())
    }
}
