use std::path::PathBuf;

/// Everything that can go wrong while turning a recording into samples.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    // The io error is part of the message rather than a `#[source]`, so every display of this
    // error (CLI, GUI) names the cause exactly once.
    #[error("cannot open {path}: {cause}")]
    Open { path: PathBuf, cause: std::io::Error },
    #[error("{path} is empty (0 bytes)")]
    EmptyFile { path: PathBuf },
    #[error("{path} is not a recognised audio file ({detail})")]
    UnrecognisedFormat { path: PathBuf, detail: String },
    #[error("{path}: unsupported audio codec or encoding ({detail})")]
    UnsupportedCodec { path: PathBuf, detail: String },
    #[error("{path} contains no audio track")]
    NoAudioTrack { path: PathBuf },
    #[error("{path}: {channels} channels is outside the supported 1 to 32")]
    UnsupportedChannelCount { path: PathBuf, channels: usize },
    #[error("{path}: sample rate {rate} Hz is outside the supported 4000 to 384000 Hz")]
    UnsupportedSampleRate { path: PathBuf, rate: u32 },
    #[error("{path} contains no decodable audio samples ({skipped_packets} packets failed to decode)")]
    NoSamples { path: PathBuf, skipped_packets: u64 },
    #[error("{path}: cannot read audio: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("cannot resample from {from} Hz to {to} Hz: {detail}")]
    Resample { from: u32, to: u32, detail: String },
}
