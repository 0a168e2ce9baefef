//! Hand-crafted model inputs (SPEC §4), numerically matching the reference librosa 0.11 / HF
//! pipeline: MFCC39, the piptrack "pitch" track and the normalised waveform.
//!
//! Build one [`FeatureExtractor`] (plans, windows, filterbanks) and share it; per-worker
//! buffers live in [`FeatureScratch`]. [`FeatureExtractor::extract_many`] runs segments in
//! parallel with rayon.

pub mod deltas;
pub mod mel;
pub mod mfcc;
pub mod normalize;
pub mod npy;
pub mod pitch;
pub mod stft;
pub mod stft_f32;

use std::path::PathBuf;

use rayon::prelude::*;

/// Sample rate every feature assumes.
pub const SAMPLE_RATE: u32 = 16_000;
/// The model's maximum segment: 10 s at 16 kHz.
pub const SEGMENT_SAMPLES: usize = 160_000;
/// MFCC39 width (13 MFCC + Δ + ΔΔ).
pub const MFCC39_DIM: usize = 3 * mfcc::N_MFCC;

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("segment is empty")]
    EmptySegment,
    #[error("npy: {0}")]
    Npy(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("internal feature error: {0}")]
    Internal(String),
}

/// All model inputs for one segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentFeatures {
    /// Time-major `mfcc_frames × 39`.
    pub mfcc39: Vec<f32>,
    pub mfcc_frames: usize,
    /// piptrack maximum per frame (Hz), over the whole clip, before interpolation.
    pub pitch_frames: Vec<f32>,
    /// Per-sample pitch track, truncated to 10 s, normalised.
    pub pitch_track: Vec<f32>,
    /// Waveform truncated to 10 s (not padded), normalised.
    pub audio_norm: Vec<f32>,
}

/// Shared plans for all features.
pub struct FeatureExtractor {
    mfcc: mfcc::MfccPlan,
    pitch: pitch::PitchPlan,
    segment_samples: usize,
}

/// Per-worker buffers: allocate once per thread, reuse for every segment.
pub struct FeatureScratch {
    mfcc: mfcc::MfccScratch,
    pitch: pitch::PitchScratch,
    /// Copy of a nearly constant pitch track for NumPy's exact normalisation.
    spare: Vec<f32>,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureExtractor {
    pub fn new() -> Self {
        FeatureExtractor {
            mfcc: mfcc::MfccPlan::new(SAMPLE_RATE, SEGMENT_SAMPLES),
            pitch: pitch::PitchPlan::new(SAMPLE_RATE),
            segment_samples: SEGMENT_SAMPLES,
        }
    }

    pub fn mfcc_frames(&self) -> usize {
        self.mfcc.n_frames()
    }

    pub fn make_scratch(&self) -> FeatureScratch {
        FeatureScratch {
            mfcc: self.mfcc.make_scratch(),
            pitch: self.pitch.make_scratch(),
            spare: Vec::new(),
        }
    }

    /// Features of one clip (16 kHz mono). Pitch is computed on the whole clip, then the
    /// per-sample outputs are truncated to 10 s, as the reference does.
    pub fn extract_with(&self, clip: &[f32], s: &mut FeatureScratch) -> Result<SegmentFeatures, FeatureError> {
        let mut out = SegmentFeatures::default();
        self.extract_into(clip, s, &mut out)?;
        Ok(out)
    }

    /// Like [`Self::extract_with`], reusing the buffers of `out` (no allocation once warm).
    pub fn extract_into(&self, clip: &[f32], s: &mut FeatureScratch, out: &mut SegmentFeatures) -> Result<(), FeatureError> {
        if clip.is_empty() {
            return Err(FeatureError::EmptySegment);
        }
        out.mfcc_frames = self.mfcc.n_frames();
        self.mfcc.compute(clip, &mut s.mfcc, &mut out.mfcc39)?;
        self.pitch.pitch_frames(clip, &mut s.pitch, &mut out.pitch_frames)?;
        // Pitch is interpolated over the whole clip; only the first 10 s are kept.
        let keep = clip.len().min(self.segment_samples);
        pitch::interpolate_to_samples(&out.pitch_frames, clip.len(), keep, &mut out.pitch_track);
        normalize::zero_mean_unit_var_in_place(&mut out.pitch_track, &mut s.spare);
        normalize::zero_mean_unit_var(&clip[..keep], &mut out.audio_norm);
        Ok(())
    }

    /// Convenience single-clip call (allocates its own scratch).
    pub fn extract(&self, clip: &[f32]) -> Result<SegmentFeatures, FeatureError> {
        self.extract_with(clip, &mut self.make_scratch())
    }

    /// Features of many clips in parallel (one scratch per rayon worker), in input order.
    pub fn extract_many(&self, clips: &[&[f32]]) -> Result<Vec<SegmentFeatures>, FeatureError> {
        clips
            .par_iter()
            .map_init(|| self.make_scratch(), |s, clip| self.extract_with(clip, s))
            .collect()
    }
}

impl FeatureExtractor {
    /// Runs `consume(index, features)` for every clip, in parallel, reusing one set of output
    /// buffers per worker (for streaming consumers such as the model or a benchmark).
    pub fn for_each<F>(&self, clips: &[&[f32]], consume: F) -> Result<(), FeatureError>
    where
        F: Fn(usize, &SegmentFeatures) + Sync,
    {
        clips.par_iter().enumerate().try_for_each_init(
            || (self.make_scratch(), SegmentFeatures::default()),
            |(scratch, out), (i, clip)| {
                self.extract_into(clip, scratch, out)?;
                consume(i, out);
                Ok(())
            },
        )
    }
}

/// Consecutive 10-s windows `[k·10 s, (k+1)·10 s)` of `samples` (the last one may be shorter).
pub fn ten_second_windows(samples: &[f32]) -> Vec<&[f32]> {
    samples.chunks(SEGMENT_SAMPLES).collect()
}
