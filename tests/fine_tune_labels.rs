//! The window's fine-tuning path on an annotator's labels: segments labelled with
//! [`CallLabels`] (the labels file beside a recording) train a new bundle from the model in use
//! through [`fine_tune_job`]; a run cancelled before it starts writes no bundle. Tiny random
//! model, one epoch: plumbing, not accuracy.
mod gui_support;

use std::sync::atomic::AtomicBool;

use emotrace::model::bundle::load_bundle;
use emotrace::training::call_labels::{labels_path, CallLabels};
use emotrace::training::dataset::{NEGATIVE, NON_NEGATIVE};
use emotrace::training::job::{fine_tune_job, run_train_job};

#[test]
fn labels_saved_in_the_window_fine_tune_a_new_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("来电.wav");
    gui_support::write_synthetic_call(&recording, 0.5, 8000);
    let init = gui_support::write_tiny_bundle(&dir.path().join("data"));
    let mut labels = CallLabels::load(&recording).unwrap();
    // Two parties, so one can be held out for validation.
    for (i, (party, channel)) in [("left", 0), ("left", 0), ("left", 0), ("right", 1), ("right", 1), ("right", 1)].into_iter().enumerate() {
        let start = 2.0 + 4.0 * i as f64;
        let label = if i % 2 == 0 { NEGATIVE } else { NON_NEGATIVE };
        labels.set(start, start + 1.5, party, channel, Some(label)).unwrap();
    }

    let out = dir.path().join("models").join("fine-tuned");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let job = fine_tune_job(vec![labels_path(&recording)], Some(init), out.clone(), 1).unwrap();
    let result = run_train_job(&job, None, &AtomicBool::new(false)).unwrap();
    assert!(result.bundle.is_some());
    assert_eq!(result.history.len(), 1);
    assert_eq!(result.split.val_speakers.len(), 1, "one of the two parties validates");
    let bundle = load_bundle(&out, &candle_core::Device::Cpu).unwrap().1;
    let command = bundle.meta.metrics["command"].as_str().unwrap().to_string();
    assert!(command.contains("fine-tuning in the window"), "{command}");
    assert!(!bundle.meta.needs_fine_tuning);
    assert!(dir.path().join("models/fine-tuned.checkpoint").is_dir(), "the checkpoint sits beside the bundle");

    // Cancelled before the first step: no bundle.
    let stopped = dir.path().join("models").join("stopped");
    let job = fine_tune_job(vec![labels_path(&recording)], None, stopped.clone(), 1).unwrap();
    let result = run_train_job(&job, None, &AtomicBool::new(true)).unwrap();
    assert!(result.bundle.is_none());
    assert!(!stopped.exists());
}
