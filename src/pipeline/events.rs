//! What a running analysis reports. The GUI draws from these events alone, so anything it
//! shows (waveform, segments, points, metrics) arrives here first.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::run::AnalysisSettings;
use crate::analysis::{summarise_call, ScoredSegment, StageSummary};
use crate::audio::{Audio16k, AudioInfo};
use crate::segmentation::{AutoCallerChoice, EncoderUse};
use crate::model::scoring::CallOffsets;

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
    /// "left"/"right" for stereo channels, "A"/"B" for mono clustering.
    pub speaker: String,
    pub is_caller: bool,
    /// Both parties speak at once here.
    pub overlapped: bool,
}

/// The model that scored a call, as reports and the window describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The bundle's name (meta.json).
    pub name: String,
    /// Name plus the start of the weights hash, as shown in the window.
    pub display_name: String,
    pub weights_sha256: String,
    /// The bundle folder (empty when no bundle was used).
    pub dir: String,
    /// "CPU", "CUDA" or "Metal" ("none" when no model ran).
    pub device: String,
    /// Set when the requested device was unavailable and another one is used.
    pub device_notice: Option<String>,
    /// The bundle says its classification head is untrained: its scores are not meaningful.
    pub needs_fine_tuning: bool,
    /// The audio branch: "wav2vec2" or "whisper".
    pub backbone: String,
    /// Scores are centred on the call (per-call centring): they compare segments within the call.
    pub per_call_centring: bool,
}

/// How the call was split between the parties, as segmentation decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallerAssignment {
    /// "mono" or "stereo".
    pub layout: String,
    /// The party scored as the caller: "left", "right", "A", "B" or "all".
    pub caller: String,
    /// Which speaker encoder mono diarization used (a broken imported one: the built-in one instead).
    pub speaker_encoder: EncoderUse,
    /// How clear-cut the automatic choice was; `None` when the caller was chosen by hand.
    pub auto_choice: Option<AutoCallerChoice>,
}

impl CallerAssignment {
    /// What the command line says when the automatic choice is uncertain.
    pub fn uncertain_notice(&self) -> Option<String> {
        self.auto_choice.and_then(|c| c.notice(&self.caller))
    }
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
    /// The model that produced the scores.
    pub model: ModelInfo,
    /// The settings the call was analysed with (report.json records them).
    pub settings: AnalysisSettings,
    pub assignment: CallerAssignment,
    /// Seconds spent per stage.
    pub timings: Vec<(PipelineStage, f64)>,
    /// What a centring model subtracted for this call (`None` for other models): edited segments
    /// are scored against the same call mean ([`crate::pipeline::score_spans`]). Not written to
    /// report.json.
    #[serde(skip)]
    pub call_offsets: Option<CallOffsets>,
}

impl CallAnalysis {
    /// Seconds the decode stage took (0 when not recorded).
    pub fn decode_seconds(&self) -> f64 {
        self.timings.iter().find(|(stage, _)| *stage == PipelineStage::Decode).map_or(0.0, |(_, s)| *s)
    }

    /// The same analysis with another assessment-stage length: only the stage metrics (and the
    /// recorded setting) change, as `analyze --assessment-minutes` would give them; nothing is
    /// scored again.
    pub fn with_assessment_minutes(&self, minutes: f64) -> CallAnalysis {
        let assessment_end_s = minutes * 60.0;
        CallAnalysis {
            summaries: summarise_call(&self.segments, assessment_end_s, self.call_duration_s),
            assessment_end_s,
            settings: AnalysisSettings { assessment_minutes: minutes, ..self.settings.clone() },
            ..self.clone()
        }
    }
}

/// What a running analysis tells its owner, in order: progress for each stage as it runs, the
/// decoded audio as soon as decoding ends, the speech spans once segmentation ends, each caller
/// segment as soon as it is scored, and finally exactly one of `Finished`, `Failed`, `Cancelled`.
/// A launcher that loads the model itself also reports `ModelLoading` then `ModelLoaded` (the
/// load may overlap decoding).
#[derive(Debug, Clone)]
pub enum AnalysisEvent {
    Progress { stage: PipelineStage, done: u64, total: u64 },
    ModelLoading { name: String },
    ModelLoaded { model: ModelInfo, load_seconds: f64 },
    Decoded { audio: Arc<Audio16k> },
    Segmented { spans: Vec<SpeakerSpan>, assignment: CallerAssignment },
    Scored { segment: ScoredSegment },
    Finished { analysis: Arc<CallAnalysis> },
    Failed { message: String },
    Cancelled,
}
