//! `emotrace train-voiceprint`: rebuild the diarizer's voiceprint projection from synthetic
//! calls of the labelled corpora (developers; the shipped one is in models/diarization/).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::segmentation::voiceprint_training::{train, VoiceprintTrainingSpec};
use crate::synth::locate_shared_data;

#[derive(Debug, Args)]
pub struct TrainVoiceprintArgs {
    /// Output JSON (written atomically), e.g. models/diarization/voiceprint.json
    /// (train-encoder-nuisance: models/speaker_encoder/nuisance.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with <corpus>/manifest.csv (default: $EMOTRACE_SHARED_DATA, ../shared/data,
    /// /work/shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Corpora to draw speakers from.
    #[arg(long, value_delimiter = ',', default_value = "casia,emodb,ravdess,turev-db")]
    pub corpora: Vec<String>,
    /// Speakers never used, as corpus:speaker (comma-separated), e.g. the held-out speakers of
    /// scripts/diarization_eval.sh.
    #[arg(long, value_delimiter = ',')]
    pub hold_out: Vec<String>,
    /// Training calls opened by each speaker (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub calls_per_speaker: usize,
    /// Length of each training call in minutes.
    #[arg(long, default_value_t = 3.0)]
    pub minutes: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The training calls the options describe.
pub fn training_spec(args: &TrainVoiceprintArgs) -> anyhow::Result<VoiceprintTrainingSpec> {
    let data_root = match &args.data {
        Some(d) => d.clone(),
        None => locate_shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .context("no corpus data found: pass --data or set EMOTRACE_SHARED_DATA")?,
    };
    let held_out = args
        .hold_out
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .split_once(':')
                .map(|(c, k)| (c.to_string(), k.to_string()))
                .with_context(|| format!("--hold-out entries are corpus:speaker, not '{s}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(VoiceprintTrainingSpec {
        data_root,
        corpora: args.corpora.clone(),
        held_out,
        calls_per_speaker: args.calls_per_speaker,
        minutes: args.minutes,
        seed: args.seed,
    })
}

pub fn run(args: TrainVoiceprintArgs) -> anyhow::Result<()> {
    let spec = training_spec(&args)?;
    let model = train(&spec, &|done, total| {
        if done % 10 == 0 || done == total {
            eprintln!("{done}/{total} training calls analysed");
        }
    })?;
    let text = serde_json::to_string_pretty(&model)?;
    crate::fsutil::atomic_write(&args.out, text.as_bytes()).with_context(|| format!("writing {}", args.out.display()))?;
    let leading: Vec<String> = model.pieces.eigenvalues.iter().take(8).map(|v| format!("{v:.2}")).collect();
    eprintln!("{}: leading between/within variance ratios {}", args.out.display(), leading.join(" "));
    Ok(())
}
