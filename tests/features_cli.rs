//! `emotrace features` end to end: decode a WAV, write .npy files, and check they hold exactly
//! what the library computes (shapes, values), for one window and for --windows.

use std::path::Path;
use std::process::Command;

use emotrace::features::{npy, FeatureExtractor, MFCC39_DIM};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emotrace")).args(args).output().expect("run emotrace")
}

fn test_signal(seconds: f64) -> Vec<f32> {
    let n = (seconds * 16000.0) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16000.0;
            // i16 levels so the WAV round trip is exact.
            let v = 0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin() + 0.1 * (2.0 * std::f32::consts::PI * 1700.0 * t).sin();
            (v * 32768.0).round() / 32768.0
        })
        .collect()
}

fn read(dir: &Path, name: &str) -> npy::NpyArray {
    npy::read(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn single_window_matches_library() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("call.wav");
    let signal = test_signal(12.5);
    emotrace::audio::wav::write_wav_i16(&wav, 16000, &[signal.clone()]).unwrap();
    let out = tmp.path().join("feat");
    let o = run(&["features", wav.to_str().unwrap(), "--start", "1.5", "--duration", "4", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let clip = &signal[24000..24000 + 64000];
    let want = FeatureExtractor::new().extract(clip).unwrap();
    let mfcc = read(&out, "mfcc39.npy");
    assert_eq!(mfcc.shape, vec![1001, MFCC39_DIM]);
    assert_eq!(mfcc.to_f32(), want.mfcc39);
    let frames = read(&out, "pitch_frames.npy");
    assert_eq!(frames.shape, vec![1 + 64000 / 512]);
    assert_eq!(frames.to_f32(), want.pitch_frames);
    assert_eq!(read(&out, "pitch_track.npy").to_f32(), want.pitch_track);
    let audio = read(&out, "audio_norm.npy");
    assert_eq!(audio.shape, vec![64000]);
    assert_eq!(audio.to_f32(), want.audio_norm);
}

#[test]
fn windows_are_stacked_and_padded() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("call.wav");
    let signal = test_signal(23.0);
    emotrace::audio::wav::write_wav_i16(&wav, 16000, &[signal.clone(), signal.clone()]).unwrap();
    let out = tmp.path().join("feat");
    let o = run(&["features", wav.to_str().unwrap(), "--windows", "--channel", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    assert_eq!(read(&out, "mfcc39.npy").shape, vec![3, 1001, MFCC39_DIM]);
    assert_eq!(read(&out, "pitch_frames.npy").shape, vec![3, 1 + 160000 / 512]);
    let audio = read(&out, "audio_norm.npy");
    assert_eq!(audio.shape, vec![3, 160000]);
    assert_eq!(read(&out, "window_samples.npy").to_f32(), vec![160000.0, 160000.0, 48000.0]);
    assert_eq!(read(&out, "window_start_s.npy").to_f32(), vec![0.0, 10.0, 20.0]);
    // The last (3-s) window equals a direct extraction, zero-padded after its end.
    let want = FeatureExtractor::new().extract(&signal[320000..]).unwrap();
    let last = &audio.to_f32()[2 * 160000..];
    assert_eq!(&last[..48000], want.audio_norm.as_slice());
    assert!(last[48000..].iter().all(|&v| v == 0.0));
}

#[test]
fn bad_arguments_are_clean_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = tmp.path().join("call.wav");
    emotrace::audio::wav::write_wav_i16(&wav, 16000, &[test_signal(1.0)]).unwrap();
    let out = tmp.path().join("feat");
    for args in [
        vec!["--channel", "3"],
        vec!["--start", "5"],
        vec!["--duration", "-1"],
        vec!["--channel", "left"],
    ] {
        let mut full = vec!["features", wav.to_str().unwrap(), "--out", out.to_str().unwrap()];
        full.extend(args.iter().copied());
        let o = run(&full);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}
