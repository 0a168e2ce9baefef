//! Training engine for the fused model (issue 7): labelled clips from manifests, speaker-grouped
//! split, telephony augmentation, cached frozen conv-encoder outputs, weighted BCE / focal loss,
//! AdamW, per-epoch validation, atomic checkpoints with exact resume, progress over a channel.
//!
//! Labels never flip (SPEC §2): `p = sigmoid(logit) = P(non-negative)`; "non-negative" is 1,
//! "negative" is 0, and a clip is predicted negative when `p <= 0.5`.
pub mod augment;
pub mod bench;
pub mod cache;
pub mod calibration;
pub mod call_labels;
pub mod checkpoint;
pub mod compare;
pub mod dataset;
pub mod init;
pub mod job;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod optim;
pub mod presets;
pub mod stats_fit;
pub mod trainer;

pub use dataset::{read_manifest, split_by_speaker, LabelledClip, SpeakerSplit, ValSpeakers};
pub use metrics::{binary_metrics, per_speaker, BinaryMetrics};
pub use trainer::{TrainEvent, TrainOptions, TrainOutcome, Trainer};

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("dataset: {0}")]
    Dataset(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Audio { path: String, source: crate::audio::AudioError },
    #[error(transparent)]
    Feature(#[from] crate::features::FeatureError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    #[error("configuration: {0}")]
    Config(String),
}

impl TrainingError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}
