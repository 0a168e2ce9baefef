//! Named edge signals through the whole pipeline (decode at 16 kHz, features, segmentation,
//! scoring with the fuzzer's tiny random model): each either analyses to finite results or
//! ends in one clean error, never a panic.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use emotrace::audio::wav::{encode_wav, WavEncoding};
use emotrace::audio::{load_16k, probe_info, ANALYSIS_RATE};
use emotrace::fuzz::seeds::speechlike;
use emotrace::fuzz::tiny_scoring_model;
use emotrace::pipeline::{analyze_decoded, AnalysisSettings, CallAnalysis, ScoreMemo};

/// Decodes and analyses a file; panics (fails the test) on any non-finite result.
fn analyse(path: &Path) -> Result<CallAnalysis, String> {
    let audio = load_16k(path).map_err(|e| e.to_string())?;
    assert!(audio.channels.iter().flatten().all(|s| s.is_finite()), "non-finite decoded samples");
    let model = tiny_scoring_model().unwrap();
    let analysis = analyze_decoded(
        path,
        &audio,
        &AnalysisSettings::default(),
        &model,
        &ScoreMemo::default(),
        0.0,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .map_err(|e| e.to_string())?;
    for segment in &analysis.segments {
        assert!(segment.p_nonnegative.is_finite() && (0.0..=1.0).contains(&segment.p_nonnegative), "{segment:?}");
        assert!(segment.start_s >= 0.0 && segment.end_s <= analysis.call_duration_s + 0.01, "{segment:?}");
    }
    Ok(analysis)
}

fn write(dir: &Path, name: &str, rate: u32, channels: &[Vec<f32>], encoding: WavEncoding) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, encode_wav(rate, channels, encoding)).unwrap();
    path
}

#[test]
fn all_zero_has_no_speech() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "zero.wav", 8_000, &[vec![0.0; 8_000 * 20]], WavEncoding::Pcm16);
    let analysis = analyse(&path).unwrap();
    assert!(analysis.segments.is_empty(), "{:?}", analysis.segments);
    assert!((analysis.call_duration_s - 20.0).abs() < 0.01);
}

#[test]
fn dc_only_has_no_speech() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "dc.wav", 8_000, &[vec![0.5; 8_000 * 20]], WavEncoding::Pcm16);
    let analysis = analyse(&path).unwrap();
    assert!(analysis.segments.is_empty(), "{:?}", analysis.segments);
}

#[test]
fn full_scale_clipping_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    // The voiced-like signal amplified 20 times: a square-ish wave pinned at ±1.
    let clipped: Vec<f32> = speechlike(16_000, 1, 16_000 * 12)[0].iter().map(|s| (s * 20.0).clamp(-1.0, 1.0)).collect();
    assert!(clipped.iter().filter(|s| s.abs() == 1.0).count() > clipped.len() / 4);
    let path = write(dir.path(), "clipped.wav", 16_000, &[clipped], WavEncoding::Pcm16);
    let analysis = analyse(&path).unwrap();
    assert!((analysis.call_duration_s - 12.0).abs() < 0.01);
}

#[test]
fn one_sample_and_fifty_milliseconds_end_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for (name, frames) in [("one.wav", 1), ("short.wav", 400)] {
        let path = write(dir.path(), name, 8_000, &speechlike(8_000, 1, frames), WavEncoding::Pcm16);
        assert_eq!(probe_info(&path).unwrap().frames, frames as u64);
        // Too short for a segment: either no segments or a clear error, never a panic.
        match analyse(&path) {
            Ok(analysis) => assert!(analysis.segments.is_empty(), "{name}: {:?}", analysis.segments),
            Err(message) => assert!(!message.is_empty()),
        }
    }
}

#[test]
fn rate_384_khz_is_resampled() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fast.wav", 384_000, &speechlike(384_000, 1, 384_000 * 3), WavEncoding::Pcm24);
    let info = probe_info(&path).unwrap();
    assert_eq!(info.sample_rate, 384_000);
    let audio = load_16k(&path).unwrap();
    assert!((audio.len() as i64 - 3 * ANALYSIS_RATE as i64).abs() <= 16, "{} frames", audio.len());
    analyse(&path).unwrap();
}

#[test]
fn thirty_two_channels_get_a_clear_error_and_twenty_six_decode() {
    let dir = tempfile::tempdir().unwrap();
    // Symphonia 0.5 names 26 speaker positions; a WAV with more channels is refused cleanly.
    let wide = write(dir.path(), "wide.wav", 8_000, &speechlike(8_000, 32, 8_000), WavEncoding::Pcm16);
    let message = analyse(&wide).unwrap_err();
    assert!(message.contains("channel"), "{message}");
    let path = write(dir.path(), "many.wav", 8_000, &speechlike(8_000, 26, 8_000 * 4), WavEncoding::Pcm16);
    assert_eq!(probe_info(&path).unwrap().channels, 26);
    let analysis = analyse(&path).unwrap();
    assert!(analysis.segments.iter().all(|s| s.channel < 26));
}

#[test]
fn all_nan_float_wav_decodes_to_silence_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "nan.wav", 16_000, &[vec![f32::NAN; 16_000 * 5]], WavEncoding::Float32);
    let info = probe_info(&path).unwrap();
    assert!(info.warnings.iter().any(|w| w.contains("80000 sample(s) were not numbers")), "{:?}", info.warnings);
    let audio = load_16k(&path).unwrap();
    assert!(audio.channels[0].iter().all(|&s| s == 0.0));
    assert!(analyse(&path).unwrap().segments.is_empty());
}

#[test]
fn four_hour_call_is_measured_and_segmented() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four_hours.wav");
    let rate = 4_000u32;
    let frames = 4 * 3600 * rate as u64;
    // A sparse 16-bit file: the header, zeros (silence) everywhere but three 4-s "speech" bursts.
    let header = encode_wav(rate, &[vec![]], WavEncoding::Pcm16);
    let mut file = std::fs::File::create(&path).unwrap();
    let mut header = header;
    let data_len = (frames * 2) as u32;
    header[4..8].copy_from_slice(&(36 + data_len).to_le_bytes());
    header[40..44].copy_from_slice(&data_len.to_le_bytes());
    file.write_all(&header).unwrap();
    file.set_len(44 + frames * 2).unwrap();
    let burst = speechlike(rate, 1, rate as usize * 4).remove(0);
    let burst_bytes: Vec<u8> = burst.iter().flat_map(|s| ((s * 32767.0) as i16).to_le_bytes()).collect();
    let bursts_s = [600u64, 7_200, 14_000];
    for start_s in bursts_s {
        file.seek(SeekFrom::Start(44 + start_s * rate as u64 * 2)).unwrap();
        file.write_all(&burst_bytes).unwrap();
    }
    drop(file);

    let info = probe_info(&path).unwrap();
    assert_eq!(info.frames, frames);
    assert!((info.duration_s - 14_400.0).abs() < 1e-6);
    let audio = load_16k(&path).unwrap();
    let segmentation = emotrace::segmentation::segment_call(
        &audio.channels,
        ANALYSIS_RATE,
        &Default::default(),
        emotrace::segmentation::CallerChoice::Auto,
    )
    .unwrap();
    // Speech is found only where the bursts are.
    assert!(!segmentation.segments.is_empty());
    for segment in &segmentation.segments {
        assert!(
            bursts_s.iter().any(|&b| segment.start_s >= b as f64 - 2.0 && segment.end_s <= b as f64 + 6.0),
            "a segment in silence: {:.1}-{:.1} s",
            segment.start_s,
            segment.end_s
        );
    }
}
