//! Seeded variable initialisation. candle's CPU random generator cannot be seeded, so model
//! variables are created through this backend: each variable is drawn from its own init hint with
//! a SplitMix64 stream, in the (fixed) order the model asks for them. Same seed, same weights.
use std::sync::Mutex;

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap};

use crate::synth::rng::Rng;

struct SeededBackend {
    varmap: VarMap,
    rng: Mutex<Rng>,
}

fn sample(init: Init, shape: &Shape, rng: &mut Rng) -> Vec<f32> {
    let n = shape.elem_count();
    let uniform = |rng: &mut Rng, lo: f64, up: f64| -> Vec<f32> { (0..n).map(|_| rng.uniform(lo, up) as f32).collect() };
    let normal = |rng: &mut Rng, mean: f64, std: f64| -> Vec<f32> { (0..n).map(|_| (mean + std * rng.normal()) as f32).collect() };
    match init {
        Init::Const(v) => vec![v as f32; n],
        Init::Uniform { lo, up } => uniform(rng, lo, up),
        Init::Randn { mean, stdev } => normal(rng, mean, stdev),
        Init::Kaiming { dist, fan, non_linearity } => {
            let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
            match dist {
                candle_nn::init::NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    uniform(rng, -bound, bound)
                }
                candle_nn::init::NormalOrUniform::Normal => normal(rng, 0.0, std),
            }
        }
    }
}

/// HF `Wav2Vec2PreTrainedModel._init_weights` draws the conv feature encoders' kernels from
/// Kaiming-normal (std `sqrt(2 / fan_in)`). PyTorch's default Conv1d init (what the model's loader
/// hints) shrinks the signal at every one of the 7 layers (~1e-4 of the input at the end), which
/// leaves a frozen, freshly initialised audio encoder with nothing to pass on.
fn hf_init_override(name: &str, shape: &Shape) -> Option<Init> {
    if !(name.contains("conv_layers.") && name.ends_with(".conv.weight")) {
        return None;
    }
    let dims = shape.dims();
    let fan_in: usize = dims.iter().skip(1).product();
    (fan_in > 0).then(|| Init::Randn { mean: 0.0, stdev: (2.0 / fan_in as f64).sqrt() })
}

impl candle_nn::var_builder::SimpleBackend for SeededBackend {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.varmap.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
        if let Some(var) = data.get(name) {
            if var.shape() != &s {
                candle_core::bail!("variable {name}: shape {:?} but {:?} was asked for", var.shape(), s);
            }
            return Ok(var.as_tensor().clone());
        }
        let h = hf_init_override(name, &s).unwrap_or(h);
        let values = {
            let mut rng = self.rng.lock().map_err(|_| candle_core::Error::Msg("rng lock poisoned".into()))?;
            sample(h, &s, &mut rng)
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        let data = self.varmap.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
        data.get(name)
            .map(|v| v.as_tensor().clone())
            .ok_or_else(|| candle_core::Error::Msg(format!("no variable {name}")))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap.data().lock().map(|d| d.contains_key(name)).unwrap_or(false)
    }
}

/// A VarBuilder that returns the variables already in `varmap` and creates missing ones from a
/// seeded stream.
pub fn seeded_var_builder(varmap: &VarMap, seed: u64, device: &Device) -> VarBuilder<'static> {
    let backend = SeededBackend { varmap: varmap.clone(), rng: Mutex::new(Rng::new(seed)) };
    VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone())
}
