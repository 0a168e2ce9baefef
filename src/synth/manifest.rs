//! Corpus manifests of `shared/data/<corpus>/manifest.csv`.

use std::path::{Path, PathBuf};

use super::SynthError;
use crate::segmentation::segments_csv::CsvTable;

/// One utterance of a corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Absolute path of the FLAC file.
    pub path: PathBuf,
    /// Path as written in the manifest (relative to the corpus folder).
    pub rel_path: String,
    pub corpus: String,
    pub speaker: String,
    pub emotion: String,
    pub label_binary: String,
}

/// Reads `<data_root>/<corpus>/manifest.csv`.
pub fn read_manifest(data_root: &Path, corpus: &str) -> Result<Vec<Utterance>, SynthError> {
    let dir = data_root.join(corpus);
    let path = dir.join("manifest.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| SynthError::Io(path.display().to_string(), e))?;
    let t = CsvTable::parse(&text).map_err(|e| SynthError::Manifest(format!("{}: {e}", path.display())))?;
    let col = |n: &str| t.column(n).map_err(|e| SynthError::Manifest(format!("{}: {e}", path.display())));
    let (cp, cs, ce, cl) = (col("path")?, col("speaker")?, col("emotion")?, col("label_binary")?);
    Ok((0..t.rows.len())
        .map(|r| Utterance {
            path: dir.join(t.get(r, cp)),
            rel_path: t.get(r, cp).to_string(),
            corpus: corpus.to_string(),
            speaker: t.get(r, cs).to_string(),
            emotion: t.get(r, ce).to_string(),
            label_binary: t.get(r, cl).to_string(),
        })
        .filter(|u| !u.rel_path.is_empty() && !u.speaker.is_empty())
        .collect())
}

/// Distinct speakers in manifest order of first appearance, sorted for determinism.
pub fn speakers(utterances: &[Utterance]) -> Vec<String> {
    let mut s: Vec<String> = utterances.iter().map(|u| u.speaker.clone()).collect();
    s.sort();
    s.dedup();
    s
}
