//! Small synthetic mono calls for the speaker-encoder tests.
#![allow(dead_code)]
use std::path::PathBuf;

/// A voice-like 8-kHz signal: harmonics of a gliding pitch `f0` Hz, amplitude-modulated.
pub fn voice(seconds: f64, f0: f64, rate: u32) -> Vec<f32> {
    let n = (seconds * rate as f64) as usize;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            phase += 2.0 * std::f64::consts::PI * f0 * (1.0 + 0.1 * (2.0 * t).sin()) / rate as f64;
            let y: f64 = (1..12).map(|k| (k as f64 * phase).sin() / k as f64).sum();
            (0.2 * y * (0.6 + 0.4 * (6.0 * t).sin().abs())) as f32
        })
        .collect()
}

/// Two alternating "voices" (low and high pitch) with pauses: a 40-s 8-kHz mono call in `dir`.
pub fn write_two_voice_call(dir: &std::path::Path) -> PathBuf {
    let rate = 8000;
    let mut call = Vec::new();
    for turn in 0..16 {
        call.extend(voice(1.6 + 0.3 * (turn % 3) as f64, if turn % 2 == 0 { 110.0 } else { 230.0 }, rate));
        call.extend(std::iter::repeat_n(0.0f32, (0.6 * rate as f64) as usize));
    }
    let wav = dir.join("来电 mono.wav");
    emotrace::audio::wav::write_wav_i16(&wav, rate, &[call]).unwrap();
    wav
}
