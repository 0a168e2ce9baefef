//! The whole job, decode → segment → features → model → analysis, as one call the CLI, the GUI
//! and the tests share. Work runs on worker threads; the caller receives [`AnalysisEvent`]s over
//! a channel (progress per stage, partial results as they appear) and can cancel at any time.

pub mod baseline;
pub mod batch;
pub mod events;
pub mod run;

pub mod speakers;

/// What a per-call-centring model's scores mean (the CLI's notice; the window says the same).
pub const CENTRED_SCORES_NOTICE: &str = "the model centres its scores on each call: they compare a call's segments with one another; NSS and stage means are not comparable between calls (docs/model-card.md)";

/// What the scores of a call centred on a caller baseline mean (`--centre-on`).
pub const BASELINE_SCORES_NOTICE: &str = "the model's scores are centred on the baseline call named in report.json: they compare this call with that call of the caller (and with the caller's other calls centred on it), not with other callers (docs/model-card.md)";

pub use baseline::CallBaseline;
pub use events::{AnalysisEvent, CallAnalysis, CallerAssignment, ModelInfo, PipelineStage, SpeakerSpan};
pub use run::{
    analyze_call, analyze_decoded, decode_call, finish_analysis, reanalyze_call, score_spans, segment_decoded, spawn_worker,
    AnalysisParts, AnalysisSettings, PipelineError, ScoreMemo, ScoringModel,
};
pub use speakers::{speaker_stats, SpeakerStats};
