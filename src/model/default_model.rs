//! The default model: the bundle in `models/default/`, compiled into the binary so the app and
//! `analyze` work with nothing next to the executable. How it was trained, and how well it does
//! on speakers it never heard, is in its meta.json and docs/model-card.md.
use std::path::{Path, PathBuf};

use candle_core::Device;

use super::bundle::{self, Bundle};
use super::{FusedModel, ModelError};

/// How the embedded bundle is named where a bundle path would be shown.
pub const DEFAULT_MODEL_LABEL: &str = "models/default (built in)";

const CONFIG_JSON: &str = include_str!("../../models/default/config.json");
const META_JSON: &str = include_str!("../../models/default/meta.json");
const WEIGHTS: &[u8] = include_bytes!("../../models/default/model.safetensors");

/// Config and meta of the default model (cheap: no weights loaded).
pub fn default_bundle() -> Result<Bundle, ModelError> {
    bundle::parse_bundle(Path::new(DEFAULT_MODEL_LABEL), CONFIG_JSON, META_JSON)
}

/// The default model on `device`, with the same checks as a bundle on disk (weights hash, every
/// tensor name and shape).
pub fn load_default(device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    bundle::load_bundle_bytes(Path::new(DEFAULT_MODEL_LABEL), CONFIG_JSON, META_JSON, WEIGHTS, device)
}

/// The bundle in `dir` (see [`bundle::load_bundle`]), or the default model when `dir` is `None`.
pub fn load_or_default(dir: Option<&Path>, device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    match dir {
        Some(dir) => bundle::load_bundle(dir, device),
        None => load_default(device),
    }
}

/// The default model's weights by PyTorch name (f32, CPU), e.g. to fine-tune it.
pub fn default_tensors() -> Result<std::collections::HashMap<String, candle_core::Tensor>, ModelError> {
    let tensors = candle_core::safetensors::load_buffer(WEIGHTS, &Device::Cpu)?;
    super::weights::to_f32(tensors.into_iter())
}

/// The dtype each of the default model's tensors is stored in.
pub fn default_dtypes() -> Result<std::collections::HashMap<String, candle_core::DType>, ModelError> {
    super::weights::stored_dtypes(WEIGHTS)
}

/// The default model's safetensors file as embedded.
pub(crate) fn default_weights() -> &'static [u8] {
    WEIGHTS
}

/// Writes the default model as an ordinary bundle directory (to fine-tune it with
/// `emotrace train --init DIR`, or to inspect it). Atomic; fails if `out` exists.
pub fn export_default(out: &Path) -> Result<PathBuf, ModelError> {
    bundle::write_files_atomically(
        out,
        &[(bundle::CONFIG_FILE, CONFIG_JSON.as_bytes()), (bundle::META_FILE, META_JSON.as_bytes()), (bundle::WEIGHTS_FILE, WEIGHTS)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_model_loads_and_is_trained() {
        let (model, bundle) = load_default(&Device::Cpu).unwrap();
        assert!(!bundle.meta.needs_fine_tuning, "the shipped default must be a trained model");
        assert_eq!(model.config(), &bundle.config);
        // A statistics head fitted on top of a trained fused head keeps that training's record.
        let metrics = &bundle.meta.metrics;
        let fused_training = metrics.get("fused_head_training").unwrap_or(&serde_json::Value::Null);
        assert!(metrics.contains_key("validation_at_best_epoch") || fused_training.get("validation_at_best_epoch").is_some());
        assert!(metrics.contains_key("calibration"), "the shipped default is calibrated");
    }

    #[test]
    fn export_round_trips_through_the_bundle_loader() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("default");
        export_default(&out).unwrap();
        let (_, b) = bundle::load_bundle(&out, &Device::Cpu).unwrap();
        assert_eq!(b.meta.weights_sha256, default_bundle().unwrap().meta.weights_sha256);
        assert!(export_default(&out).is_err(), "an existing folder is never overwritten");
    }
}
