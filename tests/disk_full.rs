//! A full disk and read-only media: labelling, `analyze` and `batch` into a small tmpfs that is
//! filled up, then remounted read-only, fail with one clear message and leave the previous
//! files as they were. Needs permission to mount (root, as in CI); skips with a message
//! otherwise. (Permission bits would not do: root ignores them.)

mod cli_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::fuzz::seeds::speechlike;
use emotrace::training::call_labels::{annotator_labels_path, labels_path, CallLabels};

/// A mounted tmpfs, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).status().ok()?;
        status.success().then(|| Self { path: path.to_path_buf() })
    }

    /// Writes a filler file until the disk refuses more.
    fn fill(&self) {
        let mut filler = std::fs::File::create(self.path.join("filler")).unwrap();
        let block = vec![0xA5u8; 4096];
        while filler.write_all(&block).and_then(|()| filler.sync_all()).is_ok() {}
        // The last block may have gone in part; nothing more fits now.
        assert!(std::fs::write(self.path.join("probe"), vec![1u8; 8192]).is_err(), "the disk is not full");
        let _ = std::fs::remove_file(self.path.join("probe"));
    }

    fn empty(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }

    fn read_only(&self) {
        let status = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.path).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn skip() {
    eprintln!("SKIPPED: cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN); the full-disk and read-only tests need one");
}

/// Every file under `dir` with its content (the filler excluded).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if !path.ends_with("filler") {
                found.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

#[test]
fn labels_on_a_full_then_read_only_disk_keep_the_saved_ones() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "256k") else { return skip() };
    let recording = disk.path.join("call.wav");
    let mut labels = CallLabels::load(&recording).unwrap();
    labels.set(1.0, 2.0, "A", 0, Some(1)).unwrap();
    let saved = std::fs::read(labels_path(&recording)).unwrap();
    let own_path = annotator_labels_path(&recording, labels.annotator());
    let own_saved = std::fs::read(&own_path).unwrap();

    disk.fill();
    let error = labels.set(3.0, 4.0, "A", 0, Some(0)).unwrap_err().to_string();
    // The first file a label save writes is the annotator's own (`call.labels.<annotator>.csv`).
    assert!(error.contains("call.labels.") && error.contains("No space left on device"), "{error}");
    assert_eq!(std::fs::read(labels_path(&recording)).unwrap(), saved);
    assert_eq!(std::fs::read(&own_path).unwrap(), own_saved);
    assert_eq!(labels.get(3.0, 4.0, "A", 0), None, "a failed save is not shown as saved");
    assert_eq!(CallLabels::load(&recording).unwrap().len(), 1);

    disk.empty();
    disk.read_only();
    let error = labels.set(3.0, 4.0, "A", 0, Some(0)).unwrap_err().to_string();
    assert!(error.contains("Read-only file system"), "{error}");
    assert_eq!(std::fs::read(labels_path(&recording)).unwrap(), saved);
    assert_eq!(std::fs::read(&own_path).unwrap(), own_saved);
    let left: Vec<_> = std::fs::read_dir(&disk.path).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().contains(".tmp-")), "temporary files left: {left:?}");
}

/// Runs emotrace; returns (success, stderr).
fn emotrace(args: &mut Command) -> (bool, String) {
    let output = args.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_one_clear_error(stderr: &str, cause: &str) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(cause), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
}

#[test]
fn reports_and_batches_on_a_full_then_read_only_disk_keep_the_previous_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), "4m") else { return skip() };
    let model = cli_support::tiny_random_bundle(&dir.path().join("model"));
    let recording = dir.path().join("call.wav");
    let rate = 8_000;
    let burst = speechlike(rate, 1, rate as usize * 2).remove(0);
    let mut left = vec![0f32; rate as usize * 20];
    for turn in 0..6 {
        let start = (turn * 3 + 1) * rate as usize;
        left[start..start + burst.len()].copy_from_slice(&burst);
    }
    write_wav(&recording, rate, &[left.clone(), left.iter().map(|s| s * 0.1).collect()], WavEncoding::Pcm16).unwrap();
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(&manifest, format!("call_id,path\nc1,{}\n", recording.display())).unwrap();
    let report = disk.path.join("report");
    let batch = disk.path.join("batch");
    let analyze = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
        command.arg("analyze").arg(&recording).arg("--model").arg(&model).args(["--quiet", "--out"]).arg(&report);
        command
    };
    let run_batch = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
        command.arg("batch").arg(&manifest).arg("--out").arg(&batch).arg("--model").arg(&model);
        command
    };
    let (ok, stderr) = emotrace(&mut analyze());
    assert!(ok, "{stderr}");
    let (ok, stderr) = emotrace(&mut run_batch());
    assert!(ok, "{stderr}");
    let before = snapshot(&disk.path);
    let calls_csv = std::fs::read(batch.join("calls.csv")).unwrap();

    disk.fill();
    let (ok, stderr) = emotrace(&mut analyze());
    assert!(!ok);
    assert_one_clear_error(&stderr, "No space left on device");
    assert_eq!(snapshot(&report), before.iter().filter(|(p, _)| p.starts_with(&report)).map(|(p, b)| (p.clone(), b.clone())).collect());
    let (ok, stderr) = emotrace(&mut run_batch());
    assert!(!ok);
    assert_one_clear_error(&stderr, "No space left on device");
    assert_eq!(std::fs::read(batch.join("calls.csv")).unwrap(), calls_csv);

    disk.empty();
    disk.read_only();
    for command in [analyze(), run_batch()] {
        let mut command = command;
        let (ok, stderr) = emotrace(&mut command);
        assert!(!ok);
        assert_one_clear_error(&stderr, "Read-only file system");
    }
    assert_eq!(std::fs::read(batch.join("calls.csv")).unwrap(), calls_csv);
    assert_eq!(snapshot(&report), before.iter().filter(|(p, _)| p.starts_with(&report)).map(|(p, b)| (p.clone(), b.clone())).collect());
}
