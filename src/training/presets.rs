//! Named model sizes for `--config`. `tiny` is for tests and smoke runs, `small` is sized for
//! training on a 2-core CPU, `base` is a wav2vec2-base backbone, `large` the reference (SPEC §5).
use serde_json::json;

use super::TrainingError;
use crate::model::config::Backbone;
use crate::model::{FusedConfig, Wav2Vec2Config};

pub const PRESET_NAMES: &[&str] = &["tiny", "small", "base", "large"];

fn wav2vec2(value: serde_json::Value) -> Wav2Vec2Config {
    serde_json::from_value(value).unwrap_or_else(|_| unreachable!("static wav2vec2 config"))
}

/// The fused config of a named preset.
pub fn preset(name: &str) -> Result<FusedConfig, TrainingError> {
    let cfg = match name {
        "tiny" => FusedConfig {
            backbone: Backbone::Wav2vec2,
            whisper: None,
            wav2vec2: wav2vec2(json!({
                "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                "intermediate_size": 64, "conv_dim": [32, 32, 32, 32, 32, 32, 32],
                "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2,
                "feat_extract_norm": "group", "do_stable_layer_norm": false, "conv_bias": false,
            })),
            mfcc_dim: 39,
            mfcc_frames: Default::default(),
            lstm_hidden: 16,
            cross_heads: 2,
            self_heads: 2,
            fc_dim: 32,
            attn_ffn_multiplier: 4,
        },
        "small" => FusedConfig {
            backbone: Backbone::Wav2vec2,
            whisper: None,
            wav2vec2: wav2vec2(json!({
                "hidden_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                "intermediate_size": 192, "conv_dim": [64, 64, 64, 64, 64, 64, 64],
                "num_conv_pos_embeddings": 32, "num_conv_pos_embedding_groups": 4,
                "feat_extract_norm": "group", "do_stable_layer_norm": false, "conv_bias": false,
            })),
            mfcc_dim: 39,
            mfcc_frames: Default::default(),
            lstm_hidden: 32,
            cross_heads: 4,
            self_heads: 4,
            fc_dim: 64,
            attn_ffn_multiplier: 4,
        },
        "base" => crate::model::bench::base_config(),
        "large" => FusedConfig::reference(wav2vec2(json!({
            "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "feat_extract_norm": "layer", "do_stable_layer_norm": true,
            "conv_bias": true, "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
        }))),
        other => {
            return Err(TrainingError::Config(format!(
                "unknown config {other:?} (expected one of {})",
                PRESET_NAMES.join(", ")
            )))
        }
    };
    cfg.validate()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_preset_is_valid() {
        for name in super::PRESET_NAMES {
            super::preset(name).unwrap();
        }
        assert!(super::preset("huge").is_err());
    }
}
