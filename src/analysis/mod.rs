//! Stage 5 of the pipeline: from scored segments to the call's metrics (SPEC §2–3) and, across
//! calls, to cohort statistics (paper Table VII).

pub mod agreement;
pub mod cohort;
pub mod metrics;
pub mod trend;
pub mod truth_labels;

pub use metrics::{
    ecr_binary, ecr_prob, negative_segment_count, summarise_call, EmotionLabel, ScoredSegment,
    SegmentStage, StageSummary, SummaryStage, DEFAULT_ASSESSMENT_MINUTES,
};
