//! `emotrace train` then `emotrace eval` on a few synthetic WAV clips (tiny config, one epoch):
//! the bundle is written with its training history, loads through the inference path, and eval
//! reports metrics whose supports match the manifest's labels (negative stays negative).
use std::path::Path;
use std::process::Command;

fn write_clips(dir: &Path) -> std::path::PathBuf {
    let mut manifest = String::from("path,corpus,speaker,emotion,label_binary,duration_s\n");
    for i in 0..6 {
        let label = if i % 2 == 0 { "negative" } else { "non-negative" };
        let f = if i % 2 == 0 { 200.0 } else { 2400.0 };
        let samples: Vec<f32> =
            (0..6400 + 800 * i).map(|t| 0.3 * (2.0 * std::f32::consts::PI * f * t as f32 / 16000.0).sin()).collect();
        let name = format!("c{i}.wav");
        emotrace::audio::wav::write_wav_f32(&dir.join(&name), 16000, &[samples]).unwrap();
        manifest.push_str(&format!("{name},synthetic,s{},x,{label},0.4\n", i % 3));
    }
    let path = dir.join("manifest.csv");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn train_then_eval_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_clips(dir.path());
    let out = dir.path().join("model");
    let bin = env!("CARGO_BIN_EXE_emotrace");
    let train = Command::new(bin)
        .args(["train", "--config", "tiny", "--epochs", "1", "--batch", "4", "--val-speakers", "s0", "--data"])
        .arg(&manifest)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(train.status.success(), "train failed: {}", String::from_utf8_lossy(&train.stderr));
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["metrics"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(meta["metrics"]["validation_speakers"], serde_json::json!(["synthetic/s0"]));
    assert!(meta["label_semantics"].as_str().unwrap().contains("P(non-negative)"));
    assert!(dir.path().join("model.checkpoint/state.json").exists());

    // Rerunning the finished command does not overwrite the bundle without --force.
    let again = Command::new(bin).args(["train", "--config", "tiny", "--data"]).arg(&manifest).arg("--out").arg(&out).output().unwrap();
    assert!(!again.status.success());

    let eval = Command::new(bin).args(["eval", "--json", "--model"]).arg(&out).arg("--data").arg(&manifest).output().unwrap();
    assert!(eval.status.success(), "eval failed: {}", String::from_utf8_lossy(&eval.stderr));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["overall"]["n"], 6);
    assert_eq!(report["overall"]["negative"]["support"], 3);
    assert_eq!(report["overall"]["non_negative"]["support"], 3);
    assert_eq!(report["per_speaker"].as_array().unwrap().len(), 3);
    let p = report["predictions"][0]["p_non_negative"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
}

/// `kill -9` during training: no bundle (not even a partial one) appears, the last epoch
/// checkpoint survives, and the same command resumes from it and writes a complete bundle.
#[cfg(unix)]
#[test]
fn training_killed_with_sigkill_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_clips(dir.path());
    let out = dir.path().join("model");
    let state = dir.path().join("model.checkpoint/state.json");
    let bin = env!("CARGO_BIN_EXE_emotrace");
    let command = |epochs: usize| {
        let mut c = Command::new(bin);
        c.args(["train", "--config", "tiny", "--batch", "2", "--val-speakers", "s0", "--epochs", &epochs.to_string(), "--data"])
            .arg(&manifest)
            .arg("--out")
            .arg(&out);
        c
    };
    let mut child = command(500).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    while !state.exists() {
        assert!(started.elapsed().as_secs() < 300, "no checkpoint after 300 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run must not leave a bundle");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let done = saved["epochs_done"].as_u64().unwrap() as usize;
    assert!(done >= 1 && done < 500);

    let resumed = command(done + 1).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "resume failed: {stderr}");
    assert!(stderr.contains(&format!("resuming after epoch {done}")), "{stderr}");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["metrics"]["history"].as_array().unwrap().len(), done + 1);
    emotrace::model::bundle::load_bundle(&out, &candle_core::Device::Cpu).unwrap();
}
