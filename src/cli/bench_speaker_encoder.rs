//! `emotrace bench speaker-encoder`: time to embed one diarization piece with an imported speaker
//! encoder (GE2E or CAM++), on voice-like audio of the pieces' usual length.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use crate::model::speaker_encoder_store::{installed_dir, load, ImportedEncoder};

#[derive(Debug, Args)]
pub struct BenchSpeakerEncoderArgs {
    /// The encoder folder (default: the imported one).
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Seconds of audio per piece (the diarizer's pieces are at most 2 s).
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Pieces embedded per timed run.
    #[arg(long, default_value_t = 48)]
    pub pieces: usize,
    /// Timed runs after one warm-up (the best and the median are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

pub fn run(args: BenchSpeakerEncoderArgs) -> anyhow::Result<()> {
    if args.repeat == 0 || args.pieces == 0 || !(args.seconds > 0.0 && args.seconds <= 60.0) {
        bail!("--repeat and --pieces must be at least 1 and --seconds in (0, 60]");
    }
    let dir = match args.encoder.or_else(installed_dir) {
        Some(dir) => dir,
        None => bail!("no speaker encoder imported: pass --encoder DIR or run import-speaker-encoder first"),
    };
    let encoder = load(&dir, &candle_core::Device::Cpu).with_context(|| format!("cannot load {}", dir.display()))?;
    let rate = encoder.sample_rate();
    let pieces: Vec<Vec<f32>> = (0..args.pieces).map(|k| voice_like(args.seconds, rate, k)).collect();
    let refs: Vec<&[f32]> = pieces.iter().map(Vec::as_slice).collect();
    encoder.embed_utterances(&refs[..1.min(refs.len())])?;
    let mut runs = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        let start = Instant::now();
        encoder.embed_utterances(&refs)?;
        runs.push(start.elapsed().as_secs_f64() / args.pieces as f64);
    }
    runs.sort_by(f64::total_cmp);
    let name = match encoder {
        ImportedEncoder::Ge2e(_) => "GE2E",
        ImportedEncoder::CamPlus(_) => "CAM++",
    };
    println!(
        "{name} ({}): {:.1} ms per {:.2}-s piece (best of {}; median {:.1} ms), {} pieces per run",
        dir.display(),
        runs[0] * 1e3,
        args.seconds,
        args.repeat,
        runs[runs.len() / 2] * 1e3,
        args.pieces
    );
    Ok(())
}

/// Harmonics of a gliding pitch, different per piece.
fn voice_like(seconds: f64, rate: u32, seed: usize) -> Vec<f32> {
    let n = (seconds * f64::from(rate)) as usize;
    let f0 = 100.0 + 15.0 * (seed % 7) as f64;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            phase += 2.0 * std::f64::consts::PI * f0 * (1.0 + 0.1 * (3.0 * t).sin()) / f64::from(rate);
            let y: f64 = (1..15).map(|k| (k as f64 * phase).sin() / k as f64).sum();
            (0.2 * y * (0.6 + 0.4 * (5.0 * t).sin().abs())) as f32
        })
        .collect()
}
