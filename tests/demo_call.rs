//! The demo call shipped inside the binary (assets/demo/): small enough to ship, a 3-5 minute
//! two-party call whose caller's emotions change, and the built-in default model's p ranks its
//! true labels (ROC AUC printed; run with --nocapture to see it) without being a flat band.

use std::path::Path;

use emotrace::assets::{install_demo_call_in, DEMO_CALL, DEMO_LICENSE, DEMO_TRUTH};
use emotrace::gui::launcher::{run_to_end, LaunchSettings};
use emotrace::gui::pipeline_launcher::ProductLauncher;

/// A caller utterance of the truth CSV: start, end, negative?
struct TruthUtterance {
    start_s: f64,
    end_s: f64,
    negative: bool,
}

fn caller_truth() -> Vec<TruthUtterance> {
    let text = std::str::from_utf8(DEMO_TRUTH).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (start, end, speaker, label) = (column("start_s"), column("end_s"), column("speaker"), column("label_binary"));
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|fields| fields[speaker] == "caller")
        .map(|fields| TruthUtterance {
            start_s: fields[start].parse().unwrap(),
            end_s: fields[end].parse().unwrap(),
            negative: fields[label] == "negative",
        })
        .collect()
}

/// ROC AUC of scores against labels (true = positive), ties counted half.
fn roc_auc(scored: &[(f64, bool)]) -> f64 {
    let positives: Vec<f64> = scored.iter().filter(|(_, y)| *y).map(|(p, _)| *p).collect();
    let negatives: Vec<f64> = scored.iter().filter(|(_, y)| !*y).map(|(p, _)| *p).collect();
    let mut wins = 0.0;
    for p in &positives {
        for n in &negatives {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    wins / (positives.len() * negatives.len()) as f64
}

#[test]
fn demo_call_is_small_licensed_and_its_caller_changes_emotion() {
    let total = DEMO_CALL.len() + DEMO_TRUTH.len() + DEMO_LICENSE.len();
    assert!(total <= 5 * 1024 * 1024, "assets/demo is {total} bytes, over 5 MB");
    let licence = std::str::from_utf8(DEMO_LICENSE).unwrap();
    assert!(licence.contains("CC BY-NC-SA 4.0") && licence.contains("Christop"), "licence and attribution");
    let truth = caller_truth();
    assert!(truth.len() >= 20, "{} caller utterances", truth.len());
    // The arc: mostly negative in the first quarter of the call, mostly not in the last.
    let end = truth.iter().map(|t| t.end_s).fold(0.0, f64::max);
    let share_negative = |from: f64, to: f64| {
        let part: Vec<&TruthUtterance> = truth.iter().filter(|t| t.start_s >= from * end && t.start_s < to * end).collect();
        part.iter().filter(|t| t.negative).count() as f64 / part.len() as f64
    };
    assert!(share_negative(0.0, 0.25) > 0.9 && share_negative(0.75, 1.0) < 0.1, "the caller's emotions change in the course of the call");
}

#[test]
fn default_model_ranks_the_demo_calls_true_labels() {
    let dir = tempfile::tempdir().unwrap();
    let call = install_demo_call_in(dir.path()).unwrap();
    assert_eq!(call.file_name().and_then(|n| n.to_str()), Some("demo-call.wav"));
    let analysis = run_to_end(&ProductLauncher::default(), &call, &LaunchSettings { model: None, ..Default::default() }).unwrap();
    assert!((180.0..=300.0).contains(&analysis.call_duration_s), "3-5 minutes: {}", analysis.call_duration_s);

    let truth = caller_truth();
    // Each scored segment takes the label of the caller utterance it overlaps most.
    let scored: Vec<(f64, bool)> = analysis
        .segments
        .iter()
        .filter_map(|segment| {
            let overlap = |t: &TruthUtterance| segment.end_s.min(t.end_s) - segment.start_s.max(t.start_s);
            let best = truth.iter().max_by(|a, b| overlap(a).total_cmp(&overlap(b)))?;
            (overlap(best) > 0.0).then_some((segment.p_nonnegative, !best.negative))
        })
        .collect();
    assert!(scored.len() * 10 >= analysis.segments.len() * 9, "most segments lie on caller speech: {} of {}", scored.len(), analysis.segments.len());
    let auc = roc_auc(&scored);
    let ps: Vec<f64> = scored.iter().map(|(p, _)| *p).collect();
    let mean = ps.iter().sum::<f64>() / ps.len() as f64;
    let sd = (ps.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / ps.len() as f64).sqrt();
    let (lo, hi) = ps.iter().fold((1.0f64, 0.0f64), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    println!(
        "demo call: {} segments ({} matched), ROC AUC of p against the true labels {auc:.3}, p {lo:.2}-{hi:.2}, sd {sd:.3}, model {}",
        analysis.segments.len(),
        scored.len(),
        analysis.model_name
    );
    assert!(auc > 0.5, "AUC {auc:.3}");
    assert!(hi - lo > 0.3 && sd > 0.1, "p is a flat band: {lo:.2}-{hi:.2}, sd {sd:.3}");
    assert!(Path::new(&call).exists());
}
