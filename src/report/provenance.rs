//! `report.json`: where a report came from, so a number in it can be traced and reproduced.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ReportError;

/// The input recording as it was when analysed.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub name: String,
    pub path: String,
    pub size_bytes: u64,
    pub sha256: String,
}

impl InputFile {
    /// Reads the file once to hash it.
    pub fn describe(path: &Path) -> Result<Self, ReportError> {
        let read_error = |e: std::io::Error| ReportError::Read { path: path.to_path_buf(), detail: e.to_string() };
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer).map_err(read_error)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buffer[..n]);
        }
        Ok(Self {
            name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            path: path.display().to_string(),
            size_bytes: size,
            sha256: format!("{:x}", hasher.finalize()),
        })
    }
}

/// Writes any serialisable provenance record as pretty JSON, atomically.
pub fn write_json(value: &impl Serialize, path: &Path) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ReportError::BadValue { path: path.to_path_buf(), detail: e.to_string() })?;
    crate::fsutil::atomic_write(path, text.as_bytes())
        .map_err(|cause| ReportError::Write { path: path.to_path_buf(), cause })
}
