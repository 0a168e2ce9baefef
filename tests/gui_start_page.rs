//! The real window under Xvfb with no file: it opens on the start page (EMOTRACE_GUI_START_DUMP),
//! a simulated click on "Try the demo call" (EMOTRACE_GUI_CLICK_DEMO) writes the demo call out of
//! the binary into the data folder and analyses it with the built-in default model, and the
//! window's state dump (EMOTRACE_GUI_STATE_DUMP) shows every caller segment scored and plotted.
//! Skips with a message where xvfb-run is not installed (packaging/setup.sh installs it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(program: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {program}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[test]
fn window_without_a_file_opens_on_the_start_page_and_analyses_the_demo_call() {
    if !have("xvfb-run") || !have("Xvfb") {
        eprintln!("SKIPPED: xvfb-run/Xvfb not installed (run packaging/setup.sh); the window test needs a virtual display");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("config"), dir.path().join("data"));
    let (start_dump, state_dump) = (dir.path().join("start.json"), dir.path().join("state.json"));
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x900x24"])
        .arg(env!("CARGO_BIN_EXE_emotrace"))
        .env("EMOTRACE_GUI_START_DUMP", &start_dump)
        .env("EMOTRACE_GUI_CLICK_DEMO", "1")
        .env("EMOTRACE_GUI_STATE_DUMP", &state_dump)
        .env("EMOTRACE_GUI_EXIT_AFTER_DUMP", "1")
        .env("EMOTRACE_AUDIO", "null")
        .env("EMOTRACE_CONFIG_DIR", &config)
        .env("EMOTRACE_DATA_DIR", &data)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xvfb-run");
    // A hang guard, not a speed requirement.
    let deadline = Instant::now() + Duration::from_secs(300);
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
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    assert!(status.is_some(), "the window did not finish within the hang guard; stderr: {stderr}");

    let start = read_json(&start_dump);
    assert_eq!(start["start_page_shown"], true, "no file given: the start page is shown");
    assert_eq!(start["recent_calls"], 0, "a fresh settings folder has no recent calls");

    let state = read_json(&state_dump);
    let demo = data.join("demo").join("demo-call.wav");
    assert_eq!(std::fs::read(&demo).unwrap(), emotrace::assets::DEMO_CALL, "the demo call is written out of the binary");
    assert_eq!(Path::new(state["file"].as_str().unwrap()), demo);
    assert_eq!(state["phase"], "finished");
    assert_eq!(state["demo_scoring"], false, "the built-in default model scores the demo");
    let default_name = emotrace::model::default_model::default_bundle().unwrap().meta.name;
    assert!(state["model_name"].as_str().unwrap().starts_with(&default_name));
    let rows = state["table_rows"].as_u64().unwrap();
    assert!(rows >= 20, "the demo's caller segments are scored: {rows}");
    assert_eq!(state["plotted_points"].as_u64(), Some(rows), "one trajectory point per segment");
    assert_eq!(state["stages"].as_array().map(Vec::len), Some(2), "stage metrics shown");
    assert_eq!(state["layout"], "stereo");

    // Opening the demo put it in the recent calls, kept in the settings.
    let settings = read_json(&config.join("gui-settings.json"));
    assert_eq!(settings["recent"][0].as_str().map(Path::new), Some(demo.as_path()));
}
