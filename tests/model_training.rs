//! Training readiness: a backward pass through the whole fused model (tiny config, fresh VarMap)
//! reaches every trainable variable with a finite, non-zero gradient. This fails if any module uses
//! an op without a backward pass (candle's fused softmax / layer_norm) or is disconnected.
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use emotrace::model::{FusedConfig, FusedModel};

fn tiny_config(name: &str) -> FusedConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name).join("config.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check_gradients(name: &str) {
    let cfg = tiny_config(name);
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let model = FusedModel::load(VarBuilder::from_varmap(&varmap, DType::F32, &device), &cfg).unwrap();
    let (b, n) = (2, 4000);
    let audio = Tensor::randn(0f32, 1.0, (b, n), &device).unwrap();
    let pitch = Tensor::randn(0f32, 1.0, (b, n), &device).unwrap();
    let mfcc = Tensor::randn(0f32, 1.0, (b, 50, cfg.mfcc_dim), &device).unwrap();
    let targets = Tensor::new(&[1f32, 0.0], &device).unwrap();
    let logits = model.forward(&audio, &pitch, &mfcc).unwrap();
    let loss = candle_nn::loss::binary_cross_entropy_with_logit(&logits, &targets).unwrap();
    let grads = loss.backward().unwrap();

    let vars = varmap.data().lock().unwrap();
    assert!(vars.len() > 50, "expected the whole model in the VarMap, got {} variables", vars.len());
    let mut problems = Vec::new();
    for (var_name, var) in vars.iter() {
        match grads.get(var.as_tensor()) {
            None => problems.push(format!("{var_name}: no gradient")),
            Some(g) => {
                let abs = g.abs().unwrap().flatten_all().unwrap();
                let sum = abs.sum_all().unwrap().to_scalar::<f32>().unwrap();
                if !sum.is_finite() {
                    problems.push(format!("{var_name}: non-finite gradient"));
                } else if sum == 0.0 {
                    problems.push(format!("{var_name}: zero gradient"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
}

#[test]
fn every_variable_gets_a_gradient_group_postnorm() {
    check_gradients("tiny_group_postnorm");
}

#[test]
fn every_variable_gets_a_gradient_layer_prenorm() {
    check_gradients("tiny_layer_prenorm");
}

/// The Whisper-backbone fused model (tests/fixtures/whisper_model): the differentiable encoder and
/// head from a log-Mel input reach every variable, the encoder's and the layer weights included.
fn check_whisper_gradients(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper_model").join(name).join("config.json");
    let cfg: FusedConfig = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let model = FusedModel::load(VarBuilder::from_varmap(&varmap, DType::F32, &device), &cfg).unwrap();
    // Fresh softmax weights are equal; make them unequal so their gradient is not degenerate.
    varmap.data().lock().unwrap()["layer_weights"].set(&Tensor::new(&[0.3f32, -0.2, 0.1][..cfg.whisper.as_ref().unwrap().layers + 1], &device).unwrap()).unwrap();
    let (b, n) = (2, 6400);
    let mel = Tensor::randn(0f32, 0.5, (b, 80, n / 160), &device).unwrap();
    let pitch = Tensor::randn(0f32, 1.0, (b, n), &device).unwrap();
    let mfcc = Tensor::randn(0f32, 1.0, (b, 41, cfg.mfcc_dim), &device).unwrap();
    let targets = Tensor::new(&[1f32, 0.0], &device).unwrap();
    let logits = model.forward(&mel, &pitch, &mfcc).unwrap();
    let loss = candle_nn::loss::binary_cross_entropy_with_logit(&logits, &targets).unwrap();
    let grads = loss.backward().unwrap();
    let vars = varmap.data().lock().unwrap();
    assert!(vars.keys().any(|k| k.starts_with("whisper.layers.0.")) && vars.contains_key("layer_weights"));
    let mut problems = Vec::new();
    for (var_name, var) in vars.iter() {
        match grads.get(var.as_tensor()) {
            None => problems.push(format!("{var_name}: no gradient")),
            Some(g) => {
                let sum = g.abs().unwrap().flatten_all().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
                if !sum.is_finite() || sum == 0.0 {
                    problems.push(format!("{var_name}: gradient sum {sum}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
}

#[test]
fn every_variable_gets_a_gradient_whisper_all_layers() {
    check_whisper_gradients("tiny_all_layers_norm_pool2");
}

#[test]
fn every_variable_gets_a_gradient_whisper_first_layer() {
    check_whisper_gradients("tiny_first_layer_pool1");
}
