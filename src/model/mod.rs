//! The fused speech-emotion model (SPEC §5) in candle: HF-compatible Wav2Vec2, pitch branch, BiLSTM
//! over MFCC39, cross/self attention, classifier. Takes tensors; knows nothing of feature extraction.
pub mod attention;
pub mod bench;
pub mod bundle;
pub mod builtin_speaker_encoder;
pub mod campplus;
pub mod config;
pub mod default_centred;
pub mod default_model;
pub mod device;
pub mod fast;
pub mod fused;
pub mod import;
pub mod lstm;
pub mod ops;
pub mod scoring;
pub mod speaker_encoder;
pub mod speaker_encoder_store;
pub mod wav2vec2;
pub mod whisper;
pub mod torch_legacy;
pub mod weights;

use std::path::Path;

pub use config::{FusedConfig, Wav2Vec2Config};
pub use device::{select_device, DeviceChoice};
pub use fused::{AudioBranch, FusedModel, FusedOutput};
pub use weights::TensorProblem;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("weights do not match the model:\n{}", weights::describe_problems(.0))]
    Weights(Vec<TensorProblem>),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("invalid bundle {path}: {message}")]
    Bundle { path: String, message: String },
    /// A folder that would be replaced without being asked to.
    #[error("{path} already exists (pass --force to replace it)")]
    AlreadyExists { path: String },
    #[error("device: {0}")]
    Device(String),
    #[error("input: {0}")]
    Input(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl ModelError {
    pub(crate) fn io_like(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Read { path: path.display().to_string(), message: e.to_string() }
    }
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}
