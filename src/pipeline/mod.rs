//! The whole job, decode → segment → features → model → analysis, as one call the CLI, the GUI
//! and the tests share. Work runs on worker threads; the caller receives [`AnalysisEvent`]s over
//! a channel (progress per stage, partial results as they appear) and can cancel at any time.

pub mod batch;
pub mod events;
pub mod run;

pub mod speakers;

pub use events::{AnalysisEvent, CallAnalysis, CallerAssignment, ModelInfo, PipelineStage, SpeakerSpan};
pub use run::{
    analyze_call, analyze_decoded, decode_call, finish_analysis, reanalyze_call, score_spans, segment_decoded, spawn_worker,
    AnalysisParts, AnalysisSettings, PipelineError, ScoreMemo, ScoringModel,
};
pub use speakers::{speaker_stats, SpeakerStats};
