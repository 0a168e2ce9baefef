//! `emotrace score`: each file is one segment; CSV `file,logit,p_nonnegative` or JSON; the scores
//! equal the library's (features -> model) and do not depend on the other files scored with them.
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use emotrace::features::FeatureExtractor;
use emotrace::model::bundle::{load_bundle, write_bundle, BundleMeta};
use emotrace::model::import::{import_checkpoint, HeadOptions};
use emotrace::model::scoring::{score_segments, sigmoid, SegmentInput};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name)
}

fn tiny_bundle(out: &Path) {
    let dir = fixture("tiny_group_postnorm");
    let heads = HeadOptions { cross_heads: 4, self_heads: 8 };
    let imported = import_checkpoint(&dir.join("model.pth"), &dir.join("hf_wav2vec2/config.json"), &heads).unwrap();
    write_bundle(out, &imported.config, &imported.tensors, BundleMeta::new("tiny", "random", "test", false), false).unwrap();
}

fn tone(seconds: f32, freq: f32) -> Vec<f32> {
    (0..(seconds * 16000.0) as usize).map(|i| 0.3 * (i as f32 * freq * std::f32::consts::TAU / 16000.0).sin()).collect()
}

fn score(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_emotrace")).arg("score").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn score_prints_csv_and_json_matching_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    tiny_bundle(&bundle);
    let clips = [tone(1.5, 220.0), tone(2.25, 330.0)];
    let files: Vec<PathBuf> = clips
        .iter()
        .enumerate()
        .map(|(i, clip)| {
            let path = tmp.path().join(format!("seg{i}.wav"));
            emotrace::audio::wav::write_wav_f32(&path, 16000, &[clip.clone()]).unwrap();
            path
        })
        .collect();
    let (a, b) = (files[0].to_str().unwrap(), files[1].to_str().unwrap());
    let model_arg = bundle.to_str().unwrap();

    let csv = score(&["--model", model_arg, a, b]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "file,logit,p_nonnegative");
    assert_eq!(lines.len(), 3);
    let parse = |line: &str| -> (String, f32, f32) {
        let mut parts = line.rsplitn(3, ',');
        let p: f32 = parts.next().unwrap().parse().unwrap();
        let logit: f32 = parts.next().unwrap().parse().unwrap();
        (parts.next().unwrap().to_string(), logit, p)
    };
    let rows: Vec<_> = lines[1..].iter().map(|l| parse(l)).collect();
    assert_eq!(rows[0].0, a);
    assert_eq!(rows[1].0, b);

    // Same numbers through the library.
    let (model, _) = load_bundle(&bundle, &Device::Cpu).unwrap();
    let extractor = FeatureExtractor::new();
    let segments: Vec<SegmentInput> = files
        .iter()
        .map(|f| {
            let clip = emotrace::audio::load_16k(f).unwrap().mono();
            let feats = extractor.extract(&clip).unwrap();
            SegmentInput { audio: feats.audio_norm, pitch: feats.pitch_track, mfcc: feats.mfcc39 }
        })
        .collect();
    let logits = score_segments(&model, &Device::Cpu, &segments, 8).unwrap();
    for (row, logit) in rows.iter().zip(&logits) {
        assert!((row.1 - logit).abs() < 1e-5, "{} vs {logit}", row.1);
        assert!((row.2 - sigmoid(*logit)).abs() < 1e-5);
    }

    // Alone, the second file scores the same.
    let alone = score(&["--model", model_arg, b]);
    let (_, logit_alone, _) = parse(alone.lines().nth(1).unwrap());
    assert!((logit_alone - rows[1].1).abs() < 1e-5);

    let json: serde_json::Value = serde_json::from_str(&score(&["--model", model_arg, "--json", a])).unwrap();
    assert_eq!(json[0]["file"], a);
    assert!((json[0]["logit"].as_f64().unwrap() as f32 - rows[0].1).abs() < 1e-5);
}

#[test]
fn score_refuses_a_corrupt_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    tiny_bundle(&bundle);
    std::fs::write(bundle.join("model.safetensors"), b"not weights").unwrap();
    let wav = tmp.path().join("a.wav");
    emotrace::audio::wav::write_wav_f32(&wav, 16000, &[tone(1.0, 200.0)]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .args(["score", "--model", bundle.to_str().unwrap(), wav.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("model.safetensors") && stderr.contains("SHA-256"), "{stderr}");
}
