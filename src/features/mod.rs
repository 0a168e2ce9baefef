//! Hand-crafted model inputs (SPEC §4), numerically matching the reference librosa 0.11 / HF
//! pipeline: MFCC39, the piptrack "pitch" track and the normalised waveform.
//!
//! Build one [`FeatureExtractor`] (plans, windows, filterbanks) and share it; per-worker
//! buffers live in [`FeatureScratch`]. [`FeatureExtractor::extract_many`] runs segments in
//! parallel with rayon.

pub mod deltas;
pub mod kaldi_fbank;
pub mod mel;
pub mod mfcc;
pub mod normalize;
pub mod npy;
pub mod pitch;
pub mod stft;
pub mod stft_f32;
pub mod whisper_mel;

use std::path::PathBuf;
use std::sync::Mutex;

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
    /// Whisper's log-Mel spectrogram `(80, whisper_mel_frames)` of the same 10 s (raw waveform,
    /// clip length), when the extractor was made for a Whisper model; empty otherwise.
    pub whisper_mel: Vec<f32>,
    pub whisper_mel_frames: usize,
}

/// Shared plans for all features.
pub struct FeatureExtractor {
    mfcc: mfcc::MfccPlan,
    pitch: pitch::PitchPlan,
    /// Whisper's front end, for models with the Whisper backbone.
    whisper_mel: Option<whisper_mel::WhisperMelPlan>,
    /// Keep only the MFCC frames centred inside the clip ([`crate::model::config::MfccFrames::Clip`]).
    mfcc_clip_frames: bool,
    segment_samples: usize,
    /// Buffers of finished parallel jobs, handed to the next ones: rayon calls a job's `init`
    /// many times per call (16 for 270 clips on 2 threads), and fresh multi-megabyte buffers
    /// cost page faults every time.
    pool: Mutex<Vec<(FeatureScratch, SegmentFeatures)>>,
}

/// Buffers taken from [`FeatureExtractor::pool`] for one parallel job, returned on drop.
struct PooledBuffers<'a> {
    owner: &'a FeatureExtractor,
    buffers: Option<(FeatureScratch, SegmentFeatures)>,
}

impl<'a> PooledBuffers<'a> {
    fn take(owner: &'a FeatureExtractor) -> Self {
        let reused = owner.pool.lock().ok().and_then(|mut pool| pool.pop());
        let buffers = reused.unwrap_or_else(|| (owner.make_scratch(), SegmentFeatures::default()));
        PooledBuffers { owner, buffers: Some(buffers) }
    }
}

impl Drop for PooledBuffers<'_> {
    fn drop(&mut self) {
        if let (Some(buffers), Ok(mut pool)) = (self.buffers.take(), self.owner.pool.lock()) {
            pool.push(buffers);
        }
    }
}

/// Per-worker buffers: allocate once per thread, reuse for every segment.
pub struct FeatureScratch {
    mfcc: mfcc::MfccScratch,
    pitch: pitch::PitchScratch,
    /// NumPy's exact normalisation of a nearly constant pitch track, before it is copied back.
    spare: Vec<f32>,
    whisper_mel: Option<whisper_mel::WhisperMelScratch>,
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
            whisper_mel: None,
            mfcc_clip_frames: false,
            segment_samples: SEGMENT_SAMPLES,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// The features a model with this config takes: with the Whisper backbone, also its log-Mel
    /// spectrogram.
    pub fn for_model(config: &crate::model::FusedConfig) -> Self {
        let mut extractor = Self::new();
        if config.whisper_branch().is_some() {
            extractor.whisper_mel = Some(whisper_mel::WhisperMelPlan::new());
        }
        extractor.mfcc_clip_frames = config.mfcc_frames == crate::model::config::MfccFrames::Clip;
        extractor
    }

    pub fn mfcc_frames(&self) -> usize {
        self.mfcc.n_frames()
    }

    pub fn make_scratch(&self) -> FeatureScratch {
        FeatureScratch {
            mfcc: self.mfcc.make_scratch(),
            pitch: self.pitch.make_scratch(),
            spare: Vec::new(),
            whisper_mel: self.whisper_mel.as_ref().map(|p| p.make_scratch()),
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
        if self.mfcc_clip_frames {
            // Centred frames t * hop with t * hop < clip length (the rest are the padding's).
            let inside = ((clip.len().min(self.segment_samples) - 1) / mfcc::HOP + 1).min(out.mfcc_frames);
            out.mfcc_frames = inside;
            out.mfcc39.truncate(inside * MFCC39_DIM);
        }
        self.pitch.pitch_frames(clip, &mut s.pitch, &mut out.pitch_frames)?;
        // Pitch is interpolated over the whole clip; only the first 10 s are kept.
        let keep = clip.len().min(self.segment_samples);
        pitch::interpolate_to_samples(&out.pitch_frames, clip.len(), keep, &mut out.pitch_track);
        normalize::zero_mean_unit_var_in_place(&mut out.pitch_track, &mut s.spare);
        normalize::zero_mean_unit_var(&clip[..keep], &mut out.audio_norm);
        match &self.whisper_mel {
            Some(plan) => {
                let scratch = s.whisper_mel.get_or_insert_with(|| plan.make_scratch());
                out.whisper_mel_frames = plan.compute_with(&clip[..keep], None, scratch, &mut out.whisper_mel);
            }
            None => {
                out.whisper_mel.clear();
                out.whisper_mel_frames = 0;
            }
        }
        Ok(())
    }

    /// Convenience single-clip call (allocates its own scratch).
    pub fn extract(&self, clip: &[f32]) -> Result<SegmentFeatures, FeatureError> {
        self.extract_with(clip, &mut self.make_scratch())
    }

    /// Features of many clips in parallel (scratch buffers reused across jobs), in input order.
    pub fn extract_many(&self, clips: &[&[f32]]) -> Result<Vec<SegmentFeatures>, FeatureError> {
        clips
            .par_iter()
            .map_init(
                || PooledBuffers::take(self),
                |pooled, clip| {
                    let (scratch, _) = pooled.buffers.get_or_insert_with(|| (self.make_scratch(), SegmentFeatures::default()));
                    self.extract_with(clip, scratch)
                },
            )
            .collect()
    }
}

impl FeatureExtractor {
    /// Runs `consume(index, features)` for every clip, in parallel, reusing output buffers
    /// across jobs and calls (for streaming consumers such as the model or a benchmark).
    pub fn for_each<F>(&self, clips: &[&[f32]], consume: F) -> Result<(), FeatureError>
    where
        F: Fn(usize, &SegmentFeatures) + Sync,
    {
        clips.par_iter().enumerate().try_for_each_init(
            || PooledBuffers::take(self),
            |pooled, (i, clip)| {
                let (scratch, out) = pooled.buffers.get_or_insert_with(|| (self.make_scratch(), SegmentFeatures::default()));
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
