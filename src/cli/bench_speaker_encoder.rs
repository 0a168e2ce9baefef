//! `emotrace bench speaker-encoder`: time to embed one diarization piece with the speaker encoder
//! mono calls use (the imported one, else the built-in CAM++) or a given one, on voice-like audio
//! of the pieces' usual length.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use crate::model::builtin_speaker_encoder::{self, BUILTIN_ENCODER_LABEL};
use crate::model::speaker_encoder_store::{installed_dir, load, SpeakerEncoderNet};

#[derive(Debug, Args)]
pub struct BenchSpeakerEncoderArgs {
    /// The encoder folder (default: the imported one, else the built-in CAM++).
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
    let (encoder, label) = match args.encoder.or_else(installed_dir) {
        Some(dir) => (
            load(&dir, &candle_core::Device::Cpu).with_context(|| format!("cannot load {}", dir.display()))?,
            dir.display().to_string(),
        ),
        None => (builtin_speaker_encoder::load(&candle_core::Device::Cpu)?, BUILTIN_ENCODER_LABEL.to_string()),
    };
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
        SpeakerEncoderNet::Ge2e(_) => "GE2E",
        SpeakerEncoderNet::CamPlus(_) => "CAM++",
    };
    println!(
        "{name} ({}): {:.1} ms per {:.2}-s piece (best of {}; median {:.1} ms), {} pieces per run",
        label,
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
