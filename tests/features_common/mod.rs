//! Shared comparison code for the feature parity tests (see tests/features_parity.rs for the
//! tolerances and the generator script).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use emotrace::features::npy;
use emotrace::features::{SegmentFeatures, MFCC39_DIM};

pub const MFCC_TOL: f64 = 1e-3;
pub const PITCH_HZ_TOL: f64 = 0.01;
pub const PITCH_FRAME_SHARE: f64 = 0.995;
pub const NORM_TOL: f64 = 1e-4;
pub const DECIMATE: usize = 16;

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/features")
}

pub fn load(dir: &Path, name: &str) -> Option<Vec<f64>> {
    let p = dir.join(name);
    p.exists().then(|| npy::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).data)
}

pub struct Report {
    pub mfcc_max_diff: f64,
    pub pitch_frames_ok: usize,
    pub pitch_frames_total: usize,
    pub pitch_frames_max_diff: f64,
    pub track_max_diff: f64,
    pub audio_max_diff: f64,
}

/// Compares computed features with the expected ones in `dir` and returns the measured diffs.
pub fn compare(dir: &Path, got: &SegmentFeatures) -> Report {
    let mfcc = load(dir, "mfcc39.npy").expect("mfcc39.npy");
    assert_eq!(got.mfcc39.len(), mfcc.len(), "mfcc39 size");
    assert_eq!(got.mfcc39.len(), 1001 * MFCC39_DIM);
    let mfcc_max_diff = got.mfcc39.iter().zip(&mfcc).map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);

    let frames = load(dir, "pitch_frames.npy").expect("pitch_frames.npy");
    assert_eq!(got.pitch_frames.len(), frames.len(), "pitch frame count");
    let frame_ok: Vec<bool> =
        got.pitch_frames.iter().zip(&frames).map(|(&a, &b)| (a as f64 - b).abs() <= PITCH_HZ_TOL).collect();
    let pitch_frames_max_diff =
        got.pitch_frames.iter().zip(&frames).map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);

    // Per-sample comparisons, full or decimated. The normalised pitch track depends on every
    // frame (through its mean and variance), so it is only compared when all frames agree;
    // otherwise the frame-level check above is the binding one.
    let all_frames_ok = frame_ok.iter().all(|&b| b);
    let mut track_max_diff: f64 = 0.0;
    let mut audio_max_diff: f64 = 0.0;
    for (name, step) in [("", 1usize), ("_dec", DECIMATE)] {
        if let Some(track) = load(dir, &format!("pitch_track{name}.npy")) {
            assert_eq!(track.len(), got.pitch_track.len().div_ceil(step), "pitch_track length");
            for (i, &e) in track.iter().enumerate() {
                let s = i * step;
                if all_frames_ok {
                    track_max_diff = track_max_diff.max((got.pitch_track[s] as f64 - e).abs());
                }
            }
        }
        if let Some(audio) = load(dir, &format!("audio_norm{name}.npy")) {
            assert_eq!(audio.len(), got.audio_norm.len().div_ceil(step), "audio_norm length");
            for (i, &e) in audio.iter().enumerate() {
                audio_max_diff = audio_max_diff.max((got.audio_norm[i * step] as f64 - e).abs());
            }
        }
    }
    Report {
        mfcc_max_diff,
        pitch_frames_ok: frame_ok.iter().filter(|&&b| b).count(),
        pitch_frames_total: frame_ok.len(),
        pitch_frames_max_diff,
        track_max_diff,
        audio_max_diff,
    }
}

pub fn check(case: &str, r: &Report) {
    eprintln!(
        "{case}: mfcc max|d| {:.3e}; pitch frames {}/{} within {PITCH_HZ_TOL} Hz (max|d| {:.3e}); \
         track max|d| {:.3e}; audio max|d| {:.3e}",
        r.mfcc_max_diff, r.pitch_frames_ok, r.pitch_frames_total, r.pitch_frames_max_diff, r.track_max_diff,
        r.audio_max_diff
    );
    assert!(r.mfcc_max_diff <= MFCC_TOL, "{case}: MFCC max diff {}", r.mfcc_max_diff);
    assert!(
        r.pitch_frames_ok as f64 >= PITCH_FRAME_SHARE * r.pitch_frames_total as f64,
        "{case}: only {}/{} pitch frames within {PITCH_HZ_TOL} Hz",
        r.pitch_frames_ok,
        r.pitch_frames_total
    );
    assert!(r.track_max_diff <= NORM_TOL, "{case}: pitch track max diff {}", r.track_max_diff);
    assert!(r.audio_max_diff <= NORM_TOL, "{case}: audio max diff {}", r.audio_max_diff);
}

