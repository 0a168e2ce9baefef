//! What a running analysis reports. The GUI draws from these events alone, so anything it
//! shows (waveform, segments, points, metrics) arrives here first.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::analysis::{ScoredSegment, StageSummary};
use crate::audio::{Audio16k, AudioInfo};

/// The stages a progress bar is shown for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PipelineStage {
    Decode,
    Segment,
    Features,
    Model,
}

impl PipelineStage {
    pub const ALL: [PipelineStage; 4] =
        [PipelineStage::Decode, PipelineStage::Segment, PipelineStage::Features, PipelineStage::Model];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::Segment => "segment",
            Self::Features => "features",
            Self::Model => "model",
        }
    }
}

/// A stretch of speech attributed to one party, caller or not (the waveform view marks both).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeakerSpan {
    pub index: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub channel: usize,
    /// "caller"/"operator" for stereo, "A"/"B" for mono clustering.
    pub speaker: String,
    pub is_caller: bool,
    /// Both parties speak at once here.
    pub overlapped: bool,
}

/// The finished analysis of one call: what `analyze` writes and the review window shows.
#[derive(Debug, Clone, Serialize)]
pub struct CallAnalysis {
    pub source: PathBuf,
    pub audio_info: AudioInfo,
    /// Every detected speech span, caller or not.
    pub spans: Vec<SpeakerSpan>,
    /// The caller's scored segments, in time order.
    pub segments: Vec<ScoredSegment>,
    /// `assessment` and `full`.
    pub summaries: Vec<StageSummary>,
    pub assessment_end_s: f64,
    pub call_duration_s: f64,
    pub model_name: String,
    /// Seconds spent per stage.
    pub timings: Vec<(PipelineStage, f64)>,
}

/// What a running analysis tells its owner, in order: progress for each stage as it runs, the
/// decoded audio as soon as decoding ends, the speech spans once segmentation ends, each caller
/// segment as soon as it is scored, and finally exactly one of `Finished`, `Failed`, `Cancelled`.
#[derive(Debug, Clone)]
pub enum AnalysisEvent {
    Progress { stage: PipelineStage, done: u64, total: u64 },
    Decoded { audio: Arc<Audio16k> },
    Segmented { spans: Vec<SpeakerSpan> },
    Scored { segment: ScoredSegment },
    Finished { analysis: Arc<CallAnalysis> },
    Failed { message: String },
    Cancelled,
}
