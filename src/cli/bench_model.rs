//! `emotrace bench model`: forward time of the fused model per 10-s segment with random weights.
//! Compare with `scripts/bench_model_torch.py` run on the same machine at the same time.
use anyhow::Context;
use clap::Args;

use crate::model::bench::{base_config, random_model, time_audio_branch, time_forward};
use crate::model::{select_device, DeviceChoice};

#[derive(Debug, Args)]
pub struct BenchModelArgs {
    /// Batch sizes to time (segments of equal length).
    #[arg(long, num_args = 1.., default_values_t = vec![1usize, 8])]
    pub batches: Vec<usize>,
    /// Timed repetitions per batch size (after one warm-up pass).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Samples per segment (160 000 = 10 s at 16 kHz).
    #[arg(long, default_value_t = 160_000)]
    pub samples: usize,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Time this bundle (e.g. a Whisper-backbone one) instead of a random wav2vec2-base-sized model.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Time only the audio branch (for a Whisper bundle: the encoder, as
    /// scripts/bench_whisper_encoder.py times transformers and CTranslate2).
    #[arg(long)]
    pub encoder_only: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchModelArgs) -> anyhow::Result<()> {
    let choice: DeviceChoice = args.device.parse()?;
    let selected = select_device(choice)?;
    crate::model::device::tune_allocator_for_inference();
    if let Some(notice) = &selected.notice {
        eprintln!("notice: {notice}");
    }
    let model = match &args.model {
        Some(dir) => crate::model::bundle::load_bundle(dir, &selected.device).with_context(|| format!("cannot load {}", dir.display()))?.0,
        None => random_model(&base_config(), &selected.device).context("cannot build the benchmark model")?,
    };
    let mut figures = Vec::new();
    for &batch in &args.batches {
        let figure = if args.encoder_only {
            time_audio_branch(&model, batch.max(1), args.samples, args.reps)?
        } else {
            time_forward(&model, &selected.device, batch.max(1), args.samples, args.reps)?
        };
        if !args.json {
            println!(
                "candle {:?}: batch {}: {:.3} s per segment ({:.3} s per batch, {} reps){}",
                selected.device.location(),
                figure.batch,
                figure.seconds_per_segment,
                figure.seconds_per_batch,
                figure.repetitions,
                figure.cpu_seconds_per_segment.map(|c| format!("; CPU time {c:.3} s per segment")).unwrap_or_default()
            );
        }
        figures.push(figure);
    }
    if args.json {
        println!("{}", serde_json::to_string(&figures)?);
    }
    Ok(())
}
