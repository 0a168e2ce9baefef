//! The Whisper audio branch against PyTorch/transformers: the encoder's hidden states on a
//! clip-length log-Mel input (the positional embedding narrowed), and the whole fused model with a
//! Whisper backbone, stage by stage, through the differentiable modules and the CPU inference path.
//!
//! Fixtures: scripts/gen_whisper_model_fixtures.py (torch + transformers; reference statement of the
//! model in scripts/reference_model.py). Tolerance 1e-4 max |diff| against PyTorch (tiny random
//! weights, values up to ~10); the inference path within 5e-6 x max(1, |value|) of the
//! differentiable one, as tests/model_fast_path.rs holds the wav2vec2 path.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use emotrace::model::weights::{build_checked, read_safetensors};
use emotrace::model::whisper::hf_import::read_whisper_dir;
use emotrace::model::whisper::WhisperEncoder;
use emotrace::model::{FusedConfig, FusedModel};

const PYTORCH_TOLERANCE: f32 = 1e-4;
const STAGE_TOLERANCE: f32 = 5e-6;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn io(path: &Path) -> HashMap<String, Tensor> {
    read_safetensors(path).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn largest(t: &Tensor) -> f32 {
    t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn tiny_encoder() -> WhisperEncoder {
    let imported = read_whisper_dir(&fixtures().join("whisper_import/hf")).unwrap();
    let tensors = imported.tensors.into_iter().map(|(k, v)| (k, v.to_dtype(DType::F32).unwrap())).collect();
    build_checked(tensors, &Device::Cpu, |vb| WhisperEncoder::load(vb, &imported.config)).unwrap()
}

#[test]
fn encoder_hidden_states_match_transformers_on_clip_length_input() {
    let encoder = tiny_encoder();
    let io = io(&fixtures().join("whisper_model/encoder_io.safetensors"));
    for (input, prefix) in [("mel", "hidden_"), ("full_mel", "full_hidden_")] {
        let states = encoder.hidden_states(&io[input]).unwrap();
        assert_eq!(states.len(), encoder.config().encoder_layers + 1);
        for (i, got) in states.iter().enumerate() {
            let want = &io[&format!("{prefix}{i}")];
            let diff = max_abs_diff(got, want);
            println!("{input} hidden state {i}: max |candle - transformers| = {diff:.2e} (largest {:.2})", largest(want));
            assert!(diff <= PYTORCH_TOLERANCE, "{input} state {i}: {diff}");
        }
    }
}

#[test]
fn the_encoder_refuses_more_frames_than_its_positions() {
    let encoder = tiny_encoder();
    let positions = encoder.config().max_source_positions;
    let mel = Tensor::zeros((1, 80, 2 * positions + 2), DType::F32, &Device::Cpu).unwrap();
    let err = encoder.hidden_states(&mel).unwrap_err().to_string();
    assert!(err.contains("positions"), "{err}");
}

fn fused(name: &str) -> (FusedModel, HashMap<String, Tensor>) {
    let dir = fixtures().join("whisper_model").join(name);
    let cfg: FusedConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let model = build_checked(read_safetensors(&dir.join("model.safetensors")).unwrap(), &Device::Cpu, |vb| FusedModel::load(vb, &cfg)).unwrap();
    (model, io(&dir.join("io.safetensors")))
}

#[test]
fn the_whisper_fused_model_matches_pytorch_on_both_paths() {
    for name in ["tiny_all_layers_norm_pool2", "tiny_first_layer_pool1"] {
        let (model, io) = fused(name);
        assert!(model.fast_model().unwrap().is_some(), "{name}: the inference path must apply");
        let fast = model.forward_stages(&io["mel"], &io["pitch"], &io["mfcc"]).unwrap();
        let slow = model.differentiable_forward_stages(&io["mel"], &io["pitch"], &io["mfcc"]).unwrap();
        for (stage, f, s) in [
            ("audio_hidden", &fast.audio_hidden, &slow.audio_hidden),
            ("pitch_hidden", &fast.pitch_hidden, &slow.pitch_hidden),
            ("lstm_mean", &fast.lstm_mean, &slow.lstm_mean),
            ("logit", &fast.logit, &slow.logit),
        ] {
            let want = &io[stage];
            let (d_fast, d_slow, d_paths) = (max_abs_diff(f, want), max_abs_diff(s, want), max_abs_diff(f, s));
            println!("{name} {stage}: vs PyTorch fast {d_fast:.2e}, differentiable {d_slow:.2e}; between paths {d_paths:.2e}");
            assert!(d_fast <= PYTORCH_TOLERANCE && d_slow <= PYTORCH_TOLERANCE, "{name} {stage}");
            assert!(d_paths <= STAGE_TOLERANCE * largest(want).max(1.0), "{name} {stage}: paths differ by {d_paths}");
        }
    }
}

#[test]
fn a_truncated_encoder_stores_only_the_layers_it_runs() {
    let (model, _) = fused("tiny_first_layer_pool1");
    let dir = fixtures().join("whisper_model/tiny_first_layer_pool1");
    let tensors = read_safetensors(&dir.join("model.safetensors")).unwrap();
    assert!(tensors.keys().all(|k| !k.starts_with("whisper.layers.1.") && !k.starts_with("whisper.layer_norm.")));
    assert_eq!(model.config().whisper.as_ref().unwrap().layers, 1);
    // The full encoder's weights are refused by name for this config.
    let mut extra = tensors.clone();
    extra.insert("whisper.layer_norm.weight".into(), Tensor::ones(32, DType::F32, &Device::Cpu).unwrap());
    let cfg = model.config().clone();
    let err = build_checked(extra, &Device::Cpu, |vb: VarBuilder| FusedModel::load(vb, &cfg)).unwrap_err().to_string();
    assert!(err.contains("whisper.layer_norm.weight"), "{err}");
}
