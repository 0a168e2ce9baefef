//! Mono calls: `analyze --caller a|b` scores exactly the chosen speaker's segments, the ones
//! `segment --caller a|b` marks `is_caller`. Built from held-out speakers of ../shared/data
//! (skipped, with a message, when the data is absent); the model is the tiny random-weight
//! fixture, since only which segments get scored matters here.

use std::path::{Path, PathBuf};

use emotrace::model::bundle::{write_bundle, BundleMeta};
use emotrace::model::weights::read_safetensors;
use emotrace::model::FusedConfig;
use emotrace::segmentation::segments_csv::read_segments;
use emotrace::synth::{locate_shared_data, write_call, CallSpec};

mod cli_support;
use cli_support::emotrace;

fn data() -> Option<PathBuf> {
    let found = locate_shared_data(Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!("SKIPPED: no corpus data (set EMOTRACE_SHARED_DATA or provide ../shared/data)");
    }
    found
}

fn tiny_bundle(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_layer_prenorm");
    let config: FusedConfig = serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap()).unwrap();
    let tensors = read_safetensors(&fixture.join("model.safetensors")).unwrap();
    let out = dir.join("tiny-model");
    write_bundle(&out, &config, &tensors, BundleMeta::new("tiny-random", "none: random weights", "test fixture", true), false)
        .unwrap();
    out
}

/// (start, end) in ms of the rows of a CSV with `start_s,end_s` columns, and their speakers.
fn rows(path: &Path) -> Vec<(i64, i64, String, bool)> {
    read_segments(path)
        .unwrap()
        .into_iter()
        .map(|s| ((s.start_s * 1000.0).round() as i64, (s.end_s * 1000.0).round() as i64, s.speaker, s.is_caller))
        .collect()
}

#[test]
fn analyze_scores_only_the_chosen_mono_speaker() {
    let Some(root) = data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("mono.wav");
    // 16 kHz (no line), so `segment` on the file and `analyze` (at 16 kHz) see the same samples.
    let spec = CallSpec {
        data_root: root,
        corpus: "ravdess".into(),
        caller_speaker: Some("Actor_13".into()),
        operator_speaker: Some("Actor_14".into()),
        minutes: 1.5,
        seed: 11,
        snr_db: Some(20.0),
        stereo: false,
        ..CallSpec::default()
    };
    write_call(&spec, &call, &dir.path().join("truth.csv"), None).unwrap();
    let model = tiny_bundle(dir.path());
    for choice in ["a", "b"] {
        let seg = dir.path().join(format!("segments_{choice}.csv"));
        let run = emotrace().arg("segment").arg(&call).arg("--out").arg(&seg).args(["--caller", choice]).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let segments = rows(&seg);
        let chosen = choice.to_uppercase();
        assert!(segments.iter().any(|r| r.2 == "A") && segments.iter().any(|r| r.2 == "B"), "{segments:?}");
        assert!(segments.iter().all(|r| r.3 == (r.2 == chosen)), "is_caller follows --caller {choice}");

        let out = dir.path().join(format!("report_{choice}"));
        let run = emotrace()
            .arg("analyze")
            .arg(&call)
            .arg("--model")
            .arg(&model)
            .args(["--caller", choice, "--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let scored = rows(&out.join("segments.csv"));
        assert!(!scored.is_empty());
        let caller_rows: Vec<(i64, i64)> = segments.iter().filter(|r| r.3).map(|r| (r.0, r.1)).collect();
        for s in &scored {
            assert_eq!(s.2, chosen, "only speaker {chosen} is scored: {s:?}");
            // Both files round to the millisecond, one by formatting and one by rounding.
            let same = |r: &&(i64, i64)| (r.0 - s.0).abs() <= 1 && (r.1 - s.1).abs() <= 1;
            assert!(caller_rows.iter().any(|r| same(&r)), "{s:?} is one of segment's caller rows");
        }
        // Every caller segment long enough for the model is scored.
        let long_enough = caller_rows.iter().filter(|r| r.1 - r.0 >= 250).count();
        assert!(scored.len() >= long_enough.saturating_sub(1), "{} scored of {long_enough}", scored.len());
    }
}
