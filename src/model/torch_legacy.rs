//! PyTorch's legacy (pre-1.6, non-zip) `torch.save` format, which candle's pickle reader does not
//! open: five pickles back to back (magic number, protocol version, system info, the saved object,
//! the sorted storage keys), then every storage as its element count (little-endian u64) and raw
//! bytes, in key order. Checkpoints of that age are still common (Resemblyzer's speaker encoder is
//! one). Only the tensors of one dictionary are read, as f32.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use super::ModelError;

/// `pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)`: the legacy format's first bytes.
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];
/// The only legacy protocol version torch ever wrote.
const PROTOCOL_VERSION: i64 = 1001;

/// Does the file start like a legacy `torch.save`?
pub fn is_legacy_torch_file(path: &Path) -> bool {
    let mut head = [0u8; MAGIC_PICKLE.len()];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == MAGIC_PICKLE
}

/// Reads the tensors of the saved dictionary, or of its entry `key` (e.g. `model_state` in a
/// training checkpoint that also holds the optimiser), as f32 on the CPU.
pub fn read_legacy_state_dict(path: &Path, key: Option<&str>) -> Result<HashMap<String, Tensor>, ModelError> {
    let bad = |message: String| ModelError::Read { path: path.display().to_string(), message };
    let file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; MAGIC_PICKLE.len()];
    reader.read_exact(&mut magic).map_err(|e| ModelError::io(path, e))?;
    if magic != MAGIC_PICKLE {
        return Err(bad("not a legacy PyTorch file (wrong magic number)".into()));
    }
    let protocol = read_pickle(&mut reader).map_err(|e| bad(format!("protocol version: {e}")))?;
    if protocol.int_or_long().ok() != Some(PROTOCOL_VERSION) {
        return Err(bad("unsupported legacy protocol version".into()));
    }
    let sys_info = read_pickle(&mut reader).map_err(|e| bad(format!("system info: {e}")))?;
    let little_endian = sys_info.dict().ok().and_then(|entries| {
        entries.into_iter().find(|(k, _)| *k == Object::Unicode("little_endian".into())).and_then(|(_, v)| v.bool().ok())
    });
    if little_endian != Some(true) {
        return Err(bad("saved on a big-endian machine or without system info; not supported".into()));
    }
    let saved = read_pickle(&mut reader).map_err(|e| bad(format!("saved object: {e}")))?;
    let keys: Vec<String> = match read_pickle(&mut reader) {
        Ok(Object::List(items) | Object::Tuple(items)) => items.into_iter().map(|k| k.unicode().ok()).collect(),
        _ => None,
    }
    .ok_or_else(|| bad("storage key list unreadable".into()))?;

    let entries = match key {
        Some(key) => dict_entries(saved)
            .and_then(|entries| entries.into_iter().find(|(k, _)| *k == Object::Unicode(key.into())).map(|(_, v)| v))
            .and_then(dict_entries)
            .ok_or_else(|| bad(format!("no dictionary `{key}` in the checkpoint")))?,
        None => dict_entries(saved).ok_or_else(|| bad("the saved object is not a dictionary of tensors".into()))?,
    };
    let mut infos = Vec::new();
    for (name, value) in entries {
        if let Ok(Some(info)) = value.into_tensor_info(name, Path::new("")) {
            infos.push(info);
        }
    }
    if infos.is_empty() {
        return Err(bad("no tensors found".into()));
    }

    // Storages follow in key order; keep the ones a wanted tensor lives in.
    let storage_key = |p: &str| p.trim_start_matches('/').to_string();
    let wanted: std::collections::HashSet<String> = infos.iter().map(|i| storage_key(&i.path)).collect();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for k in &keys {
        let mut count = [0u8; 8];
        reader.read_exact(&mut count).map_err(|e| bad(format!("storage {k}: {e}")))?;
        let count = u64::from_le_bytes(count);
        let size = infos.iter().find(|i| storage_key(&i.path) == *k).map_or(4, |i| i.dtype.size_in_bytes());
        let bytes = count
            .checked_mul(size as u64)
            .filter(|&b| b < (1u64 << 40))
            .ok_or_else(|| bad(format!("storage {k} has an impossible size")))?;
        if wanted.contains(k) {
            let mut data = vec![0u8; bytes as usize];
            reader.read_exact(&mut data).map_err(|e| bad(format!("storage {k}: {e}")))?;
            storages.insert(k.clone(), data);
        } else {
            skip(&mut reader, bytes).map_err(|e| bad(format!("storage {k}: {e}")))?;
        }
    }

    let mut tensors = HashMap::new();
    for info in infos {
        let data = storages.get(&storage_key(&info.path)).ok_or_else(|| bad(format!("no storage for {}", info.name)))?;
        if !info.layout.is_contiguous() {
            return Err(bad(format!("tensor {} is not contiguous", info.name)));
        }
        let start = info.layout.start_offset();
        let len = info.layout.shape().elem_count() * info.dtype.size_in_bytes();
        let raw = data.get(start..start + len).ok_or_else(|| bad(format!("tensor {} lies outside its storage", info.name)))?;
        let tensor = Tensor::from_raw_buffer(raw, info.dtype, info.layout.dims(), &Device::Cpu)?.to_dtype(DType::F32)?;
        tensors.insert(info.name, tensor);
    }
    Ok(tensors)
}

fn read_pickle<R: BufRead>(reader: &mut R) -> candle_core::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(reader)?;
    stack.finalize()
}

/// The entries of a dict (candle's pickle reader turns an `OrderedDict` into one).
fn dict_entries(obj: Object) -> Option<Vec<(Object, Object)>> {
    match obj {
        Object::Dict(entries) => Some(entries),
        _ => None,
    }
}

fn skip<R: Read>(reader: &mut R, bytes: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut reader.take(bytes), &mut std::io::sink())?;
    if copied == bytes {
        Ok(())
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "file ends inside a storage"))
    }
}
