//! `emotrace score`: scores audio files with a model bundle, each file as one segment (SPEC §4
//! preprocessing: 16 kHz mono, first 10 s, normalised audio and pitch track, MFCC39).
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::features::FeatureExtractor;
use crate::model::scoring::{score_segments, sigmoid, SegmentInput};
use crate::model::{select_device, DeviceChoice};

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model bundle directory (config.json, model.safetensors, meta.json); default: the
    /// built-in default model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// auto, cpu, cuda or metal (auto falls back to CPU with a notice).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Most segments of equal length run together.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Print JSON instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Audio files, each scored as one segment (at most 10 s are used).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct Row {
    file: String,
    logit: f32,
    p_nonnegative: f32,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let choice: DeviceChoice = args.device.parse()?;
    let selected = select_device(choice)?;
    crate::model::device::tune_allocator_for_inference();
    if let Some(notice) = &selected.notice {
        eprintln!("notice: {notice}");
    }
    let (model, bundle) = crate::model::default_model::load_or_default(args.model.as_deref(), &selected.device).with_context(|| {
        match &args.model {
            Some(dir) => format!("cannot load the model {}", dir.display()),
            None => "cannot load the built-in default model".to_string(),
        }
    })?;
    if bundle.meta.needs_fine_tuning {
        eprintln!("warning: {} has an untrained head (needs fine-tuning); its scores are meaningless", bundle.dir.display());
    }
    let extractor = FeatureExtractor::for_model(model.config());
    let mut segments = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let audio = crate::audio::load_16k(file).with_context(|| format!("cannot read {}", file.display()))?;
        let clip = audio.mono();
        if clip.len() > crate::features::SEGMENT_SAMPLES {
            eprintln!("note: {} is longer than 10 s; only its first 10 s are scored", file.display());
        }
        let features = extractor.extract(&clip).with_context(|| format!("cannot compute features of {}", file.display()))?;
        segments.push(SegmentInput::from_features(features, model.backbone()));
    }
    let logits = score_segments(&model, &selected.device, &segments, args.batch)?;
    let rows: Vec<Row> = args
        .files
        .iter()
        .zip(logits)
        .map(|(file, logit)| Row { file: file.display().to_string(), logit, p_nonnegative: sigmoid(logit) })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("file,logit,p_nonnegative");
        for row in rows {
            println!("{},{:.6},{:.6}", csv_field(&row.file), row.logit, row.p_nonnegative);
        }
    }
    Ok(())
}

/// Quotes a CSV field when it contains a separator, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
