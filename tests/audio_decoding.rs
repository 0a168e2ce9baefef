//! Decoding what call recorders actually produce: every WAV encoding, compressed formats, any
//! rate and channel count, with durations measured from decoded samples.

use std::path::{Path, PathBuf};

use emotrace::audio::wav::{encode_wav, WavEncoding};
use emotrace::audio::{decode_file, load_16k, probe_info, ANALYSIS_RATE};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio").join(name)
}

/// A different tone per channel so that channel order mistakes show up.
fn tones(rate: u32, channels: usize, frames: usize) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| {
            let frequency = 220.0 * (c + 1) as f64;
            (0..frames)
                .map(|i| (0.5 * (2.0 * std::f64::consts::PI * frequency * i as f64 / rate as f64).sin()) as f32)
                .collect()
        })
        .collect()
}

#[test]
fn every_wav_encoding_decodes_with_exact_length_and_faithful_samples() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (WavEncoding::Pcm8, 8_000, 1, 1.0 / 64.0),
        (WavEncoding::Pcm16, 16_000, 2, 1e-4),
        (WavEncoding::Pcm24, 44_100, 1, 1e-6),
        (WavEncoding::Pcm32, 48_000, 3, 1e-6),
        (WavEncoding::Float32, 96_000, 1, 0.0),
        (WavEncoding::Float64, 22_050, 2, 1e-7),
        (WavEncoding::MuLaw, 8_000, 2, 0.02),
        (WavEncoding::ALaw, 8_000, 2, 0.02),
        (WavEncoding::Pcm16, 11_025, 8, 1e-4),
    ];
    for (encoding, rate, channel_count, tolerance) in cases {
        let frames = rate as usize * 3 / 2 + 17;
        let original = tones(rate, channel_count, frames);
        let path = dir.path().join(format!("{encoding:?}_{rate}_{channel_count}.wav"));
        std::fs::write(&path, encode_wav(rate, &original, encoding)).unwrap();

        let decoded = decode_file(&path).unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
        assert_eq!(decoded.sample_rate, rate, "{encoding:?}");
        assert_eq!(decoded.channels.len(), channel_count, "{encoding:?}");
        assert_eq!(decoded.info.frames, frames as u64, "{encoding:?}");
        assert!((decoded.info.duration_s - frames as f64 / rate as f64).abs() < 1e-9);
        assert_eq!(decoded.info.skipped_packets, 0);
        assert!(decoded.info.warnings.is_empty(), "{:?}", decoded.info.warnings);
        for (got, want) in decoded.channels.iter().zip(&original) {
            let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= tolerance, "{encoding:?} at {rate} Hz: max error {worst}");
        }
    }
}

#[test]
fn mulaw_and_alaw_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    for (encoding, name) in [(WavEncoding::MuLaw, "law"), (WavEncoding::ALaw, "law")] {
        let path = dir.path().join(format!("{encoding:?}.wav"));
        std::fs::write(&path, encode_wav(8_000, &tones(8_000, 1, 800), encoding)).unwrap();
        let info = probe_info(&path).unwrap();
        assert_eq!(info.container, "WAV");
        assert!(info.codec.to_lowercase().contains(name), "{encoding:?}: {}", info.codec);
    }
}

#[test]
fn compressed_formats_report_rate_channels_and_decoded_duration() {
    // (file, rate, channels, true duration of the encoded signal in seconds)
    let cases = [
        ("tone_44k1_stereo.mp3", 44_100, 2, 2.345),
        ("tones_48k_6ch.flac", 48_000, 6, 1.5),
        ("tone_22k05_mono.ogg", 22_050, 1, 1.777),
    ];
    for (name, rate, channels, duration) in cases {
        let info = probe_info(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.sample_rate, rate, "{name}");
        assert_eq!(info.channels, channels, "{name}");
        assert!(
            (info.duration_s - duration).abs() <= 0.010,
            "{name}: {} s decoded, {duration} s expected",
            info.duration_s
        );
        assert_eq!(info.skipped_packets, 0, "{name}");
    }
}

#[test]
fn aac_in_m4a_decodes() {
    let info = probe_info(&fixture("tone_16k_mono.m4a")).unwrap();
    assert_eq!(info.container, "MP4/M4A");
    assert_eq!((info.sample_rate, info.channels), (16_000, 1));
    // The source was 1.25 s. symphonia 0.5 ignores the MP4 edit list, so AAC's 1024 frames of
    // encoder priming and the last packet's padding (< 1024 frames) stay in: at most 0.128 s more.
    assert!(info.duration_s >= 1.25 && info.duration_s <= 1.25 + 2048.0 / 16_000.0, "{} s", info.duration_s);
}

#[test]
fn load_16k_resamples_each_channel_separately() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let rate = 8_000;
    let mut channels = tones(rate, 2, 8_000);
    channels[1].iter_mut().for_each(|s| *s = 0.0); // a silent second party
    std::fs::write(&path, encode_wav(rate, &channels, WavEncoding::MuLaw)).unwrap();

    let audio = load_16k(&path).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert_eq!(audio.len(), 16_000);
    assert!((audio.duration_s() - 1.0).abs() < 1e-9);
    assert_eq!(audio.info.sample_rate, rate, "info describes the original file");
    let energy = |c: &[f32]| c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32;
    assert!(energy(&audio.channels[0]) > 0.1, "tone channel kept its energy");
    assert!(energy(&audio.channels[1]) < 1e-6, "silent channel stayed silent: channels not mixed");
    assert_eq!(ANALYSIS_RATE, 16_000);
}

#[test]
fn wav_whose_data_length_was_never_written_decodes_everything() {
    let dir = tempfile::tempdir().unwrap();
    for placeholder in [0u32, u32::MAX] {
        let mut bytes = encode_wav(8_000, &tones(8_000, 1, 12_000), WavEncoding::Pcm16);
        let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
        bytes[data_at + 4..data_at + 8].copy_from_slice(&placeholder.to_le_bytes());
        bytes[4..8].copy_from_slice(&placeholder.to_le_bytes());
        let path = dir.path().join(format!("streamed_{placeholder}.wav"));
        std::fs::write(&path, bytes).unwrap();
        let info = probe_info(&path).unwrap_or_else(|e| panic!("placeholder {placeholder:#x}: {e}"));
        assert_eq!(info.frames, 12_000, "placeholder {placeholder:#x}");
        assert!(info.warnings.iter().any(|w| w.contains("never stated")), "{:?}", info.warnings);
    }
}
