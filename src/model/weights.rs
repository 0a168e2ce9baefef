//! Loading weights with a complete report of what does not fit: every tensor the model asks for is
//! recorded, so a bad checkpoint is refused with the names of all missing, mis-shaped and unexpected
//! tensors at once instead of the first failure.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use super::ModelError;

/// Tensors a checkpoint may hold that the inference model does not use.
fn is_ignorable(name: &str) -> bool {
    // SpecAugment's learned mask vector (training only).
    name.ends_with("masked_spec_embed")
}

/// A problem with one tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorProblem {
    Missing { name: String, expected: Vec<usize> },
    Shape { name: String, expected: Vec<usize>, found: Vec<usize> },
    Unexpected { name: String, shape: Vec<usize> },
}

impl std::fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { name, expected } => write!(f, "missing tensor `{name}` (expected shape {expected:?})"),
            Self::Shape { name, expected, found } => {
                write!(f, "tensor `{name}` has shape {found:?}, expected {expected:?}")
            }
            Self::Unexpected { name, shape } => write!(f, "unexpected tensor `{name}` (shape {shape:?})"),
        }
    }
}

/// Formats a list of problems, one per line.
pub fn describe_problems(problems: &[TensorProblem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

#[derive(Default)]
struct Record {
    requested: Vec<String>,
    problems: Vec<TensorProblem>,
}

struct CheckingBackend {
    tensors: Arc<HashMap<String, Tensor>>,
    record: Arc<Mutex<Record>>,
}

impl SimpleBackend for CheckingBackend {
    fn get(&self, s: Shape, name: &str, _h: candle_nn::Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let mut record = self.record.lock().map_err(|_| candle_core::Error::Msg("poisoned lock".into()))?;
        record.requested.push(name.to_string());
        match self.tensors.get(name) {
            Some(t) if t.shape() == &s => t.to_dtype(dtype)?.to_device(dev),
            Some(t) => {
                record.problems.push(TensorProblem::Shape {
                    name: name.to_string(),
                    expected: s.dims().to_vec(),
                    found: t.dims().to_vec(),
                });
                Tensor::zeros(s, dtype, dev)
            }
            None => {
                record.problems.push(TensorProblem::Missing { name: name.to_string(), expected: s.dims().to_vec() });
                Tensor::zeros(s, dtype, dev)
            }
        }
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        match self.tensors.get(name) {
            Some(t) => t.to_dtype(dtype)?.to_device(dev),
            None => Err(candle_core::Error::CannotFindTensor { path: name.to_string() }),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// Builds a module from `tensors` with `build`, and fails with every tensor problem if any name or
/// shape does not match what the module asks for (unused tensors included).
pub fn build_checked<T>(
    tensors: HashMap<String, Tensor>,
    device: &Device,
    build: impl FnOnce(VarBuilder) -> candle_core::Result<T>,
) -> Result<T, ModelError> {
    let tensors = Arc::new(tensors);
    let record = Arc::new(Mutex::new(Record::default()));
    let backend = CheckingBackend { tensors: tensors.clone(), record: record.clone() };
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone());
    let built = build(vb);
    let record = std::mem::take(&mut *record.lock().map_err(|_| ModelError::Internal("poisoned lock".into()))?);
    let mut problems = record.problems;
    let requested: std::collections::HashSet<&str> = record.requested.iter().map(String::as_str).collect();
    let mut unexpected: Vec<_> = tensors
        .iter()
        .filter(|(name, _)| !requested.contains(name.as_str()) && !is_ignorable(name))
        .map(|(name, t)| TensorProblem::Unexpected { name: name.clone(), shape: t.dims().to_vec() })
        .collect();
    unexpected.sort_by(|a, b| format!("{a}").cmp(&format!("{b}")));
    problems.extend(unexpected);
    if !problems.is_empty() {
        return Err(ModelError::Weights(problems));
    }
    Ok(built?)
}

/// Reads every tensor of a `.safetensors` file (as f32, on CPU).
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| ModelError::io_like(path, e))?;
    to_f32(tensors.into_iter())
}

/// The dtype each tensor of a `.safetensors` file is stored in (e.g. a frozen encoder kept in
/// float16), so weights read as f32 can be written back as they came.
pub fn stored_dtypes(bytes: &[u8]) -> Result<HashMap<String, DType>, ModelError> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    Ok(tensors.into_iter().map(|(k, v)| (k, v.dtype())).collect())
}

/// Reads a PyTorch state_dict saved with `torch.save` (zip pickle), as f32 on CPU.
pub fn read_pth(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    let tensors = candle_core::pickle::read_all(path).map_err(|e| ModelError::io_like(path, e))?;
    to_f32(tensors.into_iter())
}

/// Reads `.safetensors` or a PyTorch pickle depending on the extension.
pub fn read_weights(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => read_safetensors(path),
        _ => read_pth(path),
    }
}

pub(crate) fn to_f32(it: impl Iterator<Item = (String, Tensor)>) -> Result<HashMap<String, Tensor>, ModelError> {
    it.map(|(name, t)| {
        let t = t.to_dtype(DType::F32).map_err(ModelError::Candle)?;
        Ok((name, t))
    })
    .collect()
}

/// Sorted (name -> tensor) view, for deterministic writing.
pub fn sorted(tensors: &HashMap<String, Tensor>) -> BTreeMap<&str, &Tensor> {
    tensors.iter().map(|(k, v)| (k.as_str(), v)).collect()
}
