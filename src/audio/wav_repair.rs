//! Repairs the length fields of WAV headers that lie, so that symphonia decodes what is really
//! in the file. Call recorders that crash or stream to disk leave data-chunk lengths that are
//! too large (the file was cut short), zero or 0xFFFFFFFF (never patched); symphonia refuses or
//! reads nothing in those cases. The file itself is never modified: the decoder reads it through
//! [`PatchedSource`], which overlays corrected length fields.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// What the header says and what must change for the decoder to see the real data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WavRepair {
    /// (byte offset, corrected little-endian u32) pairs to overlay.
    pub patches: Vec<(u64, u32)>,
    /// Frames the original header declared, when its declaration was plausible.
    pub declared_frames: Option<u64>,
    /// Sample rate from the fmt chunk.
    pub sample_rate: u32,
}

/// Reads the RIFF chunk list and plans a repair. `None` when the file is not a WAV we can
/// interpret (the decoder then reports what is wrong).
pub fn plan_wav_repair(file: &mut File, file_len: u64) -> io::Result<Option<WavRepair>> {
    let mut header = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    if file.read_exact(&mut header).is_err() || &header[..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut repair = WavRepair::default();
    let riff_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let true_riff_len = (file_len - 8).min(u32::MAX as u64) as u32;
    let mut block_align: u64 = 0;
    let mut offset = 12u64;
    while offset + 8 <= file_len {
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut chunk)?;
        let id = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as u64;
        let body = offset + 8;
        if &id == b"fmt " && len >= 16 {
            let mut fmt = [0u8; 16];
            file.read_exact(&mut fmt)?;
            repair.sample_rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            block_align = u16::from_le_bytes([fmt[12], fmt[13]]) as u64;
        }
        if &id == b"data" {
            let available = file_len - body;
            let never_patched = len == 0 || len == u32::MAX as u64;
            if block_align > 0 && !never_patched {
                repair.declared_frames = Some(len / block_align);
            }
            if never_patched || len > available {
                let usable = if block_align > 0 { available / block_align * block_align } else { available };
                repair.patches.push((offset + 4, usable.min(u32::MAX as u64) as u32));
                if riff_len != true_riff_len {
                    repair.patches.push((4, true_riff_len));
                }
            }
            break;
        }
        if body + len > file_len {
            break; // a damaged chunk before the data: leave it to the decoder to report
        }
        offset = body + len + (len & 1);
    }
    Ok(Some(repair))
}

/// A file seen through a set of 4-byte overlays.
pub struct PatchedSource {
    file: File,
    len: u64,
    position: u64,
    patches: Vec<(u64, [u8; 4])>,
}

impl PatchedSource {
    pub fn new(mut file: File, len: u64, patches: &[(u64, u32)]) -> io::Result<Self> {
        file.seek(SeekFrom::Start(0))?;
        let patches = patches.iter().map(|&(at, value)| (at, value.to_le_bytes())).collect();
        Ok(Self { file, len, position: 0, patches })
    }
}

impl Read for PatchedSource {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read(buffer)?;
        let start = self.position;
        let end = start + read as u64;
        for (at, bytes) in &self.patches {
            for (i, byte) in bytes.iter().enumerate() {
                let absolute = at + i as u64;
                if absolute >= start && absolute < end {
                    buffer[(absolute - start) as usize] = *byte;
                }
            }
        }
        self.position = end;
        Ok(read)
    }
}

impl Seek for PatchedSource {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        self.position = self.file.seek(target)?;
        Ok(self.position)
    }
}

impl MediaSource for PatchedSource {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
