//! `emotrace train-encoder-nuisance`: rebuild the built-in speaker encoder's nuisance
//! directions from synthetic calls of the labelled corpora (developers; the shipped ones are in
//! models/speaker_encoder/nuisance.json).

use anyhow::Context;
use clap::Args;

use super::train_voiceprint_cmd::{training_spec, TrainVoiceprintArgs};
use crate::model::builtin_speaker_encoder;
use crate::segmentation::encoder_nuisance_training::train;

#[derive(Debug, Args)]
pub struct TrainNuisanceArgs {
    #[command(flatten)]
    pub calls: TrainVoiceprintArgs,
    /// Directions kept (largest within-speaker variance first); diarization removes
    /// --diarize-nuisance-dims of them.
    #[arg(long, default_value_t = 16)]
    pub keep: usize,
}

pub fn run(args: TrainNuisanceArgs) -> anyhow::Result<()> {
    let spec = training_spec(&args.calls)?;
    let encoder = builtin_speaker_encoder::load(&candle_core::Device::Cpu)?;
    let directions = train(&spec, &encoder, args.keep, &|done, total| {
        if done % 10 == 0 || done == total {
            eprintln!("{done}/{total} training calls embedded");
        }
    })?;
    let out = &args.calls.out;
    let text = serde_json::to_string_pretty(&directions)?;
    crate::fsutil::atomic_write(out, text.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    let shares: Vec<String> =
        directions.variances.iter().take(8).map(|v| format!("{:.1}%", 100.0 * v / directions.total_variance)).collect();
    eprintln!("{}: leading within-speaker variance shares {}", out.display(), shares.join(" "));
    Ok(())
}
