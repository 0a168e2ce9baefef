//! Crash safety of user data. A process saving labels one by one (the hidden `label-stress`
//! helper, through `CallLabels`) is SIGKILLed at 100 moments: after every kill the labels file
//! parses and holds every label the process acknowledged. Two processes labelling the same
//! call at once lose nothing (merge on save under a lock). A batch killed 20 times and resumed
//! ends with every call exactly once in calls.csv; training killed 20 times keeps a whole
//! checkpoint and resumes from it.

mod cli_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::fuzz::seeds::speechlike;
use emotrace::training::call_labels::CallLabels;

fn emotrace() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
    command.env("EMOTRACE_DATA_DIR", std::env::temp_dir().join(format!("emotrace-tests-no-user-data-{}", std::process::id())));
    command
}

fn label_writer(recording: &Path, first: u64, count: u64) -> Child {
    emotrace()
        .arg("label-stress")
        .arg(recording)
        .args(["--first", &first.to_string(), "--count", &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The segment numbers a writer acknowledged (its stdout up to its end).
fn acknowledged(child: &mut Child) -> Vec<u64> {
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.strip_prefix("ack ").and_then(|n| n.parse().ok()))
        .collect()
}

/// A kill moment spread over 0-150 ms (the helper acknowledges a save every few ms), from a
/// fixed pseudo-random sequence so a failing trial can be rerun.
fn kill_delay(trial: u64) -> Duration {
    let mixed = trial.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    Duration::from_micros(mixed % 150_000)
}

#[test]
fn labels_survive_sigkill_at_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("call.wav");
    let mut acked_total: BTreeSet<u64> = BTreeSet::new();
    let mut killed_mid_run = 0;
    let mut first = 0;
    for trial in 0..100u64 {
        let mut child = label_writer(&recording, first, 1_000_000);
        let reader = {
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|line| line.strip_prefix("ack ").and_then(|n| n.parse::<u64>().ok()))
                    .collect::<Vec<u64>>()
            })
        };
        std::thread::sleep(kill_delay(trial));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        let acked = reader.join().unwrap();
        acked_total.extend(acked.iter().copied());
        let labels = CallLabels::load(&recording).unwrap_or_else(|e| panic!("trial {trial}: the labels file is damaged: {e}"));
        for &n in &acked_total {
            let start_s = n as f64;
            assert_eq!(labels.get(start_s, start_s + 0.5, "A", 0), Some((n % 2) as u8), "trial {trial}: label {n} lost");
        }
        // The next writer starts past whatever was saved, acknowledged or not.
        first = acked.last().map_or(first, |last| last + 2);
    }
    assert_eq!(killed_mid_run, 100, "every trial killed a running writer");
    assert!(acked_total.len() >= 100, "only {} labels acknowledged over 100 trials", acked_total.len());
    eprintln!("100 SIGKILL trials, {} acknowledged labels all kept", acked_total.len());
}

#[test]
fn two_writers_of_one_call_lose_no_label() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("call.wav");
    let mut first = label_writer(&recording, 0, 150);
    let mut second = label_writer(&recording, 10_000, 150);
    let acked_first = acknowledged(&mut first);
    let acked_second = acknowledged(&mut second);
    assert!(first.wait().unwrap().success() && second.wait().unwrap().success());
    assert_eq!((acked_first.len(), acked_second.len()), (150, 150));
    let labels = CallLabels::load(&recording).unwrap();
    assert_eq!(labels.len(), 300, "one window's save overwrote the other's labels");
}

/// The tiny random-weight parity model as a bundle at `dir`.
/// A short stereo call with voiced-like bursts on both channels.
fn short_call(path: &Path, seconds: usize) {
    let rate = 8_000;
    let burst = speechlike(rate, 1, rate as usize).remove(0);
    let mut left = vec![0f32; rate as usize * seconds];
    let mut right = left.clone();
    for turn in 0..seconds / 2 {
        let start = turn * 2 * rate as usize;
        let channel = if turn % 3 == 2 { &mut right } else { &mut left };
        channel[start..start + burst.len()].copy_from_slice(&burst);
    }
    write_wav(path, rate, &[left, right], WavEncoding::Pcm16).unwrap();
}

#[test]
fn batch_killed_and_resumed_has_every_call_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = cli_support::tiny_random_bundle(&dir.path().join("tiny-model"));
    let mut manifest = String::from("call_id,path\n");
    let ids: Vec<String> = (0..6).map(|i| format!("call{i}")).collect();
    for id in &ids {
        let path = dir.path().join(format!("{id}.wav"));
        short_call(&path, 8);
        manifest.push_str(&format!("{id},{}\n", path.display()));
    }
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let batch = |out: &Path| {
        let mut command = emotrace();
        command.arg("batch").arg(&manifest_path).arg("--out").arg(out).arg("--model").arg(&model).arg("--resume");
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    };
    // How long a whole batch takes here, so the kills can be spread over a run.
    let started = std::time::Instant::now();
    assert!(batch(&dir.path().join("uninterrupted")).status().unwrap().success());
    let whole_run = started.elapsed();
    let mut interrupted = 0;
    for trial in 0..20u64 {
        let out = dir.path().join(format!("batch{trial}"));
        // Killed once at a moment spread over the run, then resumed to the end.
        let mut child = batch(&out).spawn().unwrap();
        std::thread::sleep(whole_run.mul_f64(((trial * 7919) % 1000) as f64 / 1000.0 * 0.9));
        let _ = child.kill();
        if child.wait().unwrap().code().is_none() {
            interrupted += 1;
        }
        let status = batch(&out).status().unwrap();
        assert!(status.success(), "trial {trial}: the resumed batch failed");
        let text = std::fs::read_to_string(out.join("calls.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let id_column = header.iter().position(|c| *c == "call_id").unwrap();
        let stage_column = header.iter().position(|c| *c == "stage").unwrap();
        let mut rows: BTreeMap<(String, String), usize> = BTreeMap::new();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            *rows.entry((fields[id_column].to_string(), fields[stage_column].to_string())).or_default() += 1;
        }
        let called: BTreeSet<&str> = rows.keys().map(|(id, _)| id.as_str()).collect();
        assert_eq!(called, ids.iter().map(String::as_str).collect(), "trial {trial}: calls missing");
        assert!(rows.values().all(|&n| n == 1), "trial {trial}: a call appears twice: {rows:?}");
    }
    assert!(interrupted >= 10, "only {interrupted} of 20 kills landed while the batch ran");
}

/// Training killed at 20 moments: after every kill the checkpoint (once one exists) loads, and
/// the next run resumes from it; a final run finishes and writes a bundle that loads.
#[test]
fn training_killed_twenty_times_resumes_from_a_whole_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::from("path,corpus,speaker,emotion,label_binary,duration_s\n");
    for i in 0..6 {
        let name = format!("clip{i}.wav");
        let clip = speechlike(16_000, 1, 6_400 + 800 * i).remove(0);
        write_wav(&dir.path().join(&name), 16_000, &[clip], WavEncoding::Float32).unwrap();
        let label = if i % 2 == 0 { "negative" } else { "non-negative" };
        manifest.push_str(&format!("{name},synthetic,s{},x,{label},0.4\n", i % 3));
    }
    let manifest_path = dir.path().join("train.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let out = dir.path().join("model");
    let checkpoint = dir.path().join("model.checkpoint");
    let train = |epochs: usize| {
        let mut command = emotrace();
        command
            .args(["train", "--config", "tiny", "--batch", "2", "--val-speakers", "s0", "--epochs", &epochs.to_string(), "--data"])
            .arg(&manifest_path)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut best_done = 0;
    let mut killed = 0;
    for trial in 0..20u64 {
        let mut child = train(10_000).spawn().unwrap();
        // Wait for this run's first checkpoint write, then kill at a moment spread over the
        // next epochs (the checkpoint is rewritten after every epoch).
        let started = std::time::Instant::now();
        while emotrace::training::checkpoint::load(&checkpoint).ok().flatten().is_none_or(|(s, _)| s.epochs_done <= best_done) {
            assert!(started.elapsed().as_secs() < 300, "trial {trial}: no checkpoint after 300 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_micros((trial * 7919 * 37) % 400_000));
        child.kill().unwrap();
        if child.wait().unwrap().code().is_none() {
            killed += 1;
        }
        let loaded = emotrace::training::checkpoint::load(&checkpoint)
            .unwrap_or_else(|e| panic!("trial {trial}: the checkpoint is damaged: {e}"))
            .unwrap_or_else(|| panic!("trial {trial}: the checkpoint vanished"));
        assert!(loaded.0.epochs_done > best_done, "trial {trial}: the checkpoint went back");
        best_done = loaded.0.epochs_done;
        assert!(!out.exists(), "trial {trial}: a killed run left a bundle");
    }
    assert_eq!(killed, 20);
    let status = train(best_done + 1).status().unwrap();
    assert!(status.success());
    emotrace::model::bundle::load_bundle(&out, &candle_core::Device::Cpu).unwrap();
}
