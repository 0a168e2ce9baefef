//! Decoding any recording symphonia understands into planar f32 samples.
//!
//! Time always comes from the number of decoded frames, never from container metadata: call
//! recorders often write headers that lie (streams cut off, lengths never patched).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::container::sniff_container;
use super::error::AudioError;
use super::wav_repair::{plan_wav_repair, PatchedSource};

/// Channel counts we accept: mono, stereo and multi-track recorders.
pub const MAX_CHANNELS: usize = 32;
/// Sample rates we accept (telephony 8 kHz up to studio rates).
pub const SAMPLE_RATE_RANGE: std::ops::RangeInclusive<u32> = 4_000..=384_000;
/// Packets in a row that yield no sample (empty or undecodable) before decoding gives up: far
/// more than a damaged stretch of a real file holds, reached in well under a second.
const MAX_IDLE_PACKETS: u64 = 100_000;
/// A shortfall against the header's declared length below this is rounding, not truncation.
const TRUNCATION_NOTICE_S: f64 = 0.02;

/// What a recording is, as measured while decoding it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AudioInfo {
    pub path: PathBuf,
    pub container: String,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: usize,
    /// Frames (samples per channel) actually decoded.
    pub frames: u64,
    /// `frames / sample_rate`.
    pub duration_s: f64,
    /// Packets that failed to decode and were skipped.
    pub skipped_packets: u64,
    /// Length the container's header declares, when it declares one.
    pub declared_duration_s: Option<f64>,
    /// Human-readable problems met on the way (truncation, skipped packets).
    pub warnings: Vec<String>,
}

/// A decoded recording: planar channels at the file's own sample rate.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    /// One vector per channel, samples in [-1, 1].
    pub channels: Vec<Vec<f32>>,
    pub info: AudioInfo,
}

/// Decodes the whole file into memory.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let info = decode_streaming(path, |chunk| {
        if channels.is_empty() {
            channels = vec![Vec::new(); chunk.len()];
        }
        for (store, samples) in channels.iter_mut().zip(chunk) {
            store.extend_from_slice(samples);
        }
    })?;
    Ok(DecodedAudio { sample_rate: info.sample_rate, channels, info })
}

/// Measures a file (duration from decoded samples) without keeping its samples.
pub fn probe_info(path: &Path) -> Result<AudioInfo, AudioError> {
    decode_streaming(path, |_| {})
}

/// Decodes the file packet by packet, handing each packet's planar samples to `sink`.
/// Packets that fail to decode are skipped and counted; a stream that ends early is decoded
/// as far as it goes, with a warning saying how much the header promised and was missing.
pub fn decode_streaming(
    path: &Path,
    mut sink: impl FnMut(&[&[f32]]),
) -> Result<AudioInfo, AudioError> {
    decode_streaming_with_rate(path, |_, chunk| sink(chunk))
}

/// [`decode_streaming`] whose sink also gets the stream's sample rate (the same for every packet:
/// packets that change it are skipped).
pub fn decode_streaming_with_rate(
    path: &Path,
    mut sink: impl FnMut(u32, &[&[f32]]),
) -> Result<AudioInfo, AudioError> {
    let (container, mut file, file_len) = open_and_sniff(path)?;
    let read_error = |detail: String| AudioError::Read { path: path.to_path_buf(), detail };

    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    let repair = if container == "WAV" {
        plan_wav_repair(&mut file, file_len).map_err(|e| read_error(e.to_string()))?
    } else {
        None
    };
    let source: Box<dyn MediaSource> = match &repair {
        Some(repair) if !repair.patches.is_empty() => Box::new(
            PatchedSource::new(file, file_len, &repair.patches).map_err(|e| read_error(e.to_string()))?,
        ),
        _ => {
            file.seek(SeekFrom::Start(0)).map_err(|e| read_error(e.to_string()))?;
            Box::new(file)
        }
    };
    let stream = MediaSourceStream::new(source, Default::default());
    // Gapless mode trims encoder delay and padding (MP3, AAC) so durations match the source.
    let format_options = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = guarded(|| symphonia::default::get_probe().format(&hint, stream, &format_options, &MetadataOptions::default()))
        .map_err(|detail| AudioError::UnrecognisedFormat { path: path.to_path_buf(), detail })?
        .map_err(|e| match e {
            // A known container whose content symphonia cannot handle: an unsupported encoding.
            SymphoniaError::Unsupported(detail) if container != UNKNOWN_CONTAINER => {
                AudioError::UnsupportedCodec { path: path.to_path_buf(), detail: detail.to_string() }
            }
            SymphoniaError::Unsupported(_) => AudioError::UnrecognisedFormat {
                path: path.to_path_buf(),
                detail: "no known audio container signature at its start".into(),
            },
            other => AudioError::UnrecognisedFormat {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
    let mut format = probed.format;

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::NoAudioTrack { path: path.to_path_buf() })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = codec_name(params.codec);
    let mut decoder = guarded(|| symphonia::default::get_codecs().make(&params, &DecoderOptions::default()))
        .map_err(|detail| AudioError::UnsupportedCodec { path: path.to_path_buf(), detail })?
        .map_err(|e| AudioError::UnsupportedCodec {
            path: path.to_path_buf(),
            detail: format!("{codec}; convert it to WAV or FLAC, e.g. `ffmpeg -i IN -ar 16000 OUT.wav` ({e})"),
        })?;

    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channel_count = params.channels.map(|c| c.count()).unwrap_or(0);
    let mut frames: u64 = 0;
    let mut skipped_packets: u64 = 0;
    let mut warnings = Vec::new();
    let mut samples: Option<SampleBuffer<f32>> = None;
    let mut non_finite: u64 = 0;
    let mut idle_packets: u64 = 0;

    loop {
        // A damaged header (a block size of 0) can make the demuxer hand out packets that never
        // move through the file: stop when none of many packets in a row yields a sample.
        if idle_packets > MAX_IDLE_PACKETS {
            warnings.push("the stream stopped advancing (a damaged header); decoding stopped there".into());
            break;
        }
        idle_packets += 1;
        let packet = match guarded(|| format.next_packet()).map_err(read_error)? {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => {
                warnings.push("the stream changed its parameters midway; decoding stopped there".into());
                break;
            }
            Err(SymphoniaError::DecodeError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                warnings.push(format!("read error, decoding stopped early: {e}"));
                break;
            }
            Err(e) => return Err(read_error(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match guarded(|| decoder.decode(&packet)).map_err(read_error)? {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(_)) | Err(SymphoniaError::IoError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(SymphoniaError::ResetRequired) => {
                decoder.reset();
                skipped_packets += 1;
                continue;
            }
            Err(e) => return Err(read_error(e.to_string())),
        };
        if decoded.frames() == 0 {
            continue;
        }
        idle_packets = 0;
        let spec = *decoded.spec();
        let packet_channels = spec.channels.count();
        if frames == 0 {
            sample_rate = spec.rate;
            channel_count = packet_channels;
            check_shape(path, sample_rate, channel_count)?;
        } else if packet_channels != channel_count || spec.rate != sample_rate {
            // A mid-stream format change cannot be represented as one recording: skip it.
            skipped_packets += 1;
            continue;
        }
        let buffer = match &mut samples {
            Some(buffer) if buffer.capacity() >= decoded.capacity() * packet_channels => buffer,
            slot => slot.insert(SampleBuffer::<f32>::new(decoded.capacity() as u64, spec)),
        };
        buffer.copy_planar_ref(decoded);
        let packet_frames = buffer.len() / packet_channels;
        non_finite += replace_non_finite(buffer.samples_mut());
        let all = buffer.samples();
        let chunk: Vec<&[f32]> =
            (0..packet_channels).map(|c| &all[c * packet_frames..(c + 1) * packet_frames]).collect();
        sink(sample_rate, &chunk);
        frames += packet_frames as u64;
    }

    if frames == 0 {
        return Err(AudioError::NoSamples { path: path.to_path_buf(), skipped_packets });
    }
    let duration_s = frames as f64 / sample_rate as f64;
    // A repaired WAV header no longer says what the original declared; take that from the repair.
    let declared_frames = match &repair {
        Some(repair) if !repair.patches.is_empty() => repair.declared_frames,
        _ => params.n_frames,
    };
    let declared_duration_s = declared_frames
        .filter(|&n| n > 0)
        .map(|n| n as f64 / params.sample_rate.unwrap_or(sample_rate).max(1) as f64);
    if matches!(&repair, Some(r) if !r.patches.is_empty() && r.declared_frames.is_none()) {
        warnings.push("the WAV header never stated the data length; decoded everything in the file".into());
    }
    if let Some(declared) = declared_duration_s {
        let missing = declared - duration_s;
        if missing > TRUNCATION_NOTICE_S {
            warnings.push(format!(
                "the file is shorter than its header says: {duration_s:.3} s decoded of {declared:.3} s declared ({missing:.3} s missing)"
            ));
        }
    }
    if non_finite > 0 {
        warnings.push(format!(
            "{non_finite} sample(s) were not numbers (NaN or infinite) or far beyond full scale and were replaced"
        ));
    }
    if skipped_packets > 0 {
        warnings.push(format!("{skipped_packets} packet(s) failed to decode and were skipped"));
    }
    Ok(AudioInfo {
        path: path.to_path_buf(),
        container: container.to_string(),
        codec,
        sample_rate,
        channels: channel_count,
        frames,
        duration_s,
        skipped_packets,
        declared_duration_s,
        warnings,
    })
}

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a symphonia call whose panic becomes an error (a panic hook
/// need not report it).
pub fn in_guarded_decoder_call() -> bool {
    GUARDED.with(|g| g.get())
}

/// Runs a call into symphonia, turning a panic on damaged data (an assertion or a zero time
/// base in a demuxer) into an error message instead of ending the program.
fn guarded<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    GUARDED.with(|g| g.set(false));
    result.map_err(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the decoder failed on damaged data ({reason})")
    })
}

/// Float files can hold NaN, infinities and huge values (damaged data), which no later stage
/// survives (the resampler's sums overflow to NaN): NaN becomes silence and everything is
/// clipped to full scale, as the samples' [-1, 1] contract says. Returns how many samples were
/// not numbers or far (over 6 dB) beyond full scale: those are damage, not a hot recording.
fn replace_non_finite(samples: &mut [f32]) -> u64 {
    let mut damaged = 0;
    for sample in samples.iter_mut().filter(|s| !(-1.0..=1.0).contains(*s)) {
        if sample.is_nan() || sample.abs() > 2.0 {
            damaged += 1;
        }
        *sample = if sample.is_nan() { 0.0 } else { sample.clamp(-1.0, 1.0) };
    }
    damaged
}

/// What [`sniff_container`] could not name.
const UNKNOWN_CONTAINER: &str = "unknown";

fn open_and_sniff(path: &Path) -> Result<(&'static str, File, u64), AudioError> {
    let open_error = |cause| AudioError::Open { path: path.to_path_buf(), cause };
    let mut file = File::open(path).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(AudioError::Open {
            path: path.to_path_buf(),
            cause: std::io::Error::other("it is a directory"),
        });
    }
    if metadata.len() == 0 {
        return Err(AudioError::EmptyFile { path: path.to_path_buf() });
    }
    let mut head = [0u8; 16];
    let read = read_up_to(&mut file, &mut head).map_err(open_error)?;
    let container = sniff_container(&head[..read]).unwrap_or(UNKNOWN_CONTAINER);
    Ok((container, file, metadata.len()))
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn check_shape(path: &Path, sample_rate: u32, channels: usize) -> Result<(), AudioError> {
    if !SAMPLE_RATE_RANGE.contains(&sample_rate) {
        return Err(AudioError::UnsupportedSampleRate { path: path.to_path_buf(), rate: sample_rate });
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(AudioError::UnsupportedChannelCount { path: path.to_path_buf(), channels });
    }
    Ok(())
}

fn codec_name(codec: CodecType) -> String {
    use symphonia::core::codecs as c;
    if let Some(descriptor) = symphonia::default::get_codecs().get_codec(codec) {
        return format!("{} ({})", descriptor.long_name, descriptor.short_name);
    }
    // Codecs symphonia can identify but not decode: name them so the user knows what to convert.
    let known = [
        (c::CODEC_TYPE_OPUS, "Opus"),
        (c::CODEC_TYPE_SPEEX, "Speex"),
        (c::CODEC_TYPE_WMA, "Windows Media Audio"),
        (c::CODEC_TYPE_EAC3, "E-AC-3"),
        (c::CODEC_TYPE_AC4, "AC-4"),
        (c::CODEC_TYPE_DCA, "DTS"),
        (c::CODEC_TYPE_WAVPACK, "WavPack"),
        (c::CODEC_TYPE_MONKEYS_AUDIO, "Monkey's Audio"),
        (c::CODEC_TYPE_TTA, "TTA"),
        (c::CODEC_TYPE_MUSEPACK, "Musepack"),
    ];
    known
        .iter()
        .find(|(code, _)| *code == codec)
        .map(|(_, name)| format!("{name}, which this build cannot decode"))
        .unwrap_or_else(|| format!("codec {codec}, which this build cannot decode"))
}
