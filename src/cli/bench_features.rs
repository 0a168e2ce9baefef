//! `emotrace bench features`: times the feature stage on every 10-s window of a long call
//! (default 45 minutes, the paper's mean call length). scripts/bench_librosa_features.py runs
//! this and librosa's reference code on the same signal and prints the ratio.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::features::{npy, ten_second_windows, FeatureExtractor, SAMPLE_RATE};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchTarget,
}

#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// MFCC39 + pitch track + normalised audio for all 10-s windows of a long signal.
    Features(BenchFeaturesArgs),
    /// The fused model's forward pass per 10-s segment (base-size config, random weights).
    Model(super::bench_model::BenchModelArgs),
    /// Embedding a diarization piece with an imported speaker encoder.
    SpeakerEncoder(super::bench_speaker_encoder::BenchSpeakerEncoderArgs),
    /// The window's fine-tuning on labels files, timed (preparation and each epoch).
    FineTune(super::bench_fine_tune::BenchFineTuneArgs),
}

#[derive(Debug, Args)]
pub struct BenchFeaturesArgs {
    /// Length of the synthetic call in minutes.
    #[arg(long, default_value_t = 45.0)]
    pub minutes: f64,
    /// Timed runs (the best and the median are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Use this 16 kHz mono float32 `.npy` signal instead of the synthetic one.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Also write the signal as a float32 `.npy` (for the librosa comparison script).
    #[arg(long)]
    pub write_signal: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchTarget::Features(a) => run_features(a),
        BenchTarget::Model(a) => super::bench_model::run(a),
        BenchTarget::SpeakerEncoder(a) => super::bench_speaker_encoder::run(a),
        BenchTarget::FineTune(a) => super::bench_fine_tune::run(a),
    }
}

fn run_features(args: BenchFeaturesArgs) -> anyhow::Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let signal = match &args.input {
        Some(path) => npy::read(path).with_context(|| format!("cannot read {}", path.display()))?.to_f32(),
        None => {
            if !(args.minutes > 0.0 && args.minutes.is_finite()) {
                bail!("--minutes must be positive");
            }
            synthetic_call((args.minutes * 60.0 * SAMPLE_RATE as f64).round() as usize)
        }
    };
    if let Some(path) = &args.write_signal {
        npy::write_f32(path, &[signal.len()], &signal)?;
    }
    let windows = ten_second_windows(&signal);
    let extractor = FeatureExtractor::new();
    let mut times = Vec::with_capacity(args.repeat);
    let mut cpu_times = Vec::with_capacity(args.repeat);
    let checksum = std::sync::Mutex::new(0.0f64);
    let load_before = load_average();
    for _ in 0..args.repeat {
        let cpu_started = process_cpu_seconds();
        let started = Instant::now();
        // Streaming, as the model consumes segments: each worker reuses its output buffers.
        extractor.for_each(&windows, |_, f| {
            let sum = f.mfcc39[0] as f64 + f.pitch_frames.iter().map(|&p| p as f64).sum::<f64>()
                + f.pitch_track[f.pitch_track.len() / 2] as f64
                + f.audio_norm[f.audio_norm.len() / 2] as f64;
            if let Ok(mut c) = checksum.lock() {
                *c += sum;
            }
        })?;
        times.push(started.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_started, process_cpu_seconds()) {
            cpu_times.push(b - a);
        }
    }
    let checksum = checksum.into_inner().unwrap_or(f64::NAN) / args.repeat as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "signal: {:.1} min ({} samples), {} windows of 10 s, {} rayon threads",
        signal.len() as f64 / SAMPLE_RATE as f64 / 60.0,
        signal.len(),
        windows.len(),
        rayon::current_num_threads()
    );
    println!(
        "features (MFCC39 + pitch track + normalised audio): best {:.3} s, median {:.3} s over {} runs (checksum {checksum:.3})",
        times[0],
        times[times.len() / 2],
        times.len()
    );
    if !cpu_times.is_empty() {
        // CPU time summed over all threads: less sensitive to other load on the machine than
        // wall time, so it compares builds fairly on a busy machine.
        cpu_times.sort_by(f64::total_cmp);
        println!("CPU time (all threads): best {:.3} s, median {:.3} s", cpu_times[0], cpu_times[cpu_times.len() / 2]);
    }
    println!("load average before/after: {} / {}", load_before, load_average());
    // Machine-readable line for scripts/bench_librosa_features.py.
    println!("wall_s={:.6}", times[0]);
    Ok(())
}

/// CPU time of this process so far (all threads, user + system), from
/// `/proc/self/task/*/schedstat` (nanoseconds); `None` where that is unavailable.
fn process_cpu_seconds() -> Option<f64> {
    let mut total_ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total_ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns as f64 * 1e-9)
}

/// The 1/5/15-minute load averages (`/proc/loadavg`), or "n/a".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

/// A deterministic speech-like call: voiced syllables (harmonic source with a wandering F0,
/// crude formant weighting), noise bursts and pauses, at a telephone-like level.
pub fn synthetic_call(n: usize) -> Vec<f32> {
    let sr = SAMPLE_RATE as f64;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut out = Vec::with_capacity(n);
    let mut phase = 0.0f64;
    for i in 0..n {
        let t = i as f64 / sr;
        let f0 = 160.0 + 40.0 * (2.0 * std::f64::consts::PI * 0.37 * t).sin() + 15.0 * (2.0 * std::f64::consts::PI * 2.9 * t).sin();
        phase += f0 / sr;
        let p = 2.0 * std::f64::consts::PI * phase;
        // Harmonics weighted towards formant-ish regions.
        let voiced = p.sin() + 0.6 * (2.0 * p).sin() + 0.5 * (4.0 * p).sin() + 0.3 * (7.0 * p).sin() + 0.15 * (15.0 * p).sin();
        let syllable = (2.0 * std::f64::consts::PI * 3.3 * t).sin().max(0.0);
        let phrase = if (t % 7.0) < 5.2 { 1.0 } else { 0.0 };
        let sample = 0.08 * phrase * (syllable * voiced + 0.3 * (1.0 - syllable) * noise()) + 0.002 * noise();
        out.push(sample as f32);
    }
    out
}
