//! Whisper encoder weights from an HF transformers folder, and [`read_whisper_dir`], the entry point
//! that tells a CTranslate2 folder from an HF one.
//!
//! An HF folder is `config.json` (`"model_type": "whisper"`) plus `model.safetensors`, a sharded
//! `model.safetensors.index.json`, `pytorch_model.bin` or a sharded `pytorch_model.bin.index.json`.
//! Tensor names may carry the prefix of `WhisperForConditionalGeneration` (`model.encoder.`),
//! `WhisperModel` (`encoder.`) or none (`WhisperEncoder`); only the encoder's are kept (the others are
//! never read), every name and shape is checked against the config (all problems reported at once),
//! and the stored dtype is kept (float32, float16 or bfloat16).
//!
//! Safetensors files are read through their JSON header, then only the encoder tensors' byte ranges
//! (not the crate's `read_safetensors`, which loads every tensor and converts it to f32); PyTorch
//! files through candle's lazy `PthTensors` for the same reason.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::pickle::PthTensors;
use candle_core::{DType, Device, Tensor};

use super::config::WhisperConfig;
use super::ct2;
use crate::model::{ModelError, TensorProblem};

/// The encoder of a Whisper model read from a CTranslate2 or an HF folder.
#[derive(Debug)]
pub struct ImportedWhisperEncoder {
    pub config: WhisperConfig,
    /// HF `WhisperEncoder` state_dict names (no prefix) -> tensors on the CPU, in the stored dtype (int8 dequantised to f32).
    pub tensors: HashMap<String, Tensor>,
    /// e.g. "CTranslate2 model.bin v6, WhisperSpec rev 3, float16; decoder skipped".
    pub source: String,
    pub notes: Vec<String>,
}

const HF_WEIGHT_FILES: [&str; 4] =
    ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

fn read_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Read { path: path.display().to_string(), message: message.into() }
}

/// Reads the Whisper encoder of `dir`: a CTranslate2 folder (`model.bin`, see [`ct2`]) or an HF
/// folder (`config.json` with `"model_type": "whisper"` and weights). A path to a `model.bin` file
/// is accepted as well.
pub fn read_whisper_dir(dir: &Path) -> Result<ImportedWhisperEncoder, ModelError> {
    let expected = "expected a CTranslate2 Whisper folder (model.bin [+ config.json]) or an HF Whisper folder \
                    (config.json with \"model_type\": \"whisper\" + model.safetensors, model.safetensors.index.json \
                    or pytorch_model.bin)";
    if !dir.exists() {
        return Err(read_err(dir, format!("no such folder; {expected}")));
    }
    if dir.is_file() {
        if dir.file_name().and_then(|n| n.to_str()) == Some(ct2::MODEL_BIN) {
            return ct2::read_ct2_whisper_encoder(dir);
        }
        return Err(read_err(dir, format!("not a folder; {expected}")));
    }
    if dir.join(ct2::MODEL_BIN).is_file() {
        return ct2::read_ct2_whisper_encoder(dir);
    }
    let cfg_path = dir.join("config.json");
    if cfg_path.is_file() {
        let model_type = read_json(&cfg_path)?.get("model_type").cloned();
        return match model_type.as_ref().and_then(|v| v.as_str()) {
            Some("whisper") => read_hf_whisper_encoder(dir),
            _ => Err(read_err(
                &cfg_path,
                format!(
                    "model_type is {}, not \"whisper\" (and there is no model.bin); {expected}",
                    model_type.map_or("missing".to_string(), |v| v.to_string())
                ),
            )),
        };
    }
    Err(read_err(dir, format!("neither model.bin nor config.json found; {expected}")))
}

fn read_json(path: &Path) -> Result<serde_json::Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config(format!("{}: not valid JSON: {e}", path.display())))
}

/// Every tensor of an HF `WhisperEncoder` for `cfg` with its shape, in a fixed order. `k_proj` has
/// no bias in HF Whisper.
pub fn expected_encoder_shapes(cfg: &WhisperConfig) -> Vec<(String, Vec<usize>)> {
    let (d, f) = (cfg.d_model, cfg.encoder_ffn_dim);
    let mut out: Vec<(String, Vec<usize>)> = vec![
        ("conv1.weight".into(), vec![d, cfg.num_mel_bins, 3]),
        ("conv1.bias".into(), vec![d]),
        ("conv2.weight".into(), vec![d, d, 3]),
        ("conv2.bias".into(), vec![d]),
        ("embed_positions.weight".into(), vec![cfg.max_source_positions, d]),
    ];
    for i in 0..cfg.encoder_layers {
        let p = format!("layers.{i}.");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            out.push((format!("{p}self_attn.{proj}.weight"), vec![d, d]));
            if proj != "k_proj" {
                out.push((format!("{p}self_attn.{proj}.bias"), vec![d]));
            }
        }
        out.push((format!("{p}self_attn_layer_norm.weight"), vec![d]));
        out.push((format!("{p}self_attn_layer_norm.bias"), vec![d]));
        out.push((format!("{p}fc1.weight"), vec![f, d]));
        out.push((format!("{p}fc1.bias"), vec![f]));
        out.push((format!("{p}fc2.weight"), vec![d, f]));
        out.push((format!("{p}fc2.bias"), vec![d]));
        out.push((format!("{p}final_layer_norm.weight"), vec![d]));
        out.push((format!("{p}final_layer_norm.bias"), vec![d]));
    }
    out.push(("layer_norm.weight".into(), vec![d]));
    out.push(("layer_norm.bias".into(), vec![d]));
    out
}

/// Every missing, mis-shaped and unexpected tensor among `found` (HF `WhisperEncoder` names).
pub fn check_encoder_shapes<'a>(
    cfg: &WhisperConfig,
    found: impl IntoIterator<Item = (&'a str, &'a [usize])>,
) -> Vec<TensorProblem> {
    let found: BTreeMap<&str, &[usize]> = found.into_iter().collect();
    let expected = expected_encoder_shapes(cfg);
    let mut problems = Vec::new();
    for (name, shape) in &expected {
        match found.get(name.as_str()) {
            None => problems.push(TensorProblem::Missing { name: name.clone(), expected: shape.clone() }),
            Some(s) if *s != shape.as_slice() => problems.push(TensorProblem::Shape {
                name: name.clone(),
                expected: shape.clone(),
                found: s.to_vec(),
            }),
            Some(_) => {}
        }
    }
    let known: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for (name, shape) in &found {
        if !known.contains(name) {
            problems.push(TensorProblem::Unexpected { name: name.to_string(), shape: shape.to_vec() });
        }
    }
    problems
}

/// A tensor from little-endian bytes (CTranslate2 and safetensors both store little-endian).
pub(super) fn le_tensor(bytes: &[u8], dtype: DType, dims: &[usize]) -> Result<Tensor, ModelError> {
    if cfg!(target_endian = "big") {
        let size = dtype.size_in_bytes();
        let mut swapped = bytes.to_vec();
        for chunk in swapped.chunks_exact_mut(size) {
            chunk.reverse();
        }
        return Ok(Tensor::from_raw_buffer(&swapped, dtype, dims, &Device::Cpu)?);
    }
    Ok(Tensor::from_raw_buffer(bytes, dtype, dims, &Device::Cpu)?)
}

/// Where one tensor of an HF checkpoint lives.
enum Location {
    /// `len` bytes at absolute offset `start` of a safetensors file.
    Safetensors { file: PathBuf, start: u64, len: u64 },
    /// Tensor `name` of the `reader`-th PyTorch file.
    Pth { reader: usize, name: String },
}

struct Entry {
    name: String,
    shape: Vec<usize>,
    /// Stored dtype (`None`: one the encoder cannot use, named in `dtype_name`).
    dtype: Option<DType>,
    dtype_name: String,
    file: PathBuf,
    location: Location,
}

/// Element size of a safetensors dtype, `None` for unknown ones.
fn safetensors_dtype(name: &str) -> (Option<DType>, Option<usize>) {
    match name {
        "F32" => (Some(DType::F32), Some(4)),
        "F16" => (Some(DType::F16), Some(2)),
        "BF16" => (Some(DType::BF16), Some(2)),
        "F64" | "I64" | "U64" => (None, Some(8)),
        "I32" | "U32" => (None, Some(4)),
        "I16" | "U16" => (None, Some(2)),
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => (None, Some(1)),
        _ => (None, None),
    }
}

/// The tensor table of a safetensors file, from its header only (no tensor data is read).
fn list_safetensors(path: &Path) -> Result<Vec<Entry>, ModelError> {
    let mut f = File::open(path).map_err(|e| ModelError::io(path, e))?;
    let file_len = f.metadata().map_err(|e| ModelError::io(path, e))?.len();
    if file_len < 8 {
        return Err(read_err(path, format!("{file_len} bytes: too short for a safetensors file")));
    }
    let mut len8 = [0u8; 8];
    f.read_exact(&mut len8).map_err(|e| ModelError::io(path, e))?;
    let header_len = u64::from_le_bytes(len8);
    if header_len > file_len - 8 || header_len > 100_000_000 {
        return Err(read_err(path, format!("safetensors header length {header_len} does not fit the file ({file_len} bytes)")));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header).map_err(|e| ModelError::io(path, e))?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| read_err(path, format!("safetensors header is not a JSON object: {e}")))?;
    let data_start = 8 + header_len;
    let data_len = file_len - data_start;
    let mut out = Vec::new();
    for (name, info) in header {
        if name == "__metadata__" {
            continue;
        }
        let bad = |m: &str| read_err(path, format!("safetensors entry `{name}`: {m}"));
        let dtype_name = info.get("dtype").and_then(|v| v.as_str()).ok_or_else(|| bad("no dtype"))?.to_string();
        let shape = info
            .get("shape")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad("shape is not a list of sizes"))?;
        let offsets = info
            .get("data_offsets")
            .and_then(|v| v.as_array())
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)))
            .ok_or_else(|| bad("data_offsets is not [begin, end]"))?;
        if offsets.0 > offsets.1 || offsets.1 > data_len {
            return Err(bad(&format!(
                "data_offsets {offsets:?} outside the {data_len} data bytes (truncated file?)"
            )));
        }
        let (dtype, size) = safetensors_dtype(&dtype_name);
        if let Some(size) = size {
            let want = shape.iter().try_fold(size as u64, |acc, &d| acc.checked_mul(d as u64));
            if want != Some(offsets.1 - offsets.0) {
                return Err(bad(&format!(
                    "shape {shape:?} of {dtype_name} needs {} bytes, data_offsets give {}",
                    want.map_or("more than 2^64".to_string(), |w| w.to_string()),
                    offsets.1 - offsets.0
                )));
            }
        }
        out.push(Entry {
            name,
            shape,
            dtype,
            dtype_name,
            file: path.to_path_buf(),
            location: Location::Safetensors {
                file: path.to_path_buf(),
                start: data_start + offsets.0,
                len: offsets.1 - offsets.0,
            },
        });
    }
    Ok(out)
}

fn list_pth(path: &Path, readers: &mut Vec<PthTensors>) -> Result<Vec<Entry>, ModelError> {
    let pth = PthTensors::new(path, None).map_err(|e| read_err(path, format!("not a readable PyTorch state_dict: {e}")))?;
    if pth.tensor_infos().is_empty() {
        return Err(read_err(path, "no tensors found (expected a PyTorch state_dict saved with torch.save)"));
    }
    let idx = readers.len();
    let out = pth
        .tensor_infos()
        .values()
        .map(|info| {
            let dtype = matches!(info.dtype, DType::F32 | DType::F16 | DType::BF16).then_some(info.dtype);
            Entry {
                name: info.name.clone(),
                shape: info.layout.dims().to_vec(),
                dtype,
                dtype_name: format!("{:?}", info.dtype),
                file: path.to_path_buf(),
                location: Location::Pth { reader: idx, name: info.name.clone() },
            }
        })
        .collect();
    readers.push(pth);
    Ok(out)
}

fn list_weight_file(path: &Path, readers: &mut Vec<PthTensors>) -> Result<Vec<Entry>, ModelError> {
    if path.extension().and_then(|e| e.to_str()) == Some("safetensors") {
        list_safetensors(path)
    } else {
        list_pth(path, readers)
    }
}

/// The tensor table of a sharded checkpoint (`*.index.json` with a `weight_map`).
fn list_sharded(index_path: &Path, readers: &mut Vec<PthTensors>) -> Result<Vec<Entry>, ModelError> {
    let dir = index_path.parent().unwrap_or(Path::new("."));
    let index = read_json(index_path)?;
    let map = index
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| read_err(index_path, "no \"weight_map\" object"))?;
    let mut shard_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, file) in map {
        let file = file.as_str().ok_or_else(|| read_err(index_path, format!("weight_map entry `{name}` is not a file name")))?;
        if file.is_empty() || file.contains('/') || file.contains('\\') || file == "." || file == ".." {
            return Err(read_err(index_path, format!("weight_map names shard {file:?}, which is not a plain file name")));
        }
        shard_of.insert(name, file);
    }
    let shards: BTreeSet<&str> = shard_of.values().copied().collect();
    let mut out: Vec<Entry> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for shard in shards {
        let path = dir.join(shard);
        if !path.is_file() {
            return Err(read_err(index_path, format!("shard {shard} is listed but missing from {}", dir.display())));
        }
        for e in list_weight_file(&path, readers)? {
            if let Some(prev) = seen.insert(e.name.clone(), path.clone()) {
                return Err(read_err(&path, format!("tensor `{}` is stored in {} as well", e.name, prev.display())));
            }
            out.push(e);
        }
    }
    for (name, shard) in &shard_of {
        if seen.get(*name).and_then(|p| p.file_name()).and_then(|n| n.to_str()) != Some(shard) {
            return Err(read_err(index_path, format!("weight_map puts `{name}` in {shard}, which does not hold it")));
        }
    }
    Ok(out)
}

fn load_entry(entry: &Entry, readers: &[PthTensors]) -> Result<Tensor, ModelError> {
    let dtype = entry.dtype.ok_or_else(|| {
        read_err(
            &entry.file,
            format!("tensor `{}` is stored as {}; the encoder needs float32, float16 or bfloat16", entry.name, entry.dtype_name),
        )
    })?;
    let tensor = match &entry.location {
        Location::Safetensors { file, start, len } => {
            let mut f = File::open(file).map_err(|e| ModelError::io(file, e))?;
            f.seek(SeekFrom::Start(*start)).map_err(|e| ModelError::io(file, e))?;
            let mut buf = vec![0u8; *len as usize];
            f.read_exact(&mut buf).map_err(|e| ModelError::io(file, e))?;
            le_tensor(&buf, dtype, &entry.shape)?
        }
        Location::Pth { reader, name } => readers[*reader]
            .get(name)
            .map_err(|e| read_err(&entry.file, format!("cannot read tensor `{name}`: {e}")))?
            .ok_or_else(|| read_err(&entry.file, format!("tensor `{name}` vanished")))?,
    };
    if tensor.dims() != entry.shape.as_slice() || tensor.dtype() != dtype {
        return Err(read_err(
            &entry.file,
            format!("tensor `{}` read as {:?} {:?}, expected {:?} {dtype:?}", entry.name, tensor.dims(), tensor.dtype(), entry.shape),
        ));
    }
    Ok(tensor)
}

/// Reads the encoder of an HF Whisper folder (see the module docs).
pub fn read_hf_whisper_encoder(dir: &Path) -> Result<ImportedWhisperEncoder, ModelError> {
    let cfg_path = dir.join("config.json");
    if !cfg_path.is_file() {
        return Err(read_err(dir, "no config.json (an HF Whisper folder holds config.json and its weights)"));
    }
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ModelError::Config(format!("{}: not valid JSON: {e}", cfg_path.display())))?;
    match value.get("model_type").and_then(|v| v.as_str()) {
        Some("whisper") => {}
        other => {
            return Err(ModelError::Config(format!(
                "{}: model_type is {other:?}, expected \"whisper\"",
                cfg_path.display()
            )))
        }
    }
    let config = WhisperConfig::from_json_str(&text).map_err(|e| match e {
        ModelError::Config(m) => ModelError::Config(format!("{}: {m}", cfg_path.display())),
        other => other,
    })?;

    let weights = HF_WEIGHT_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()).ok_or_else(|| {
        read_err(dir, format!("no weights: expected one of {}", HF_WEIGHT_FILES.join(", ")))
    })?;
    let weights_name = weights.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let mut readers = Vec::new();
    let entries = if weights_name.ends_with(".index.json") {
        list_sharded(&weights, &mut readers)?
    } else {
        list_weight_file(&weights, &mut readers)?
    };

    let has = |p: &str| entries.iter().any(|e| e.name.starts_with(p));
    let (prefix, naming) = match (has("model.encoder."), has("encoder.")) {
        (true, true) => {
            return Err(read_err(
                &weights,
                "holds both `model.encoder.` and `encoder.` tensors: cannot tell which is the encoder",
            ))
        }
        (true, false) => ("model.encoder.", "WhisperForConditionalGeneration names"),
        (false, true) => ("encoder.", "WhisperModel names"),
        (false, false) => ("", "bare WhisperEncoder names"),
    };
    let mut kept: BTreeMap<String, &Entry> = BTreeMap::new();
    let mut dropped = Vec::new();
    for e in &entries {
        match e.name.strip_prefix(prefix) {
            Some(inner) => {
                kept.insert(inner.to_string(), e);
            }
            None => dropped.push(e.name.as_str()),
        }
    }
    let problems = check_encoder_shapes(&config, kept.iter().map(|(n, e)| (n.as_str(), e.shape.as_slice())));
    if !problems.is_empty() {
        return Err(ModelError::Weights(problems));
    }
    let mut tensors = HashMap::new();
    let mut dtypes = BTreeSet::new();
    for (name, entry) in &kept {
        let t = load_entry(entry, &readers)?;
        dtypes.insert(format!("{:?}", t.dtype()).to_lowercase());
        tensors.insert(name.clone(), t);
    }
    let dtypes = dtypes
        .into_iter()
        .map(|d| match d.as_str() {
            "f32" => "float32".to_string(),
            "f16" => "float16".to_string(),
            "bf16" => "bfloat16".to_string(),
            _ => d,
        })
        .collect::<Vec<_>>()
        .join("+");
    let mut notes = Vec::new();
    if !dropped.is_empty() {
        dropped.sort_unstable();
        let sample: Vec<&str> = dropped.iter().take(3).copied().collect();
        notes.push(format!(
            "left out {} tensor(s) that are not the encoder's (e.g. {})",
            dropped.len(),
            sample.join(", ")
        ));
    }
    let skipped = if dropped.is_empty() { "" } else { "; decoder skipped" };
    Ok(ImportedWhisperEncoder {
        config,
        tensors,
        source: format!("HF Whisper folder ({weights_name}, {naming}), {dtypes}{skipped}"),
        notes,
    })
}
