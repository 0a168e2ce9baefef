//! A strict reader of CTranslate2 `model.bin` files, and the Whisper encoder in them mapped to HF
//! `WhisperEncoder` names (SPEC §5b).
//!
//! Layout (CTranslate2's `ModelSpec._serialize` / `models::Model::load`; little-endian, no padding):
//! `u32 binary_version; str spec_name; u32 spec_revision; u32 n; n × {str name; u8 rank;
//! u32 dims[rank]; u8 dtype; u32 nbytes; nbytes raw row-major bytes}; u32 n_aliases;
//! n_aliases × {str alias; str target}`, where `str` is a u16 length that counts a trailing NUL,
//! then the UTF-8 bytes and the NUL. dtype codes: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16,
//! 5 bfloat16. Binary versions 4, 5 and 6 share this layout and are read; versions 1 to 3 stored an
//! item size instead of a dtype code (2 bytes could then only mean int16) and are refused, as are
//! versions above 6 (written by a later CTranslate2).
//!
//! Quantisation (`LayerSpec._quantize`, `ops::Dequantize` on the CPU): an int8 weight `W` comes with
//! `W_scale`, float32, one value per output row (row = first axis; a conv weight [out, in, k] is
//! scaled per `out`): `q = rint(w × scale)`, read back as `q × (1 / scale)` in float32 as
//! CTranslate2's CPU dequantiser does. int16 weights have one float32 scalar scale for the whole
//! tensor. An alias `A -> T` also aliases `A_scale -> T_scale`. Scalars such as `encoder/num_heads`
//! (int16) are configuration, not weights.
//!
//! Every length is checked against the bytes that are left and every variable's dims × element size
//! against its byte count before anything is allocated; errors name the file and the byte offset.
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Tensor};

use super::config::WhisperConfig;
use super::hf_import::{check_encoder_shapes, le_tensor, ImportedWhisperEncoder};
use crate::model::weights::describe_problems;
use crate::model::{ModelError, TensorProblem};

/// The weights file of a CTranslate2 model folder.
pub const MODEL_BIN: &str = "model.bin";
/// Spec name of CTranslate2 Whisper models.
pub const WHISPER_SPEC: &str = "WhisperSpec";
/// Binary versions this reader understands (all share one layout).
pub const MIN_BINARY_VERSION: u32 = 4;
pub const MAX_BINARY_VERSION: u32 = 6;
/// Latest `WhisperSpec` revision known (CTranslate2 4.x). Revisions 1–3 share the encoder's variable
/// names (3 split the encoder's and decoder's layer and head counts; revision 1 files may lack
/// `encoder/num_heads`).
pub const MAX_WHISPER_SPEC_REVISION: u32 = 3;
/// d_model of every released Whisper size (tiny … large); all use 64-wide attention heads.
const RELEASED_WHISPER_WIDTHS: [usize; 5] = [384, 512, 768, 1024, 1280];

/// A CTranslate2 variable's element type (the dtype code is the enum order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ct2DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2DType {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn size(self) -> usize {
        match self {
            Self::F32 | Self::I32 => 4,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::I8 => 1,
        }
    }

    /// CTranslate2's name ("float32", "int8", …).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
        }
    }

    /// The candle dtype of a float variable (`None` for integer ones).
    pub fn float_dtype(self) -> Option<DType> {
        match self {
            Self::F32 => Some(DType::F32),
            Self::F16 => Some(DType::F16),
            Self::BF16 => Some(DType::BF16),
            _ => None,
        }
    }
}

/// The header of a `model.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct2Header {
    pub binary_version: u32,
    pub spec_name: String,
    pub spec_revision: u32,
}

/// One stored variable: where its raw bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct2Variable {
    pub name: String,
    pub dims: Vec<usize>,
    pub dtype: Ct2DType,
    /// Byte range of the data in the file.
    pub data: Range<usize>,
}

/// The table of contents of a `model.bin` (no data copied).
#[derive(Debug, Clone)]
pub struct Ct2Index {
    pub header: Ct2Header,
    /// In file order.
    pub variables: Vec<Ct2Variable>,
    /// (alias, target) in file order; every target resolves to a variable.
    pub aliases: Vec<(String, String)>,
    by_name: HashMap<String, usize>,
    alias_of: HashMap<String, String>,
}

fn corrupt(path: &Path, at: usize, message: impl std::fmt::Display) -> ModelError {
    ModelError::Read {
        path: path.display().to_string(),
        message: format!("invalid CTranslate2 model.bin at byte offset {at}: {message}"),
    }
}

fn file_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Read { path: path.display().to_string(), message: message.into() }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], ModelError> {
        let left = self.left();
        if n > left {
            return Err(corrupt(
                self.path,
                self.pos,
                format!(
                    "the file ends while reading {}: {n} byte(s) needed, {left} left (the file has {} bytes; truncated?)",
                    what(),
                    self.bytes.len()
                ),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, ModelError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, ModelError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, ModelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// u16 length (counting the trailing NUL), bytes, NUL.
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, ModelError> {
        let at = self.pos;
        let len = self.u16(&|| format!("the length of {}", what()))? as usize;
        if len == 0 {
            return Err(corrupt(self.path, at, format!("{}: length 0 (CTranslate2 strings count their trailing NUL)", what())));
        }
        let raw = self.take(len, what)?;
        let (body, nul) = raw.split_at(len - 1);
        if nul[0] != 0 || body.contains(&0) {
            return Err(corrupt(self.path, at, format!("{}: not a NUL-terminated string of {len} bytes", what())));
        }
        String::from_utf8(body.to_vec()).map_err(|_| corrupt(self.path, at, format!("{} is not UTF-8", what())))
    }
}

impl Ct2Header {
    /// Reads and checks the header; returns it and the offset of the variable count.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<(Self, usize), ModelError> {
        let mut c = Cursor { bytes, pos: 0, path };
        let binary_version = c.u32(&|| "the binary version".into())?;
        if binary_version > MAX_BINARY_VERSION {
            return Err(corrupt(
                path,
                0,
                format!(
                    "binary version {binary_version} is not supported (this reader knows versions \
                     {MIN_BINARY_VERSION} to {MAX_BINARY_VERSION}): written by a later CTranslate2, or not a model.bin at all"
                ),
            ));
        }
        if binary_version < MIN_BINARY_VERSION {
            return Err(corrupt(
                path,
                0,
                format!(
                    "binary version {binary_version} is not supported (this reader knows versions \
                     {MIN_BINARY_VERSION} to {MAX_BINARY_VERSION}): versions before 4 store an item size instead of \
                     a dtype code (CTranslate2 reads 2-byte items as int16); re-convert the model with a current CTranslate2"
                ),
            ));
        }
        let spec_name = c.string(&|| "the spec name".into())?;
        let spec_revision = c.u32(&|| "the spec revision".into())?;
        Ok((Self { binary_version, spec_name, spec_revision }, c.pos))
    }
}

impl Ct2Index {
    /// Parses a whole `model.bin` held in `bytes` (`path` is for messages).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, ModelError> {
        let (header, pos) = Ct2Header::parse(bytes, path)?;
        Self::parse_body(bytes, path, header, pos)
    }

    /// Parses the variables and aliases that follow a header read by [`Ct2Header::parse`].
    pub fn parse_body(bytes: &[u8], path: &Path, header: Ct2Header, pos: usize) -> Result<Self, ModelError> {
        let mut c = Cursor { bytes, pos, path };
        let count_at = c.pos;
        let n = c.u32(&|| "the variable count".into())? as usize;
        // A variable takes at least 9 bytes (name length + NUL, rank, dtype, byte count).
        if n.saturating_mul(9) > c.left() {
            return Err(corrupt(path, count_at, format!("{n} variables cannot fit in the {} bytes that follow", c.left())));
        }
        let mut variables: Vec<Ct2Variable> = Vec::new();
        let mut by_name = HashMap::new();
        for i in 0..n {
            let start = c.pos;
            let name = c.string(&|| format!("the name of variable #{i}"))?;
            let rank = c.u8(&|| format!("the rank of `{name}`"))? as usize;
            let dims: Vec<usize> = c
                .take(4 * rank, &|| format!("the {rank} dimension(s) of `{name}`"))?
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .collect();
            let code_at = c.pos;
            let code = c.u8(&|| format!("the dtype of `{name}`"))?;
            let dtype = Ct2DType::from_code(code).ok_or_else(|| {
                corrupt(
                    path,
                    code_at,
                    format!(
                        "variable `{name}` has unknown dtype code {code} (known: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16)"
                    ),
                )
            })?;
            let nbytes_at = c.pos;
            let nbytes = c.u32(&|| format!("the byte count of `{name}`"))? as usize;
            let want = dims.iter().try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64));
            if want != Some(nbytes as u64) {
                return Err(corrupt(
                    path,
                    nbytes_at,
                    format!(
                        "variable `{name}` declares {nbytes} bytes, but dims {dims:?} of {} ({} byte(s) each) make {}",
                        dtype.name(),
                        dtype.size(),
                        want.map_or("more than 2^64".to_string(), |w| w.to_string())
                    ),
                ));
            }
            let data_at = c.pos;
            c.take(nbytes, &|| format!("the {nbytes} data bytes of `{name}`"))?;
            if by_name.insert(name.clone(), variables.len()).is_some() {
                return Err(corrupt(path, start, format!("variable `{name}` is stored twice")));
            }
            variables.push(Ct2Variable { name, dims, dtype, data: data_at..data_at + nbytes });
        }

        // Binary versions >= 3 end with the alias table.
        let count_at = c.pos;
        let n_aliases = c.u32(&|| "the alias count".into())? as usize;
        if n_aliases.saturating_mul(6) > c.left() {
            return Err(corrupt(path, count_at, format!("{n_aliases} aliases cannot fit in the {} bytes that follow", c.left())));
        }
        let mut aliases = Vec::new();
        let mut alias_of = HashMap::new();
        let mut alias_at = HashMap::new();
        for j in 0..n_aliases {
            let at = c.pos;
            let alias = c.string(&|| format!("the name of alias #{j}"))?;
            let target = c.string(&|| format!("the target of alias `{alias}`"))?;
            if by_name.contains_key(&alias) {
                return Err(corrupt(path, at, format!("alias `{alias}` has the name of a stored variable")));
            }
            if alias_of.insert(alias.clone(), target.clone()).is_some() {
                return Err(corrupt(path, at, format!("alias `{alias}` is defined twice")));
            }
            alias_at.insert(alias.clone(), at);
            aliases.push((alias, target));
        }
        if c.left() != 0 {
            return Err(corrupt(path, c.pos, format!("{} unexpected byte(s) after the alias table", c.left())));
        }
        let index = Self { header, variables, aliases, by_name, alias_of };
        for (alias, target) in &index.aliases {
            if index.resolve(alias).is_none() {
                return Err(corrupt(
                    path,
                    alias_at[alias],
                    format!("alias `{alias}` points at `{target}`, which is neither a variable nor an alias of one"),
                ));
            }
        }
        Ok(index)
    }

    /// The variable stored under `name` itself (aliases not followed).
    pub fn variable(&self, name: &str) -> Option<&Ct2Variable> {
        self.by_name.get(name).map(|&i| &self.variables[i])
    }

    /// The target of alias `name`, if it is one.
    pub fn alias_target(&self, name: &str) -> Option<&str> {
        self.alias_of.get(name).map(String::as_str)
    }

    /// The variable `name` denotes, following aliases (chains included, cycles refused).
    pub fn resolve(&self, name: &str) -> Option<&Ct2Variable> {
        let mut cur = name;
        for _ in 0..=self.aliases.len() {
            if let Some(v) = self.variable(cur) {
                return Some(v);
            }
            cur = self.alias_target(cur)?;
        }
        None
    }

    /// Every name (variables and aliases).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.iter().map(|v| v.name.as_str()).chain(self.aliases.iter().map(|(a, _)| a.as_str()))
    }
}

/// Reads the Whisper encoder of a CTranslate2 model: `path` is the folder (holding `model.bin`,
/// and usually a `config.json` of decoding settings, which is not needed) or the `model.bin` itself.
/// The file is read once; only the encoder's variables (and the decoder variables some of them are
/// aliases of) are copied out.
pub fn read_ct2_whisper_encoder(path: &Path) -> Result<ImportedWhisperEncoder, ModelError> {
    let file = if path.is_dir() { path.join(MODEL_BIN) } else { path.to_path_buf() };
    if !file.is_file() {
        return Err(file_err(&file, "no such file (a CTranslate2 model folder holds model.bin)"));
    }
    let bytes = std::fs::read(&file).map_err(|e| ModelError::io(&file, e))?;
    let (header, pos) = Ct2Header::parse(&bytes, &file)?;
    if header.spec_name != WHISPER_SPEC {
        return Err(file_err(
            &file,
            format!(
                "a CTranslate2 `{}` model, not Whisper (expected spec `{WHISPER_SPEC}`)",
                header.spec_name
            ),
        ));
    }
    if header.spec_revision == 0 || header.spec_revision > MAX_WHISPER_SPEC_REVISION {
        return Err(file_err(
            &file,
            format!(
                "{WHISPER_SPEC} revision {} is not supported (known: 1 to {MAX_WHISPER_SPEC_REVISION}; a later one comes from a newer CTranslate2)",
                header.spec_revision
            ),
        ));
    }
    let index = Ct2Index::parse_body(&bytes, &file, header, pos)?;
    let mut notes = Vec::new();
    if let Some(cfg) = file.parent().map(|d| d.join("config.json")).filter(|p| p.is_file()) {
        let ok = std::fs::read_to_string(&cfg)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v.is_object());
        if !ok {
            notes.push(format!(
                "{} is not a JSON object; ignored (CTranslate2 keeps only decoding settings there)",
                cfg.display()
            ));
        }
    }
    whisper_encoder(&bytes, &index, &file, notes)
}

/// CTranslate2 name -> HF name of the encoder tensors that map one to one.
fn direct_names(layers: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("encoder/conv1/weight", "conv1.weight"),
        ("encoder/conv1/bias", "conv1.bias"),
        ("encoder/conv2/weight", "conv2.weight"),
        ("encoder/conv2/bias", "conv2.bias"),
        ("encoder/position_encodings/encodings", "embed_positions.weight"),
        ("encoder/layer_norm/gamma", "layer_norm.weight"),
        ("encoder/layer_norm/beta", "layer_norm.bias"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for i in 0..layers {
        let (c, h) = (format!("encoder/layer_{i}/"), format!("layers.{i}."));
        for (cs, hs) in [
            ("self_attention/linear_1/weight", "self_attn.out_proj.weight"),
            ("self_attention/linear_1/bias", "self_attn.out_proj.bias"),
            ("self_attention/layer_norm/gamma", "self_attn_layer_norm.weight"),
            ("self_attention/layer_norm/beta", "self_attn_layer_norm.bias"),
            ("ffn/linear_0/weight", "fc1.weight"),
            ("ffn/linear_0/bias", "fc1.bias"),
            ("ffn/linear_1/weight", "fc2.weight"),
            ("ffn/linear_1/bias", "fc2.bias"),
            ("ffn/layer_norm/gamma", "final_layer_norm.weight"),
            ("ffn/layer_norm/beta", "final_layer_norm.bias"),
        ] {
            out.push((format!("{c}{cs}"), format!("{h}{hs}")));
        }
    }
    out
}

/// Every encoder variable of a `WhisperSpec` for `cfg` with its shape (scales and `num_heads` aside).
fn expected_ct2_shapes(cfg: &WhisperConfig) -> Vec<(String, Vec<usize>)> {
    let (d, f) = (cfg.d_model, cfg.encoder_ffn_dim);
    let mut out: Vec<(String, Vec<usize>)> = vec![
        ("encoder/conv1/weight".into(), vec![d, cfg.num_mel_bins, 3]),
        ("encoder/conv1/bias".into(), vec![d]),
        ("encoder/conv2/weight".into(), vec![d, d, 3]),
        ("encoder/conv2/bias".into(), vec![d]),
        ("encoder/position_encodings/encodings".into(), vec![cfg.max_source_positions, d]),
        ("encoder/layer_norm/gamma".into(), vec![d]),
        ("encoder/layer_norm/beta".into(), vec![d]),
    ];
    for i in 0..cfg.encoder_layers {
        let p = format!("encoder/layer_{i}/");
        out.extend([
            (format!("{p}self_attention/linear_0/weight"), vec![3 * d, d]),
            (format!("{p}self_attention/linear_0/bias"), vec![3 * d]),
            (format!("{p}self_attention/linear_1/weight"), vec![d, d]),
            (format!("{p}self_attention/linear_1/bias"), vec![d]),
            (format!("{p}self_attention/layer_norm/gamma"), vec![d]),
            (format!("{p}self_attention/layer_norm/beta"), vec![d]),
            (format!("{p}ffn/linear_0/weight"), vec![f, d]),
            (format!("{p}ffn/linear_0/bias"), vec![f]),
            (format!("{p}ffn/linear_1/weight"), vec![d, f]),
            (format!("{p}ffn/linear_1/bias"), vec![d]),
            (format!("{p}ffn/layer_norm/gamma"), vec![d]),
            (format!("{p}ffn/layer_norm/beta"), vec![d]),
        ]);
    }
    out
}

/// The index of `encoder/layer_<i>/…` names (plain decimal, no leading zeros).
fn layer_index(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("encoder/layer_")?;
    let (idx, _) = rest.split_once('/')?;
    let plain = !idx.is_empty() && idx.len() <= 6 && idx.bytes().all(|b| b.is_ascii_digit()) && (idx == "0" || !idx.starts_with('0'));
    plain.then(|| idx.parse().ok()).flatten()
}

fn le_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Copies variables out of the file bytes as tensors.
struct Reader<'a> {
    bytes: &'a [u8],
    index: &'a Ct2Index,
    file: &'a Path,
}

impl Reader<'_> {
    fn fail(&self, m: String) -> ModelError {
        file_err(self.file, m)
    }

    /// The quantisation scale of `name` (directly, or the scale of the variable it aliases).
    fn scale_for(&self, name: &str, var: &Ct2Variable) -> Option<&Ct2Variable> {
        self.index.resolve(&format!("{name}_scale")).or_else(|| self.index.resolve(&format!("{}_scale", var.name)))
    }

    /// Rows `rows` (first axis; all when `None`) of variable `name` as a tensor: float dtypes as
    /// stored, int8/int16 dequantised to f32.
    fn tensor(&self, name: &str, rows: Option<Range<usize>>) -> Result<Tensor, ModelError> {
        let var = self.index.resolve(name).ok_or_else(|| ModelError::Internal(format!("`{name}` vanished")))?;
        let total_rows = *var.dims.first().ok_or_else(|| self.fail(format!("`{name}` is a scalar, expected a tensor")))?;
        let rows = rows.unwrap_or(0..total_rows);
        let row_elems: usize = var.dims[1..].iter().product();
        let row_bytes = row_elems * var.dtype.size();
        let data = &self.bytes[var.data.start + rows.start * row_bytes..var.data.start + rows.end * row_bytes];
        let mut dims = var.dims.clone();
        dims[0] = rows.len();
        let scale = self.scale_for(name, var);
        match (var.dtype.float_dtype(), var.dtype, scale) {
            (Some(dtype), _, None) => le_tensor(data, dtype, &dims),
            (Some(_), _, Some(s)) => Err(self.fail(format!(
                "`{name}` is stored as {} but has a quantisation scale `{}`",
                var.dtype.name(),
                s.name
            ))),
            (None, Ct2DType::I8, Some(s)) => {
                if s.dtype != Ct2DType::F32 || s.dims != [total_rows] {
                    return Err(self.fail(format!(
                        "int8 `{name}` {:?} needs a float32 [{total_rows}] scale (one per output row); `{}` is {} {:?}",
                        var.dims,
                        s.name,
                        s.dtype.name(),
                        s.dims
                    )));
                }
                let scales = le_f32s(&self.bytes[s.data.clone()]);
                if let Some(bad) = scales.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                    return Err(self.fail(format!("`{}` holds {bad}; int8 scales are positive (127 / max |row|)", s.name)));
                }
                let mut out = Vec::with_capacity(rows.len() * row_elems);
                for (r, chunk) in rows.clone().zip(data.chunks_exact(row_elems.max(1))) {
                    let inv = 1.0f32 / scales[r];
                    out.extend(chunk.iter().map(|&q| (q as i8) as f32 * inv));
                }
                Ok(Tensor::from_vec(out, dims, &candle_core::Device::Cpu)?)
            }
            (None, Ct2DType::I16, Some(s)) => {
                if s.dtype != Ct2DType::F32 || !s.dims.is_empty() {
                    return Err(self.fail(format!(
                        "int16 `{name}` needs a float32 scalar scale; `{}` is {} {:?}",
                        s.name,
                        s.dtype.name(),
                        s.dims
                    )));
                }
                let scale = le_f32s(&self.bytes[s.data.clone()])[0];
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(self.fail(format!("`{}` holds {scale}; int16 scales are positive", s.name)));
                }
                let inv = 1.0f32 / scale;
                let out: Vec<f32> =
                    data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 * inv).collect();
                Ok(Tensor::from_vec(out, dims, &candle_core::Device::Cpu)?)
            }
            (None, Ct2DType::I8 | Ct2DType::I16, None) => Err(self.fail(format!(
                "`{name}` is stored as {} but `{name}_scale` is missing",
                var.dtype.name()
            ))),
            (None, _, _) => Err(self.fail(format!("`{name}` is stored as {}, which is not a weight type", var.dtype.name()))),
        }
    }

    /// An integer scalar (rank 0), e.g. `encoder/num_heads`.
    fn int_scalar(&self, var: &Ct2Variable) -> Result<i64, ModelError> {
        let b = &self.bytes[var.data.clone()];
        let v = match (var.dims.is_empty(), var.dtype) {
            (true, Ct2DType::I8) => b[0] as i8 as i64,
            (true, Ct2DType::I16) => i16::from_le_bytes([b[0], b[1]]) as i64,
            (true, Ct2DType::I32) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => {
                return Err(self.fail(format!(
                    "`{}` should be an integer scalar, found {} {:?}",
                    var.name,
                    var.dtype.name(),
                    var.dims
                )))
            }
        };
        Ok(v)
    }
}

fn dims_of<'a>(index: &'a Ct2Index, name: &str) -> Option<&'a [usize]> {
    index.resolve(name).map(|v| v.dims.as_slice())
}

/// Maps the encoder of a parsed `WhisperSpec` file to HF names.
fn whisper_encoder(bytes: &[u8], index: &Ct2Index, file: &Path, mut notes: Vec<String>) -> Result<ImportedWhisperEncoder, ModelError> {
    let fail = |m: String| file_err(file, m);
    let encoder_names: BTreeSet<&str> = index.names().filter(|n| n.starts_with("encoder/")).collect();
    let skipped = index.variables.iter().filter(|v| !v.name.starts_with("encoder/")).count();

    // Sizes from shapes.
    let layers = encoder_names.iter().filter_map(|n| layer_index(n)).max().map_or(0, |m| m + 1);
    if layers == 0 {
        return Err(fail("no encoder layers (`encoder/layer_0/…`) in this WhisperSpec file".into()));
    }
    let conv1 = dims_of(index, "encoder/conv1/weight")
        .ok_or_else(|| fail("`encoder/conv1/weight` is missing: the encoder's width cannot be derived".into()))?;
    if conv1.len() != 3 || conv1[2] != 3 {
        return Err(fail(format!("`encoder/conv1/weight` has shape {conv1:?}, expected [d_model, mel bins, 3]")));
    }
    let (d_model, num_mel_bins) = (conv1[0], conv1[1]);
    let positions = match dims_of(index, "encoder/position_encodings/encodings") {
        Some(&[p, _]) => p,
        Some(other) => return Err(fail(format!("`encoder/position_encodings/encodings` has shape {other:?}, expected [positions, d_model]"))),
        None => return Err(fail("`encoder/position_encodings/encodings` is missing".into())),
    };
    let ffn = match dims_of(index, "encoder/layer_0/ffn/linear_0/weight") {
        Some(&[f, _]) => f,
        Some(other) => return Err(fail(format!("`encoder/layer_0/ffn/linear_0/weight` has shape {other:?}, expected [ffn, d_model]"))),
        None => return Err(fail("`encoder/layer_0/ffn/linear_0/weight` is missing".into())),
    };
    let reader = Reader { bytes, index, file };
    let heads = match index.resolve("encoder/num_heads") {
        Some(var) => {
            let h = reader.int_scalar(var)?;
            if h <= 0 {
                return Err(fail(format!("`encoder/num_heads` is {h}")));
            }
            h as usize
        }
        None if RELEASED_WHISPER_WIDTHS.contains(&d_model) => {
            notes.push(format!(
                "no `encoder/num_heads` in this {WHISPER_SPEC} revision {} file: assumed {} heads (d_model {d_model} / 64; \
                 every released Whisper size uses 64-wide heads; CTranslate2 itself would assume 8)",
                index.header.spec_revision,
                d_model / 64
            ));
            d_model / 64
        }
        None => {
            return Err(fail(format!(
                "no `encoder/num_heads`, and d_model {d_model} is not a released Whisper width (384, 512, 768, 1024, 1280, \
                 all with 64-wide heads): the head count cannot be derived"
            )))
        }
    };
    let mut extra = serde_json::Map::new();
    extra.insert("model_type".into(), "whisper".into());
    let config = WhisperConfig {
        d_model,
        encoder_layers: layers,
        encoder_attention_heads: heads,
        encoder_ffn_dim: ffn,
        num_mel_bins,
        max_source_positions: positions,
        activation_function: "gelu".into(),
        extra,
    };
    config.validate().map_err(|e| fail(format!("the encoder sizes read from the shapes are not usable: {e}")))?;

    // Every name and shape, all problems at once.
    let expected = expected_ct2_shapes(&config);
    let mut allowed: BTreeSet<String> = expected.iter().map(|(n, _)| n.clone()).collect();
    allowed.insert("encoder/num_heads".into());
    for (n, _) in &expected {
        if n.ends_with("/weight") {
            allowed.insert(format!("{n}_scale"));
        }
    }
    let mut problems = Vec::new();
    for (name, shape) in &expected {
        match dims_of(index, name) {
            None => problems.push(TensorProblem::Missing { name: name.clone(), expected: shape.clone() }),
            Some(d) if d != shape.as_slice() => {
                problems.push(TensorProblem::Shape { name: name.clone(), expected: shape.clone(), found: d.to_vec() })
            }
            Some(_) => {}
        }
    }
    for name in &encoder_names {
        if !allowed.contains(*name) {
            let shape = dims_of(index, name).map(<[usize]>::to_vec).unwrap_or_default();
            problems.push(TensorProblem::Unexpected { name: name.to_string(), shape });
        }
    }
    if !problems.is_empty() {
        return Err(fail(format!(
            "the encoder variables do not fit a Whisper encoder of the size read from its shapes \
             (d_model {d_model}, {layers} layers, FFN {ffn}, {num_mel_bins} mel bins, {positions} positions):\n{}",
            describe_problems(&problems)
        )));
    }

    // Copy out.
    let mut tensors = HashMap::new();
    let mut weight_dtypes = BTreeSet::new();
    let mut other_dtypes = BTreeSet::new();
    let mut note_dtype = |ct2: &str| {
        if let Some(v) = index.resolve(ct2) {
            if ct2.ends_with("/weight") { weight_dtypes.insert(v.dtype) } else { other_dtypes.insert(v.dtype) };
        }
    };
    for (ct2, hf) in direct_names(layers) {
        note_dtype(&ct2);
        tensors.insert(hf, reader.tensor(&ct2, None)?);
    }
    let d = d_model;
    let mut nonzero_k_bias = Vec::new();
    for i in 0..layers {
        let (w, b) = (
            format!("encoder/layer_{i}/self_attention/linear_0/weight"),
            format!("encoder/layer_{i}/self_attention/linear_0/bias"),
        );
        note_dtype(&w);
        note_dtype(&b);
        let h = format!("layers.{i}.self_attn.");
        for (k, proj) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
            tensors.insert(format!("{h}{proj}.weight"), reader.tensor(&w, Some(k * d..(k + 1) * d))?);
        }
        tensors.insert(format!("{h}q_proj.bias"), reader.tensor(&b, Some(0..d))?);
        tensors.insert(format!("{h}v_proj.bias"), reader.tensor(&b, Some(2 * d..3 * d))?);
        let k_bias = reader.tensor(&b, Some(d..2 * d))?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let max = k_bias.iter().fold(0f32, |m, v| m.max(v.abs()));
        if max != 0.0 {
            nonzero_k_bias.push(format!("layer {i}: max |b| = {max:e}"));
        }
    }
    if !nonzero_k_bias.is_empty() {
        notes.push(format!(
            "the key third of the fused q/k/v bias is not zero ({}); HF Whisper's k_proj has no bias, so it was dropped. \
             A key bias adds the same amount to every key's score for a given query, which softmax cancels, so the \
             encoder's output does not change",
            nonzero_k_bias.join("; ")
        ));
    }
    let aliased: Vec<String> = encoder_names
        .iter()
        .filter_map(|n| index.alias_target(n).map(|t| format!("`{n}` -> `{t}`")))
        .collect();
    if !aliased.is_empty() {
        notes.push(format!("{} encoder variable(s) are stored as aliases, read through their targets: {}", aliased.len(), aliased.join(", ")));
    }

    let problems = check_encoder_shapes(&config, tensors.iter().map(|(n, t)| (n.as_str(), t.dims())));
    if !problems.is_empty() {
        return Err(ModelError::Internal(format!("CTranslate2 mapping is incomplete:\n{}", describe_problems(&problems))));
    }
    let describe = |set: &BTreeSet<Ct2DType>| set.iter().map(|d| d.name()).collect::<Vec<_>>().join("+");
    let (wd, od) = (describe(&weight_dtypes), describe(&other_dtypes));
    let quantised = weight_dtypes.iter().any(|d| d.float_dtype().is_none());
    if quantised {
        notes.push(
            "int8/int16 weights were dequantised to float32 (q × (1 / scale), one scale per output row for int8, as \
             CTranslate2's CPU dequantiser does)"
                .into(),
        );
    }
    let dtypes = match (quantised, wd == od) {
        (false, true) => wd,
        (true, _) => format!("{wd} weights (dequantised to float32), {od} others"),
        (false, false) => format!("{wd} weights, {od} others"),
    };
    let h = &index.header;
    let skipped = if skipped > 0 { "; decoder skipped" } else { "" };
    Ok(ImportedWhisperEncoder {
        config,
        tensors,
        source: format!("CTranslate2 model.bin v{}, {} rev {}, {dtypes}{skipped}", h.binary_version, h.spec_name, h.spec_revision),
        notes,
    })
}
