//! Audio I/O of the call builder and the segment command, over emotrace::audio.

use std::fs::File;
use std::path::Path;

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

/// Streams a file's planar samples (emotrace::audio's decoder, with its header repair);
/// returns the sample rate.
pub fn decode_streaming(path: &Path, sink: &mut dyn FnMut(&[&[f32]])) -> Result<u32, SynthError> {
    crate::audio::decode_streaming(path, |chunk| sink(chunk))
        .map(|info| info.sample_rate)
        .map_err(|e| SynthError::Decode(e.to_string()))
}

/// Writes 16-bit PCM WAV atomically (emotrace::audio::wav).
pub fn write_wav_i16(path: &Path, sample_rate: u32, channels: &[Vec<f32>]) -> Result<(), SynthError> {
    crate::audio::wav::write_wav_i16(path, sample_rate, channels)
        .map_err(|e| SynthError::Write(format!("{}: {e}", path.display())))
}

/// Sample rate of a file's default track, read from its header (no decoding); falls back to a
/// full measuring decode when the header cannot be read directly (damaged recorder files).
pub fn probe_sample_rate(path: &Path) -> Result<u32, SynthError> {
    match header_sample_rate(path) {
        Ok(rate) => Ok(rate),
        Err(_) => crate::audio::probe_info(path).map(|i| i.sample_rate).map_err(|e| SynthError::Decode(e.to_string())),
    }
}

fn header_sample_rate(path: &Path) -> Result<u32, SynthError> {
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
