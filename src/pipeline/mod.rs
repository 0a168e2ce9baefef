//! The whole job, decode → segment → features → model → analysis, as one call the CLI, the GUI
//! and the tests share. Work runs on worker threads; the caller receives [`AnalysisEvent`]s over
//! a channel (progress per stage, partial results as they appear) and can cancel at any time.

pub mod batch;
pub mod events;
pub mod run;

pub use events::{AnalysisEvent, CallAnalysis, PipelineStage, SpeakerSpan};
pub use run::{analyze_call, spawn_analysis, AnalysisSettings, PipelineError, ScoringModel};
