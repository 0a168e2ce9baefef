//! The `segment` and `eval-segments` commands end to end on generated audio.


mod cli_support;
use cli_support::emotrace;

#[test]
fn silence_only_call_prints_a_notice_and_writes_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("silence.wav");
    let out = dir.path().join("segments.csv");
    emotrace::audio::wav::write_wav_i16(&wav, 8000, &[vec![0.0; 8000 * 20]]).unwrap();
    let run = emotrace().arg("segment").arg(&wav).arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no speech found"));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.trim(), "index,start_s,end_s,channel,speaker,is_caller,overlap");
}

#[test]
fn eval_segments_reports_perfect_scores_for_the_truth_itself() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.csv");
    let segs = dir.path().join("segments.csv");
    std::fs::write(&truth, "start_s,end_s,speaker\n1.0,2.0,caller\n3.0,4.5,operator\n").unwrap();
    std::fs::write(
        &segs,
        "index,start_s,end_s,channel,speaker,is_caller\n0,1.05,2.0,0,B,1\n1,3.0,4.4,0,A,0\n",
    )
    .unwrap();
    let run = emotrace().arg("eval-segments").arg(&truth).arg(&segs).arg("--json").output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["caller_boundaries"]["f1"], 1.0);
    assert_eq!(v["all_boundaries"]["f1"], 1.0);
    let der = v["diarization"]["der"].as_f64().unwrap();
    assert!(der > 0.0 && der < 0.1, "{der}");
}

#[test]
fn bad_caller_choice_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("x.wav");
    emotrace::audio::wav::write_wav_i16(&wav, 16000, &[vec![0.0; 1600]]).unwrap();
    let run = emotrace().arg("segment").arg(&wav).arg("--out").arg(dir.path().join("o.csv")).args(["--caller", "left"]).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("does not apply to mono"));
}
