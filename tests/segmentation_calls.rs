//! Segmentation of synthetic calls built from the real corpora in shared/data (skipped, with a
//! message, when the data is absent). Speakers are fixed so the figures are reproducible.

use std::path::PathBuf;

use emotrace::segmentation::eval::{parse_truth, evaluate};
use emotrace::segmentation::{segment_call, CallerChoice, EncoderUse, SegmentationParams};
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

/// Two women's voices through the same phone line, speakers never used for tuning (RAVDESS
/// 18/20): the voiceprint diarizer confuses them (docs/segmentation.md, "Mono diarization"); the built-in CAM++
/// speaker encoder, what a mono call gets by default, must tell them apart and pick the caller.
#[test]
fn mono_same_sex_call_through_one_line_with_the_built_in_encoder() {
    let Some(root) = data() else { return };
    let spec = CallSpec {
        data_root: root,
        corpus: "ravdess".into(),
        caller_speaker: Some("Actor_18".into()),
        operator_speaker: Some("Actor_20".into()),
        minutes: 3.0,
        seed: 3,
        snr_db: Some(15.0),
        telephony: true,
        caller_via_line: false,
        stereo: false,
        ..CallSpec::default()
    };
    let call = build_call(&spec).unwrap();
    let truth = parse_truth(&truth_csv(&call.truth)).unwrap();
    // `builtin` rather than `auto`, whatever encoder this machine may have imported.
    let params = SegmentationParams { speaker_encoder: "builtin".into(), ..SegmentationParams::default() };
    let seg = segment_call(&call.channels, call.sample_rate, &params, CallerChoice::Auto).unwrap();
    assert_eq!(seg.encoder, EncoderUse::BuiltIn);
    assert_eq!(seg.encoder.to_string(), "built-in CAM++", "report.json's caller_assignment.speaker_encoder");
    let report = evaluate(&truth, &seg.segments, 0.2).unwrap();
    let without = SegmentationParams { speaker_encoder: "none".into(), ..SegmentationParams::default() };
    let seg_without = segment_call(&call.channels, call.sample_rate, &without, CallerChoice::Auto).unwrap();
    let report_without = evaluate(&truth, &seg_without.segments, 0.2).unwrap();
    eprintln!("mono same-sex DER {:.3} (without an encoder {:.3})", report.diarization.der, report_without.diarization.der);
    assert!(report.diarization.der <= 0.20, "{:?}", report.diarization);
    assert!(report.diarization.confusion < 0.05, "{:?}", report.diarization);
    // The automatic choice's share is the scored speaker's share of the speech.
    let choice = seg.auto_choice.expect("auto chose the caller");
    let speech = |caller: bool| seg.segments.iter().filter(|s| s.is_caller == caller).map(|s| s.end_s - s.start_s).sum::<f64>();
    let share = speech(true) / (speech(true) + speech(false));
    assert!((choice.speech_share - share).abs() < 0.02 && choice.speech_share >= 0.5, "{choice:?} vs {share}");
    assert!(
        report.diarization.mapping.iter().any(|(p, t)| *p == seg.caller && t == "caller"),
        "caller {} vs mapping {:?}",
        seg.caller,
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
