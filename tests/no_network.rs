//! Nothing leaves the machine: `analyze`, `batch`, `train`, `score` and the review window (open
//! a call, analyse, play) run under `strace -f -e trace=socket,connect`, and no AF_INET or
//! AF_INET6 socket may appear. Local IPC (AF_UNIX: X11, D-Bus) is allowed and listed.
//! Skips with a message where strace (or, for the window, xvfb-run) is not installed
//! (packaging/setup.sh installs both).

mod cli_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::fuzz::seeds::speechlike;

fn have(program: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {program}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The tiny random-weight parity model as a bundle at `dir`.
/// A 40-s stereo call: voiced-like bursts alternating between the channels.
fn call(path: &Path) {
    let rate = 8_000;
    let burst = speechlike(rate, 1, rate as usize * 2).remove(0);
    let mut left = vec![0f32; rate as usize * 40];
    let mut right = left.clone();
    for turn in 0..12 {
        let start = (turn * 3 + 1) * rate as usize;
        let channel = if turn % 3 == 2 { &mut right } else { &mut left };
        channel[start..start + burst.len()].copy_from_slice(&burst);
    }
    write_wav(path, rate, &[left, right], WavEncoding::Pcm16).unwrap();
}

/// The address families of every socket()/connect() in an strace log.
fn families(log: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in log.lines().filter(|l| l.contains("socket(") || l.contains("connect(")) {
        let mut rest = line;
        while let Some(at) = rest.find("AF_") {
            let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.insert(name);
            rest = &rest[at + 3..];
        }
    }
    found
}

/// Runs `command` under strace; returns the families it used (the command must succeed).
fn traced(name: &str, log: &Path, command: &mut Command) -> BTreeSet<String> {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{name} failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(log).unwrap();
    // strace notes every traced process's exit: proof it watched the program.
    assert!(text.contains("+++ exited with 0 +++"), "{name}: strace did not trace the program: {text}");
    families(&text)
}

fn strace_command(log: &Path) -> Command {
    let mut command = Command::new("strace");
    command.args(["-f", "-q", "-e", "trace=socket,connect", "-o"]).arg(log).arg(env!("CARGO_BIN_EXE_emotrace"));
    command.env("EMOTRACE_DATA_DIR", log.with_extension("data"));
    command
}

#[test]
fn the_cli_and_the_window_open_no_network_socket() {
    if !have("strace") {
        eprintln!("SKIPPED: strace not installed (run packaging/setup.sh); cannot watch the sockets");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let model = cli_support::tiny_random_bundle(&root.join("tiny-model"));
    let recording = root.join("call.wav");
    call(&recording);
    let mut seen: Vec<(&str, BTreeSet<String>)> = Vec::new();

    let log = root.join("analyze.strace");
    let mut analyze = strace_command(&log);
    analyze.arg("analyze").arg(&recording).arg("--model").arg(&model).args(["--quiet", "--out"]).arg(root.join("report"));
    seen.push(("analyze", traced("analyze", &log, &mut analyze)));

    std::fs::write(root.join("manifest.csv"), format!("call_id,path\nc1,{}\n", recording.display())).unwrap();
    let log = root.join("batch.strace");
    let mut batch = strace_command(&log);
    batch.arg("batch").arg(root.join("manifest.csv")).arg("--out").arg(root.join("batch")).arg("--model").arg(&model);
    seen.push(("batch", traced("batch", &log, &mut batch)));

    let log = root.join("score.strace");
    let mut score = strace_command(&log);
    score.arg("score").arg("--model").arg(&model).arg(&recording);
    seen.push(("score", traced("score", &log, &mut score)));

    let mut manifest = String::from("path,corpus,speaker,emotion,label_binary,duration_s\n");
    for i in 0..6 {
        let name = format!("clip{i}.wav");
        let clip = speechlike(16_000, 1, 6_400 + 800 * i).remove(0);
        write_wav(&root.join(&name), 16_000, &[clip], WavEncoding::Float32).unwrap();
        let label = if i % 2 == 0 { "negative" } else { "non-negative" };
        manifest.push_str(&format!("{name},synthetic,s{},x,{label},0.4\n", i % 3));
    }
    std::fs::write(root.join("train.csv"), manifest).unwrap();
    let log = root.join("train.strace");
    let mut train = strace_command(&log);
    train
        .args(["train", "--config", "tiny", "--epochs", "1", "--batch", "4", "--val-speakers", "s0", "--data"])
        .arg(root.join("train.csv"))
        .arg("--out")
        .arg(root.join("trained"));
    seen.push(("train", traced("train", &log, &mut train)));

    if have("xvfb-run") && have("Xvfb") {
        seen.push(("window", window_families(root, &recording)));
    } else {
        eprintln!("SKIPPED (window only): xvfb-run/Xvfb not installed");
    }

    let mut all = BTreeSet::new();
    for (name, families) in &seen {
        eprintln!("{name}: socket families {families:?}");
        all.extend(families.iter().cloned());
        assert!(!families.contains("AF_INET") && !families.contains("AF_INET6"), "{name} opened a network socket: {families:?}");
    }
    eprintln!("all commands: {all:?}");
}

/// The window opens the call (tiny model picked), analyses it, starts playback, labels two
/// segments, exports every report file, fine-tunes a model on the labels and exits.
fn window_families(root: &Path, recording: &Path) -> BTreeSet<String> {
    let data = root.join("gui-data");
    cli_support::tiny_random_bundle(&data.join("models").join("tiny-model"));
    let config = root.join("gui-config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("gui-settings.json"), br#"{"assessment_minutes": 0.5, "model": "tiny-model", "annotator": "Ann"}"#).unwrap();
    let dump = root.join("state.json");
    let log = root.join("window.strace");
    let export = root.join("window-export");
    let script = root.join("window.script");
    // Label one segment of each class, export, then fine-tune on those labels for an epoch.
    let steps = format!("seek-row 1 0.5\nkey N\nseek-row 2 0.5\nkey P\nexport {}\nfine-tune 1\nwait-fine-tune\n", export.display());
    std::fs::write(&script, steps).unwrap();
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x900x24", "strace", "-f", "-q", "-e", "trace=socket,connect", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_emotrace"))
        .arg(recording)
        .env("EMOTRACE_GUI_STATE_DUMP", &dump)
        .env("EMOTRACE_GUI_SCRIPT", &script)
        .env("EMOTRACE_GUI_PLAY_AFTER_FINISH", "1")
        .env("EMOTRACE_GUI_EXIT_AFTER_DUMP", "1")
        .env("EMOTRACE_AUDIO", "null")
        .env("EMOTRACE_CONFIG_DIR", &config)
        .env("EMOTRACE_DATA_DIR", &data)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(output.status.success(), "window failed: {}", String::from_utf8_lossy(&output.stderr));
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert_eq!(state["phase"], "finished", "the window analysed the call");
    assert_eq!(state["labels_applied"], 2, "the window labelled two segments");
    assert!(state["fine_tune"]["new_model"].is_string(), "the window fine-tuned a model: {}", state["fine_tune"]);
    assert!(export.join("report.json").exists() && export.join("trajectory.png").exists(), "the window exported the report");
    families(&std::fs::read_to_string(&log).unwrap())
}

#[test]
fn families_are_read_from_strace_lines() {
    let log = "12 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3\n\
               12 connect(3, {sa_family=AF_UNIX, sun_path=\"/tmp/.X11-unix/X99\"}, 20) = 0\n\
               13 socket(AF_INET6, SOCK_DGRAM, IPPROTO_IP) = 4\n";
    let found = families(log);
    assert_eq!(found, BTreeSet::from(["AF_UNIX".to_string(), "AF_INET6".to_string()]));
}
