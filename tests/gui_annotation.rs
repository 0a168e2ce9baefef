//! Annotating in the real window under Xvfb, driven by scripted keys and pointer drags
//! (EMOTRACE_GUI_SCRIPT: real input events, injected before egui reads each frame) with the
//! tiny random-weight model (plumbing, not accuracy):
//! - the segmentation is edited on the waveform and with keys (drag an end, split, merge,
//!   delete, undo and redo a delete, Shift+drag to add), segments labelled, a label undone and
//!   redone; the labels files hold the edited spans with the annotator, the export's
//!   segments.csv holds the edited segments, and the metrics shown equal a from-scratch
//!   computation on the edited segmentation (each edited span scored by the library);
//! - reopening the call shows the edited segmentation, marked as edited;
//! - a keys-only labelling session of 200 segments drops no key (frame times reported).
//! Skips with a message where xvfb-run is not installed.

mod gui_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use emotrace::analysis::{summarise_call, ScoredSegment, StageSummary};
use emotrace::model::DeviceChoice;
use emotrace::pipeline::{analyze_call, score_spans, AnalysisSettings, ScoringModel};
use emotrace::training::call_labels::{annotator_labels_path, labels_path, review_path};
use emotrace::training::dataset::{read_manifest, NEGATIVE, NON_NEGATIVE};

use gui_support::xvfb_available;

/// The tiny model picked and an annotator named in the settings: (config dir, data dir, bundle).
fn setup(dir: &Path, annotator: &str) -> (PathBuf, PathBuf, PathBuf) {
    let data = dir.join("data");
    let bundle = gui_support::write_tiny_bundle(&data);
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let settings = serde_json::json!({"assessment_minutes": 0.5, "model": "tiny-model", "annotator": annotator});
    std::fs::write(config.join("gui-settings.json"), settings.to_string()).unwrap();
    (config, data, bundle)
}

/// Runs `emotrace CALL` under xvfb-run with `script` (none: just open) and returns the dump.
fn run_window(call: &Path, config: &Path, data: &Path, script: Option<&str>, dump: &Path) -> serde_json::Value {
    gui_support::run_scripted_window(call, config, data, script, dump)
}

fn f(value: &serde_json::Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// The dumped segments as (start, end, channel, speaker, p).
fn shown_segments(state: &serde_json::Value) -> Vec<ScoredSegment> {
    state["segments"]
        .as_array()
        .expect("segments dumped")
        .iter()
        .enumerate()
        .map(|(index, s)| ScoredSegment {
            index,
            start_s: f(&s["start_s"]),
            end_s: f(&s["end_s"]),
            channel: s["channel"].as_u64().unwrap() as usize,
            speaker: s["speaker"].as_str().unwrap().to_string(),
            p_nonnegative: f(&s["p_nonnegative"]),
        })
        .collect()
}

fn assert_panel_shows(state: &serde_json::Value, summaries: &[StageSummary]) {
    let stages = state["stages"].as_array().expect("stages shown");
    assert_eq!(stages.len(), summaries.len());
    let ecr = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
    for (shown, summary) in stages.iter().zip(summaries) {
        assert_eq!(shown["stage"], summary.stage.as_str());
        assert_eq!(shown["n_segments"], summary.n_segments.to_string());
        assert_eq!(shown["nss"], summary.nss.to_string());
        assert_eq!(shown["ecr_binary"], ecr(summary.ecr_binary));
        assert_eq!(shown["ecr_prob"], ecr(summary.ecr_prob));
    }
}

fn near(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn segments_are_edited_labelled_undone_and_redone_in_the_window_and_everything_follows() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, bundle) = setup(dir.path(), "Ann Reviewer");
    let call = dir.path().join("来电 编辑.wav");
    gui_support::write_synthetic_call(&call, 1.5, 8000);
    let model = ScoringModel::load(&bundle, DeviceChoice::Cpu).unwrap();
    let settings = AnalysisSettings { assessment_minutes: 0.5, ..Default::default() };
    let original = analyze_call(&call, &settings, &model, &mut |_| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    let segments = &original.segments;
    let n = segments.len();
    assert!(n >= 6, "the generated call has enough caller segments: {n}");
    let merged_ends = (segments[3].start_s, segments[4].end_s);
    let merged_parts = ((merged_ends.1 - merged_ends.0) / 10.0).ceil() as usize;
    let last_start = segments[n - 1].start_s;
    // A segment is added in the widest gap between segments no other edit touches.
    let gap = (5..n - 2).map(|i| (segments[i].end_s, segments[i + 1].start_s)).max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0))).unwrap();
    assert!(gap.1 - gap.0 >= 3.0, "a gap to add a segment in: {gap:?}");
    let (add_from, add_to) = (gap.0 + 1.0, gap.1 - 1.0);

    // Rows are 1-based and always those of the segmentation shown at that step.
    let export_dir = dir.path().join("export");
    let script = format!(
        "drag-edge 1 end -1.0      # shorten the first segment by 1 s\n\
         wait-scores\n\
         seek-row 2 0.5\nkey S     # split the second at its middle\n\
         wait-scores\n\
         seek-row 5 0.2\nkey M     # merge the fourth (now fifth) with the next\n\
         wait-scores\n\
         seek-row {last} 0.5\nkey Delete  # delete the last\n\
         key Z ctrl                 # undo the delete\n\
         wait-scores\n\
         key Z ctrl shift           # and redo it\n\
         drag-add 0 {add_from} {add_to}   # add a segment in a gap\n\
         wait-scores\n\
         seek-row 1 0.5\nkey N\n\
         seek-row 2 0.5\nkey P\n\
         seek-row 3 0.5\nkey N\n\
         key Z ctrl                 # undo the third label\n\
         key Z ctrl                 # and the second\n\
         key Z ctrl shift           # redo the second\n\
         wait-scores\n\
         export {export}\n",
        last = n + merged_parts - 1, // after the split (+1) and the merge (−2 + its parts)
        export = export_dir.display(),
    );
    let state = run_window(&call, &config, &data, Some(&script), &dir.path().join("state.json"));
    if std::env::var_os("EMOTRACE_TEST_KEEP").is_some() {
        eprintln!("kept {}", dir.path().display());
        std::mem::forget(dir);
        return;
    }
    assert_eq!(state["phase"], "finished", "{state}");
    assert!(state["last_error"].is_null(), "{}", state["last_error"]);
    assert_eq!(state["scores_pending"], 0);
    assert_eq!(state["segmentation_edited"], true);
    let shown = shown_segments(&state);
    assert_eq!(shown.len(), n + merged_parts - 1, "+1 split, −1 merge, −1 delete, +1 add: {shown:?}\nfrom {segments:?}\n{state}");

    // Each edit as asked.
    let added_row = shown.iter().position(|s| near(s.start_s, add_from, 0.15)).expect("the added segment");
    assert!(near(shown[added_row].end_s, add_to, 0.15), "added: {:?}", shown[added_row]);
    assert_eq!(state["segments"][added_row]["edited"], true);
    assert_eq!(state["segments"][0]["edited"], true, "the moved segment is an edited one too");
    let untouched = shown.iter().position(|s| s.start_s == segments[2].start_s && s.end_s == segments[2].end_s).expect("the third segment");
    assert_eq!(state["segments"][untouched]["edited"], false, "an untouched segment");
    let first = shown.iter().find(|s| s.start_s == segments[0].start_s).expect("the first segment kept its start");
    assert!(near(first.end_s, segments[0].end_s - 1.0, 0.15), "dragged end: {first:?} from {:?}", segments[0]);
    let halves: Vec<&ScoredSegment> = shown.iter().filter(|s| s.start_s >= segments[1].start_s && s.end_s <= segments[1].end_s).collect();
    assert_eq!(halves.len(), 2, "split in two: {halves:?}");
    assert_eq!(halves[0].end_s, halves[1].start_s);
    assert!(near(halves[0].end_s, (segments[1].start_s + segments[1].end_s) / 2.0, 0.05));
    if merged_ends.1 - merged_ends.0 <= 10.0 {
        assert!(shown.iter().any(|s| s.start_s == merged_ends.0 && s.end_s == merged_ends.1), "merged: {shown:?}");
    } else {
        assert!(shown.iter().any(|s| s.start_s == merged_ends.0) && shown.iter().any(|s| s.end_s == merged_ends.1));
    }
    assert!(!shown.iter().any(|s| s.start_s == last_start), "the last segment is deleted (the undo was redone)");
    assert!(shown.iter().all(|s| s.duration_s() <= 10.0 + 1e-9));

    // Labels: the first two rows (the second's label undone and redone, the third's undone).
    assert_eq!(state["segments"][0]["annotation"], NEGATIVE);
    assert_eq!(state["segments"][1]["annotation"], NON_NEGATIVE);
    assert!(state["segments"][2]["annotation"].is_null());
    let training = read_manifest(&labels_path(&call)).unwrap();
    let spans: Vec<(Option<f64>, Option<f64>, u8)> = training.iter().map(|c| (c.start_s, c.end_s, c.label)).collect();
    assert_eq!(spans, vec![(Some(shown[0].start_s), Some(shown[0].end_s), NEGATIVE), (Some(shown[1].start_s), Some(shown[1].end_s), NON_NEGATIVE)]);
    let own = std::fs::read_to_string(annotator_labels_path(&call, "Ann Reviewer")).unwrap();
    assert!(own.lines().next().unwrap().ends_with(",annotator,labelled_at"));
    assert_eq!(own.lines().filter(|l| l.contains(",Ann Reviewer,")).count(), 2, "{own}");
    assert!(review_path(&call).exists(), "the edited segmentation is saved beside the call");

    // The export holds the edited segmentation.
    let csv = std::fs::read_to_string(export_dir.join("segments.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert!(csv.lines().next().unwrap().ends_with(",note"));
    assert_eq!(rows.len(), shown.len());
    for (row, segment) in rows.iter().zip(&shown) {
        assert!(near(row[1].parse().unwrap(), segment.start_s, 1e-9) && near(row[2].parse().unwrap(), segment.end_s, 1e-9), "{row:?} {segment:?}");
        assert!(near(row[5].parse().unwrap(), segment.p_nonnegative, 1e-9));
    }

    // From scratch: every shown span scored by the library, the metrics summarised again.
    let audio = emotrace::audio::load_16k(&call).unwrap();
    let tuples: Vec<(usize, f64, f64)> = shown.iter().map(|s| (s.channel, s.start_s, s.end_s)).collect();
    let scores = score_spans(&model, &audio, &tuples, 8, None).unwrap();
    let scratch: Vec<ScoredSegment> =
        shown.iter().zip(&scores).map(|(s, p)| ScoredSegment { p_nonnegative: p.expect("scorable"), ..s.clone() }).collect();
    for (window, fresh) in shown.iter().zip(&scratch) {
        assert!(near(window.p_nonnegative, fresh.p_nonnegative, 1e-4), "{window:?} vs {fresh:?}");
    }
    assert_panel_shows(&state, &summarise_call(&scratch, 30.0, original.call_duration_s));
    assert_eq!(state["plotted_points"].as_u64(), Some(shown.len() as u64));

    // Reopening shows the edited segmentation, marked as edited.
    let again = run_window(&call, &config, &data, None, &dir.path().join("again.json"));
    assert_eq!(again["segmentation_edited"], true);
    let reopened = shown_segments(&again);
    assert_eq!(reopened.iter().map(|s| (s.start_s, s.end_s)).collect::<Vec<_>>(), shown.iter().map(|s| (s.start_s, s.end_s)).collect::<Vec<_>>());
    assert_eq!(again["segments"][added_row]["edited"], true);
    assert_eq!(again["segments"][0]["annotation"], NEGATIVE);
    assert_panel_shows(&again, &summarise_call(&scratch, 30.0, original.call_duration_s));
}

/// Labels 200 segments with keys only (N/P, then → to the next segment) and checks that every
/// key landed; prints the frame times (not asserted: this machine is shared).
#[test]
fn a_keys_only_session_labels_200_segments_without_dropping_a_key() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, _) = setup(dir.path(), "速度 测试");
    let call = dir.path().join("long.wav");
    gui_support::write_synthetic_call(&call, 40.0, 8000);
    let mut script = String::from("seek-row 1 0.3\n");
    for k in 0..200 {
        script += if k % 3 == 0 { "key P\nkey ArrowRight\n" } else { "key N\nkey ArrowRight\n" };
    }
    let state = run_window(&call, &config, &data, Some(&script), &dir.path().join("state.json"));
    assert_eq!(state["phase"], "finished", "{state}");
    assert!(state["segments"].as_array().unwrap().len() >= 201, "the call has enough segments");
    assert_eq!(state["script_keys_sent"], 400);
    assert_eq!(state["labels_applied"], 200, "one label per N/P key");
    let labelled = state["segments"].as_array().unwrap().iter().take(200).filter(|s| !s["annotation"].is_null()).count();
    assert_eq!(labelled, 200, "the first 200 segments are labelled, in order");
    assert_eq!(read_manifest(&labels_path(&call)).unwrap().len(), 200);
    eprintln!(
        "labelling session: frame time median {} ms, p95 {} ms over the last {} frames",
        state["frame_times_all"]["median_ms"], state["frame_times_all"]["p95_ms"], state["frame_times_all"]["frames"]
    );
}

/// U plays the unlabelled caller segment the model is least sure of (p closest to 0.5, the
/// earliest of ties), so U then N/P labels the segments in that order.
#[test]
fn u_then_a_label_key_labels_the_most_uncertain_unlabelled_segments_in_turn() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, _) = setup(dir.path(), "Ann Reviewer");
    let call = dir.path().join("uncertain.wav");
    gui_support::write_synthetic_call(&call, 1.5, 8000);
    let script = "key U\nkey N\nkey U\nkey P\nkey U\nkey N\n";
    let state = run_window(&call, &config, &data, Some(script), &dir.path().join("state.json"));
    assert_eq!(state["phase"], "finished", "{state}");
    let shown = shown_segments(&state);
    assert!(shown.len() > 3, "enough segments: {}", shown.len());

    // The order, computed from the scores the window shows.
    let mut order: Vec<usize> = (0..shown.len()).collect();
    order.sort_by(|&a, &b| (shown[a].p_nonnegative - 0.5).abs().total_cmp(&(shown[b].p_nonnegative - 0.5).abs()).then(a.cmp(&b)));
    let expected = [(order[0], NEGATIVE), (order[1], NON_NEGATIVE), (order[2], NEGATIVE)];
    for (row, segment) in state["segments"].as_array().unwrap().iter().enumerate() {
        let wanted = expected.iter().find(|(r, _)| *r == row).map(|(_, label)| *label);
        assert_eq!(segment["annotation"].as_u64().map(|l| l as u8), wanted, "row {row} (p {}); expected {expected:?}", shown[row].p_nonnegative);
    }
}

/// An export to a read-only disk fails with one clear message, writes nothing there, and the
/// window stays usable: a label and an export to a writable folder then work.
#[test]
fn after_an_export_to_a_read_only_disk_fails_the_window_labels_and_exports_again() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let read_only = dir.path().join("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs"]).arg(&read_only).status().is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a read-only tmpfs here (needs root/CAP_SYS_ADMIN)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&read_only);
    let (config, data, _) = setup(dir.path(), "Ann Reviewer");
    let call = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&call, 1.0, 8000);
    let writable = dir.path().join("export");
    let script = format!(
        "seek-row 2 0.5\nexport {}\nkey N\nexport {}\n",
        read_only.join("report").display(),
        writable.display()
    );
    let state = run_window(&call, &config, &data, Some(&script), &dir.path().join("state.json"));
    assert_eq!(state["phase"], "finished", "{state}");
    let error = state["last_error"].as_str().expect("the failed export is reported");
    assert!(error.starts_with("Export failed") && error.contains("Read-only file system"), "{error}");
    assert_eq!(std::fs::read_dir(&read_only).unwrap().count(), 0, "nothing written to the read-only disk");
    assert_eq!(state["labels_applied"], 1, "labelling works after the failure");
    assert_eq!(state["segments"][1]["annotation"], NEGATIVE);
    let csv = std::fs::read_to_string(writable.join("segments.csv")).expect("the second export is written");
    assert_eq!(csv.lines().count() - 1, state["segments"].as_array().unwrap().len());
}

/// The window killed (SIGKILL) while it saves labels leaves whole files: the labels files parse,
/// and the adjudicated one holds exactly the annotator's labels. Several kills at different
/// moments of a keys-only labelling session.
#[test]
fn killing_the_window_while_it_saves_labels_leaves_whole_files() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data, _) = setup(dir.path(), "Ann Reviewer");
    let call = dir.path().join("killed-while-labelling.wav");
    gui_support::write_synthetic_call(&call, 20.0, 8000);
    let mut script = String::from("seek-row 1 0.3\n");
    for k in 0..150 {
        script += if k % 2 == 0 { "key P\nkey ArrowRight\n" } else { "key N\nkey ArrowRight\n" };
    }
    let script_path = dir.path().join("labelling.script");
    std::fs::write(&script_path, script).unwrap();
    let own = annotator_labels_path(&call, "Ann Reviewer");
    let display = VirtualDisplay::start();
    let mut counts = Vec::new();
    for (trial, wait_ms) in [150u64, 400, 900, 1700].into_iter().enumerate() {
        let _ = std::fs::remove_file(&own);
        let _ = std::fs::remove_file(labels_path(&call));
        let mut child = Command::new(env!("CARGO_BIN_EXE_emotrace"))
            .arg(&call)
            .env("DISPLAY", &display.name)
            .env("EMOTRACE_GUI_SCRIPT", &script_path)
            .env("EMOTRACE_AUDIO", "null")
            .env("EMOTRACE_CONFIG_DIR", &config)
            .env("EMOTRACE_DATA_DIR", &data)
            .env("LANG", "en_US.UTF-8")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once labelling has begun: the first label's file, then a moment later.
        let deadline = Instant::now() + Duration::from_secs(300);
        while !own.exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(own.exists(), "trial {trial}: labelling had begun");
        let mine = read_manifest(&own).unwrap_or_else(|e| panic!("trial {trial}: the annotator's file is whole: {e}"));
        let training = read_manifest(&labels_path(&call)).unwrap_or_else(|e| panic!("trial {trial}: the adjudicated file is whole: {e}"));
        // A kill between the two renames may leave the adjudicated file one label behind.
        assert!(training.len() == mine.len() || training.len() + 1 == mine.len(), "trial {trial}: {} vs {}", training.len(), mine.len());
        for (given, trained) in mine.iter().zip(&training) {
            assert_eq!((given.start_s, given.end_s, given.label), (trained.start_s, trained.end_s, trained.label));
        }
        let leftovers: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        counts.push(mine.len());
        eprintln!("trial {trial}: killed after {} labels; temporary files left: {leftovers:?}", mine.len());
    }
    assert!(counts.iter().any(|&n| n > 1), "kills landed during the session: {counts:?}");
}

/// A virtual display for the test's own window processes, stopped when dropped.
struct VirtualDisplay {
    name: String,
    server: std::process::Child,
}

impl VirtualDisplay {
    fn start() -> Self {
        // A display number no other test of this run picks (they use xvfb-run -a from 99 up).
        let name = format!(":{}", 300 + std::process::id() % 600);
        let server = Command::new("Xvfb").arg(&name).args(["-screen", "0", "1400x900x24"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(800));
        Self { name, server }
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Two annotators' labels on a generated call; in the window, Model → Fine-tune on labels… runs
/// two epochs (scripted), the window compares the model in use and the new one on the held-out
/// segments, and "Switch to the new model" selects it and scores the call again.
#[test]
fn fine_tuning_in_the_window_compares_both_models_on_held_out_segments_and_switching_rescores() {
    if !xvfb_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let call = dir.path().join("call.wav");
    gui_support::write_synthetic_call(&call, 0.5, 8000);
    let (config, data, _) = setup(dir.path(), "alice");
    for annotator in ["alice", "bob"] {
        let mut labels = emotrace::training::call_labels::CallLabels::load_as(&call, annotator).unwrap();
        for i in 0..16 {
            let start = 1.0 + 1.7 * i as f64;
            labels.set(start, start + 1.5, "left", 0, Some(if i % 2 == 0 { NEGATIVE } else { NON_NEGATIVE })).unwrap();
        }
    }
    let before = run_window(&call, &config, &data, None, &dir.path().join("before.json"));
    let model_name = |state: &serde_json::Value| state["model_name"].as_str().unwrap_or_default().to_string();
    assert!(model_name(&before).starts_with("tiny-random"), "{}", model_name(&before));

    let script = "fine-tune 2\nwait-fine-tune\nswitch-to-new-model\n";
    let after = run_window(&call, &config, &data, Some(script), &dir.path().join("after.json"));
    let fine_tune = &after["fine_tune"];
    assert_eq!(fine_tune["comparison_error"], serde_json::Value::Null);
    assert_eq!(fine_tune["epochs_plotted"], 2, "one point per epoch on the curves");
    let new_model = fine_tune["new_model"].as_str().expect("a new model was trained").to_string();
    assert!(data.join("models").join(&new_model).is_dir());
    let comparison = &fine_tune["comparison"];
    assert_eq!(comparison["held_out_segments"], true, "one labelled speaker: segments held out");
    assert_eq!(comparison["before"]["model"], "tiny-random");
    assert_eq!(comparison["after"]["model"], new_model.as_str());
    for side in ["before", "after"] {
        let figures = &comparison[side]["figures"];
        assert_eq!(figures["n"], 4, "{side}: a fifth of each class of 16 segments");
        for figure in ["macro_f1", "negative_f1", "accuracy", "auc"] {
            assert!((0.0..=1.0).contains(&f(&figures[figure])), "{side} {figure}: {figures}");
        }
    }
    // Switching re-scored the call with the new model.
    assert!(model_name(&after).starts_with(&new_model), "{} after switching to {new_model}", model_name(&after));
    assert_eq!(after["phase"], before["phase"]);
    let (old, new) = (shown_segments(&before), shown_segments(&after));
    assert_eq!(old.len(), new.len());
    assert!(!old.is_empty());
    assert!(old.iter().zip(&new).any(|(a, b)| a.p_nonnegative != b.p_nonnegative), "the segments were scored again by the new model");
    let settings: serde_json::Value = serde_json::from_slice(&std::fs::read(config.join("gui-settings.json")).unwrap()).unwrap();
    assert_eq!(settings["model"], new_model.as_str(), "the new model is the one in use");
}
