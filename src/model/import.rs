//! Turning outside weights into bundles: an HF wav2vec2 directory (backbone only, fresh head) or a
//! complete fused state_dict saved by the reference training script.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use super::wav2vec2::Wav2Vec2Model;
use super::weights::{build_checked, read_weights};
use super::{FusedConfig, FusedModel, ModelError, Wav2Vec2Config};

/// Top-level modules of an HF `Wav2Vec2Model`.
const BACKBONE_PREFIXES: [&str; 3] = ["feature_extractor.", "feature_projection.", "encoder."];

/// A config and the full set of fused-model tensors, ready for [`super::bundle::write_bundle`].
pub struct ImportedModel {
    pub config: FusedConfig,
    pub tensors: HashMap<String, Tensor>,
    /// Notes for the user (e.g. checkpoint tensors that were left out).
    pub notes: Vec<String>,
}

pub fn read_wav2vec2_config(path: &Path) -> Result<Wav2Vec2Config, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    Wav2Vec2Config::from_json_str(&text).map_err(|e| match e {
        ModelError::Config(m) => ModelError::Config(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// The weights file of an HF model directory.
pub fn hf_weights_file(dir: &Path) -> Result<PathBuf, ModelError> {
    ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| ModelError::Bundle {
            path: dir.display().to_string(),
            message: "neither model.safetensors nor pytorch_model.bin found (sharded checkpoints are not supported)"
                .into(),
        })
}

/// Removes a `module.` prefix that `nn.DataParallel` adds to every key.
fn strip_data_parallel(tensors: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    if !tensors.is_empty() && tensors.keys().all(|k| k.starts_with("module.")) {
        tensors.into_iter().map(|(k, v)| (k["module.".len()..].to_string(), v)).collect()
    } else {
        tensors
    }
}

/// `--wav2vec2 HF_DIR`: that backbone plus a freshly initialised head and pitch branch.
/// Accepts bare `Wav2Vec2Model` checkpoints and task models (`wav2vec2.` prefix, e.g. CTC), whose
/// task heads are left out.
pub fn import_hf_wav2vec2(hf_dir: &Path, head: &HeadOptions) -> Result<ImportedModel, ModelError> {
    let w2v_cfg = read_wav2vec2_config(&hf_dir.join("config.json"))?;
    let raw = strip_data_parallel(read_weights(&hf_weights_file(hf_dir)?)?);
    let prefixed = raw.keys().any(|k| k.starts_with("wav2vec2."));
    let mut backbone = HashMap::new();
    let mut dropped = Vec::new();
    for (name, tensor) in raw {
        let inner = if prefixed { name.strip_prefix("wav2vec2.").map(str::to_string) } else { Some(name.clone()) };
        match inner {
            Some(inner) if BACKBONE_PREFIXES.iter().any(|p| inner.starts_with(p)) => {
                backbone.insert(inner, tensor);
            }
            _ => dropped.push(name),
        }
    }
    build_checked(backbone.clone(), &Device::Cpu, |vb| Wav2Vec2Model::load(vb, &w2v_cfg))?;

    let config = head.apply(FusedConfig::reference(w2v_cfg));
    config.validate()?;
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().map_err(|_| ModelError::Internal("poisoned lock".into()))?;
        for (name, tensor) in &backbone {
            data.insert(format!("wav2vec2.{name}"), Var::from_tensor(tensor)?);
        }
    }
    FusedModel::load(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &config)?;
    let tensors = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Internal("poisoned lock".into()))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    let mut notes = Vec::new();
    if !dropped.is_empty() {
        dropped.sort();
        notes.push(format!("left out {} tensor(s) that are not part of Wav2Vec2Model: {}", dropped.len(), dropped.join(", ")));
    }
    Ok(ImportedModel { config, tensors, notes })
}

/// Head sizes that cannot be read from an HF directory.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    pub cross_heads: usize,
    pub self_heads: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { cross_heads: 16, self_heads: 8 }
    }
}

impl HeadOptions {
    fn apply(&self, mut cfg: FusedConfig) -> FusedConfig {
        cfg.cross_heads = self.cross_heads;
        cfg.self_heads = self.self_heads;
        cfg
    }
}

/// `--checkpoint FILE --wav2vec2-config CONFIG`: a complete fused state_dict. Sizes come from the
/// weights (LSTM, fc, feed-forward width) and the config; head counts from `head`.
pub fn import_checkpoint(checkpoint: &Path, w2v_config: &Path, head: &HeadOptions) -> Result<ImportedModel, ModelError> {
    let w2v_cfg = read_wav2vec2_config(w2v_config)?;
    let mut tensors = strip_data_parallel(read_weights(checkpoint)?);
    let dims = |name: &str| -> Result<Vec<usize>, ModelError> {
        tensors.get(name).map(|t| t.dims().to_vec()).ok_or_else(|| {
            ModelError::Weights(vec![super::TensorProblem::Missing { name: name.into(), expected: vec![] }])
        })
    };
    let hh = dims("lstm.weight_hh_l0")?;
    let ih = dims("lstm.weight_ih_l0")?;
    let fc = dims("fc.weight")?;
    let linear1 = dims("attn_a_p.linear1.weight")?;
    if hh.len() != 2 || ih.len() != 2 || fc.len() != 2 || linear1.len() != 2 || linear1[1] == 0 {
        return Err(ModelError::Config("lstm, fc or attn_a_p.linear1 weights are not matrices".into()));
    }
    let mut config = head.apply(FusedConfig::reference(w2v_cfg));
    config.lstm_hidden = hh[1];
    config.mfcc_dim = ih[1];
    config.fc_dim = fc[0];
    config.attn_ffn_multiplier = linear1[0] / linear1[1];
    config.validate()?;
    let mut notes = Vec::new();
    let ignorable: Vec<String> = tensors.keys().filter(|k| k.ends_with("masked_spec_embed")).cloned().collect();
    for name in ignorable {
        tensors.remove(&name);
        notes.push(format!("left out training-only tensor {name}"));
    }
    build_checked(tensors.clone(), &Device::Cpu, |vb| FusedModel::load(vb, &config))?;
    Ok(ImportedModel { config, tensors, notes })
}

/// How `--whisper DIR` shapes the Whisper branch and the head around it.
#[derive(Debug, Clone)]
pub struct WhisperImportOptions {
    /// The head's sizes (pitch branch conv stack and width, LSTM, attention heads, fc) come from
    /// this config; its backbone is replaced.
    pub head: FusedConfig,
    /// Encoder layers to run (`None`: all).
    pub layers: Option<usize>,
    pub normalize_layers: bool,
    pub frame_pooling: usize,
    /// Seed of the fresh head's weights.
    pub seed: u64,
}

/// `--whisper DIR`: Whisper's encoder from a CTranslate2 or HF folder (weights kept in their
/// stored precision, e.g. float16), only the layers that run, with a freshly initialised head
/// (softmax layer weights start equal).
pub fn import_whisper(dir: &Path, options: &WhisperImportOptions) -> Result<ImportedModel, ModelError> {
    let imported = super::whisper::hf_import::read_whisper_dir(dir)?;
    let encoder_cfg = imported.config.clone();
    let layers = options.layers.unwrap_or(encoder_cfg.encoder_layers);
    let mut config = options.head.clone();
    config.backbone = super::config::Backbone::Whisper;
    config.whisper = Some(super::config::WhisperBranchConfig {
        encoder: encoder_cfg.clone(),
        layers,
        normalize_layers: options.normalize_layers,
        frame_pooling: options.frame_pooling,
        per_call_centring: false,
        stats_head: false,
        stats_centring: false,
    });
    config.validate()?;
    let keep = |name: &str| -> bool {
        match name.strip_prefix("layers.") {
            Some(rest) => rest.split('.').next().and_then(|i| i.parse::<usize>().ok()).is_some_and(|i| i < layers),
            None => name != "layer_norm.weight" && name != "layer_norm.bias" || layers == encoder_cfg.encoder_layers,
        }
    };
    let mut dropped = 0usize;
    let mut encoder = HashMap::new();
    for (name, tensor) in imported.tensors {
        if keep(&name) {
            encoder.insert(format!("whisper.{name}"), tensor);
        } else {
            dropped += 1;
        }
    }
    // Fresh head variables, seeded; the encoder's are taken as they are.
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().map_err(|_| ModelError::Internal("poisoned lock".into()))?;
        for (name, tensor) in &encoder {
            data.insert(name.clone(), Var::from_tensor(&tensor.to_dtype(DType::F32)?)?);
        }
    }
    let vb = crate::training::init::seeded_var_builder(&varmap, options.seed, &Device::Cpu);
    FusedModel::load(vb, &config)?;
    let mut tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Internal("poisoned lock".into()))?
        .iter()
        .filter(|(k, _)| !encoder.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    tensors.extend(encoder);
    let mut notes = imported.notes;
    notes.push(format!("{}; encoder {} wide, {} of {} layers kept", imported.source, encoder_cfg.d_model, layers, encoder_cfg.encoder_layers));
    if dropped > 0 {
        notes.push(format!("left out {dropped} tensor(s) of the layers that do not run"));
    }
    Ok(ImportedModel { config, tensors, notes })
}
