//! Training checkpoints: one directory `<dir>` with `state.json` and `tensors.safetensors`
//! (model variables `model.*`, AdamW moments `adam.*`, the best epoch's variables `best.*`).
//! Written to a temporary sibling and renamed into place, so a crash at any moment leaves either
//! the previous complete checkpoint or the new one, never a mix.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::trainer::EpochRecord;
use super::TrainingError;

pub const STATE_FILE: &str = "state.json";
pub const TENSORS_FILE: &str = "tensors.safetensors";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Completed epochs (the next epoch to run is `epochs_done + 1`).
    pub epochs_done: usize,
    pub optimizer_step: u64,
    pub history: Vec<EpochRecord>,
    pub best_epoch: Option<usize>,
    pub best_score: f64,
    /// Identifies the run (config, data, options); a checkpoint of another run is not resumed.
    pub run_fingerprint: String,
    /// Validation logits of the best epoch (the calibration is fitted on them).
    #[serde(default)]
    pub best_val_logits: Vec<f32>,
}

fn error(path: &Path, message: impl Into<String>) -> TrainingError {
    TrainingError::Checkpoint { path: path.display().to_string(), message: message.into() }
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "checkpoint".into());
    dir.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes the checkpoint atomically (temporary directory + rename).
pub fn save(dir: &Path, state: &CheckpointState, tensors: &HashMap<String, Tensor>) -> Result<(), TrainingError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::fsutil::create_private_dir_all(parent).map_err(|e| TrainingError::io(parent, e))?;
    }
    let temp = sibling(dir, "tmp");
    let result = (|| -> Result<(), TrainingError> {
        if temp.exists() {
            fs::remove_dir_all(&temp).map_err(|e| TrainingError::io(&temp, e))?;
        }
        crate::fsutil::create_private_dir(&temp).map_err(|e| TrainingError::io(&temp, e))?;
        let cpu: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_device(&Device::Cpu)?.contiguous()?)))
            .collect::<Result<_, candle_core::Error>>()?;
        candle_core::safetensors::save(&cpu, temp.join(TENSORS_FILE))?;
        crate::fsutil::make_private(&temp.join(TENSORS_FILE)).map_err(|e| TrainingError::io(&temp, e))?;
        let text = serde_json::to_string_pretty(state).map_err(|e| error(dir, e.to_string()))?;
        crate::fsutil::atomic_write(&temp.join(STATE_FILE), text.as_bytes()).map_err(|e| TrainingError::io(&temp, e))?;
        // Data must be on disk before the rename makes it the checkpoint.
        for f in [TENSORS_FILE, STATE_FILE] {
            fs::File::open(temp.join(f)).and_then(|f| f.sync_all()).map_err(|e| TrainingError::io(&temp, e))?;
        }
        if dir.exists() && crate::fsutil::exchange(&temp, dir).is_ok() {
            // One atomic swap: a kill at any moment leaves a whole checkpoint at `dir`.
            let _ = fs::remove_dir_all(&temp);
            let _ = crate::fsutil::sync_dir(dir.parent().unwrap_or(Path::new(".")));
        } else if dir.exists() {
            let old = sibling(dir, "old");
            if old.exists() {
                fs::remove_dir_all(&old).map_err(|e| TrainingError::io(&old, e))?;
            }
            fs::rename(dir, &old).map_err(|e| TrainingError::io(dir, e))?;
            if let Err(e) = fs::rename(&temp, dir) {
                let _ = fs::rename(&old, dir);
                return Err(TrainingError::io(dir, e));
            }
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(&temp, dir).map_err(|e| TrainingError::io(dir, e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result
}

/// Loads the checkpoint in `dir`; `None` when there is none. Leftover temporary directories of an
/// interrupted write are ignored.
pub fn load(dir: &Path) -> Result<Option<(CheckpointState, HashMap<String, Tensor>)>, TrainingError> {
    if !dir.join(STATE_FILE).exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(dir.join(STATE_FILE)).map_err(|e| TrainingError::io(dir, e))?;
    let state: CheckpointState = serde_json::from_str(&text).map_err(|e| error(dir, format!("{STATE_FILE}: {e}")))?;
    let tensors = candle_core::safetensors::load(dir.join(TENSORS_FILE), &Device::Cpu)
        .map_err(|e| error(dir, format!("{TENSORS_FILE}: {e}")))?;
    Ok(Some((state, tensors)))
}
