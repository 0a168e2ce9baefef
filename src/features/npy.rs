//! Minimal NumPy `.npy` (format v1.0) reader/writer: little-endian f32 / f64 / i16, C order.
//! Enough for feature dumps and golden fixtures; not a general NumPy implementation.

use std::path::Path;

use super::FeatureError;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element types the reader/writer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    F32,
    F64,
    I16,
}

impl NpyDtype {
    fn descr(self) -> &'static str {
        match self {
            NpyDtype::F32 => "<f4",
            NpyDtype::F64 => "<f8",
            NpyDtype::I16 => "<i2",
        }
    }
    fn size(self) -> usize {
        match self {
            NpyDtype::F32 => 4,
            NpyDtype::F64 => 8,
            NpyDtype::I16 => 2,
        }
    }
}

/// An array read from a `.npy` file, values widened to f64 (exact for f32 and i16).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub dtype: NpyDtype,
    pub data: Vec<f64>,
}

impl NpyArray {
    /// Values as f32 (exact when the file held f32 or i16).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }
}

/// Serialises an f32 array with the given shape into `.npy` bytes.
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, FeatureError> {
    let mut out = header(NpyDtype::F32, shape, data.len())?;
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Serialises an f64 array with the given shape into `.npy` bytes.
pub fn encode_f64(shape: &[usize], data: &[f64]) -> Result<Vec<u8>, FeatureError> {
    let mut out = header(NpyDtype::F64, shape, data.len())?;
    out.reserve(data.len() * 8);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

fn header(dtype: NpyDtype, shape: &[usize], len: usize) -> Result<Vec<u8>, FeatureError> {
    let expected: usize = shape.iter().product();
    if expected != len {
        return Err(FeatureError::Npy(format!(
            "shape {shape:?} holds {expected} values but {len} were given"
        )));
    }
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_txt
    );
    // Header (magic 6 + version 2 + len 2 + dict + '\n') padded to a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let header_len = u16::try_from(dict.len())
        .map_err(|_| FeatureError::Npy("header too long for npy v1.0".into()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    Ok(out)
}

/// Writes an f32 array atomically (temporary file in the same folder, then rename).
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), FeatureError> {
    let bytes = encode_f32(shape, data)?;
    crate::fsutil::atomic_write(path, &bytes)
        .map_err(|e| FeatureError::Io { path: path.to_path_buf(), source: e })
}

/// Parses `.npy` bytes (v1.x/v2.x header, little-endian f4/f8/i2, C order).
pub fn decode(bytes: &[u8]) -> Result<NpyArray, FeatureError> {
    let bad = |m: &str| FeatureError::Npy(m.to_string());
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not an npy file"));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated npy header"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => return Err(bad("unsupported npy version")),
    };
    let end = start + header_len;
    if bytes.len() < end {
        return Err(bad("truncated npy header"));
    }
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("npy header not UTF-8"))?;
    let dtype = if header.contains("'<f4'") {
        NpyDtype::F32
    } else if header.contains("'<f8'") {
        NpyDtype::F64
    } else if header.contains("'<i2'") {
        NpyDtype::I16
    } else {
        return Err(FeatureError::Npy(format!("unsupported dtype in header {header}")));
    };
    if header.contains("'fortran_order': True") {
        return Err(bad("fortran-order npy not supported"));
    }
    let shape_start = header.find("'shape':").ok_or_else(|| bad("npy header without shape"))?;
    let open = header[shape_start..].find('(').ok_or_else(|| bad("bad npy shape"))? + shape_start;
    let close = header[open..].find(')').ok_or_else(|| bad("bad npy shape"))? + open;
    let shape = header[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad npy shape entry")))
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let payload = &bytes[end..];
    if payload.len() != count * dtype.size() {
        return Err(FeatureError::Npy(format!(
            "npy payload has {} bytes, shape {shape:?} needs {}",
            payload.len(),
            count * dtype.size()
        )));
    }
    let data = match dtype {
        NpyDtype::F32 => payload
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        NpyDtype::F64 => payload
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        NpyDtype::I16 => payload
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
            .collect(),
    };
    Ok(NpyArray { shape, dtype, data })
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray, FeatureError> {
    let bytes = std::fs::read(path)
        .map_err(|e| FeatureError::Io { path: path.to_path_buf(), source: e })?;
    decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_f32_and_f64() {
        let data = [1.5f32, -2.0, 3.25, 0.0, f32::MAX, -1e-30];
        let bytes = encode_f32(&[2, 3], &data).unwrap();
        assert_eq!((bytes.len() - data.len() * 4) % 64, 0, "header must be 64-byte aligned");
        let arr = decode(&bytes).unwrap();
        assert_eq!(arr.shape, vec![2, 3]);
        assert_eq!(arr.to_f32(), data.to_vec());
        let d64 = [0.1f64, -7.0];
        let arr = decode(&encode_f64(&[2], &d64).unwrap()).unwrap();
        assert_eq!(arr.shape, vec![2]);
        assert_eq!(arr.data, d64.to_vec());
    }

    #[test]
    fn rejects_shape_mismatch_and_garbage() {
        assert!(encode_f32(&[4], &[1.0, 2.0]).is_err());
        assert!(decode(b"not numpy at all").is_err());
    }
}
