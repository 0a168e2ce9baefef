//! Parity with librosa 0.11 on real corpus speech (CASIA Mandarin, EmoDB German).
//!
//! The expected features are in tests/fixtures/features/real/<name>/ (derived arrays only,
//! written by scripts/gen_feature_fixtures.py); the audio is read from the shared data folder
//! through `emotrace::audio::load_16k`, exactly as the product loads a file. Tolerances are those
//! of tests/features_parity.rs. Skips, with a message, when the shared data is absent.

mod features_common;

use std::path::PathBuf;

use emotrace::features::FeatureExtractor;
use features_common::{check, compare, fixture_dir};

fn shared_data_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("EMOTRACE_SHARED_DATA") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    candidates.push(PathBuf::from("/work/shared/data"));
    candidates.into_iter().find(|d| d.is_dir())
}

#[test]
fn real_speech_matches_librosa() {
    let Some(data) = shared_data_dir() else {
        eprintln!("SKIPPED real_speech_matches_librosa: no shared data (set EMOTRACE_SHARED_DATA)");
        return;
    };
    let list = fixture_dir().join("real/files.tsv");
    let text = std::fs::read_to_string(&list).expect("real/files.tsv");
    let extractor = FeatureExtractor::new();
    let mut checked = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, rel, samples) = (fields[0], fields[1], fields[2].parse::<usize>().expect("samples"));
        let path = data.join(rel);
        if !path.exists() {
            eprintln!("SKIPPED {rel}: not in {}", data.display());
            continue;
        }
        let audio = emotrace::audio::load_16k(&path).expect("decode");
        let clip = audio.mono();
        assert_eq!(clip.len(), samples, "{rel}: decoded length differs from librosa.load");
        let got = extractor.extract(&clip).expect("features");
        check(name, &compare(&fixture_dir().join("real").join(name), &got));
        checked += 1;
    }
    eprintln!("checked {checked} real files");
}
