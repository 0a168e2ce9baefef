//! Per-call metrics. Label semantics (SPEC §2): the model gives p = P(non-negative); a segment is
//! negative when p <= 0.5. NSS and ECR (SPEC §3) are computed per stage over segments in time order.

use serde::Serialize;

/// p at or below this is a negative segment.
pub const NEGATIVE_AT_OR_BELOW: f64 = 0.5;
/// The paper's suicide-risk assessment stage: the first 30 minutes of a call.
pub const DEFAULT_ASSESSMENT_MINUTES: f64 = 30.0;

/// A segment's binary emotion label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EmotionLabel {
    Negative,
    NonNegative,
}

impl EmotionLabel {
    pub fn from_probability(p_nonnegative: f64) -> Self {
        if p_nonnegative <= NEGATIVE_AT_OR_BELOW {
            Self::Negative
        } else {
            Self::NonNegative
        }
    }

    /// The spelling used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Negative => "negative",
            Self::NonNegative => "non-negative",
        }
    }

    /// The reference code's binarised label b_i: 1 for non-negative, 0 for negative.
    pub fn as_bit(self) -> u8 {
        match self {
            Self::Negative => 0,
            Self::NonNegative => 1,
        }
    }
}

/// Which part of the call a segment belongs to, by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SegmentStage {
    Assessment,
    Intervention,
}

impl SegmentStage {
    pub fn of(start_s: f64, assessment_end_s: f64) -> Self {
        if start_s < assessment_end_s {
            Self::Assessment
        } else {
            Self::Intervention
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assessment => "assessment",
            Self::Intervention => "intervention",
        }
    }
}

/// The spans metrics are reported for: the assessment stage and the whole call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SummaryStage {
    Assessment,
    Full,
}

impl SummaryStage {
    pub const ALL: [SummaryStage; 2] = [SummaryStage::Assessment, SummaryStage::Full];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assessment => "assessment",
            Self::Full => "full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == text)
    }
}

/// One caller segment with its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredSegment {
    pub index: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub channel: usize,
    pub speaker: String,
    /// p = sigmoid(logit) = P(non-negative).
    pub p_nonnegative: f64,
}

impl ScoredSegment {
    pub fn label(&self) -> EmotionLabel {
        EmotionLabel::from_probability(self.p_nonnegative)
    }

    pub fn duration_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// A stage's metrics, one row of `summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSummary {
    pub stage: SummaryStage,
    pub n_segments: usize,
    /// Negative speech segments: count of p <= 0.5.
    pub nss: usize,
    /// Emotion change rate on binarised labels (the reference code; produced Table VII).
    /// `None` when the stage has fewer than two segments: undefined, never 0.
    pub ecr_binary: Option<f64>,
    /// Emotion change rate on probabilities (the paper's Eq. 7).
    pub ecr_prob: Option<f64>,
    /// Total duration of the stage's scored segments.
    pub speech_s: f64,
    /// Length of the stage itself (the assessment stage ends at its limit or the call's end).
    pub duration_s: f64,
}

/// NSS: how many of the probabilities are negative (p <= 0.5).
pub fn negative_segment_count(probabilities: &[f64]) -> usize {
    probabilities
        .iter()
        .filter(|&&p| EmotionLabel::from_probability(p) == EmotionLabel::Negative)
        .count()
}

/// ECR on binarised labels: the mean of |b_i - b_{i-1}| over consecutive segments.
pub fn ecr_binary(probabilities: &[f64]) -> Option<f64> {
    mean_absolute_step(probabilities, |p| EmotionLabel::from_probability(p).as_bit() as f64)
}

/// ECR on probabilities (Eq. 7): the mean of |e_i - e_{i-1}|.
pub fn ecr_prob(probabilities: &[f64]) -> Option<f64> {
    mean_absolute_step(probabilities, |p| p)
}

fn mean_absolute_step(values: &[f64], map: impl Fn(f64) -> f64) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let total: f64 = values.windows(2).map(|pair| (map(pair[1]) - map(pair[0])).abs()).sum();
    Some(total / (values.len() - 1) as f64)
}

/// Metrics for the assessment stage (segments starting before `assessment_end_s`) and the
/// full call. Segments are put in time order first.
pub fn summarise_call(
    segments: &[ScoredSegment],
    assessment_end_s: f64,
    call_duration_s: f64,
) -> Vec<StageSummary> {
    let mut ordered: Vec<&ScoredSegment> = segments.iter().collect();
    ordered.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.index.cmp(&b.index)));
    SummaryStage::ALL
        .into_iter()
        .map(|stage| {
            let chosen: Vec<&ScoredSegment> = ordered
                .iter()
                .copied()
                .filter(|s| {
                    stage == SummaryStage::Full
                        || SegmentStage::of(s.start_s, assessment_end_s) == SegmentStage::Assessment
                })
                .collect();
            let probabilities: Vec<f64> = chosen.iter().map(|s| s.p_nonnegative).collect();
            let duration_s = match stage {
                SummaryStage::Assessment => call_duration_s.min(assessment_end_s),
                SummaryStage::Full => call_duration_s,
            };
            StageSummary {
                stage,
                n_segments: chosen.len(),
                nss: negative_segment_count(&probabilities),
                ecr_binary: ecr_binary(&probabilities),
                ecr_prob: ecr_prob(&probabilities),
                speech_s: chosen.iter().map(|s| s.duration_s()).sum(),
                duration_s,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(index: usize, start_s: f64, p: f64) -> ScoredSegment {
        ScoredSegment { index, start_s, end_s: start_s + 4.0, channel: 0, speaker: "caller".into(), p_nonnegative: p }
    }

    #[test]
    fn exactly_one_half_is_negative() {
        assert_eq!(EmotionLabel::from_probability(0.5), EmotionLabel::Negative);
        assert_eq!(EmotionLabel::from_probability(0.500001), EmotionLabel::NonNegative);
        assert_eq!(negative_segment_count(&[0.1, 0.5, 0.51, 0.9]), 2);
    }

    #[test]
    fn ecr_by_hand() {
        let p = [0.9, 0.2, 0.4, 0.8];
        // labels 1,0,0,1: two changes over three steps
        assert!((ecr_binary(&p).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // |0.2-0.9| + |0.4-0.2| + |0.8-0.4| = 0.7 + 0.2 + 0.4 = 1.3 over 3
        assert!((ecr_prob(&p).unwrap() - 1.3 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ecr_is_undefined_below_two_segments() {
        assert_eq!(ecr_binary(&[]), None);
        assert_eq!(ecr_binary(&[0.3]), None);
        assert_eq!(ecr_prob(&[0.3]), None);
    }

    #[test]
    fn stages_split_by_start_time_and_use_time_order() {
        // Given out of order; the segment starting at 1799 s belongs to assessment even
        // though it ends after 30:00.
        let segments = vec![
            segment(2, 1800.0, 0.9),
            segment(0, 10.0, 0.2),
            segment(1, 1799.0, 0.7),
            segment(3, 2000.0, 0.1),
        ];
        let summary = summarise_call(&segments, 1800.0, 2400.0);
        let assessment = &summary[0];
        assert_eq!(assessment.stage, SummaryStage::Assessment);
        assert_eq!((assessment.n_segments, assessment.nss), (2, 1));
        assert_eq!(assessment.ecr_binary, Some(1.0));
        assert!((assessment.ecr_prob.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(assessment.duration_s, 1800.0);
        assert_eq!(assessment.speech_s, 8.0);
        let full = &summary[1];
        assert_eq!((full.n_segments, full.nss), (4, 2));
        // time order 0.2, 0.7, 0.9, 0.1 -> labels 0,1,1,0 -> 2 changes / 3
        assert!((full.ecr_binary.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(full.duration_s, 2400.0);
    }

    #[test]
    fn short_call_assessment_stage_is_the_whole_call() {
        let summary = summarise_call(&[segment(0, 5.0, 0.4)], 1800.0, 600.0);
        assert_eq!(summary[0].duration_s, 600.0);
        assert_eq!(summary[0].ecr_binary, None);
        assert_eq!(summary[1].nss, 1);
    }
}
