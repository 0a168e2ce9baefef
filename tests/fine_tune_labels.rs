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

/// Two annotators label the caller's segments of a generated call (agreeing on all but one,
/// which adjudication leaves out): the caller is the only labelled speaker, so the fine-tuning
/// holds out a stratified fifth of the segments, never trains on them, and the comparison gives
/// both models' figures on exactly those segments.
#[test]
fn two_annotators_labels_fine_tune_and_both_models_are_compared_on_held_out_segments() {
    use emotrace::training::compare::compare_models;
    use emotrace::training::dataset::read_manifest;

    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&recording, 0.5, 8000);
    let init = gui_support::write_tiny_bundle(&dir.path().join("data"));
    for annotator in ["alice", "bob"] {
        let mut labels = CallLabels::load_as(&recording, annotator).unwrap();
        for i in 0..16 {
            let start = 1.0 + 1.7 * i as f64;
            let mut label = if i % 2 == 0 { NEGATIVE } else { NON_NEGATIVE };
            if i == 15 && annotator == "bob" {
                label = NEGATIVE;
            }
            labels.set(start, start + 1.5, "left", 0, Some(label)).unwrap();
        }
    }
    let adjudicated = read_manifest(&labels_path(&recording)).unwrap();
    assert_eq!(adjudicated.len(), 15, "the contested segment is left out");

    let out = dir.path().join("data/models/fine-tuned");
    let job = fine_tune_job(vec![labels_path(&recording)], Some(init.clone()), out.clone(), 2).unwrap();
    let result = run_train_job(&job, None, &AtomicBool::new(false)).unwrap();
    assert!(result.bundle.is_some());
    assert!(result.split.held_out_segments, "one speaker: segments are held out");
    // 8 negative and 7 non-negative: a fifth of each, rounded.
    assert_eq!(result.held_out.len(), 3);
    assert_eq!(result.held_out.len(), result.split.val.len());
    assert!(result.split.val.iter().all(|i| !result.split.train.contains(i)), "held-out segments are not trained on");
    let labels: Vec<u8> = result.held_out.iter().map(|c| c.label).collect();
    assert!(labels.contains(&NEGATIVE) && labels.contains(&NON_NEGATIVE), "stratified: both classes held out");

    let mut calls = 0;
    let comparison = compare_models(Some(&init), &out, &result.held_out, Vec::new(), true, &mut |_, _| calls += 1).unwrap();
    assert!(calls > 0);
    assert_eq!(comparison.before.model, "tiny-random");
    assert_eq!(comparison.after.model, "fine-tuned");
    for side in [&comparison.before, &comparison.after] {
        let f = &side.figures;
        assert_eq!(f.n, 3);
        assert!((0.0..=1.0).contains(&f.macro_f1) && (0.0..=1.0).contains(&f.negative_f1) && (0.0..=1.0).contains(&f.accuracy));
        assert!(f.auc.is_some(), "both classes present");
    }
    assert_eq!((comparison.negatives, comparison.non_negatives), (2, 1));
}
