//! Model bundles: a directory holding `config.json` (our [`FusedConfig`], embedding the HF wav2vec2
//! config), `model.safetensors` and `meta.json` (provenance, metrics, label semantics, SHA-256 of the
//! weights). Bundles are written atomically (temporary sibling directory, then rename) and checked on
//! load: weights hash, every tensor name and shape.
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::weights::{build_checked, read_safetensors};
use super::{FusedConfig, FusedModel, ModelError};

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const META_FILE: &str = "meta.json";
pub const LABEL_SEMANTICS: &str = "p = sigmoid(logit) = P(non-negative); a segment is negative when p <= 0.5";
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// meta.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub name: String,
    pub version: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// What the weights were trained on, or why they are not trained.
    pub training_data: String,
    /// Evaluation figures (free-form: name -> value).
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    pub label_semantics: String,
    /// True when the head is freshly initialised and the model must be fine-tuned before use.
    #[serde(default)]
    pub needs_fine_tuning: bool,
    /// Where the weights came from (import source).
    #[serde(default)]
    pub source: String,
    /// SHA-256 (lower-case hex) of model.safetensors.
    pub weights_sha256: String,
    /// The licences the weights come under: pretrained parts and training data, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<String>,
    #[serde(default = "default_format")]
    pub format_version: u32,
}

fn default_format() -> u32 {
    BUNDLE_FORMAT_VERSION
}

impl BundleMeta {
    /// A meta record stamped now; the hash is filled in when the bundle is written.
    pub fn new(name: &str, training_data: &str, source: &str, needs_fine_tuning: bool) -> Self {
        Self {
            name: name.to_string(),
            version: "1".into(),
            created: now_rfc3339(),
            training_data: training_data.to_string(),
            metrics: Default::default(),
            label_semantics: LABEL_SEMANTICS.into(),
            needs_fine_tuning,
            source: source.to_string(),
            weights_sha256: String::new(),
            licences: Vec::new(),
            format_version: BUNDLE_FORMAT_VERSION,
        }
    }
}

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub config: FusedConfig,
    pub meta: BundleMeta,
}

/// Writes a bundle to `out` atomically. Fails if `out` exists unless `overwrite`; the tensors are
/// checked against the config first, so a bundle that would not load is never written.
pub fn write_bundle(
    out: &Path,
    config: &FusedConfig,
    tensors: &HashMap<String, Tensor>,
    mut meta: BundleMeta,
    overwrite: bool,
) -> Result<BundleMeta, ModelError> {
    config.validate()?;
    build_checked(tensors.clone(), &Device::Cpu, |vb| FusedModel::load(vb, config))?;
    write_dir_atomically(out, overwrite, |temp| {
        let weights = temp.join(WEIGHTS_FILE);
        save_safetensors(tensors, &weights)?;
        meta.weights_sha256 = sha256_file(&weights)?;
        write_json(&temp.join(CONFIG_FILE), config)?;
        write_json(&temp.join(META_FILE), &meta)
    })?;
    Ok(meta)
}

/// Refuses to replace an existing `out` unless `overwrite`: callers with slow work before the
/// write check first, so the refusal comes at once.
pub(crate) fn ensure_replaceable(out: &Path, overwrite: bool) -> Result<(), ModelError> {
    if out.exists() && !overwrite {
        return Err(ModelError::AlreadyExists { path: out.display().to_string() });
    }
    Ok(())
}

/// Writes the folder `out` as a whole: `fill` writes into a temporary sibling, which then
/// replaces `out` (refused when `out` exists unless `overwrite`); on failure nothing changes.
pub(crate) fn write_dir_atomically(
    out: &Path,
    overwrite: bool,
    fill: impl FnOnce(&Path) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    ensure_replaceable(out, overwrite)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    crate::fsutil::create_private_dir_all(&parent).map_err(|e| ModelError::io(&parent, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bundle".into());
    let temp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        if temp.exists() {
            fs::remove_dir_all(&temp).map_err(|e| ModelError::io(&temp, e))?;
        }
        crate::fsutil::create_private_dir(&temp).map_err(|e| ModelError::io(&temp, e))?;
        fill(&temp)?;
        replace_dir(&temp, out)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result
}

/// Saves `tensors` (moved to the CPU, made contiguous) as `.safetensors`.
pub(crate) fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<(), ModelError> {
    let cpu: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<Result<_, candle_core::Error>>()?;
    candle_core::safetensors::save(&cpu, path)?;
    crate::fsutil::make_private(path).map_err(|e| ModelError::io(path, e))
}

/// Moves `from` to `to`, replacing an existing `to` (old copy removed only after the new one is in
/// place).
fn replace_dir(from: &Path, to: &Path) -> Result<(), ModelError> {
    if to.exists() {
        let old = to.with_file_name(format!(
            ".{}.old-{}",
            to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        fs::rename(to, &old).map_err(|e| ModelError::io(to, e))?;
        if let Err(e) = fs::rename(from, to) {
            let _ = fs::rename(&old, to);
            return Err(ModelError::io(to, e));
        }
        let _ = fs::remove_dir_all(&old);
        Ok(())
    } else {
        fs::rename(from, to).map_err(|e| ModelError::io(to, e))
    }
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ModelError::Internal(e.to_string()))?;
    crate::fsutil::atomic_write(path, (text + "\n").as_bytes()).map_err(|e| ModelError::io(path, e))
}

fn bundle_error(dir: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Bundle { path: dir.display().to_string(), message: message.into() }
}

/// Reads and checks a bundle's config and meta (not the weights).
pub fn read_bundle(dir: &Path) -> Result<Bundle, ModelError> {
    let read = |file: &str| -> Result<String, ModelError> {
        fs::read_to_string(dir.join(file)).map_err(|e| bundle_error(dir, format!("cannot read {file}: {e}")))
    };
    parse_bundle(dir, &read(CONFIG_FILE)?, &read(META_FILE)?)
}

/// Checks config.json and meta.json texts of the bundle at `dir` (a path or a label).
pub fn parse_bundle(dir: &Path, config_json: &str, meta_json: &str) -> Result<Bundle, ModelError> {
    let config: FusedConfig =
        serde_json::from_str(config_json).map_err(|e| bundle_error(dir, format!("{CONFIG_FILE}: {e}")))?;
    config.validate().map_err(|e| bundle_error(dir, format!("{CONFIG_FILE}: {e}")))?;
    let meta: BundleMeta =
        serde_json::from_str(meta_json).map_err(|e| bundle_error(dir, format!("{META_FILE}: {e}")))?;
    if meta.format_version > BUNDLE_FORMAT_VERSION {
        return Err(bundle_error(
            dir,
            format!("format version {} is newer than this program supports ({BUNDLE_FORMAT_VERSION})", meta.format_version),
        ));
    }
    Ok(Bundle { dir: dir.to_path_buf(), config, meta })
}

/// Loads a bundle onto `device`: checks the weights' SHA-256 against meta.json, then every tensor
/// name and shape against the config.
pub fn load_bundle(dir: &Path, device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    let bundle = read_bundle(dir)?;
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.exists() {
        return Err(bundle_error(dir, format!("{WEIGHTS_FILE} is missing")));
    }
    check_digest(&bundle, &sha256_file(&weights)?)?;
    build_model(bundle, read_safetensors(&weights)?, device)
}

/// Loads a bundle whose three files are in memory (the embedded default model).
pub fn load_bundle_bytes(label: &Path, config_json: &str, meta_json: &str, weights: &[u8], device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    let bundle = parse_bundle(label, config_json, meta_json)?;
    check_digest(&bundle, &sha256_bytes(weights))?;
    let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)
        .map_err(|e| bundle_error(label, format!("{WEIGHTS_FILE}: {e}")))?;
    build_model(bundle, crate::model::weights::to_f32(tensors.into_iter())?, device)
}

fn check_digest(bundle: &Bundle, digest: &str) -> Result<(), ModelError> {
    if digest.eq_ignore_ascii_case(&bundle.meta.weights_sha256) {
        return Ok(());
    }
    Err(bundle_error(
        &bundle.dir,
        format!(
            "{WEIGHTS_FILE} is corrupt or was replaced: SHA-256 {digest} does not match meta.json ({})",
            bundle.meta.weights_sha256
        ),
    ))
}

fn build_model(bundle: Bundle, tensors: HashMap<String, Tensor>, device: &Device) -> Result<(FusedModel, Bundle), ModelError> {
    let model = build_checked(tensors, device, |vb| FusedModel::load(vb, &bundle.config))
        .map_err(|e| bundle_error(&bundle.dir, e.to_string()))?;
    Ok((model, bundle))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a bundle's files (name, bytes) into a new folder `out`, atomically (see
/// [`write_dir_atomically`]). Refuses an existing `out`.
pub fn write_files_atomically(out: &Path, files: &[(&str, &[u8])]) -> Result<PathBuf, ModelError> {
    write_dir_atomically(out, false, |temp| {
        files.iter().try_for_each(|(file, bytes)| {
            let path = temp.join(file);
            fs::write(&path, bytes).and_then(|()| crate::fsutil::make_private(&path)).map_err(|e| ModelError::io(&path, e))
        })
    })?;
    Ok(out.to_path_buf())
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| ModelError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_utc(secs)
}

fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
