//! `emotrace info` and the promise that bad input never panics: a clear one-line error and a
//! non-zero exit, or, for damaged-but-readable files, the audio that is there plus a warning.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use emotrace::audio::wav::{encode_wav, WavEncoding};

fn emotrace(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emotrace")).args(args).output().expect("run emotrace")
}

fn info(path: &Path, json: bool) -> Output {
    let mut args = vec![std::ffi::OsStr::new("info"), path.as_os_str()];
    if json {
        args.push(std::ffi::OsStr::new("--json"));
    }
    emotrace(&args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio").join(name)
}

/// Asserts a clean failure: non-zero exit, one `error:` line on stderr naming the problem.
fn assert_clean_failure(output: &Output, expected_words: &str) {
    let message = stderr(output);
    assert!(!output.status.success(), "should fail: {message}");
    assert!(!message.contains("panicked"), "panicked: {message}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line expected: {message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(
        message.to_lowercase().contains(expected_words),
        "expected '{expected_words}' in: {message}"
    );
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

fn tone(frames: usize) -> Vec<f32> {
    (0..frames).map(|i| 0.4 * (i as f32 * 0.05).sin()).collect()
}

#[test]
fn info_reports_an_8khz_mulaw_stereo_wav() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("通话录音 2026-03-01.wav");
    std::fs::write(&path, encode_wav(8_000, &[tone(98_765), tone(98_765)], WavEncoding::MuLaw))
        .unwrap();

    let value = json_of(&info(&path, true));
    assert_eq!(value["container"], "WAV");
    assert_eq!(value["sample_rate"], 8_000);
    assert_eq!(value["channels"], 2);
    assert_eq!(value["frames"], 98_765);
    assert!((value["duration_s"].as_f64().unwrap() - 98_765.0 / 8_000.0).abs() < 1e-9);
    assert_eq!(value["skipped_packets"], 0);
    assert!(value["codec"].as_str().unwrap().to_lowercase().contains("law"));

    let text = info(&path, false);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    for expected in ["container:", "codec:", "sample rate:      8000 Hz", "channels:         2", "12.346 s", "skipped packets:  0", "通话录音"] {
        assert!(stdout.contains(expected), "missing '{expected}' in:\n{stdout}");
    }
}

#[test]
fn info_reports_compressed_fixtures() {
    for (name, rate, channels, duration) in [
        ("tone_44k1_stereo.mp3", 44_100, 2, 2.345),
        ("tones_48k_6ch.flac", 48_000, 6, 1.5),
        ("tone_22k05_mono.ogg", 22_050, 1, 1.777),
    ] {
        let value = json_of(&info(&fixture(name), true));
        assert_eq!(value["sample_rate"], rate, "{name}");
        assert_eq!(value["channels"], channels, "{name}");
        let got = value["duration_s"].as_f64().unwrap();
        assert!((got - duration).abs() <= 0.010, "{name}: {got}");
    }
}

#[test]
fn missing_file_is_a_clean_error() {
    assert_clean_failure(&info(Path::new("/no/such/call.wav"), false), "cannot open");
}

#[test]
fn zero_length_file_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    std::fs::write(&path, b"").unwrap();
    assert_clean_failure(&info(&path, false), "empty");
}

#[test]
fn text_file_renamed_wav_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.wav");
    std::fs::write(&path, "Call notes: the caller was calm at the end.\n".repeat(40)).unwrap();
    assert_clean_failure(&info(&path, false), "not a recognised audio file");
}

#[test]
fn unsupported_codecs_are_clean_errors() {
    assert_clean_failure(&info(&fixture("unsupported_opus.ogg"), false), "unsupported");

    // A WAV whose format tag says GSM 6.10, which nothing here decodes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gsm.wav");
    let mut bytes = encode_wav(8_000, &[tone(4_000)], WavEncoding::Pcm16);
    bytes[20..22].copy_from_slice(&0x0031u16.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    assert_clean_failure(&info(&path, false), "unsupported");
}

#[test]
fn truncated_wav_decodes_what_is_there_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.wav");
    let full = encode_wav(16_000, &[tone(160_000)], WavEncoding::Pcm16);
    let kept = 44 + 2 * 64_000; // header + 4.0 s of 16-bit mono
    std::fs::write(&path, &full[..kept]).unwrap();

    let output = info(&path, true);
    let value = json_of(&output);
    let duration = value["duration_s"].as_f64().unwrap();
    assert!((duration - 4.0).abs() < 0.01, "decoded {duration} s of the 4 s present");
    assert_eq!(value["declared_duration_s"].as_f64().unwrap(), 10.0);
    let message = stderr(&output);
    assert!(message.contains("warning:") && message.contains("missing"), "{message}");
    assert!(message.contains("6.0"), "says how much is missing: {message}");
    assert!(!message.contains("panicked"));
}

#[test]
fn wav_whose_header_overstates_its_length_decodes_the_real_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liar.wav");
    let mut bytes = encode_wav(8_000, &[tone(24_000), tone(24_000)], WavEncoding::MuLaw);
    // Claim ten times as much data as there is (recorders that never patch the header).
    let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
    let real = u32::from_le_bytes(bytes[data_at + 4..data_at + 8].try_into().unwrap());
    bytes[data_at + 4..data_at + 8].copy_from_slice(&(real * 10).to_le_bytes());
    std::fs::write(&path, bytes).unwrap();

    let output = info(&path, true);
    let value = json_of(&output);
    assert!((value["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.01);
    assert!(stderr(&output).contains("missing"), "{}", stderr(&output));
}

#[test]
fn truncated_compressed_files_decode_their_intact_part() {
    let dir = tempfile::tempdir().unwrap();
    for (name, full_duration) in [("tone_44k1_stereo.mp3", 2.345), ("tones_48k_6ch.flac", 1.5)] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let path = dir.path().join(format!("cut_{name}"));
        std::fs::write(&path, &bytes[..bytes.len() * 6 / 10]).unwrap();
        let output = info(&path, true);
        let value = json_of(&output);
        let duration = value["duration_s"].as_f64().unwrap();
        assert!(
            duration > 0.4 * full_duration && duration < 0.8 * full_duration,
            "{name}: {duration} s of {full_duration} s"
        );
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[test]
fn help_explains_every_subcommand() {
    let output = emotrace(&[std::ffi::OsStr::new("--help")]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for subcommand in ["info", "gui"] {
        assert!(help.contains(subcommand), "--help lacks {subcommand}:\n{help}");
    }
}
