//! Bundles and imports: an unseen fused `.pth` imports and scores within 1e-4 of PyTorch
//! (fixtures from scripts/gen_model_fixtures.py), HF wav2vec2 directories import, and corrupt or
//! mismatched bundles are refused with a message naming the offending file or tensor.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emotrace::model::bundle::{load_bundle, read_bundle, sha256_file, write_bundle, BundleMeta, META_FILE, WEIGHTS_FILE};
use emotrace::model::import::{import_checkpoint, import_hf_wav2vec2, HeadOptions};
use emotrace::model::weights::read_safetensors;

const TOLERANCE: f32 = 1e-4;
const TINY_HEADS: HeadOptions = HeadOptions { cross_heads: 4, self_heads: 8 };

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name)
}

fn imported_bundle(config: &str, out: &Path) {
    let dir = fixture(config);
    let imported = import_checkpoint(&dir.join("model.pth"), &dir.join("hf_wav2vec2/config.json"), &TINY_HEADS).unwrap();
    write_bundle(out, &imported.config, &imported.tensors, BundleMeta::new("tiny", "random", "test", false), false)
        .unwrap();
}

#[test]
fn imported_checkpoint_scores_like_pytorch() {
    for config in ["tiny_group_postnorm", "tiny_layer_prenorm"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bundle");
        imported_bundle(config, &out);
        let (model, bundle) = load_bundle(&out, &Device::Cpu).unwrap();
        assert_eq!(bundle.config.lstm_hidden, 8);
        assert_eq!(bundle.config.fc_dim, 16);
        assert!(bundle.meta.label_semantics.contains("P(non-negative)"));
        assert_eq!(bundle.meta.weights_sha256, sha256_file(&out.join(WEIGHTS_FILE)).unwrap());
        let io = read_safetensors(&fixture(config).join("io.safetensors")).unwrap();
        let logit = model.forward(&io["audio"], &io["pitch"], &io["mfcc"]).unwrap();
        let diff = (logit - &io["logit"]).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        println!("{config}: imported bundle logit max |diff| = {diff:.3e}");
        assert!(diff <= TOLERANCE, "{config}: {diff}");
    }
}

#[test]
fn hf_directory_imports_with_fresh_head() {
    for config in ["tiny_group_postnorm", "tiny_layer_prenorm"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("bundle");
        let imported = import_hf_wav2vec2(&fixture(config).join("hf_wav2vec2"), &TINY_HEADS).unwrap();
        let meta = BundleMeta::new("fresh", "none: head freshly initialised", "hf", true);
        write_bundle(&out, &imported.config, &imported.tensors, meta, false).unwrap();
        let (model, bundle) = load_bundle(&out, &Device::Cpu).unwrap();
        assert!(bundle.meta.needs_fine_tuning);
        assert_eq!(bundle.config.lstm_hidden, 256, "fresh heads use the reference sizes");
        // The backbone is the imported one, bit for bit.
        let stored = read_safetensors(&out.join(WEIGHTS_FILE)).unwrap();
        let original = read_safetensors(&fixture(config).join("model.safetensors")).unwrap();
        let name = "wav2vec2.encoder.layers.0.attention.q_proj.weight";
        let same = (&stored[name] - &original[name]).unwrap().abs().unwrap().max(0).unwrap().max(0).unwrap();
        assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0);
        let io = read_safetensors(&fixture(config).join("io.safetensors")).unwrap();
        let logit = model.forward(&io["audio"], &io["pitch"], &io["mfcc"]).unwrap();
        assert!(logit.to_vec1::<f32>().unwrap().iter().all(|l| l.is_finite()));
    }
}

/// Rewrites a bundle's weights with `edit` applied, keeping the hash valid, so that the name/shape
/// check (not the hash check) has to catch the problem.
fn tamper(out: &Path, edit: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let mut tensors = read_safetensors(&out.join(WEIGHTS_FILE)).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, out.join(WEIGHTS_FILE)).unwrap();
    let mut meta = read_bundle(out).unwrap().meta;
    meta.weights_sha256 = sha256_file(&out.join(WEIGHTS_FILE)).unwrap();
    std::fs::write(out.join(META_FILE), serde_json::to_string(&meta).unwrap()).unwrap();
}

fn load_error(out: &Path) -> String {
    match load_bundle(out, &Device::Cpu) {
        Ok(_) => panic!("bad bundle loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_bundles_are_refused_naming_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    imported_bundle("tiny_group_postnorm", &out);

    // Corrupt bytes: the hash check names the file.
    let pristine = std::fs::read(out.join(WEIGHTS_FILE)).unwrap();
    let mut corrupt = pristine.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    std::fs::write(out.join(WEIGHTS_FILE), &corrupt).unwrap();
    let msg = load_error(&out);
    assert!(msg.contains(WEIGHTS_FILE) && msg.contains("SHA-256"), "{msg}");
    std::fs::write(out.join(WEIGHTS_FILE), &pristine).unwrap();
    assert!(load_bundle(&out, &Device::Cpu).is_ok());

    tamper(&out, |t| {
        t.remove("attn_p_a.norm2.bias");
        let w = Tensor::zeros((16, 12), candle_core::DType::F32, &Device::Cpu).unwrap();
        t.insert("fc.weight".into(), w);
        t.insert("extra.head.weight".into(), Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap());
    });
    let msg = load_error(&out);
    assert!(msg.contains("missing tensor `attn_p_a.norm2.bias`"), "{msg}");
    assert!(msg.contains("tensor `fc.weight` has shape [16, 12], expected [16, 64]"), "{msg}");
    assert!(msg.contains("unexpected tensor `extra.head.weight`"), "{msg}");
}

#[test]
fn existing_output_is_not_replaced_without_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    imported_bundle("tiny_group_postnorm", &out);
    let dir = fixture("tiny_group_postnorm");
    let imported = import_checkpoint(&dir.join("model.pth"), &dir.join("hf_wav2vec2/config.json"), &TINY_HEADS).unwrap();
    let meta = BundleMeta::new("again", "random", "test", false);
    assert!(write_bundle(&out, &imported.config, &imported.tensors, meta.clone(), false).is_err());
    write_bundle(&out, &imported.config, &imported.tensors, meta, true).unwrap();
    assert_eq!(read_bundle(&out).unwrap().meta.name, "again");
    // Nothing but the bundle is left next to it.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn mismatched_config_is_refused_at_import() {
    // The layer/pre-norm checkpoint against the group/post-norm config: names and shapes differ.
    let err = import_checkpoint(
        &fixture("tiny_layer_prenorm").join("model.pth"),
        &fixture("tiny_group_postnorm").join("hf_wav2vec2/config.json"),
        &TINY_HEADS,
    )
    .err()
    .expect("mismatch accepted")
    .to_string();
    assert!(err.contains("unexpected tensor `wav2vec2.feature_extractor.conv_layers.1.layer_norm.weight`"), "{err}");
}
