//! The starting model and a fine-tuned one side by side on the labelled segments the fine-tuning
//! held out (its validation split): each model's labels (`p <= 0.5` → negative) against the
//! annotators' (adjudicated) labels.
//!
//! The held-out segments were never trained on, but the run picked its best epoch and fitted its
//! calibration on them, so the new model's figures lean optimistic; with few segments every
//! figure is noisy.
use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::dataset::{LabelledClip, NEGATIVE, NON_NEGATIVE};
use super::job::score_clips;
use super::metrics::binary_metrics;
use super::TrainingError;
use crate::analysis::agreement::cohen_kappa;

/// One model's figures on the held-out segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutFigures {
    pub n: usize,
    pub macro_f1: f64,
    /// F1 of the negative class, the one that matters clinically.
    pub negative_f1: f64,
    pub accuracy: f64,
    /// Cohen's κ between the model's labels and the annotators'; `None` when undefined (no
    /// segments, or both sides a single class).
    pub kappa: Option<f64>,
    /// ROC AUC of p for the non-negative class; `None` unless both classes are present.
    pub auc: Option<f64>,
}

/// Figures of `probs` (P(non-negative)) against `labels` (1 = non-negative), paired by index.
pub fn held_out_figures(probs: &[f32], labels: &[u8]) -> HeldOutFigures {
    let n = probs.len().min(labels.len());
    let (probs, labels) = (&probs[..n], &labels[..n]);
    let metrics = binary_metrics(probs, labels);
    let pairs: Vec<(u8, u8)> = probs.iter().zip(labels).map(|(&p, &l)| (if p <= 0.5 { NEGATIVE } else { NON_NEGATIVE }, l)).collect();
    let kappa = cohen_kappa(&pairs);
    HeldOutFigures {
        n,
        macro_f1: metrics.macro_f1,
        negative_f1: metrics.negative.f1,
        accuracy: metrics.accuracy,
        kappa: kappa.is_finite().then_some(kappa),
        auc: super::calibration::roc_auc(probs, labels),
    }
}

/// A model's name and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFigures {
    pub model: String,
    pub figures: HeldOutFigures,
}

/// Both models on the same held-out segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    pub before: ModelFigures,
    pub after: ModelFigures,
    /// Negative / non-negative held-out segments.
    pub negatives: usize,
    pub non_negatives: usize,
    /// The speakers held out; empty when a fraction of one speaker's segments was
    /// ([`super::dataset::ValSpeakers::SpeakersOrSegments`]).
    pub held_out_speakers: Vec<String>,
    pub held_out_segments: bool,
}

/// Scores `held_out` with the starting model (`before`; `None`: the built-in default model) and
/// the new bundle `after`, and measures both. `progress(done, total)` over both passes.
pub fn compare_models(
    before: Option<&Path>,
    after: &Path,
    held_out: &[LabelledClip],
    held_out_speakers: Vec<String>,
    held_out_segments: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ModelComparison, TrainingError> {
    if held_out.is_empty() {
        return Err(TrainingError::Dataset("no held-out segments to compare the models on".into()));
    }
    let labels: Vec<u8> = held_out.iter().map(|c| c.label).collect();
    let total = 2 * held_out.len();
    let device = Device::Cpu;
    let (before_probs, before_bundle) = score_clips(before, held_out, false, &device, &mut |done, _| progress(done, total))?;
    let (after_probs, after_bundle) = score_clips(Some(after), held_out, false, &device, &mut |done, n| progress(n + done, total))?;
    let negatives = labels.iter().filter(|&&l| l == NEGATIVE).count();
    Ok(ModelComparison {
        before: ModelFigures { model: before_bundle.meta.name, figures: held_out_figures(&before_probs, &labels) },
        after: ModelFigures { model: after_bundle.meta.name, figures: held_out_figures(&after_probs, &labels) },
        negatives,
        non_negatives: labels.len() - negatives,
        held_out_speakers,
        held_out_segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_known_predictions() {
        // Truth: 2 negative, 2 non-negative. Predictions: one negative missed.
        let labels = [0, 0, 1, 1];
        let probs = [0.2, 0.7, 0.8, 0.9];
        let f = held_out_figures(&probs, &labels);
        assert_eq!(f.n, 4);
        assert!((f.accuracy - 0.75).abs() < 1e-12);
        // Negative: precision 1, recall 0.5 → F1 2/3; non-negative: precision 2/3, recall 1 → 0.8.
        assert!((f.negative_f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((f.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        // Observed 0.75, expected 0.5·0.25 + 0.5·0.75 = 0.5 → κ = 0.5.
        assert!((f.kappa.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(f.auc, Some(1.0), "every non-negative scores above every negative");
    }

    #[test]
    fn p_of_one_half_is_negative_and_one_class_has_no_auc() {
        let f = held_out_figures(&[0.5, 0.5], &[0, 0]);
        assert_eq!((f.accuracy, f.negative_f1), (1.0, 1.0));
        assert_eq!(f.auc, None);
        assert_eq!(f.kappa, None, "both sides one class: κ undefined");
        let empty = held_out_figures(&[], &[]);
        assert_eq!((empty.n, empty.kappa, empty.auc), (0, None, None));
    }
}
