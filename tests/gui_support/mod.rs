//! A generated "call" for the window's tests and screenshot: stereo, the caller on channel 0 and
//! the operator on channel 1, taking turns with pauses; speech is stood in for by voiced,
//! syllable-modulated tones over faint line noise. Deterministic.

#![allow(dead_code)]

use std::path::Path;

/// A small deterministic generator (no dependency on the rand crate's algorithms).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// Writes a `minutes`-long stereo call at `rate` Hz (16-bit WAV); returns the caller turns
/// (start, end) in seconds.
pub fn write_synthetic_call(path: &Path, minutes: f64, rate: u32) -> Vec<(f64, f64)> {
    let (caller, operator, turns) = synthetic_parties(minutes, rate);
    emotrace::audio::wav::write_wav_i16(path, rate, &[caller, operator]).expect("write the synthetic call");
    turns
}

/// The same call mixed to one channel (both parties on one line, as a mono recorder hears them).
pub fn write_synthetic_mono_call(path: &Path, minutes: f64, rate: u32) -> Vec<(f64, f64)> {
    let (mixed, turns) = mixed_parties(minutes, rate);
    emotrace::audio::wav::write_wav_i16(path, rate, &[mixed]).expect("write the synthetic call");
    turns
}

/// The mono call of [`write_synthetic_mono_call`] saved as stereo: the same mix on both channels,
/// as some call recorders store a mono line.
pub fn write_synthetic_dual_mono_call(path: &Path, minutes: f64, rate: u32) {
    let (mixed, _) = mixed_parties(minutes, rate);
    emotrace::audio::wav::write_wav_i16(path, rate, &[mixed.clone(), mixed]).expect("write the synthetic call");
}

/// Both parties of [`synthetic_parties`] on one channel, and the caller's turns.
fn mixed_parties(minutes: f64, rate: u32) -> (Vec<f32>, Vec<(f64, f64)>) {
    let (caller, operator, turns) = synthetic_parties(minutes, rate);
    (caller.iter().zip(&operator).map(|(a, b)| a + b).collect(), turns)
}

/// The tiny random-weight parity model as a bundle named `tiny-model` under `data/models/`
/// (where the window looks); its meta.json marks it as needing fine-tuning. Returns its folder.
pub fn write_tiny_bundle(data: &Path) -> std::path::PathBuf {
    use emotrace::model::bundle::{write_bundle, BundleMeta};
    use emotrace::model::config::FusedConfig;
    use emotrace::model::weights::read_safetensors;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_layer_prenorm");
    let config: FusedConfig =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap()).unwrap();
    let tensors = read_safetensors(&fixture.join("model.safetensors")).unwrap();
    let bundle = data.join("models").join("tiny-model");
    write_bundle(&bundle, &config, &tensors, BundleMeta::new("tiny-random", "none: random weights", "test fixture", true), false)
        .unwrap();
    bundle
}

/// Caller and operator channels and the caller's turns.
fn synthetic_parties(minutes: f64, rate: u32) -> (Vec<f32>, Vec<f32>, Vec<(f64, f64)>) {
    let total = (minutes * 60.0 * rate as f64) as usize;
    let mut caller = vec![0f32; total];
    let mut operator = vec![0f32; total];
    let mut rng = Lcg(0x5eed_ca11);
    for i in 0..total {
        caller[i] = (rng.next_f64() as f32 - 0.5) * 0.002;
        operator[i] = (rng.next_f64() as f32 - 0.5) * 0.002;
    }
    let mut turns = Vec::new();
    let mut t = 1.0;
    let end = minutes * 60.0;
    let mut caller_turn = true;
    while t < end - 1.0 {
        let length = if caller_turn { rng.range(1.5, 9.0) } else { rng.range(1.0, 5.0) };
        let stop = (t + length).min(end - 0.5);
        let pitch = if caller_turn { rng.range(180.0, 260.0) } else { rng.range(100.0, 140.0) };
        let loudness = rng.range(0.15, 0.45);
        let channel = if caller_turn { &mut caller } else { &mut operator };
        let (a, b) = ((t * rate as f64) as usize, (stop * rate as f64) as usize);
        for (k, sample) in channel[a..b].iter_mut().enumerate() {
            let time = k as f64 / rate as f64;
            let syllables = 0.45 + 0.55 * (std::f64::consts::PI * 4.0 * time).sin().abs();
            let vibrato = pitch * (1.0 + 0.03 * (2.0 * std::f64::consts::PI * 5.0 * time).sin());
            let phase = 2.0 * std::f64::consts::PI * vibrato * time;
            let voiced = phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin();
            *sample += (loudness * syllables * voiced / 1.75) as f32;
        }
        if caller_turn {
            turns.push((t, stop));
        }
        t = stop + rng.range(0.6, 2.0);
        caller_turn = !caller_turn;
    }
    (caller, operator, turns)
}

fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the window tests can run here (xvfb-run and Xvfb installed); says why not if not.
pub fn xvfb_available() -> bool {
    let ok = have("xvfb-run") && have("Xvfb");
    if !ok {
        eprintln!("SKIPPED: xvfb-run/Xvfb not installed (run packaging/setup.sh); the window test needs a virtual display");
    }
    ok
}

/// Runs `emotrace CALL` under xvfb-run with `script` (none: just open), English, no audio output,
/// the given config and data folders, and returns the state dump it writes once done.
pub fn run_scripted_window(call: &Path, config: &Path, data: &Path, script: Option<&str>, dump: &Path) -> serde_json::Value {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let mut command = Command::new("xvfb-run");
    if let Some(script) = script {
        let path = dump.with_extension("script");
        std::fs::write(&path, script).unwrap();
        command.env("EMOTRACE_GUI_SCRIPT", path);
    }
    let mut child = command
        .args(["-a", "-s", "-screen 0 1400x900x24"])
        .arg(env!("CARGO_BIN_EXE_emotrace"))
        .arg(call)
        .env("EMOTRACE_GUI_STATE_DUMP", dump)
        .env("EMOTRACE_GUI_EXIT_AFTER_DUMP", "1")
        .env("EMOTRACE_AUDIO", "null")
        .env("EMOTRACE_CONFIG_DIR", config)
        .env("EMOTRACE_DATA_DIR", data)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xvfb-run");
    // A hang guard, not a speed requirement (generous: CI machines differ ~3x in speed).
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(status.is_some(), "the window did not finish within the hang guard; stderr: {stderr}");
    assert!(dump.exists(), "no state dump written; exit {status:?}; stderr: {stderr}");
    serde_json::from_slice(&std::fs::read(dump).unwrap()).unwrap()
}
