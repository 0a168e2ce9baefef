//! The built-in **centred** model: the default model with its statistics head refitted on
//! speaker-centred summaries and used alone (`models/default-centred/`; docs/model-card.md, "A
//! centred statistics head"). It scores each caller segment against the call's own mean, which
//! reads one call's course better for a voice the model never heard but makes calls incomparable
//! unless they share a baseline (`analyze --centre-on`).
//!
//! Only the four tensors that differ from the default are stored (`overlay.safetensors`, 29 KB
//! instead of a second 46-MB copy of the encoder); the full weights are rebuilt in memory and
//! checked against the SHA-256 its meta.json records, like any bundle.
use std::path::{Path, PathBuf};

use candle_core::Device;
use safetensors::SafeTensors;

use super::bundle::{self, Bundle};
use super::{default_model, FusedModel, ModelError};

/// The name it is installed under (the window's data folder) and listed by.
pub const CENTRED_MODEL_NAME: &str = "emotrace-default-whisper-base-v3-centred";
/// How the embedded bundle is named where a bundle path would be shown.
pub const CENTRED_MODEL_LABEL: &str = "models/default-centred (built in)";

const CONFIG_JSON: &str = include_str!("../../models/default-centred/config.json");
const META_JSON: &str = include_str!("../../models/default-centred/meta.json");
const OVERLAY: &[u8] = include_bytes!("../../models/default-centred/overlay.safetensors");

fn label() -> &'static Path {
    Path::new(CENTRED_MODEL_LABEL)
}

fn overlay_error(message: String) -> ModelError {
    ModelError::Bundle { path: CENTRED_MODEL_LABEL.to_string(), message }
}

/// Config and meta of the centred model (cheap: no weights built).
pub fn centred_bundle() -> Result<Bundle, ModelError> {
    bundle::parse_bundle(label(), CONFIG_JSON, META_JSON)
}

/// The full safetensors file: the default's tensors with the overlay's in their place. Every
/// overlay tensor must replace one of the default's with the same dtype and shape.
pub fn centred_weights() -> Result<Vec<u8>, ModelError> {
    let base = SafeTensors::deserialize(default_model::default_weights())
        .map_err(|e| overlay_error(format!("the default model's weights: {e}")))?;
    let overlay = SafeTensors::deserialize(OVERLAY).map_err(|e| overlay_error(format!("overlay.safetensors: {e}")))?;
    let mut tensors = base.tensors();
    for (name, view) in overlay.tensors() {
        let slot = tensors
            .iter_mut()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| overlay_error(format!("overlay tensor {name} is not in the default model")))?;
        if slot.1.dtype() != view.dtype() || slot.1.shape() != view.shape() {
            return Err(overlay_error(format!(
                "overlay tensor {name} is {:?} {:?}, the default's is {:?} {:?}",
                view.dtype(),
                view.shape(),
                slot.1.dtype(),
                slot.1.shape()
            )));
        }
        slot.1 = view;
    }
    safetensors::serialize(tensors, None).map_err(|e| overlay_error(format!("cannot assemble the weights: {e}")))
}

/// The centred model on `device`, with the same checks as a bundle on disk.
pub fn load_centred(device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    bundle::load_bundle_bytes(label(), CONFIG_JSON, META_JSON, &centred_weights()?, device)
}

/// Writes the centred model as an ordinary bundle directory (for `--model DIR` and the window's
/// model list). Atomic; refuses an existing `out`.
pub fn export_centred(out: &Path) -> Result<PathBuf, ModelError> {
    let weights = centred_weights()?;
    let digest = bundle::sha256_bytes(&weights);
    let meta = centred_bundle()?.meta;
    if !digest.eq_ignore_ascii_case(&meta.weights_sha256) {
        return Err(overlay_error(format!("assembled weights SHA-256 {digest} does not match meta.json ({})", meta.weights_sha256)));
    }
    bundle::write_files_atomically(
        out,
        &[(bundle::CONFIG_FILE, CONFIG_JSON.as_bytes()), (bundle::META_FILE, META_JSON.as_bytes()), (bundle::WEIGHTS_FILE, &weights)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_centred_model_is_the_default_with_a_centred_statistics_head() {
        let (model, bundle) = load_centred(&Device::Cpu).unwrap();
        let whisper = bundle.config.whisper.as_ref().unwrap();
        assert!(whisper.stats_head && whisper.stats_centring && !whisper.per_call_centring);
        assert_eq!(model.config(), &bundle.config);
        assert_eq!(bundle.meta.name, CENTRED_MODEL_NAME);
        assert!(!bundle.meta.needs_fine_tuning);
        // Used alone: the stacking gave the fused head no weight.
        let stats = &bundle.meta.metrics["stats_head"];
        assert_eq!(stats["alone"], true);
        assert_eq!(stats["centring"], true);
        // The encoder is the default's, byte for byte; the statistics head is not.
        let merged = centred_weights().unwrap();
        let (merged, default) = (SafeTensors::deserialize(&merged).unwrap(), SafeTensors::deserialize(default_model::default_weights()).unwrap());
        assert_eq!(merged.tensor("whisper.layers.5.fc2.weight").unwrap().data(), default.tensor("whisper.layers.5.fc2.weight").unwrap().data());
        assert_ne!(merged.tensor("stats_head.weight").unwrap().data(), default.tensor("stats_head.weight").unwrap().data());
    }

    #[test]
    fn export_writes_a_bundle_the_loader_accepts_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(CENTRED_MODEL_NAME);
        export_centred(&out).unwrap();
        let (_, b) = bundle::load_bundle(&out, &Device::Cpu).unwrap();
        assert_eq!(b.meta.weights_sha256, centred_bundle().unwrap().meta.weights_sha256);
        assert!(b.config.whisper.unwrap().stats_centring);
        assert!(export_centred(&out).is_err(), "an existing folder is never overwritten");
    }
}
