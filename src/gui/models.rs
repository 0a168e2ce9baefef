//! Model bundles the Model menu lists: folders under `models/` (beside the working directory)
//! and under the OS data directory's `models/`. Names only for now: loading is the pipeline's.

use std::path::{Path, PathBuf};

/// Where bundles are looked for, in menu order.
pub fn bundle_roots() -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("models")];
    if let Some(data) = super::settings::data_dir() {
        roots.push(data.join("models"));
    }
    roots
}

/// Sorted, de-duplicated names of the folders directly under `roots`.
pub fn find_bundles(roots: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = roots.iter().flat_map(|root| folder_names(root)).collect();
    names.sort();
    names.dedup();
    names
}

fn folder_names(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_bundle_folders_from_every_root_once() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::create_dir(first.path().join("default-v1")).unwrap();
        std::fs::create_dir(first.path().join(".hidden")).unwrap();
        std::fs::write(first.path().join("notes.txt"), b"x").unwrap();
        std::fs::create_dir(second.path().join("fine-tuned-2026")).unwrap();
        std::fs::create_dir(second.path().join("default-v1")).unwrap();
        let roots = vec![first.path().to_path_buf(), second.path().to_path_buf(), PathBuf::from("/no/such/dir")];
        assert_eq!(find_bundles(&roots), vec!["default-v1".to_string(), "fine-tuned-2026".to_string()]);
    }
}
