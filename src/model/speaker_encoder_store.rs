//! Importing a speaker encoder and finding the imported one.
//!
//! `emotrace import-speaker-encoder FILE` reads a PyTorch checkpoint of a GE2E encoder (the
//! legacy pickle Resemblyzer ships as `pretrained.pt`) or of a CAM++ network (3D-Speaker's
//! `campplus_*.pt`) — a legacy or zip `torch.save`, or `.safetensors`; the state dict may sit
//! under `model_state` — tells the two apart by their tensor names, checks every tensor against
//! the network, and writes `config.json` + `model.safetensors` into the user data directory's
//! `speaker-encoder/` (atomically, as one folder). Segmentation loads it from there when it
//! exists.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::bundle::{ensure_replaceable, save_safetensors, write_dir_atomically, write_json, CONFIG_FILE, WEIGHTS_FILE};
use super::campplus::{CamPlus, CamPlusConfig, ARCHITECTURE as CAMPLUS};
use super::speaker_encoder::{SpeakerEncoder, SpeakerEncoderConfig};
use super::torch_legacy::{is_legacy_torch_file, read_legacy_state_dict};
use super::weights::{build_checked, read_safetensors, to_f32};
use super::ModelError;

/// Folder of the imported encoder inside the user data directory.
pub const SPEAKER_ENCODER_DIR: &str = "speaker-encoder";
/// Where training checkpoints keep the model's tensors (Resemblyzer's, and the usual convention).
const STATE_KEY: &str = "model_state";
/// Tensors of the GE2E loss (its similarity scale and offset), not of the encoder.
const LOSS_TENSORS: [&str; 2] = ["similarity_weight", "similarity_bias"];
/// Batch-norm's count of training batches: bookkeeping, not a weight.
const BATCH_COUNTER: &str = "num_batches_tracked";
/// A tensor only CAM++ has.
const CAMPLUS_MARKER: &str = "head.conv1.weight";

/// The shape of an importable encoder network.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    Ge2e(SpeakerEncoderConfig),
    CamPlus(CamPlusConfig),
}

impl EncoderConfig {
    /// Reads a `config.json`: CAM++ when its `architecture` says so, else GE2E (folders imported
    /// before CAM++ was supported have no `architecture`).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("architecture").and_then(|a| a.as_str()) == Some(CAMPLUS) {
            Ok(Self::CamPlus(serde_json::from_value(value)?))
        } else {
            Ok(Self::Ge2e(serde_json::from_value(value)?))
        }
    }

    /// The published network whose tensors these are.
    pub fn for_tensors(tensors: &HashMap<String, Tensor>) -> Self {
        if tensors.contains_key(CAMPLUS_MARKER) {
            Self::CamPlus(CamPlusConfig::default())
        } else {
            Self::Ge2e(SpeakerEncoderConfig::default())
        }
    }

    /// One line for people: which network, and its size.
    pub fn describe(&self) -> String {
        match self {
            Self::Ge2e(c) => format!("GE2E, LSTM {} x {}, embedding {}", c.num_layers, c.hidden_size, c.embedding_size),
            Self::CamPlus(c) => {
                let layers: usize = c.blocks.iter().map(|b| b[0]).sum();
                format!("CAM++, {} dense TDNN layers, embedding {}", layers, c.embedding_size)
            }
        }
    }

    fn write(&self, path: &Path) -> Result<(), ModelError> {
        match self {
            Self::Ge2e(c) => write_json(path, c),
            Self::CamPlus(c) => write_json(path, c),
        }
    }
}

/// A speaker encoder (the built-in CAM++ or an imported one), ready to embed utterances. One
/// exists per analysis, so the variants' different sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum SpeakerEncoderNet {
    Ge2e(SpeakerEncoder),
    CamPlus(CamPlus),
}

impl SpeakerEncoderNet {
    /// The audio rate [`Self::embed_utterances`] expects.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Ge2e(e) => e.config().sample_rate,
            Self::CamPlus(e) => e.config().sample_rate,
        }
    }

    /// Rounds of GMM resegmentation that best follow this encoder's 2-means (measured on the
    /// held-out and tuning calls, docs/segmentation.md): CAM++'s split is better left as it is, GE2E's gains.
    pub fn refinement_rounds(&self) -> usize {
        match self {
            Self::Ge2e(_) => 3,
            Self::CamPlus(_) => 0,
        }
    }

    /// One unit-length embedding per utterance.
    pub fn embed_utterances(&self, wavs: &[&[f32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        match self {
            Self::Ge2e(e) => e.embed_utterances(wavs),
            Self::CamPlus(e) => e.embed_utterances(wavs),
        }
    }
}

/// Where `import-speaker-encoder` (and the window's import) installs by default, and where
/// analyses look: the user data directory's `speaker-encoder/`.
pub fn default_dir() -> Option<PathBuf> {
    Some(crate::user_dirs::data_dir()?.join(SPEAKER_ENCODER_DIR))
}

/// The imported encoder's folder when one is installed under the user data directory.
pub fn installed_dir() -> Option<PathBuf> {
    default_dir().filter(|dir| dir.join(WEIGHTS_FILE).is_file())
}

/// Reads the encoder tensors of a checkpoint, whichever of the supported formats it is in.
pub fn read_checkpoint(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    let is_safetensors = path.extension().and_then(|e| e.to_str()) == Some("safetensors");
    let mut tensors = if is_safetensors {
        read_safetensors(path)?
    } else if is_legacy_torch_file(path) {
        read_legacy_state_dict(path, Some(STATE_KEY)).or_else(|_| read_legacy_state_dict(path, None))?
    } else {
        let read = |key: Option<&str>| candle_core::pickle::read_all_with_key(path, key);
        let tensors = read(Some(STATE_KEY))
            .ok()
            .filter(|t| !t.is_empty())
            .map_or_else(|| read(None), Ok)
            .map_err(|e| ModelError::io_like(path, e))?;
        to_f32(tensors.into_iter())?
    };
    for name in LOSS_TENSORS {
        tensors.remove(name);
    }
    tensors.retain(|name, _| !name.ends_with(BATCH_COUNTER));
    Ok(tensors)
}

/// Builds the encoder from `tensors`, refusing them with every problem listed when any name or
/// shape does not fit `config`.
pub fn build_encoder(
    tensors: HashMap<String, Tensor>,
    config: &SpeakerEncoderConfig,
    device: &Device,
) -> Result<SpeakerEncoder, ModelError> {
    config.validate()?;
    build_checked(tensors, device, |vb| {
        SpeakerEncoder::load(vb, config).map_err(|e| candle_core::Error::Msg(e.to_string()))
    })
}

/// Builds a CAM++ network from `tensors`, refusing them with every problem listed when any name
/// or shape does not fit `config`.
pub fn build_campplus(tensors: HashMap<String, Tensor>, config: &CamPlusConfig, device: &Device) -> Result<CamPlus, ModelError> {
    config.validate()?;
    build_checked(tensors, device, |vb| CamPlus::load(vb, config).map_err(|e| candle_core::Error::Msg(e.to_string())))
}

/// Builds whichever network `config` names.
pub fn build(tensors: HashMap<String, Tensor>, config: &EncoderConfig, device: &Device) -> Result<SpeakerEncoderNet, ModelError> {
    Ok(match config {
        EncoderConfig::Ge2e(c) => SpeakerEncoderNet::Ge2e(build_encoder(tensors, c, device)?),
        EncoderConfig::CamPlus(c) => SpeakerEncoderNet::CamPlus(build_campplus(tensors, c, device)?),
    })
}

/// Checks `checkpoint` and installs it as the encoder folder `dest` (replacing an existing one
/// only with `overwrite`). `config` defaults to the published network the tensor names point to.
/// Returns the number of tensors written and the network's config.
pub fn import(
    checkpoint: &Path,
    config: Option<&EncoderConfig>,
    dest: &Path,
    overwrite: bool,
) -> Result<(usize, EncoderConfig), ModelError> {
    ensure_replaceable(dest, overwrite)?;
    let tensors = read_checkpoint(checkpoint)?;
    let config = config.cloned().unwrap_or_else(|| EncoderConfig::for_tensors(&tensors));
    build(tensors.clone(), &config, &Device::Cpu)?;
    write_dir_atomically(dest, overwrite, |temp| {
        save_safetensors(&tensors, &temp.join(WEIGHTS_FILE))?;
        config.write(&temp.join(CONFIG_FILE))
    })?;
    Ok((tensors.len(), config))
}

/// Loads an encoder folder written by [`import`].
pub fn load(dir: &Path, device: &Device) -> Result<SpeakerEncoderNet, ModelError> {
    let config_path = dir.join(CONFIG_FILE);
    let text = fs::read_to_string(&config_path).map_err(|e| ModelError::io(&config_path, e))?;
    let config = EncoderConfig::from_json(&text).map_err(|e| ModelError::io_like(&config_path, e))?;
    build(read_safetensors(&dir.join(WEIGHTS_FILE))?, &config, device)
}
