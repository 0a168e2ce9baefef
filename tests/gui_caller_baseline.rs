//! A caller baseline in the real window under Xvfb (Model → "Centre on an earlier call of this
//! caller…", driven by the test script's `centre-on`): with the built-in centred model, the
//! window's scores centred on an earlier call's report equal `emotrace analyze --centre-on` on
//! the same call, differ from the call centred on itself, and the window says which call they are
//! centred on. The demo call's two channels stand in for two calls of one caller.
//! Skips with a message where xvfb-run is not installed.


mod gui_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use emotrace::model::default_centred::CENTRED_MODEL_NAME;

/// `p_nonnegative` of every row of an analysis folder's segments.csv, with the row's start.
fn scores(dir: &Path) -> Vec<(String, f64)> {
    let csv = std::fs::read_to_string(dir.join("segments.csv")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let start = header.iter().position(|h| *h == "start_s").unwrap();
    let p = header.iter().position(|h| *h == "p_nonnegative").unwrap();
    csv.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[start].to_string(), fields[p].parse().unwrap())
        })
        .collect()
}

fn mean_logit(rows: &[(String, f64)]) -> f64 {
    rows.iter().map(|(_, p)| (p / (1.0 - p)).ln()).sum::<f64>() / rows.len() as f64
}

fn analyze(call: &Path, bundle: &Path, out: &Path, extra: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .arg("analyze")
        .arg(call)
        .args(["--quiet", "--model"])
        .arg(bundle)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "analyze {extra:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_window_centres_a_call_on_an_earlier_call_as_the_command_line_does() {
    if !gui_support::xvfb_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let call = emotrace::assets::install_demo_call_in(work.path()).unwrap();
    let data = work.path().join("data");
    let bundle = data.join("models").join(CENTRED_MODEL_NAME);
    std::fs::create_dir_all(data.join("models")).unwrap();
    let export = Command::new(env!("CARGO_BIN_EXE_emotrace")).args(["export-model", "default-centred"]).arg(&bundle).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));

    // The window scores the party segmentation suggests; the "earlier call" is the other one.
    let own = work.path().join("cli-own");
    analyze(&call, &bundle, &own, &[]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(own.join("report.json")).unwrap()).unwrap();
    let scored = report["caller_assignment"]["caller"].as_str().unwrap_or_else(|| panic!("no caller in {report}")).to_string();
    let other = match scored.as_str() {
        "left" => "right",
        "right" => "left",
        party => panic!("the demo call is stereo; scored party {party}"),
    };
    let earlier = work.path().join("earlier call 首次");
    analyze(&call, &bundle, &earlier, &["--caller", other]);
    let reference = work.path().join("cli-baseline");
    analyze(&call, &bundle, &reference, &["--centre-on", &earlier.display().to_string()]);

    let config = work.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let settings = serde_json::json!({"assessment_minutes": 0.5, "model": CENTRED_MODEL_NAME, "annotator": "test"});
    std::fs::write(config.join("gui-settings.json"), settings.to_string()).unwrap();
    let (itself, centred) = (work.path().join("window-itself"), work.path().join("window-baseline"));
    let script = format!(
        "export {}\ncentre-on {}\nexport {}\n",
        itself.display(),
        earlier.join("report.json").display(),
        centred.display()
    );
    let dump = work.path().join("state.json");
    let state = gui_support::run_scripted_window(&call, &config, &data, Some(&script), &dump);

    // Centred on itself, the window equals the command line without a baseline.
    assert_eq!(scores(&itself), scores(&own));
    // Centred on the earlier call, it equals `analyze --centre-on`, row for row.
    let window = scores(&centred);
    let cli = scores(&reference);
    assert_eq!(window.len(), cli.len());
    for ((start_w, p_w), (start_c, p_c)) in window.iter().zip(&cli) {
        assert_eq!(start_w, start_c);
        assert!((p_w - p_c).abs() < 1e-6, "segment at {start_w}: window {p_w}, command line {p_c}");
    }
    // ... which is not the call centred on itself (the test would mean nothing otherwise).
    let shift = mean_logit(&window) - mean_logit(&scores(&itself));
    assert!(shift.abs() > 0.05, "centring on the other party moved the mean logit by only {shift}");
    let exported: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(centred.join("report.json")).unwrap()).unwrap();
    let source = exported["settings"]["baseline"]["source"].as_str().unwrap_or_else(|| panic!("no baseline in {exported}"));
    assert_eq!(PathBuf::from(source), call);
    let notices: Vec<&str> = state["model_notices"].as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    let name = call.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        notices.iter().any(|n| n.contains("earlier call") && n.contains(&name)),
        "the window does not say which call the scores are centred on: {notices:?}"
    );
}
