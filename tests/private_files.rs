//! Private files: with the permissive umask 022, every kind of output emotrace writes from a
//! recording (analyze's report folder, a batch folder, a segments CSV, features, labels, a
//! trained bundle) is created 0600 (files) / 0700 (folders); `--shared-output` gives 0640/0750.
//! The umask is process-wide, so the program runs as a child with its own umask.

mod cli_support;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::fuzz::seeds::speechlike;

fn emotrace_with_umask_022() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
    command.env("EMOTRACE_DATA_DIR", std::env::temp_dir().join(format!("emotrace-tests-no-user-data-{}", std::process::id())));
    command.env_remove("EMOTRACE_SHARED_FILES");
    // SAFETY: umask is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    command
}

fn run(name: &str, command: &mut Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{name} failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn call(path: &Path) {
    let rate = 8_000;
    let burst = speechlike(rate, 1, rate as usize * 2).remove(0);
    let mut left = vec![0f32; rate as usize * 30];
    let mut right = left.clone();
    for turn in 0..9 {
        let start = (turn * 3 + 1) * rate as usize;
        let channel = if turn % 3 == 2 { &mut right } else { &mut left };
        channel[start..start + burst.len()].copy_from_slice(&burst);
    }
    write_wav(path, rate, &[left, right], WavEncoding::Pcm16).unwrap();
}

/// Every file and folder under `root` (not `root` itself) with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            found.push((path.clone(), metadata.is_dir(), metadata.permissions().mode() & 0o777));
            if metadata.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

/// Writes every kind of output into `out` (a folder the test made, mode 0700).
fn write_every_output(root: &Path, out: &Path, shared: bool) {
    let model = cli_support::tiny_random_bundle(&root.join(if shared { "model-shared" } else { "model" }));
    let recording = root.join("call.wav");
    if !recording.exists() {
        call(&recording);
    }
    let with_flag = |command: &mut Command| {
        if shared {
            command.arg("--shared-output");
        }
    };
    let mut analyze = emotrace_with_umask_022();
    analyze.arg("analyze").arg(&recording).arg("--model").arg(&model).args(["--quiet", "--out"]).arg(out.join("report/call1"));
    with_flag(&mut analyze);
    run("analyze", &mut analyze);

    let manifest = root.join("manifest.csv");
    std::fs::write(&manifest, format!("call_id,path\nc1,{}\n", recording.display())).unwrap();
    let mut batch = emotrace_with_umask_022();
    batch.arg("batch").arg(&manifest).arg("--out").arg(out.join("batch")).arg("--model").arg(&model);
    with_flag(&mut batch);
    run("batch", &mut batch);

    let mut segment = emotrace_with_umask_022();
    segment.arg("segment").arg(&recording).arg("--out").arg(out.join("segments.csv"));
    with_flag(&mut segment);
    run("segment", &mut segment);

    let mut features = emotrace_with_umask_022();
    features.arg("features").arg(&recording).arg("--out").arg(out.join("features"));
    with_flag(&mut features);
    run("features", &mut features);

    // Labels are written beside the recording: a copy of it inside the output folder.
    let labelled = out.join("labelled.wav");
    std::fs::copy(&recording, &labelled).unwrap();
    std::fs::set_permissions(&labelled, std::fs::Permissions::from_mode(if shared { 0o640 } else { 0o600 })).unwrap();
    let mut labels = emotrace_with_umask_022();
    labels.arg("label-stress").arg(&labelled).args(["--count", "3"]);
    with_flag(&mut labels);
    run("labels", &mut labels);
    assert!(out.join("labelled.labels.csv").exists());

    let mut clips = String::from("path,corpus,speaker,emotion,label_binary,duration_s\n");
    for i in 0..6 {
        let name = format!("clip{i}.wav");
        let clip = speechlike(16_000, 1, 6_400 + 800 * i).remove(0);
        write_wav(&root.join(&name), 16_000, &[clip], WavEncoding::Float32).unwrap();
        let label = if i % 2 == 0 { "negative" } else { "non-negative" };
        clips.push_str(&format!("{name},synthetic,s{},x,{label},0.4\n", i % 3));
    }
    std::fs::write(root.join("train.csv"), clips).unwrap();
    let mut train = emotrace_with_umask_022();
    train
        .args(["train", "--config", "tiny", "--epochs", "1", "--batch", "4", "--val-speakers", "s0", "--data"])
        .arg(root.join("train.csv"))
        .arg("--out")
        .arg(out.join("trained"));
    with_flag(&mut train);
    run("train", &mut train);
}

fn made_folder(path: &Path) {
    std::fs::DirBuilder::new().mode(0o700).create(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn every_output_is_owner_only_with_umask_022() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    made_folder(&out);
    write_every_output(dir.path(), &out, false);
    let found = modes(&out);
    let kinds = ["report", "batch", "segments.csv", "features", "labelled.labels.csv", "trained"];
    for kind in kinds {
        assert!(found.iter().any(|(p, _, _)| p.starts_with(out.join(kind))), "no {kind} output");
    }
    let wrong: Vec<_> = found.iter().filter(|(_, is_dir, mode)| *mode != if *is_dir { 0o700 } else { 0o600 }).collect();
    assert!(wrong.is_empty(), "not private: {wrong:#?}");
    eprintln!("{} outputs, all 0600/0700", found.len());
}

#[test]
fn shared_output_is_group_readable_as_the_umask_allows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    made_folder(&out);
    write_every_output(dir.path(), &out, true);
    let found = modes(&out);
    let wrong: Vec<_> = found
        .iter()
        .filter(|(path, is_dir, mode)| *mode != if *is_dir { 0o750 } else { 0o640 } && !path.ends_with("labelled.wav"))
        .collect();
    assert!(wrong.is_empty(), "not 0640/0750: {wrong:#?}");
}
