//! Choosing the caller after an analysis, and the window's exports, through the real pipeline
//! with the tiny random-weight model (plumbing, not accuracy):
//! - re-scoring another party of a mono call from its decoded audio equals a fresh `analyze`
//!   with that `--caller`, and does not decode again;
//! - choosing both channels of a stereo call scores only the segments not scored yet;
//! - the window's launcher and Export write exactly the files `emotrace analyze` writes.

mod gui_support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use emotrace::gui::export::{self, ExportKind};
use emotrace::gui::launcher::{run_to_end, AnalysisLauncher, LaunchSettings, SyntheticLauncher};
use emotrace::model::DeviceChoice;
use emotrace::pipeline::{
    analyze_call, decode_call, reanalyze_call, speaker_stats, AnalysisEvent, AnalysisSettings, CallAnalysis,
    PipelineStage, ScoringModel,
};
use emotrace::report::figure::FigureLanguage;
use emotrace::segmentation::CallerChoice;

fn settings(caller: CallerChoice) -> AnalysisSettings {
    AnalysisSettings { caller, assessment_minutes: 1.0, ..AnalysisSettings::default() }
}

fn fresh(call: &Path, caller: CallerChoice, model: &ScoringModel) -> CallAnalysis {
    analyze_call(call, &settings(caller), model, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

/// Re-analyses `previous` with `caller`; returns the result and every event it sent.
fn rescore(previous: &CallAnalysis, call: &Path, caller: CallerChoice, model: &ScoringModel) -> (CallAnalysis, Vec<AnalysisEvent>) {
    let (audio, _) = decode_call(call, &mut |_| {}).unwrap();
    let mut events = Vec::new();
    let analysis =
        reanalyze_call(previous, &audio, &settings(caller), model, &mut |e| events.push(e), &AtomicBool::new(false))
            .unwrap();
    (analysis, events)
}

fn assert_same_analysis(got: &CallAnalysis, expected: &CallAnalysis) {
    assert_eq!(got.assignment, expected.assignment);
    assert_eq!(got.spans, expected.spans);
    assert_eq!(got.segments.len(), expected.segments.len());
    for (a, b) in got.segments.iter().zip(&expected.segments) {
        assert_eq!((a.index, a.start_s, a.end_s, a.channel, &a.speaker), (b.index, b.start_s, b.end_s, b.channel, &b.speaker));
        // Batching may group segments differently: float noise only.
        assert!((a.p_nonnegative - b.p_nonnegative).abs() < 1e-5, "{a:?} vs {b:?}");
    }
    for (a, b) in got.summaries.iter().zip(&expected.summaries) {
        assert_eq!((a.stage, a.n_segments, a.nss), (b.stage, b.n_segments, b.nss));
    }
}

/// (done, total) of the first Features progress: the reused scores and all caller segments.
fn first_features_progress(events: &[AnalysisEvent]) -> Option<(u64, u64)> {
    events.iter().find_map(|e| match e {
        AnalysisEvent::Progress { stage: PipelineStage::Features, done, total } => Some((*done, *total)),
        _ => None,
    })
}

/// (done, total) of the last Features progress.
fn last_features_progress(events: &[AnalysisEvent]) -> Option<(u64, u64)> {
    events.iter().rev().find_map(|e| match e {
        AnalysisEvent::Progress { stage: PipelineStage::Features, done, total } => Some((*done, *total)),
        _ => None,
    })
}

#[test]
fn rescoring_the_other_speaker_of_a_mono_call_equals_a_fresh_analysis_without_decoding_again() {
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("mono.wav");
    gui_support::write_synthetic_mono_call(&call, 2.0, 8000);
    let bundle = gui_support::write_tiny_bundle(&dir.path().join("data"));
    let model = ScoringModel::load(&bundle, DeviceChoice::Cpu).unwrap();

    let first = fresh(&call, CallerChoice::Auto, &model);
    assert_eq!(first.assignment.layout, "mono");
    let parties = speaker_stats(&first.spans);
    let labels: Vec<&str> = parties.iter().map(|p| p.speaker.as_str()).collect();
    assert_eq!(labels, vec!["A", "B"], "two speakers told apart: {parties:?}");
    assert!(parties.iter().all(|p| p.segments > 0 && p.speech_s > 0.0));
    let (other, other_label) =
        if first.assignment.caller == "A" { (CallerChoice::B, "B") } else { (CallerChoice::A, "A") };

    let (second, events) = rescore(&first, &call, other, &model);
    assert!(!events.iter().any(|e| matches!(e, AnalysisEvent::Decoded { .. })), "no second decode");
    assert_eq!(second.assignment.caller, other_label);
    assert!(second.segments.iter().all(|s| s.speaker == other_label));
    assert_same_analysis(&second, &fresh(&call, other, &model));

    // "All speech" segments the call without speaker separation, as `--caller all` does.
    let (everyone, _) = rescore(&second, &call, CallerChoice::All, &model);
    assert_same_analysis(&everyone, &fresh(&call, CallerChoice::All, &model));
}

#[test]
fn choosing_both_channels_scores_only_the_segments_not_scored_yet() {
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("stereo.wav");
    gui_support::write_synthetic_call(&call, 2.0, 8000);
    let bundle = gui_support::write_tiny_bundle(&dir.path().join("data"));
    let model = ScoringModel::load(&bundle, DeviceChoice::Cpu).unwrap();

    let first = fresh(&call, CallerChoice::Auto, &model);
    assert_eq!((first.assignment.layout.as_str(), first.assignment.caller.as_str()), ("stereo", "left"));
    let (both, events) = rescore(&first, &call, CallerChoice::All, &model);
    let new_segments = both.segments.len() - first.segments.len();
    assert!(new_segments > 0);
    let all = both.segments.len() as u64;
    assert_eq!(
        first_features_progress(&events),
        Some((first.segments.len() as u64, all)),
        "the left channel's scores are reused; only the right channel's segments are computed"
    );
    assert_eq!(last_features_progress(&events), Some((all, all)));
    // Choosing the same party again reuses every score: nothing is computed, progress is full.
    let (again, events) = rescore(&both, &call, CallerChoice::All, &model);
    assert_eq!(first_features_progress(&events), Some((all, all)));
    assert_eq!(again.segments, both.segments);
    for old in &first.segments {
        let kept = both.segments.iter().find(|s| s.channel == old.channel && s.start_s == old.start_s).unwrap();
        assert_eq!(kept.p_nonnegative, old.p_nonnegative, "reused as it was");
    }
    assert_same_analysis(&both, &fresh(&call, CallerChoice::All, &model));
}

#[test]
fn demo_driver_rescores_from_the_decoded_audio_too() {
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("stereo.wav");
    gui_support::write_synthetic_call(&call, 1.0, 8000);
    let demo = SyntheticLauncher { per_segment_delay: std::time::Duration::ZERO };
    let first = run_to_end(&demo, &call, &LaunchSettings::default()).unwrap();
    let (audio, _) = decode_call(&call, &mut |_| {}).unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let right = LaunchSettings { caller: CallerChoice::Right, ..LaunchSettings::default() };
    demo.relaunch(first.clone(), audio, &right, sender, std::sync::Arc::new(AtomicBool::new(false)));
    let events: Vec<AnalysisEvent> = receiver.iter().collect();
    assert!(!events.iter().any(|e| matches!(e, AnalysisEvent::Decoded { .. })));
    let Some(AnalysisEvent::Finished { analysis }) = events.last() else { panic!("{:?}", events.last()) };
    assert_eq!(analysis.assignment.caller, "right");
    assert!(!analysis.segments.is_empty() && analysis.segments.iter().all(|s| s.channel == 1));
}

#[test]
fn window_export_writes_exactly_the_files_analyze_writes() {
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("来电.wav");
    gui_support::write_synthetic_call(&call, 1.5, 8000);
    let data = dir.path().join("data");
    let bundle = gui_support::write_tiny_bundle(&data);

    let cli_out = dir.path().join("cli");
    let status = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .args(["analyze", "--quiet", "--assessment-minutes", "1", "--figure-language", "zh", "--model"])
        .arg(&bundle)
        .arg("--out")
        .arg(&cli_out)
        .arg(&call)
        .status()
        .unwrap();
    assert!(status.success());

    // The window's own launcher, finding the bundle where the Model menu does.
    std::env::set_var("EMOTRACE_DATA_DIR", &data);
    let launcher = emotrace::gui::pipeline_launcher::ProductLauncher::default();
    let launch = LaunchSettings { assessment_end_s: 60.0, model: Some("tiny-model".into()), ..LaunchSettings::default() };
    let analysis = run_to_end(&launcher, &call, &launch).unwrap();
    let gui_out = dir.path().join("gui");
    // The window in Chinese labels its figures as `analyze --figure-language zh` does.
    export::export(ExportKind::All, &analysis, 0.5, &gui_out, FigureLanguage::Chinese).unwrap();

    let names = |folder: &Path| {
        let mut names: Vec<String> =
            std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&gui_out), names(&cli_out));
    assert_eq!(names(&gui_out).len(), 6);
    for same in [export::SEGMENTS_CSV, export::SUMMARY_CSV, export::TREND_CSV, export::FIGURE_SVG] {
        assert_eq!(
            std::fs::read_to_string(gui_out.join(same)).unwrap(),
            std::fs::read_to_string(cli_out.join(same)).unwrap(),
            "{same} differs"
        );
    }
    assert!(std::fs::read_to_string(gui_out.join(export::FIGURE_SVG)).unwrap().contains("通话时间 (分钟)"));
    let read_json = |folder: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(folder.join(export::REPORT_JSON)).unwrap()).unwrap()
    };
    let (gui, cli) = (read_json(&gui_out), read_json(&cli_out));
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&gui), keys(&cli));
    for key in [
        "model_name",
        "model_weights_sha256",
        "model_device",
        "model_needs_fine_tuning",
        "label_semantics",
        "settings",
        "caller_assignment",
        "input",
        "audio",
        "call_duration_s",
        "caller_segments",
        "speech_spans",
    ] {
        assert_eq!(gui[key], cli[key], "report.json {key}");
    }
    assert_eq!(gui["model_needs_fine_tuning"], true);
    assert_eq!(gui["timings_s"][0][0], "model_load");
    assert_eq!(gui["timings_s"][0][1], 0.5, "the load time the window measured");

    // A single export (the CSV button) writes its files and the provenance beside them.
    let csv_only = dir.path().join("csv-only");
    let written = export::export(ExportKind::Csv, &analysis, 0.5, &csv_only, FigureLanguage::English).unwrap();
    let written: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(written, vec![export::SEGMENTS_CSV, export::SUMMARY_CSV, export::TREND_CSV, export::REPORT_JSON]);
}

/// Changing the assessment-stage length in Settings re-summarises the open call at once, as a
/// fresh analysis with that length would (and leaves a running analysis alone).
#[test]
fn another_assessment_length_resummarises_the_open_call_like_a_fresh_analysis() {
    use emotrace::gui::state::{CallView, Incoming, Phase};
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("长.wav");
    gui_support::write_synthetic_call(&call, 2.0, 8000);
    let bundle = gui_support::write_tiny_bundle(&dir.path().join("data"));
    let model = ScoringModel::load(&bundle, DeviceChoice::Cpu).unwrap();
    let analyse = |minutes: f64| {
        let settings = AnalysisSettings { assessment_minutes: minutes, ..settings(CallerChoice::Auto) };
        analyze_call(&call, &settings, &model, &mut |_| {}, &AtomicBool::new(false)).unwrap()
    };
    let (short, long) = (analyse(0.5), analyse(1.5));
    // The stage boundary falls among the segments, so the two lengths give different metrics.
    assert_ne!(short.summaries[0].n_segments, long.summaries[0].n_segments);

    let mut view = CallView::new(call.clone(), false, 30.0);
    assert!(!view.set_assessment_minutes(1.5), "nothing to re-summarise while running");
    view.apply(Incoming::Event(AnalysisEvent::Finished { analysis: std::sync::Arc::new(short.clone()) }));
    assert_eq!(view.phase, Phase::Finished);
    assert!(view.set_assessment_minutes(1.5));
    let updated = view.analysis.clone().unwrap();
    assert_eq!(view.summaries, long.summaries);
    assert_eq!(updated.summaries, long.summaries);
    assert_eq!(view.assessment_end_s, 90.0);
    assert_eq!(updated.settings.assessment_minutes, 1.5);
    assert_eq!(updated.segments, short.segments, "nothing scored again");
    assert!(std::sync::Arc::ptr_eq(&updated, view.previous.as_ref().unwrap()), "a re-analysis starts from it");
}
