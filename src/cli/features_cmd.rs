//! `emotrace features`: the model's hand-crafted inputs for one window or all 10-s windows of a
//! recording, written as NumPy `.npy` files (for inspection and parity checks with librosa).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::features::{npy, FeatureExtractor, SegmentFeatures, MFCC39_DIM, SAMPLE_RATE, SEGMENT_SAMPLES};

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// The recording (any format `emotrace info` reads); it is resampled to 16 kHz.
    pub file: PathBuf,
    /// Where the window starts, in seconds.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Window length in seconds (default 10; with --windows: how much of the file to cut,
    /// default all of it after --start).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Which channel to analyse: a 0-based index, or "mono" for the mean of all channels.
    #[arg(long, default_value = "mono")]
    pub channel: String,
    /// Cut the selection into consecutive 10-s windows and write stacked arrays
    /// (windows × …; a shorter last window is zero-padded, see window_samples.npy).
    #[arg(long)]
    pub windows: bool,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: FeaturesArgs) -> anyhow::Result<()> {
    let audio = crate::audio::load_16k(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    for warning in &audio.info.warnings {
        eprintln!("warning: {warning}");
    }
    let samples = select_channel(&audio.channels, &args.channel)?;
    let default_duration = if args.windows { None } else { Some(SEGMENT_SAMPLES as f64 / SAMPLE_RATE as f64) };
    let selection = select_range(&samples, args.start, args.duration.or(default_duration))?;
    crate::fsutil::create_private_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let extractor = FeatureExtractor::new();
    if args.windows {
        let windows = crate::features::ten_second_windows(selection);
        let features = extractor.extract_many(&windows)?;
        write_stacked(&args.out, &features, &windows, args.start)?;
        println!("wrote {} windows of features to {}", features.len(), args.out.display());
    } else {
        let f = extractor.extract(selection)?;
        write_single(&args.out, &f)?;
        println!(
            "wrote features of {:.3} s ({} samples) to {}",
            selection.len() as f64 / SAMPLE_RATE as f64,
            selection.len(),
            args.out.display()
        );
    }
    Ok(())
}

fn select_channel(channels: &[Vec<f32>], which: &str) -> anyhow::Result<Vec<f32>> {
    if which.eq_ignore_ascii_case("mono") {
        return Ok(crate::audio::mix_to_mono(channels));
    }
    let index: usize = which.parse().with_context(|| format!("--channel must be an index or \"mono\", not {which:?}"))?;
    match channels.get(index) {
        Some(channel) => Ok(channel.clone()),
        None => bail!("--channel {index}: the recording has {} channel(s)", channels.len()),
    }
}

fn select_range(samples: &[f32], start_s: f64, duration_s: Option<f64>) -> anyhow::Result<&[f32]> {
    if !start_s.is_finite() || start_s < 0.0 {
        bail!("--start must be a non-negative number of seconds");
    }
    let start = (start_s * SAMPLE_RATE as f64).round() as usize;
    if start >= samples.len() {
        bail!(
            "--start {start_s} s is past the end of the recording ({:.3} s)",
            samples.len() as f64 / SAMPLE_RATE as f64
        );
    }
    let end = match duration_s {
        Some(d) if !d.is_finite() || d <= 0.0 => bail!("--duration must be a positive number of seconds"),
        Some(d) => (start + (d * SAMPLE_RATE as f64).round() as usize).min(samples.len()),
        None => samples.len(),
    };
    Ok(&samples[start..end])
}

fn write_single(dir: &Path, f: &SegmentFeatures) -> anyhow::Result<()> {
    npy::write_f32(&dir.join("mfcc39.npy"), &[f.mfcc_frames, MFCC39_DIM], &f.mfcc39)?;
    npy::write_f32(&dir.join("pitch_frames.npy"), &[f.pitch_frames.len()], &f.pitch_frames)?;
    npy::write_f32(&dir.join("pitch_track.npy"), &[f.pitch_track.len()], &f.pitch_track)?;
    npy::write_f32(&dir.join("audio_norm.npy"), &[f.audio_norm.len()], &f.audio_norm)?;
    Ok(())
}

/// Stacks per-window arrays, zero-padding ragged ones to the longest.
fn stack(rows: Vec<&[f32]>) -> (usize, Vec<f32>) {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut out = vec![0.0f32; rows.len() * width];
    for (i, r) in rows.iter().enumerate() {
        out[i * width..i * width + r.len()].copy_from_slice(r);
    }
    (width, out)
}

fn write_stacked(dir: &Path, features: &[SegmentFeatures], windows: &[&[f32]], start_s: f64) -> anyhow::Result<()> {
    let n = features.len();
    let frames = features.first().map_or(0, |f| f.mfcc_frames);
    let (_, mfcc) = stack(features.iter().map(|f| f.mfcc39.as_slice()).collect());
    npy::write_f32(&dir.join("mfcc39.npy"), &[n, frames, MFCC39_DIM], &mfcc)?;
    for (name, rows) in [
        ("pitch_frames.npy", features.iter().map(|f| f.pitch_frames.as_slice()).collect::<Vec<_>>()),
        ("pitch_track.npy", features.iter().map(|f| f.pitch_track.as_slice()).collect()),
        ("audio_norm.npy", features.iter().map(|f| f.audio_norm.as_slice()).collect()),
    ] {
        let (width, data) = stack(rows);
        npy::write_f32(&dir.join(name), &[n, width], &data)?;
    }
    let lengths: Vec<f32> = windows.iter().map(|w| w.len() as f32).collect();
    npy::write_f32(&dir.join("window_samples.npy"), &[n], &lengths)?;
    let starts: Vec<f32> = (0..n)
        .map(|i| (start_s + (i * SEGMENT_SAMPLES) as f64 / SAMPLE_RATE as f64) as f32)
        .collect();
    npy::write_f32(&dir.join("window_start_s.npy"), &[n], &starts)?;
    Ok(())
}
