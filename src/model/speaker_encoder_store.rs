//! Importing a speaker encoder and finding the imported one.
//!
//! `emotrace import-speaker-encoder FILE` reads a PyTorch checkpoint of the GE2E encoder (the
//! legacy pickle Resemblyzer ships as `pretrained.pt`, a zip `torch.save`, or `.safetensors`;
//! the state dict may sit under `model_state`), checks every tensor against the network, and
//! writes `config.json` + `model.safetensors` into the user data directory's `speaker-encoder/`
//! (atomically, as one folder). Segmentation loads it from there when it exists.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::bundle::{ensure_replaceable, save_safetensors, write_dir_atomically, write_json, CONFIG_FILE, WEIGHTS_FILE};
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

/// The imported encoder's folder when one is installed under the user data directory.
pub fn installed_dir() -> Option<PathBuf> {
    let dir = crate::user_dirs::data_dir()?.join(SPEAKER_ENCODER_DIR);
    dir.join(WEIGHTS_FILE).is_file().then_some(dir)
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

/// Checks `checkpoint` and installs it as the encoder folder `dest` (replacing an existing one
/// only with `overwrite`). Returns the number of tensors written.
pub fn import(
    checkpoint: &Path,
    config: &SpeakerEncoderConfig,
    dest: &Path,
    overwrite: bool,
) -> Result<usize, ModelError> {
    ensure_replaceable(dest, overwrite)?;
    let tensors = read_checkpoint(checkpoint)?;
    build_encoder(tensors.clone(), config, &Device::Cpu)?;
    write_dir_atomically(dest, overwrite, |temp| {
        save_safetensors(&tensors, &temp.join(WEIGHTS_FILE))?;
        write_json(&temp.join(CONFIG_FILE), config)
    })?;
    Ok(tensors.len())
}

/// Loads an encoder folder written by [`import`].
pub fn load(dir: &Path, device: &Device) -> Result<SpeakerEncoder, ModelError> {
    let config_path = dir.join(CONFIG_FILE);
    let text = fs::read_to_string(&config_path).map_err(|e| ModelError::io(&config_path, e))?;
    let config: SpeakerEncoderConfig =
        serde_json::from_str(&text).map_err(|e| ModelError::io_like(&config_path, e))?;
    build_encoder(read_safetensors(&dir.join(WEIGHTS_FILE))?, &config, device)
}
