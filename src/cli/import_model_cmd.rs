//! `emotrace import-model`: builds a model bundle from outside weights.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::model::bundle::{write_bundle, BundleMeta};
use crate::model::import::{import_checkpoint, import_hf_wav2vec2, import_whisper, HeadOptions, WhisperImportOptions};

#[derive(Debug, Args)]
pub struct ImportModelArgs {
    /// An HF wav2vec2 directory (config.json + model.safetensors or pytorch_model.bin): the bundle
    /// gets this backbone and a freshly initialised head, and is marked "needs fine-tuning".
    #[arg(long, conflicts_with_all = ["checkpoint", "whisper"])]
    pub wav2vec2: Option<PathBuf>,
    /// A Whisper model folder, CTranslate2 (model.bin, e.g. from a faster-whisper package; float32,
    /// float16, int8 or int16 weights) or HF (config.json + model.safetensors): its encoder becomes
    /// the audio branch, with a freshly initialised head; the bundle is marked "needs fine-tuning".
    #[arg(long, conflicts_with = "checkpoint")]
    pub whisper: Option<PathBuf>,
    /// With --whisper: the head's sizes (pitch branch, LSTM, attention, fc) as in this training
    /// preset (tiny, small).
    #[arg(long, default_value = "small")]
    pub head: String,
    /// With --whisper: run only the encoder's first N layers (default: all); the others are not stored.
    #[arg(long)]
    pub whisper_layers: Option<usize>,
    /// With --whisper: average the encoder's 20-ms frames (and the pitch branch's) in groups of K
    /// before the cross-attention.
    #[arg(long, default_value_t = 4)]
    pub frame_pooling: usize,
    /// With --whisper: mix the raw hidden states (default: each is normalised over its features first).
    #[arg(long)]
    pub no_layer_norm: bool,
    /// With --whisper: the BiLSTM reads all 1001 MFCC frames of the clip zero-padded to 10 s, as the
    /// reference (default: only the clip's own frames).
    #[arg(long)]
    pub mfcc_padded: bool,
    /// A licence line to record in meta.json (repeatable), e.g. where the weights came from.
    #[arg(long)]
    pub licence: Vec<String>,
    /// Seed of the fresh head's weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A complete fused-model state_dict (torch.save of model.state_dict(), or .safetensors) from
    /// the reference training script.
    #[arg(long, requires = "wav2vec2_config")]
    pub checkpoint: Option<PathBuf>,
    /// The HF wav2vec2 config.json the checkpoint's backbone was built from.
    #[arg(long)]
    pub wav2vec2_config: Option<PathBuf>,
    /// Heads of the audio/pitch cross-attention layers (cannot be read from weights).
    #[arg(long, default_value_t = 16)]
    pub cross_heads: usize,
    /// Heads of the fused self-attention layer (cannot be read from weights).
    #[arg(long, default_value_t = 8)]
    pub self_heads: usize,
    /// The bundle directory to write (atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing bundle at --out.
    #[arg(long)]
    pub force: bool,
    /// Name recorded in meta.json (default: the output directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// What the weights were trained on, recorded in meta.json.
    #[arg(long)]
    pub training_data: Option<String>,
}

pub fn run(args: ImportModelArgs) -> anyhow::Result<()> {
    let heads = HeadOptions { cross_heads: args.cross_heads, self_heads: args.self_heads };
    let name = args.name.clone().unwrap_or_else(|| {
        args.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
    });
    let (imported, meta) = match (&args.wav2vec2, &args.checkpoint, &args.whisper) {
        (None, None, Some(dir)) => {
            let mut head = crate::training::presets::preset(&args.head)?;
            if !args.mfcc_padded {
                head.mfcc_frames = crate::model::config::MfccFrames::Clip;
            }
            let options = WhisperImportOptions {
                head,
                layers: args.whisper_layers,
                normalize_layers: !args.no_layer_norm,
                frame_pooling: args.frame_pooling,
                seed: args.seed,
            };
            let imported =
                import_whisper(dir, &options).with_context(|| format!("cannot import the Whisper folder {}", dir.display()))?;
            let training = args.training_data.clone().unwrap_or_else(|| {
                "none: pretrained Whisper encoder with a freshly initialised head; needs fine-tuning".into()
            });
            let mut meta = BundleMeta::new(&name, &training, &format!("whisper folder {}", dir.display()), true);
            meta.licences.push(format!("encoder weights: OpenAI Whisper, MIT licence (Copyright (c) 2022 OpenAI); imported from {}", imported.notes.first().map(String::as_str).unwrap_or("a Whisper folder")));
            meta.licences.extend(args.licence.iter().cloned());
            (imported, meta)
        }
        (Some(dir), None, None) => {
            let imported = import_hf_wav2vec2(dir, &heads)
                .with_context(|| format!("cannot import the wav2vec2 directory {}", dir.display()))?;
            let training = args.training_data.clone().unwrap_or_else(|| {
                "none: pretrained wav2vec2 backbone with a freshly initialised head; needs fine-tuning".into()
            });
            let meta = BundleMeta::new(&name, &training, &format!("wav2vec2 directory {}", dir.display()), true);
            (imported, meta)
        }
        (None, Some(checkpoint), None) => {
            let Some(config) = &args.wav2vec2_config else { bail!("--checkpoint needs --wav2vec2-config") };
            let imported = import_checkpoint(checkpoint, config, &heads)
                .with_context(|| format!("cannot import the checkpoint {}", checkpoint.display()))?;
            let training = args.training_data.clone().unwrap_or_else(|| "unknown (imported checkpoint)".into());
            let meta = BundleMeta::new(&name, &training, &format!("checkpoint {}", checkpoint.display()), false);
            (imported, meta)
        }
        _ => bail!("give --whisper DIR, --wav2vec2 HF_DIR, or --checkpoint FILE --wav2vec2-config CONFIG"),
    };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let meta = write_bundle(&args.out, &imported.config, &imported.tensors, meta, args.force)
        .with_context(|| format!("cannot write the bundle {}", args.out.display()))?;
    let w = &imported.config.wav2vec2;
    let backbone = match imported.config.whisper_branch() {
        Some(b) => format!("whisper d_model {}, {} of {} layers, head width {}", b.encoder.d_model, b.layers, b.encoder.encoder_layers, w.hidden_size),
        None => format!("wav2vec2 hidden {}, {} layers", w.hidden_size, w.num_hidden_layers),
    };
    println!(
        "wrote {} ({backbone}; LSTM {}; sha256 {}){}",
        args.out.display(),
        imported.config.lstm_hidden,
        meta.weights_sha256,
        if meta.needs_fine_tuning { "; needs fine-tuning before use" } else { "" }
    );
    Ok(())
}
