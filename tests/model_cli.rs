//! `emotrace import-model` end to end on the tiny fixtures (scripts/gen_model_fixtures.py).
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use emotrace::model::bundle::load_bundle;
use emotrace::model::weights::read_safetensors;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name)
}

fn emotrace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emotrace")).args(args).output().unwrap()
}

#[test]
fn import_checkpoint_writes_a_bundle_that_scores_like_pytorch() {
    let dir = fixture("tiny_layer_prenorm");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tiny");
    let output = emotrace(&[
        "import-model",
        "--checkpoint",
        dir.join("model.pth").to_str().unwrap(),
        "--wav2vec2-config",
        dir.join("hf_wav2vec2/config.json").to_str().unwrap(),
        "--cross-heads",
        "4",
        "--self-heads",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (model, bundle) = load_bundle(&out, &Device::Cpu).unwrap();
    assert!(!bundle.meta.needs_fine_tuning);
    let io = read_safetensors(&dir.join("io.safetensors")).unwrap();
    let logit = model.forward(&io["audio"], &io["pitch"], &io["mfcc"]).unwrap();
    let diff = (logit - &io["logit"]).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(diff <= 1e-4, "{diff}");

    // A second import to the same place is refused without --force.
    let again = emotrace(&["import-model", "--wav2vec2", dir.join("hf_wav2vec2").to_str().unwrap(), "--cross-heads", "4", "--out", out.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn import_hf_directory_marks_the_bundle_as_needing_fine_tuning() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fresh");
    let hf = fixture("tiny_group_postnorm").join("hf_wav2vec2");
    let output = emotrace(&["import-model", "--wav2vec2", hf.to_str().unwrap(), "--cross-heads", "4", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("needs fine-tuning"));
    let (_, bundle) = load_bundle(&out, &Device::Cpu).unwrap();
    assert!(bundle.meta.needs_fine_tuning);
}

#[test]
fn mismatched_checkpoint_is_refused_naming_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bad");
    let output = emotrace(&[
        "import-model",
        "--checkpoint",
        fixture("tiny_group_postnorm").join("model.safetensors").to_str().unwrap(),
        "--wav2vec2-config",
        fixture("tiny_layer_prenorm").join("hf_wav2vec2/config.json").to_str().unwrap(),
        "--cross-heads",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing tensor `wav2vec2.feature_extractor.conv_layers.1.layer_norm.weight`"), "{stderr}");
    assert!(!out.exists());
}
