//! Parity of `emotrace::features::whisper_mel` with HF transformers' `WhisperFeatureExtractor`.
//!
//! Expected values: tests/fixtures/whisper_mel/, written by scripts/gen_whisper_mel_fixtures.py
//! (transformers 5.25.0 on its NumPy path `_np_extract_fbank_features`, numpy 2.4.6; versions
//! and the torch path's own distance from it in tests/fixtures/whisper_mel/README.md). Each row
//! of `cases.tsv` is one HF call: clip mode (`padding="longest"`, Rust `pad_to = None`) or padded
//! mode (`padding="max_length", max_length=n`, Rust `Some(n)`); clips HF refuses (shorter than
//! 160 samples) are expected to give 0 frames. Padded cases store the columns before the final
//! run of identical all-padding frames, plus that run's value.
//!
//! Tolerance: max |Δ| <= [`TOL`] = 1e-4 over every value, and exact frame counts. Our arithmetic
//! is the reference's (float64 transform rounded to complex64, float64 power, mel sums and
//! log10, float32 clamp and scaling); only the FFT's and the mel sum's float64 rounding order
//! differ, which almost never moves a float32 output. Measured on the committed fixtures (26
//! cases, `every_fixture` prints each): max |Δ| = 0 on every case, i.e. bit-identical. HF's own
//! float32 torch path (its default when torch is installed) is up to 4.8e-5 from its NumPy path.

use std::path::{Path, PathBuf};
use std::time::Instant;

use emotrace::features::npy;
use emotrace::features::whisper_mel::{WhisperMelPlan, WHISPER_CHUNK_FRAMES, WHISPER_CHUNK_SAMPLES, WHISPER_N_MELS};

/// Max |Δ| allowed between our output and HF's, per value.
const TOL: f64 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &Path) -> npy::NpyArray {
    npy::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture input as float32: int16 PCM / 32768 (as gen_feature_fixtures.py), or float32.
fn load_input(rel: &str) -> Vec<f32> {
    let arr = read(&fixtures().join(rel));
    match arr.dtype {
        npy::NpyDtype::I16 => arr.data.iter().map(|&v| v as f32 / 32768.0).collect(),
        _ => arr.to_f32(),
    }
}

struct Case {
    name: String,
    input: String,
    samples: usize,
    pad_to: Option<usize>,
    frames: usize,
    stored_frames: usize,
    tail_value: Option<f64>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("whisper_mel/cases.tsv")).expect("cases.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "cases.tsv row: {line}");
            let num = |s: &str| s.parse::<usize>().unwrap_or_else(|_| panic!("bad number {s} in {line}"));
            Case {
                name: f[0].to_string(),
                input: f[1].to_string(),
                samples: num(f[2]),
                pad_to: (f[3] != "none").then(|| num(f[3])),
                frames: num(f[4]),
                stored_frames: num(f[5]),
                tail_value: (f[6] != "-").then(|| f[6].parse::<f64>().expect("tail value")),
            }
        })
        .collect()
}

/// Max |Δ| of `got` (80 × frames, row-major) against a case's expected output.
fn compare(case: &Case, got: &[f32], frames: usize) -> f64 {
    let expected = read(&fixtures().join(format!("whisper_mel/{}.npy", case.name)));
    assert_eq!(expected.shape, vec![WHISPER_N_MELS, case.stored_frames], "{}: stored shape", case.name);
    assert_eq!(frames, case.frames, "{}: frame count", case.name);
    assert_eq!(got.len(), WHISPER_N_MELS * frames, "{}: output length", case.name);
    let head = case.stored_frames;
    let mut worst = 0.0f64;
    for band in 0..WHISPER_N_MELS {
        for t in 0..frames {
            let want = if t < head {
                expected.data[band * head + t]
            } else {
                case.tail_value.unwrap_or_else(|| panic!("{}: frames past the stored ones but no tail value", case.name))
            };
            worst = worst.max((got[band * frames + t] as f64 - want).abs());
        }
    }
    worst
}

#[test]
fn every_fixture() {
    let plan = WhisperMelPlan::new();
    let mut scratch = plan.make_scratch();
    let mut out = Vec::new();
    let all = cases();
    assert!(all.len() >= 20, "only {} cases", all.len());
    let mut failures = Vec::new();
    for case in &all {
        let input = load_input(&case.input);
        assert_eq!(input.len(), case.samples, "{}: input length", case.name);
        let frames = plan.compute_with(&input, case.pad_to, &mut scratch, &mut out);
        assert_eq!(plan.frames_for(input.len(), case.pad_to), frames, "{}: frames_for", case.name);
        let worst = compare(case, &out, frames);
        eprintln!("{:<18} {:>7} samples, pad_to {:>7}, {:>4} frames: max |Δ| {worst:.2e}",
            case.name, case.samples, case.pad_to.map_or("none".into(), |n| n.to_string()), frames);
        if worst > TOL {
            failures.push(format!("{}: {worst:e}", case.name));
        }
    }
    assert!(failures.is_empty(), "over {TOL}: {failures:?}");
}

/// Deterministic noise in [-amplitude, amplitude).
fn noise(n: usize, amplitude: f32, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

#[test]
fn silence_is_the_constant_floor() {
    // All-zero input: every band is log10(1e-10) = -10, the clamp (max - 8) changes nothing,
    // and (−10 + 4) / 4 = −1.5.
    let plan = WhisperMelPlan::new();
    let mut out = Vec::new();
    for (len, pad_to) in [(160, None), (16_000, None), (16_000, Some(WHISPER_CHUNK_SAMPLES)), (0, Some(32_000))] {
        let frames = plan.compute(&vec![0.0; len], pad_to, &mut out);
        assert_eq!(frames, plan.frames_for(len, pad_to));
        assert!(frames > 0);
        assert!(out.iter().all(|&v| v == -1.5), "len {len}, pad_to {pad_to:?}");
    }
}

#[test]
fn inputs_without_frames_give_none() {
    let plan = WhisperMelPlan::new();
    let mut out = vec![1.0f32; 7];
    for (len, pad_to) in [(0, None), (1, None), (100, None), (159, None), (5000, Some(0)), (5000, Some(159))] {
        assert_eq!(plan.compute(&noise(len, 0.3, 1), pad_to, &mut out), 0, "len {len}, pad_to {pad_to:?}");
        assert!(out.is_empty());
        assert_eq!(plan.frames_for(len, pad_to), 0);
    }
    // The shortest clips that give a frame (reflected several times over: 160 < 200 samples).
    for len in [160, 161, 199, 200] {
        assert_eq!(plan.compute(&noise(len, 0.3, 2), None, &mut out), 1);
        assert_eq!(out.len(), WHISPER_N_MELS);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn thirty_second_padding_gives_3000_frames() {
    let plan = WhisperMelPlan::new();
    let mut out = Vec::new();
    assert_eq!(WHISPER_CHUNK_FRAMES, 3000);
    for len in [0, 1, 400, 160_000, 480_000, 600_000] {
        let frames = plan.compute(&noise(len, 0.1, 3), Some(WHISPER_CHUNK_SAMPLES), &mut out);
        assert_eq!(frames, 3000, "len {len}");
        assert_eq!(out.len(), 80 * 3000);
    }
    // Clip mode follows HF's default truncation at 30 s.
    assert_eq!(plan.compute(&noise(600_000, 0.1, 3), None, &mut out), 3000);
    assert_eq!(plan.frames_for(600_000, None), 3000);
    assert_eq!(plan.frames_for(160_000, None), 1000);
    // Truncating to n samples is the clip's first n samples in clip mode.
    let clip = noise(32_000, 0.1, 4);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let fa = plan.compute(&clip[..16_000], None, &mut a);
    let fb = plan.compute(&clip, Some(16_000), &mut b);
    assert_eq!((fa, fb), (100, 100));
    assert_eq!(a, b, "truncating to n samples equals taking the first n samples");
}

#[test]
fn clamp_is_relative_to_the_clips_own_maximum() {
    let plan = WhisperMelPlan::new();
    let (mut quiet_out, mut both_out) = (Vec::new(), Vec::new());
    // Scaling a clip by 2^10 (exact in floating point) raises every log10 power by
    // 20·log10(2) and so every output by 5·log10(2): the clamp moves with the clip's maximum.
    // (Noise loud enough that no band reaches the 1e-10 mel floor, which does not scale.)
    let (mut base_out, mut scaled_out) = (Vec::new(), Vec::new());
    let base = noise(16_000, 1e-2, 5);
    let frames = plan.compute(&base, None, &mut base_out);
    let scaled: Vec<f32> = base.iter().map(|v| v * 1024.0).collect();
    assert_eq!(plan.compute(&scaled, None, &mut scaled_out), frames);
    let shift = 5.0 * 2f64.log10();
    let worst = base_out.iter().zip(&scaled_out).map(|(&q, &s)| (s as f64 - q as f64 - shift).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "scaled output is not shifted uniformly: {worst}");

    let quiet = noise(16_000, 1e-4, 5);
    assert_eq!(plan.compute(&quiet, None, &mut quiet_out), 100);

    // Every output lies within 2 (= 8 / 4) of the clip's maximum.
    let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
    assert!(min(&quiet_out) >= max(&quiet_out) - 2.0);

    // Followed by a loud tone, the quiet part is clamped at the loud maximum - 2 instead.
    let mut both = quiet.clone();
    both.extend((0..16_000).map(|n| 0.9 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16_000.0).sin()));
    let both_frames = plan.compute(&both, None, &mut both_out);
    assert_eq!(both_frames, 200);
    let floor = max(&both_out) - 2.0;
    assert_eq!(min(&both_out), floor);
    let quiet_part: Vec<f32> = (0..WHISPER_N_MELS).flat_map(|b| both_out[b * 200..b * 200 + 95].to_vec()).collect();
    assert!(quiet_part.iter().all(|&v| v == floor), "the quiet part sits 80 dB below the tone");
    // Alone, its own maximum sets the floor and its values stay spread out.
    assert!(max(&quiet_out) - min(&quiet_out) > 0.2, "alone, the quiet part is not clamped flat");
}

#[test]
fn scratch_reuse_does_not_leak_between_calls() {
    let plan = WhisperMelPlan::new();
    let mut scratch = plan.make_scratch();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let long = noise(50_000, 0.2, 6);
    let short = noise(1234, 0.2, 7);
    plan.compute_with(&long, Some(WHISPER_CHUNK_SAMPLES), &mut scratch, &mut a);
    plan.compute_with(&short, None, &mut scratch, &mut a);
    plan.compute(&short, None, &mut b);
    assert_eq!(a, b);
}

/// Timing of a 10-s clip (not a parity check): `cargo test --release --test whisper_mel_parity
/// -- --ignored --nocapture timing`.
#[test]
#[ignore]
fn timing_ten_seconds() {
    let plan = WhisperMelPlan::new();
    let mut scratch = plan.make_scratch();
    let mut out = Vec::new();
    let clip = noise(160_000, 0.2, 8);
    for (label, pad_to) in [("clip", None), ("padded to 30 s", Some(WHISPER_CHUNK_SAMPLES))] {
        let mut best = f64::INFINITY;
        for _ in 0..50 {
            let start = Instant::now();
            plan.compute_with(&clip, pad_to, &mut scratch, &mut out);
            best = best.min(start.elapsed().as_secs_f64());
        }
        eprintln!("10-s clip, {label}: best of 50 {:.3} ms", best * 1e3);
    }
}
