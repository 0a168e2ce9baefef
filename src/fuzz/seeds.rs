//! Small valid recordings the fuzzer mutates: one per container/codec the README lists. WAV
//! (every encoding), AIFF and CAF are written here, and Matroska/WebM around the FLAC seed's
//! frames (symphonia 0.5 cannot decode PCM in Matroska); FLAC, MP3, Ogg Vorbis and M4A/AAC
//! (which need real encoders) are tiny committed files under tests/fixtures/fuzz/seeds, built
//! into the binary so `emotrace fuzz` runs anywhere.

use crate::audio::wav::{encode_wav, WavEncoding};

/// The seed recordings' containers and codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    Wav(WavEncoding),
    Aiff,
    Caf,
    Matroska,
    WebM,
    Flac,
    Mp3,
    OggVorbis,
    M4aAac,
}

pub const SEED_KINDS: [SeedKind; 16] = [
    SeedKind::Wav(WavEncoding::Pcm8),
    SeedKind::Wav(WavEncoding::Pcm16),
    SeedKind::Wav(WavEncoding::Pcm24),
    SeedKind::Wav(WavEncoding::Pcm32),
    SeedKind::Wav(WavEncoding::Float32),
    SeedKind::Wav(WavEncoding::Float64),
    SeedKind::Wav(WavEncoding::MuLaw),
    SeedKind::Wav(WavEncoding::ALaw),
    SeedKind::Aiff,
    SeedKind::Caf,
    SeedKind::Matroska,
    SeedKind::WebM,
    SeedKind::Flac,
    SeedKind::Mp3,
    SeedKind::OggVorbis,
    SeedKind::M4aAac,
];

const FLAC_SEED: &[u8] = include_bytes!("../../tests/fixtures/fuzz/seeds/tones_48k_6ch.flac");
const MP3_SEED: &[u8] = include_bytes!("../../tests/fixtures/fuzz/seeds/tone_44k1_stereo.mp3");
const OGG_SEED: &[u8] = include_bytes!("../../tests/fixtures/fuzz/seeds/tone_22k05_mono.ogg");
const M4A_SEED: &[u8] = include_bytes!("../../tests/fixtures/fuzz/seeds/tone_16k_mono.m4a");

impl SeedKind {
    /// The file extension a recording of this kind carries (the decoder takes it as a hint).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav(_) => "wav",
            Self::Aiff => "aiff",
            Self::Caf => "caf",
            Self::Matroska => "mkv",
            Self::WebM => "webm",
            Self::Flac => "flac",
            Self::Mp3 => "mp3",
            Self::OggVorbis => "ogg",
            Self::M4aAac => "m4a",
        }
    }

    /// Whether the sample rate and channel count of the seed are ours to choose.
    pub fn is_generated(self) -> bool {
        matches!(self, Self::Wav(_) | Self::Aiff | Self::Caf)
    }

    /// A valid recording of this kind: `channels` channels (1..=32) at `sample_rate`,
    /// `frames` frames of a voiced-like signal (generated kinds; committed seeds are fixed).
    pub fn recording(self, sample_rate: u32, channels: usize, frames: usize) -> Vec<u8> {
        let signal = || speechlike(sample_rate, channels.max(1), frames);
        match self {
            Self::Wav(encoding) => encode_wav(sample_rate, &signal(), encoding),
            Self::Aiff => aiff_pcm16(sample_rate, &signal()),
            Self::Caf => caf_pcm16(sample_rate, &signal()),
            Self::Matroska => matroska_flac(FLAC_SEED, "matroska"),
            Self::WebM => matroska_flac(FLAC_SEED, "webm"),
            Self::Flac => FLAC_SEED.to_vec(),
            Self::Mp3 => MP3_SEED.to_vec(),
            Self::OggVorbis => OGG_SEED.to_vec(),
            Self::M4aAac => M4A_SEED.to_vec(),
        }
    }
}

/// Harmonic tone bursts with a syllable-rate envelope (so segmentation finds "speech"), a
/// different pitch per channel.
pub fn speechlike(sample_rate: u32, channels: usize, frames: usize) -> Vec<Vec<f32>> {
    let rate = sample_rate.max(1) as f64;
    (0..channels)
        .map(|channel| {
            let f0 = 120.0 + 15.0 * channel as f64;
            (0..frames)
                .map(|i| {
                    let t = i as f64 / rate;
                    let envelope = (std::f64::consts::PI * 3.0 * t).sin().powi(2);
                    let phase = 2.0 * std::f64::consts::PI * f0 * t;
                    (0.3 * envelope * (phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin())) as f32
                })
                .collect()
        })
        .collect()
}

fn interleaved_i16(channels: &[Vec<f32>]) -> impl Iterator<Item = i16> + '_ {
    let frames = channels.first().map_or(0, Vec::len);
    (0..frames).flat_map(move |i| channels.iter().map(move |c| crate::audio::g711::f32_to_i16(c[i])))
}

/// IEEE 754 80-bit extended encoding of a positive integer (AIFF's sample-rate field).
fn extended_80(value: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    if value == 0 {
        return out;
    }
    let shift = 31 - value.leading_zeros();
    let exponent = (16383 + shift) as u16;
    let mantissa = (value as u64) << (63 - shift);
    out[..2].copy_from_slice(&exponent.to_be_bytes());
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

/// AIFF, 16-bit big-endian PCM.
pub fn aiff_pcm16(sample_rate: u32, channels: &[Vec<f32>]) -> Vec<u8> {
    let frames = channels.first().map_or(0, Vec::len) as u32;
    let data: Vec<u8> = interleaved_i16(channels).flat_map(i16::to_be_bytes).collect();
    let mut comm = Vec::new();
    comm.extend_from_slice(&(channels.len() as u16).to_be_bytes());
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&16u16.to_be_bytes());
    comm.extend_from_slice(&extended_80(sample_rate));
    let mut ssnd = vec![0u8; 8];
    ssnd.extend_from_slice(&data);
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        body.extend_from_slice(chunk);
        if chunk.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"FORM".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// CAF, 16-bit little-endian linear PCM.
pub fn caf_pcm16(sample_rate: u32, channels: &[Vec<f32>]) -> Vec<u8> {
    let count = channels.len() as u32;
    let mut desc = Vec::new();
    desc.extend_from_slice(&(sample_rate as f64).to_be_bytes());
    desc.extend_from_slice(b"lpcm");
    desc.extend_from_slice(&2u32.to_be_bytes()); // little-endian integer samples
    desc.extend_from_slice(&(2 * count).to_be_bytes()); // bytes per packet
    desc.extend_from_slice(&1u32.to_be_bytes()); // frames per packet
    desc.extend_from_slice(&count.to_be_bytes());
    desc.extend_from_slice(&16u32.to_be_bytes());
    let mut data = 0u32.to_be_bytes().to_vec(); // edit count
    data.extend(interleaved_i16(channels).flat_map(i16::to_le_bytes));
    let mut out = b"caff".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for (id, chunk) in [(b"desc", &desc), (b"data", &data)] {
        out.extend_from_slice(id);
        out.extend_from_slice(&(chunk.len() as i64).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// An EBML element: its ID's bytes, an 8-byte size, the payload.
fn ebml(id: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.push(0x01);
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

fn ebml_uint(id: &[u8], value: u64) -> Vec<u8> {
    ebml(id, &value.to_be_bytes())
}

/// Matroska (or WebM, by `doc_type`) with one FLAC track: the FLAC file's metadata as the
/// track's private data, each frame (found by its sync code) one block.
pub fn matroska_flac(flac: &[u8], doc_type: &str) -> Vec<u8> {
    let header = [
        ebml_uint(&[0x42, 0x86], 1),
        ebml_uint(&[0x42, 0xF7], 1),
        ebml_uint(&[0x42, 0xF2], 4),
        ebml_uint(&[0x42, 0xF3], 8),
        ebml(&[0x42, 0x82], doc_type.as_bytes()),
        ebml_uint(&[0x42, 0x87], 4),
        ebml_uint(&[0x42, 0x85], 2),
    ]
    .concat();
    // Metadata blocks end at the one with the "last" bit.
    let mut audio_start = 4;
    while audio_start + 4 <= flac.len() {
        let last = flac[audio_start] & 0x80 != 0;
        let length = u32::from_be_bytes([0, flac[audio_start + 1], flac[audio_start + 2], flac[audio_start + 3]]) as usize;
        audio_start += 4 + length;
        if last {
            break;
        }
    }
    let audio_start = audio_start.min(flac.len());
    let info = ebml(&[0x15, 0x49, 0xA9, 0x66], &ebml_uint(&[0x2A, 0xD7, 0xB1], 1_000_000));
    let audio = [ebml(&[0xB5], &48_000f64.to_be_bytes()), ebml_uint(&[0x9F], 6), ebml_uint(&[0x62, 0x64], 24)].concat();
    let track = [
        ebml_uint(&[0xD7], 1),
        ebml_uint(&[0x73, 0xC5], 1),
        ebml_uint(&[0x83], 2),
        ebml(&[0x86], b"A_FLAC"),
        ebml(&[0x63, 0xA2], &flac[..audio_start]),
        ebml(&[0xE1], &audio),
    ]
    .concat();
    let tracks = ebml(&[0x16, 0x54, 0xAE, 0x6B], &ebml(&[0xAE], &track));
    let mut starts: Vec<usize> =
        (audio_start..flac.len().saturating_sub(1)).filter(|&i| flac[i] == 0xFF && flac[i + 1] == 0xF8).collect();
    starts.push(flac.len());
    let mut cluster = ebml_uint(&[0xE7], 0);
    for (index, frame) in starts.windows(2).enumerate() {
        // 4096-sample frames at 48 kHz: 85 ms apart.
        let timestamp_ms = (index * 85).min(i16::MAX as usize) as i16;
        let mut payload = vec![0x81];
        payload.extend_from_slice(&timestamp_ms.to_be_bytes());
        payload.push(0x80);
        payload.extend_from_slice(&flac[frame[0]..frame[1]]);
        cluster.extend(ebml(&[0xA3], &payload));
    }
    let segment = [info, tracks, ebml(&[0x1F, 0x43, 0xB6, 0x75], &cluster)].concat();
    [ebml(&[0x1A, 0x45, 0xDF, 0xA3], &header), ebml(&[0x18, 0x53, 0x80, 0x67], &segment)].concat()
}
