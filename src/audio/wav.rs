//! A WAV writer for every encoding a call recorder produces. The product reads audio through
//! symphonia; this writer serves test fixtures, synthetic calls and exported clips.

use std::io;
use std::path::Path;

use super::g711::{alaw_encode, f32_to_i16, mulaw_encode};

/// Sample encodings of a WAV file's data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    Pcm8,
    Pcm16,
    Pcm24,
    Pcm32,
    Float32,
    Float64,
    MuLaw,
    ALaw,
}

impl WavEncoding {
    fn format_tag(self) -> u16 {
        match self {
            Self::Pcm8 | Self::Pcm16 | Self::Pcm24 | Self::Pcm32 => 1,
            Self::Float32 | Self::Float64 => 3,
            Self::ALaw => 6,
            Self::MuLaw => 7,
        }
    }

    fn bytes_per_sample(self) -> usize {
        match self {
            Self::Pcm8 | Self::MuLaw | Self::ALaw => 1,
            Self::Pcm16 => 2,
            Self::Pcm24 => 3,
            Self::Pcm32 | Self::Float32 => 4,
            Self::Float64 => 8,
        }
    }

    fn push_sample(self, sample: f32, out: &mut Vec<u8>) {
        let clipped = sample.clamp(-1.0, 1.0) as f64;
        match self {
            Self::Pcm8 => out.push(((clipped * 127.0).round() as i16 + 128) as u8),
            Self::Pcm16 => out.extend_from_slice(&f32_to_i16(sample).to_le_bytes()),
            Self::Pcm24 => {
                let value = (clipped * 8_388_607.0).round() as i32;
                out.extend_from_slice(&value.to_le_bytes()[..3]);
            }
            Self::Pcm32 => {
                out.extend_from_slice(&((clipped * 2_147_483_647.0).round() as i32).to_le_bytes())
            }
            Self::Float32 => out.extend_from_slice(&sample.to_le_bytes()),
            Self::Float64 => out.extend_from_slice(&(sample as f64).to_le_bytes()),
            Self::MuLaw => out.push(mulaw_encode(f32_to_i16(sample))),
            Self::ALaw => out.push(alaw_encode(f32_to_i16(sample))),
        }
    }
}

/// Encodes planar channels (all the same length) as a complete WAV file in memory.
pub fn encode_wav(sample_rate: u32, channels: &[Vec<f32>], encoding: WavEncoding) -> Vec<u8> {
    let channel_count = channels.len().max(1);
    let frames = channels.iter().map(Vec::len).min().unwrap_or(0);
    let bytes_per_sample = encoding.bytes_per_sample();
    let block_align = channel_count * bytes_per_sample;
    let data_len = frames * block_align;
    // Non-PCM encodings carry a cbSize field (and, strictly, a fact chunk) in their fmt chunk.
    let extended = encoding.format_tag() != 1;
    let fmt_len: u32 = if extended { 18 } else { 16 };
    let fact_len: usize = if extended { 12 } else { 0 };
    let padding = data_len % 2;

    let mut out = Vec::with_capacity(44 + fact_len + data_len + padding);
    out.extend_from_slice(b"RIFF");
    let riff_len = 4 + (8 + fmt_len as usize) + fact_len + 8 + data_len + padding;
    out.extend_from_slice(&(riff_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&fmt_len.to_le_bytes());
    out.extend_from_slice(&encoding.format_tag().to_le_bytes());
    out.extend_from_slice(&(channel_count as u16).to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&((sample_rate as usize * block_align) as u32).to_le_bytes());
    out.extend_from_slice(&(block_align as u16).to_le_bytes());
    out.extend_from_slice(&((bytes_per_sample * 8) as u16).to_le_bytes());
    if extended {
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&(frames as u32).to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for frame in 0..frames {
        for channel in channels {
            encoding.push_sample(channel[frame], &mut out);
        }
    }
    if padding == 1 {
        out.push(0);
    }
    out
}

/// Writes planar channels as a WAV file, atomically.
pub fn write_wav(
    path: &Path,
    sample_rate: u32,
    channels: &[Vec<f32>],
    encoding: WavEncoding,
) -> io::Result<()> {
    crate::fsutil::atomic_write(path, &encode_wav(sample_rate, channels, encoding))
}

/// Writes 16-bit PCM.
pub fn write_wav_i16(path: &Path, sample_rate: u32, channels: &[Vec<f32>]) -> io::Result<()> {
    write_wav(path, sample_rate, channels, WavEncoding::Pcm16)
}

/// Writes 32-bit float samples.
pub fn write_wav_f32(path: &Path, sample_rate: u32, channels: &[Vec<f32>]) -> io::Result<()> {
    write_wav(path, sample_rate, channels, WavEncoding::Float32)
}
