//! The caller's trend line (paper Fig. 2): a centred moving average of p with a 95% band, in
//! trend.csv, report.json and the trajectory figures.

use std::path::{Path, PathBuf};

use emotrace::analysis::trend::{caller_trend, DEFAULT_TREND_WINDOW_MINUTES};
use emotrace::analysis::ScoredSegment;
use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::model::bundle::{write_bundle, BundleMeta};
use emotrace::model::weights::read_safetensors;
use emotrace::model::FusedConfig;

mod cli_support;
use cli_support::emotrace;

/// Segments every 20 s for 20 minutes: p high (around 0.85) for the first 10 minutes, low
/// (around 0.15) after, with a little deterministic jitter.
fn step_series() -> Vec<ScoredSegment> {
    (0..60)
        .map(|i| {
            let start_s = i as f64 * 20.0 + 1.0;
            let jitter = 0.08 * ((i as f64) * 1.7).sin();
            let p = if start_s + 2.0 < 600.0 { 0.85 } else { 0.15 } + jitter;
            ScoredSegment { index: i, start_s, end_s: start_s + 4.0, channel: 0, speaker: "left".into(), p_nonnegative: p }
        })
        .collect()
}

#[test]
fn the_trend_of_a_step_crosses_one_half_within_a_window_of_the_step() {
    let segments = step_series();
    for window_minutes in [1.0, DEFAULT_TREND_WINDOW_MINUTES, 5.0] {
        let trend = caller_trend(&segments, 1200.0, window_minutes, 10.0);
        assert_eq!(trend.grid_s.len(), 121, "every 10 s from 0 to 20 min");
        let first_low = trend.mean.iter().position(|&m| m <= 0.5).expect("the trend goes negative");
        let crossing_s = trend.grid_s[first_low];
        let half_window_s = window_minutes * 60.0 / 2.0;
        assert!((crossing_s - 600.0).abs() <= half_window_s, "window {window_minutes} min: crosses at {crossing_s} s");
        // Far from the step the trend is the level of its side.
        assert!(trend.mean[10] > 0.7 && trend.mean[110] < 0.3);
        for i in 0..trend.grid_s.len() {
            assert!(trend.mean[i].is_finite(), "no gaps: segments every 20 s");
            assert!(
                trend.lower[i] <= trend.mean[i] && trend.mean[i] <= trend.upper[i],
                "band contains the mean at {} s",
                trend.grid_s[i]
            );
            assert!(trend.lower[i] >= 0.0 && trend.upper[i] <= 1.0);
        }
        // The band is widest where the window straddles the step (the most spread in p).
        let width = |i: usize| trend.upper[i] - trend.lower[i];
        assert!(width(60) > width(20) && width(60) > width(100));
    }
}

/// A bundle around the tiny random-weight parity model (plumbing, not accuracy).
fn tiny_bundle(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_layer_prenorm");
    let config: FusedConfig = serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap()).unwrap();
    let tensors = read_safetensors(&fixture.join("model.safetensors")).unwrap();
    let out = dir.join("tiny-model");
    write_bundle(&out, &config, &tensors, BundleMeta::new("tiny-random", "none: random weights", "test fixture", true), false).unwrap();
    out
}

/// A stereo 8-kHz call: harmonic tone bursts on the left (the caller) with pauses, a few on the right.
fn synthetic_call(path: &Path, seconds: f64) {
    let rate = 8_000;
    let n = (seconds * rate as f64) as usize;
    let (mut left, mut right) = (vec![0f32; n], vec![0f32; n]);
    let (mut t, mut turn) = (0.5, 0);
    while t + 3.0 < seconds {
        let (channel, length) = if turn % 3 == 2 { (&mut right, 1.0) } else { (&mut left, 2.0) };
        let start = (t * rate as f64) as usize;
        for (i, sample) in channel[start..start + (length * rate as f64) as usize].iter_mut().enumerate() {
            let time = i as f64 / rate as f64;
            let phase = 2.0 * std::f64::consts::PI * (140.0 + 20.0 * (time * 3.0).sin()) * time;
            let envelope = (std::f64::consts::PI * time / length).sin().powi(2);
            *sample = (0.3 * envelope * (phase.sin() + 0.5 * (2.0 * phase).sin())) as f32;
        }
        t += length + 1.2;
        turn += 1;
    }
    write_wav(path, rate, &[left, right], WavEncoding::MuLaw).unwrap();
}

#[test]
fn analyze_writes_the_trend_to_trend_csv_report_json_and_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bundle(dir.path());
    let call = dir.path().join("call.wav");
    synthetic_call(&call, 60.0);
    let out = dir.path().join("report");
    let output = emotrace()
        .arg("analyze")
        .arg(&call)
        .arg("--model")
        .arg(&model)
        .args(["--trend-window", "0.5", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let trend = &report["trend"];
    assert_eq!(trend["window_minutes"], 0.5);
    assert_eq!(report["settings"]["trend_window_minutes"], 0.5);
    let grid = trend["grid_s"].as_array().unwrap();
    assert_eq!(grid.len(), 7, "every 10 s over the 60-s call");
    for key in ["mean", "lower", "upper", "n_segments"] {
        assert_eq!(trend[key].as_array().unwrap().len(), grid.len(), "{key}");
    }

    let csv = std::fs::read_to_string(out.join("trend.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time_s,time_min,mean,lower,upper,n_segments"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), grid.len());
    for (row, i) in rows.iter().zip(0..) {
        let mean = trend["mean"][i].as_f64();
        match mean {
            Some(m) => assert!((row[2].parse::<f64>().unwrap() - m).abs() < 1e-6, "trend.csv and report.json agree"),
            None => assert_eq!(row[2], "", "an empty window has no value in either"),
        }
    }
    assert!(trend["mean"].as_array().unwrap().iter().any(|m| m.is_number()), "{trend}");

    let svg = std::fs::read_to_string(out.join("trajectory.svg")).unwrap();
    assert!(svg.contains("<polygon"), "the band");
    assert!(svg.contains("Trend: 0.5-min moving average"), "the legend");
    assert_eq!(&std::fs::read(out.join("trajectory.png")).unwrap()[1..4], b"PNG");

    // A window that is not a positive number is refused.
    let refused = emotrace().arg("analyze").arg(&call).args(["--trend-window", "0", "--out"]).arg(dir.path().join("x")).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--trend-window"));
}
