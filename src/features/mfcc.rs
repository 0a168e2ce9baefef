//! MFCC39 of one 10-s segment (SPEC §4): librosa `mfcc(n_mfcc=13, n_fft=400, hop_length=160)`
//! on the segment zero-padded/truncated to 160000 samples, plus `delta` order 1 and 2.

use super::deltas::DeltaFilter;
use super::mel::MelFilterbank;
use super::stft::{StftPlan, StftScratch};
use super::FeatureError;

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 128;
pub const N_MFCC: usize = 13;
pub const DELTA_WIDTH: usize = 9;
const AMIN: f32 = 1e-10;
const TOP_DB: f32 = 80.0;

/// Shared, read-only MFCC plan: STFT, mel filterbank, DCT matrix, delta filters.
pub struct MfccPlan {
    stft: StftPlan,
    mel: MelFilterbank,
    /// `N_MFCC × N_MELS` DCT-II (ortho) rows.
    dct: Vec<f64>,
    delta1: DeltaFilter,
    delta2: DeltaFilter,
    segment_len: usize,
}

/// Per-worker buffers for [`MfccPlan::compute`].
pub struct MfccScratch {
    stft: StftScratch,
    mag: Vec<f32>,
    padded: Vec<f32>,
    /// Frame-major `n_frames × N_MELS` dB values.
    db: Vec<f32>,
    /// Coefficient-major `N_MFCC × n_frames`.
    cep: Vec<f32>,
    delta: Vec<f32>,
}

impl MfccPlan {
    pub fn new(sample_rate: u32, segment_len: usize) -> Self {
        let sr = sample_rate as f64;
        let n = N_MELS as f64;
        let dct = (0..N_MFCC)
            .flat_map(|k| {
                let scale = if k == 0 { (1.0 / n).sqrt() } else { (2.0 / n).sqrt() };
                (0..N_MELS).map(move |i| {
                    scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos()
                })
            })
            .collect();
        MfccPlan {
            stft: StftPlan::new(N_FFT, HOP),
            mel: MelFilterbank::slaney(sr, N_FFT, N_MELS, 0.0, sr / 2.0),
            dct,
            delta1: DeltaFilter::new(DELTA_WIDTH, 1),
            delta2: DeltaFilter::new(DELTA_WIDTH, 2),
            segment_len,
        }
    }

    /// Frames per segment (1001 for 160000 samples).
    pub fn n_frames(&self) -> usize {
        self.stft.n_frames(self.segment_len)
    }

    pub fn make_scratch(&self) -> MfccScratch {
        let n_frames = self.n_frames();
        MfccScratch {
            stft: self.stft.make_scratch(),
            mag: vec![0.0; self.stft.n_bins()],
            padded: vec![0.0; self.segment_len],
            db: vec![0.0; n_frames * N_MELS],
            cep: vec![0.0; n_frames * N_MFCC],
            delta: vec![0.0; n_frames],
        }
    }

    /// Time-major `n_frames × 39` MFCC39 of `segment` (zero-padded or truncated first),
    /// written into `out` (resized).
    pub fn compute(&self, segment: &[f32], s: &mut MfccScratch, out: &mut Vec<f32>) -> Result<(), FeatureError> {
        let n_frames = self.n_frames();
        let take = segment.len().min(self.segment_len);
        s.padded[..take].copy_from_slice(&segment[..take]);
        s.padded[take..].fill(0.0);

        // Power mel spectrogram in dB (float32 like librosa), tracking the segment's maximum.
        let mut max_db = f32::NEG_INFINITY;
        for t in 0..n_frames {
            self.stft.magnitude_frame(&s.padded, t, &mut s.stft, &mut s.mag)?;
            for m in s.mag.iter_mut() {
                *m *= *m;
            }
            let row = &mut s.db[t * N_MELS..(t + 1) * N_MELS];
            self.mel.apply(&s.mag, row);
            for v in row.iter_mut() {
                *v = 10.0f32 * v.max(AMIN).log10();
                max_db = max_db.max(*v);
            }
        }
        let floor = max_db - TOP_DB;

        // DCT-II (ortho), first 13 coefficients.
        for t in 0..n_frames {
            let row = &mut s.db[t * N_MELS..(t + 1) * N_MELS];
            for v in row.iter_mut() {
                *v = v.max(floor);
            }
            for k in 0..N_MFCC {
                let basis = &self.dct[k * N_MELS..(k + 1) * N_MELS];
                let acc: f64 = basis.iter().zip(row.iter()).map(|(&b, &v)| b * v as f64).sum();
                s.cep[k * n_frames + t] = acc as f32;
            }
        }

        out.clear();
        out.resize(n_frames * 3 * N_MFCC, 0.0);
        for k in 0..N_MFCC {
            let c = &s.cep[k * n_frames..(k + 1) * n_frames];
            for (t, &v) in c.iter().enumerate() {
                out[t * 3 * N_MFCC + k] = v;
            }
            for (order, filter) in [(1, &self.delta1), (2, &self.delta2)] {
                filter.apply(c, &mut s.delta);
                for (t, &v) in s.delta.iter().enumerate() {
                    out[t * 3 * N_MFCC + order * N_MFCC + k] = v;
                }
            }
        }
        Ok(())
    }
}
