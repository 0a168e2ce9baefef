//! Stage 1 of the pipeline: recordings in, 16 kHz planar samples out.
//!
//! Channels stay separate because stereo call recordings usually carry one party per channel.

pub mod container;
pub mod decode;
pub mod error;
pub mod g711;
pub mod resample;
pub mod wav;
pub mod wav_repair;

use std::path::Path;

pub use decode::{decode_file, decode_streaming, probe_info, AudioInfo, DecodedAudio};
pub use error::AudioError;
pub use resample::{resample, StreamingResampler};

/// The sample rate every later stage works at (the model's wav2vec2 front end expects it).
pub const ANALYSIS_RATE: u32 = 16_000;

/// A recording resampled to [`ANALYSIS_RATE`], channels kept separate.
#[derive(Debug, Clone)]
pub struct Audio16k {
    pub channels: Vec<Vec<f32>>,
    /// What the original file is (its own rate, codec, decoded duration, warnings).
    pub info: AudioInfo,
}

impl Audio16k {
    /// Frames per channel.
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn duration_s(&self) -> f64 {
        self.len() as f64 / ANALYSIS_RATE as f64
    }

    /// The mean of all channels (a mono mix).
    pub fn mono(&self) -> Vec<f32> {
        mix_to_mono(&self.channels)
    }
}

/// The per-sample mean of planar channels.
pub fn mix_to_mono<C: AsRef<[f32]>>(channels: &[C]) -> Vec<f32> {
    match channels {
        [] => Vec::new(),
        [only] => only.as_ref().to_vec(),
        _ => {
            let len = channels.iter().map(|c| c.as_ref().len()).min().unwrap_or(0);
            let scale = 1.0 / channels.len() as f32;
            (0..len).map(|i| channels.iter().map(|c| c.as_ref()[i]).sum::<f32>() * scale).collect()
        }
    }
}

/// Decodes a file and resamples every channel to 16 kHz as the packets arrive, so the recording
/// never exists at its original rate in memory: peak memory is the 16 kHz result (for a 4-hour
/// 8 kHz stereo call, 1.8 GB instead of 2.3 GB when the whole file was decoded first).
pub fn load_16k(path: &Path) -> Result<Audio16k, AudioError> {
    let mut resampler: Option<StreamingResampler> = None;
    let mut failure: Option<AudioError> = None;
    let info = decode::decode_streaming_with_rate(path, |rate, chunk| {
        if failure.is_some() {
            return;
        }
        let stream = match &mut resampler {
            Some(stream) => stream,
            slot => match StreamingResampler::new(rate, ANALYSIS_RATE, chunk.len()) {
                Ok(stream) => slot.insert(stream),
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            },
        };
        if let Err(e) = stream.push(chunk) {
            failure = Some(e);
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let channels = match resampler {
        Some(stream) => stream.finish()?,
        None => vec![Vec::new(); info.channels],
    };
    Ok(Audio16k { channels, info })
}
