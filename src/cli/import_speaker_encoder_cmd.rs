//! `emotrace import-speaker-encoder`: installs a pretrained GE2E speaker encoder for mono
//! diarization.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::model::speaker_encoder::SpeakerEncoderConfig;
use crate::model::speaker_encoder_store::{import, SPEAKER_ENCODER_DIR};

#[derive(Debug, Args)]
pub struct ImportSpeakerEncoderArgs {
    /// The encoder's weights: Resemblyzer's `pretrained.pt` (inside its PyPI wheel, at
    /// resemblyzer/pretrained.pt), another `torch.save` of the same network (state dict, or a
    /// checkpoint holding it under `model_state`), or `.safetensors`.
    pub checkpoint: PathBuf,
    /// Install into this folder instead of the user data directory's `speaker-encoder/` (which
    /// `segment`, `analyze` and the app use by default).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an encoder already installed there.
    #[arg(long)]
    pub force: bool,
    /// Network shape as JSON (fields of SpeakerEncoderConfig; default: Resemblyzer's 3 x 256
    /// LSTM over 40 mel bands at 16 kHz).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(args: ImportSpeakerEncoderArgs) -> anyhow::Result<()> {
    let config: SpeakerEncoderConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not an encoder config", path.display()))?
        }
        None => SpeakerEncoderConfig::default(),
    };
    let dest = match &args.out {
        Some(dir) => dir.clone(),
        None => match crate::user_dirs::data_dir() {
            Some(data) => data.join(SPEAKER_ENCODER_DIR),
            None => bail!("no user data directory on this system: pass --out DIR (and --speaker-encoder DIR when segmenting)"),
        },
    };
    let tensors = import(&args.checkpoint, &config, &dest, args.force)
        .with_context(|| format!("cannot import the speaker encoder {}", args.checkpoint.display()))?;
    println!(
        "installed the speaker encoder ({tensors} tensors; LSTM {} x {}, embedding {}) in {}",
        config.num_layers,
        config.hidden_size,
        config.embedding_size,
        dest.display()
    );
    if args.out.is_some() {
        println!("use it with --speaker-encoder {}", dest.display());
    } else {
        println!("mono calls are now diarized with it (segment/analyze: --speaker-encoder none to do without)");
    }
    Ok(())
}
