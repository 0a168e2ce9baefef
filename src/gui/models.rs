//! Model bundles the Model menu lists: bundle folders under `models/` (beside the working
//! directory) and under the OS data directory's `models/`. Names only: loading is the pipeline's.

use std::path::{Path, PathBuf};

use crate::model::{bundle, default_centred, default_model};

/// Where bundles are looked for, in menu order.
pub fn bundle_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("models")];
    if let Some(data) = super::settings::data_dir() {
        roots.push(data.join("models"));
    }
    roots
}

/// The bundle folder of that name under the first bundle root that has it.
pub fn bundle_dir(name: &str) -> Option<PathBuf> {
    bundle_roots().into_iter().map(|root| root.join(name)).find(|dir| dir.is_dir())
}

/// Sorted, de-duplicated names of the model bundles directly under `roots`: folders holding a
/// bundle's config, weights and meta. Other folders (run from a source checkout, `models/` also
/// holds the diarizer's `diarization/`) and copies of the built-in models (default and centred:
/// the menu's first entries already) are left out.
pub fn find_bundles(roots: &[PathBuf]) -> Vec<String> {
    let builtin: Vec<String> = [default_model::default_bundle(), default_centred::centred_bundle()]
        .into_iter()
        .filter_map(|b| b.ok().map(|b| b.meta.weights_sha256.to_ascii_lowercase()))
        .collect();
    let mut names: Vec<String> = roots
        .iter()
        .flat_map(|root| bundle_folders(root))
        .filter(|dir| weights_digest(dir).is_none_or(|digest| !builtin.contains(&digest)))
        .filter_map(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn bundle_folders(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|dir| [bundle::CONFIG_FILE, bundle::WEIGHTS_FILE, bundle::META_FILE].iter().all(|f| dir.join(f).is_file()))
        .collect()
}

/// The weights digest a bundle's meta.json records (read without loading the weights).
fn weights_digest(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(bundle::META_FILE)).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    meta.get("weights_sha256")?.as_str().map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with a bundle's three files; `digest` is what its meta.json records.
    fn bundle_at(dir: &Path, digest: &str) {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join(bundle::CONFIG_FILE), b"{}").unwrap();
        std::fs::write(dir.join(bundle::WEIGHTS_FILE), b"").unwrap();
        std::fs::write(dir.join(bundle::META_FILE), format!(r#"{{"weights_sha256": "{digest}"}}"#)).unwrap();
    }

    #[test]
    fn lists_bundle_folders_from_every_root_once() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        bundle_at(&first.path().join("default-v1"), "aa");
        bundle_at(&first.path().join(".hidden"), "bb");
        std::fs::write(first.path().join("notes.txt"), b"x").unwrap();
        bundle_at(&second.path().join("fine-tuned-2026"), "cc");
        bundle_at(&second.path().join("default-v1"), "aa");
        // Not bundles: the diarizer's folder in a source checkout, a half-copied bundle.
        std::fs::create_dir(first.path().join("diarization")).unwrap();
        std::fs::write(first.path().join("diarization/voiceprint.json"), b"{}").unwrap();
        std::fs::create_dir(second.path().join("copying")).unwrap();
        std::fs::write(second.path().join("copying").join(bundle::CONFIG_FILE), b"{}").unwrap();
        // A copy of the built-in default model (e.g. the checkout's models/default).
        let builtin = default_model::default_bundle().unwrap().meta.weights_sha256;
        bundle_at(&second.path().join("default"), &builtin.to_uppercase());
        // And of the centred built-in model, installed by the Model menu.
        let centred = default_centred::centred_bundle().unwrap().meta.weights_sha256;
        bundle_at(&second.path().join(default_centred::CENTRED_MODEL_NAME), &centred);
        let roots = vec![first.path().to_path_buf(), second.path().to_path_buf(), PathBuf::from("/no/such/dir")];
        assert_eq!(find_bundles(&roots), vec!["default-v1".to_string(), "fine-tuned-2026".to_string()]);
    }
}
