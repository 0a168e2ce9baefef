//! Segmentation of synthetic calls built from the real corpora in shared/data (skipped, with a
//! message, when the data is absent). Speakers are fixed so the figures are reproducible.

use std::path::PathBuf;

use emotrace::segmentation::eval::{parse_truth, evaluate};
use emotrace::segmentation::{segment_call, CallerChoice, SegmentationParams};
use emotrace::synth::{build_call, locate_shared_data, truth_csv, CallSpec};

fn data() -> Option<PathBuf> {
    let found = locate_shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!("SKIPPED: no corpus data (set EMOTRACE_SHARED_DATA or provide ../shared/data)");
    }
    found
}

fn spec(data_root: PathBuf, stereo: bool) -> CallSpec {
    CallSpec {
        data_root,
        corpus: "casia".into(),
        caller_speaker: Some("liuchanhg".into()),
        operator_speaker: Some("wangzhe".into()),
        minutes: 5.0,
        seed: 5,
        snr_db: Some(if stereo { 10.0 } else { 20.0 }),
        telephony: true,
        stereo,
        caller_channel: Some(1),
        ..CallSpec::default()
    }
}

#[test]
fn stereo_telephone_call_caller_boundaries() {
    let Some(root) = data() else { return };
    let call = build_call(&spec(root, true)).unwrap();
    let seg = segment_call(&call.channels, call.sample_rate, &SegmentationParams::default(), CallerChoice::Auto).unwrap();
    assert_eq!(seg.caller, "right", "auto caller = channel with more speech");
    let truth = parse_truth(&truth_csv(&call.truth)).unwrap();
    let report = evaluate(&truth, &seg.segments, 0.2).unwrap();
    eprintln!("stereo caller boundary F1 {:.3}", report.caller_boundaries.f1);
    assert!(report.caller_boundaries.f1 >= 0.85, "{report:?}");
    assert!(seg.segments.iter().all(|s| s.end_s - s.start_s <= 10.0 + 1e-9));
}

#[test]
fn mono_telephone_call_diarization_error_rate() {
    let Some(root) = data() else { return };
    let call = build_call(&spec(root, false)).unwrap();
    // The built-in diarizer, whatever speaker encoder this machine may have imported.
    let params = SegmentationParams { speaker_encoder: "none".into(), ..SegmentationParams::default() };
    let seg = segment_call(&call.channels, call.sample_rate, &params, CallerChoice::Auto).unwrap();
    let truth = parse_truth(&truth_csv(&call.truth)).unwrap();
    let report = evaluate(&truth, &seg.segments, 0.2).unwrap();
    eprintln!("mono DER {:.3} {:?}", report.diarization.der, report.diarization.mapping);
    assert!(report.diarization.der <= 0.20, "{:?}", report.diarization);
    // The speaker chosen as caller is the one mapped to the true caller.
    let caller_label = &seg.caller;
    assert!(
        report.diarization.mapping.iter().any(|(p, t)| p == caller_label && t == "caller"),
        "caller {caller_label} vs mapping {:?}",
        report.diarization.mapping
    );
}

#[test]
fn audible_truth_keeps_what_clears_the_noise() {
    let Some(root) = data() else { return };
    let total = |rows: &[emotrace::synth::TruthRow]| rows.iter().map(|r| r.end_s - r.start_s).sum::<f64>();
    let mut kept_share = Vec::new();
    for snr_db in [5.0, 30.0] {
        let call = build_call(&CallSpec { snr_db: Some(snr_db), ..spec(root.clone(), false) }).unwrap();
        assert!(!call.audible_truth.is_empty());
        // Every audible row lies inside a truth row of the same speaker.
        for a in &call.audible_truth {
            assert!(
                call.truth.iter().any(|t| t.speaker == a.speaker && t.start_s <= a.start_s && a.end_s <= t.end_s && a.start_s < a.end_s),
                "{a:?} is not inside a truth row"
            );
        }
        kept_share.push(total(&call.audible_truth) / total(&call.truth));
    }
    eprintln!("audible share of the truth at 5 and 30 dB: {kept_share:?}");
    assert!(kept_share[0] < kept_share[1], "{kept_share:?}");
    assert!(kept_share[1] > 0.9, "at 30 dB almost all speech is audible: {kept_share:?}");
}
