//! The demo launcher and the export buttons' files, without a window.

mod gui_support;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use emotrace::report::figure::FigureLanguage;
use emotrace::analysis::summarise_call;
use emotrace::gui::export::{self, ExportKind};
use emotrace::gui::launcher::{run_to_end, AnalysisLauncher, LaunchSettings, SyntheticLauncher, DEMO_MODEL_NAME};
use emotrace::pipeline::AnalysisEvent;

fn quick() -> SyntheticLauncher {
    SyntheticLauncher { per_segment_delay: Duration::ZERO }
}

#[test]
fn demo_launcher_finds_the_callers_turns_and_reports_library_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let turns = gui_support::write_synthetic_call(&path, 2.0, 8000);
    let settings = LaunchSettings { assessment_end_s: 60.0, model: None, ..Default::default() };
    let analysis = run_to_end(&quick(), &path, &settings).expect("analysis");
    assert_eq!(analysis.model_name, DEMO_MODEL_NAME);
    // Every generated caller turn is under 10 s, so each becomes exactly one segment.
    assert_eq!(analysis.segments.len(), turns.len(), "segments {:?}", analysis.segments.iter().map(|s| (s.start_s, s.end_s)).collect::<Vec<_>>());
    for (segment, (start, end)) in analysis.segments.iter().zip(&turns) {
        assert!((segment.start_s - start).abs() < 0.1 && (segment.end_s - end).abs() < 0.1, "{segment:?} vs {start}-{end}");
        assert_eq!(segment.channel, 0);
    }
    assert!(analysis.spans.iter().any(|s| !s.is_caller && s.channel == 1), "operator spans are reported too");
    assert_eq!(analysis.summaries, summarise_call(&analysis.segments, 60.0, analysis.call_duration_s));
    assert!((analysis.call_duration_s - 120.0).abs() < 0.01);
}

#[test]
fn events_arrive_in_pipeline_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&path, 1.0, 8000);
    let (sender, receiver) = mpsc::channel();
    quick().launch(path, &LaunchSettings::default(), sender, Arc::new(AtomicBool::new(false)));
    let order: Vec<&'static str> = receiver
        .iter()
        .filter_map(|event| match event {
            AnalysisEvent::Decoded { .. } => Some("decoded"),
            AnalysisEvent::Segmented { .. } => Some("segmented"),
            AnalysisEvent::Scored { .. } => Some("scored"),
            AnalysisEvent::Finished { .. } => Some("finished"),
            AnalysisEvent::Failed { .. } => Some("failed"),
            AnalysisEvent::Cancelled => Some("cancelled"),
            AnalysisEvent::ModelLoading { .. } | AnalysisEvent::ModelLoaded { .. } => Some("model"),
            AnalysisEvent::Progress { .. } => None,
        })
        .collect();
    let mut compact = order.clone();
    compact.dedup();
    assert_eq!(compact, vec!["decoded", "segmented", "scored", "finished"]);
}

#[test]
fn segment_stage_progress_climbs_from_zero_to_its_total() {
    let dir = tempfile::tempdir().unwrap();
    // A 60-s call read once (stereo) or twice (mono, and a mono mix saved as stereo: the second
    // pass for the speakers).
    for (name, passes) in [("stereo.wav", 1), ("mono.wav", 2), ("dual-mono.wav", 2)] {
        let path = dir.path().join(name);
        match name {
            "stereo.wav" => drop(gui_support::write_synthetic_call(&path, 1.0, 8000)),
            "mono.wav" => drop(gui_support::write_synthetic_mono_call(&path, 1.0, 8000)),
            _ => gui_support::write_synthetic_dual_mono_call(&path, 1.0, 8000),
        }
        let segment = segment_progress(path);
        // Reports every 10 s of audio read, on top of the first and the last.
        assert!(segment.len() >= 4 * passes, "{name}: {segment:?}");
        // The first report guesses from the channel count; the rest know the passes.
        let total = segment[segment.len() - 1].1;
        assert!(total >= 60 * passes as u64 && segment[1..].iter().all(|&(_, t)| t == total), "{name}: {segment:?}");
        assert_eq!(segment[0].0, 0);
        assert_eq!(segment[segment.len() - 1].0, total);
        // Every report moves the bar on: it never waits at one place through a whole pass.
        assert!(segment.windows(2).all(|w| w[1].0 > w[0].0), "{name}: {segment:?}");
        // The bar fills as the audio is read: no jump to the end from halfway.
        let before_last = segment[segment.len() - 2].0;
        assert!(before_last * 10 >= total * 8, "{name}: {segment:?}");
    }
}

fn segment_progress(path: std::path::PathBuf) -> Vec<(u64, u64)> {
    use emotrace::pipeline::PipelineStage;
    let (sender, receiver) = mpsc::channel();
    quick().launch(path, &LaunchSettings::default(), sender, Arc::new(AtomicBool::new(false)));
    receiver
        .iter()
        .filter_map(|event| match event {
            AnalysisEvent::Progress { stage: PipelineStage::Segment, done, total } => Some((done, total)),
            _ => None,
        })
        .collect()
}

#[test]
fn cancel_ends_with_cancelled_and_nothing_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&path, 1.0, 8000);
    let (sender, receiver) = mpsc::channel();
    quick().launch(path, &LaunchSettings::default(), sender, Arc::new(AtomicBool::new(true)));
    let events: Vec<AnalysisEvent> = receiver.iter().collect();
    assert!(matches!(events.last(), Some(AnalysisEvent::Cancelled)), "{:?}", events.last());
    assert!(!events.iter().any(|e| matches!(e, AnalysisEvent::Finished { .. } | AnalysisEvent::Scored { .. })));
}

#[test]
fn unreadable_file_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not audio.wav");
    std::fs::write(&path, b"this is not a recording").unwrap();
    let error = run_to_end(&quick(), &path, &LaunchSettings::default()).unwrap_err();
    assert!(!error.is_empty());
}

#[test]
fn export_writes_the_report_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("来电 1.wav");
    gui_support::write_synthetic_call(&path, 1.0, 8000);
    let analysis = run_to_end(&quick(), &path, &LaunchSettings::default()).unwrap();
    let out = export::beside_recording(&path);
    assert_eq!(out, dir.path().join("来电 1.emotrace"));
    let written = export::export(ExportKind::All, &analysis, 0.0, &out, FigureLanguage::English).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec![export::SEGMENTS_CSV, export::SUMMARY_CSV, export::TREND_CSV, export::FIGURE_PNG, export::FIGURE_SVG, export::REPORT_JSON]);
    let segments_csv = std::fs::read_to_string(out.join(export::SEGMENTS_CSV)).unwrap();
    assert_eq!(segments_csv.lines().count(), analysis.segments.len() + 1);
    assert!(std::fs::metadata(out.join(export::FIGURE_PNG)).unwrap().len() > 1000);
}

#[test]
fn product_launcher_uses_the_default_model_without_a_pick_and_reports_a_missing_bundle() {
    use emotrace::gui::pipeline_launcher::ProductLauncher;
    let launcher = ProductLauncher::default();
    let default = LaunchSettings { assessment_end_s: 60.0, model: None, ..Default::default() };
    let missing = LaunchSettings { assessment_end_s: 60.0, model: Some("no-such-bundle-for-tests".into()), ..Default::default() };
    assert!(!launcher.is_demo());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&path, 0.5, 8000);
    let analysis = run_to_end(&launcher, &path, &default).unwrap();
    assert!(analysis.model_name.starts_with(&emotrace::model::default_model::default_bundle().unwrap().meta.name));
    let error = run_to_end(&launcher, &path, &missing).unwrap_err();
    assert!(error.contains("no-such-bundle-for-tests"), "{error}");
}
