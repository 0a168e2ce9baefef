//! Minimal audio I/O for the call builder: decode one 16-kHz mono FLAC utterance and write a
//! 16-bit PCM WAV atomically.
// TODO(coordinator): switch to emotrace::audio::{decode_file, wav} once that module lands on main.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::SynthError;

/// Decodes a file to mono f32 (mean of channels); returns (samples, sample rate).
pub fn decode_mono(path: &Path) -> Result<(Vec<f32>, u32), SynthError> {
    let mut out = Vec::new();
    let rate = decode_streaming(path, &mut |chunk: &[&[f32]]| {
        let n_ch = chunk.len().max(1) as f32;
        let len = chunk.iter().map(|c| c.len()).min().unwrap_or(0);
        out.extend((0..len).map(|i| chunk.iter().map(|c| c[i]).sum::<f32>() / n_ch));
    })?;
    Ok((out, rate))
}

/// Streams a file's planar samples, packet by packet; returns the sample rate.
pub fn decode_streaming(path: &Path, sink: &mut dyn FnMut(&[&[f32]])) -> Result<u32, SynthError> {
    let err = |m: String| SynthError::Decode(format!("{}: {m}", path.display()));
    let file = File::open(path).map_err(|e| SynthError::Io(path.display().to_string(), e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| err(e.to_string()))?;
    let mut format = probed.format;
    let track = format.default_track().ok_or_else(|| err("no audio track".into()))?;
    let track_id = track.id;
    let sample_rate = track.codec_params.sample_rate.ok_or_else(|| err("unknown sample rate".into()))?;
    let mut decoder =
        symphonia::default::get_codecs().make(&track.codec_params, &DecoderOptions::default()).map_err(|e| err(e.to_string()))?;
    let mut planar: Vec<Vec<f32>> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(symphonia::core::errors::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(err(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(|e| err(e.to_string()))?;
        let spec = *decoded.spec();
        let n_ch = spec.channels.count().max(1);
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buf.copy_interleaved_ref(decoded);
        planar.resize(n_ch, Vec::new());
        for (c, p) in planar.iter_mut().enumerate() {
            p.clear();
            p.extend(buf.samples().iter().skip(c).step_by(n_ch));
        }
        let refs: Vec<&[f32]> = planar.iter().map(|p| p.as_slice()).collect();
        sink(&refs);
    }
    Ok(sample_rate)
}

/// Writes 16-bit PCM WAV (channels of equal length) to `path` atomically.
pub fn write_wav_i16(path: &Path, sample_rate: u32, channels: &[Vec<f32>]) -> Result<(), SynthError> {
    let n_ch = channels.len().max(1) as u16;
    let n = channels.first().map_or(0, Vec::len);
    let data_len = n as u64 * n_ch as u64 * 2;
    if data_len > u32::MAX as u64 - 36 {
        return Err(SynthError::Invalid("call too long for a WAV file".into()));
    }
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&n_ch.to_le_bytes());
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    bytes.extend_from_slice(&(sample_rate * n_ch as u32 * 2).to_le_bytes());
    bytes.extend_from_slice(&(n_ch * 2).to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(data_len as u32).to_le_bytes());
    for i in 0..n {
        for ch in channels {
            let v = (ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    crate::segmentation::segments_csv::write_atomic(path, &bytes).map_err(|e| SynthError::Write(e.to_string()))
}

/// Sample rate of a file's default track, read from its header (no decoding).
pub fn probe_sample_rate(path: &Path) -> Result<u32, SynthError> {
    let err = |m: String| SynthError::Decode(format!("{}: {m}", path.display()));
    let file = File::open(path).map_err(|e| SynthError::Io(path.display().to_string(), e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| err(e.to_string()))?;
    let track = probed.format.default_track().ok_or_else(|| err("no audio track".into()))?;
    track.codec_params.sample_rate.ok_or_else(|| err("unknown sample rate".into()))
}
