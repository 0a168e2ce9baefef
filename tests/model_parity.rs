//! Numerical parity of the candle fused model with the PyTorch reference
//! (scripts/reference_model.py), on the tiny random-weight fixtures written by
//! scripts/gen_model_fixtures.py. Tolerance: max |diff| <= 1e-4 on every stage.
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emotrace::model::wav2vec2::Wav2Vec2Model;
use emotrace::model::weights::{build_checked, read_safetensors, read_weights};
use emotrace::model::{FusedConfig, FusedModel, Wav2Vec2Config};

const TOLERANCE: f32 = 1e-4;
const CONFIGS: [&str; 2] = ["tiny_group_postnorm", "tiny_layer_prenorm"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name)
}

fn fused_config(dir: &Path) -> FusedConfig {
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn check_fused(config: &str, weights_file: &str) {
    let dir = fixture(config);
    let cfg = fused_config(&dir);
    let tensors = read_weights(&dir.join(weights_file)).unwrap();
    let model = build_checked(tensors, &Device::Cpu, |vb| FusedModel::load(vb, &cfg)).unwrap();
    let io = read_safetensors(&dir.join("io.safetensors")).unwrap();
    let out = model.forward_stages(&io["audio"], &io["pitch"], &io["mfcc"]).unwrap();
    let stages = [
        ("audio_hidden", &out.audio_hidden),
        ("pitch_hidden", &out.pitch_hidden),
        ("lstm_mean", &out.lstm_mean),
        ("logit", &out.logit),
    ];
    for (name, got) in stages {
        let diff = max_abs_diff(got, &io[name]);
        println!("{config}/{weights_file} {name}: max |diff| = {diff:.3e}");
        assert!(diff <= TOLERANCE, "{config}/{weights_file} {name}: max |diff| {diff} > {TOLERANCE}");
    }
}

#[test]
fn fused_model_matches_pytorch_from_safetensors() {
    for config in CONFIGS {
        check_fused(config, "model.safetensors");
    }
}

#[test]
fn fused_model_matches_pytorch_from_pth() {
    for config in CONFIGS {
        check_fused(config, "model.pth");
    }
}

#[test]
fn hf_backbone_directory_matches_fused_backbone() {
    for config in CONFIGS {
        let dir = fixture(config);
        let hf = dir.join("hf_wav2vec2");
        let cfg = Wav2Vec2Config::from_json_str(&std::fs::read_to_string(hf.join("config.json")).unwrap()).unwrap();
        let weights = ["model.safetensors", "pytorch_model.bin"]
            .iter()
            .map(|f| hf.join(f))
            .find(|p| p.exists())
            .unwrap();
        let tensors = read_weights(&weights).unwrap();
        let model = build_checked(tensors, &Device::Cpu, |vb| Wav2Vec2Model::load(vb, &cfg)).unwrap();
        let io = read_safetensors(&dir.join("io.safetensors")).unwrap();
        let hidden = model.forward(&io["audio"]).unwrap();
        let diff = max_abs_diff(&hidden, &io["audio_hidden"]);
        println!("{config} HF backbone: max |diff| = {diff:.3e}");
        assert!(diff <= TOLERANCE, "{config}: {diff}");
    }
}
