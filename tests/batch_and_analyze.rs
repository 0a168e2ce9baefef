//! End to end with a tiny random-weight model (the pipeline's plumbing, not its accuracy):
//! `analyze` writes the five files with the promised columns and consistent metrics; `batch`
//! shards, records failures without stopping, resumes, and collects calls.csv for `cohort`.

use std::path::{Path, PathBuf};
use std::process::Command;

use emotrace::audio::wav::{write_wav, WavEncoding};
use emotrace::model::bundle::{write_bundle, BundleMeta};
use emotrace::model::weights::read_safetensors;
use emotrace::model::FusedConfig;

mod cli_support;
use cli_support::emotrace;

/// A bundle around the tiny random-weight parity model.
fn tiny_bundle(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_layer_prenorm");
    let config: FusedConfig =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap()).unwrap();
    let tensors = read_safetensors(&fixture.join("model.safetensors")).unwrap();
    let out = dir.join("tiny-model");
    let meta = BundleMeta::new("tiny-random", "none: random weights", "test fixture", true);
    write_bundle(&out, &config, &tensors, meta, false).unwrap();
    out
}

/// A stereo 8 kHz call: tone bursts ("speech") alternating between the channels with pauses,
/// the left party talking more (so it is the auto-chosen caller).
fn synthetic_call(path: &Path, seconds: f64) -> usize {
    let rate = 8_000;
    let n = (seconds * rate as f64) as usize;
    let mut left = vec![0f32; n];
    let mut right = vec![0f32; n];
    let mut t = 0.5;
    let mut left_bursts = 0;
    let mut turn = 0;
    while t + 3.0 < seconds {
        let (channel, length) = if turn % 3 == 2 { (&mut right, 1.0) } else { (&mut left, 2.0) };
        let start = (t * rate as f64) as usize;
        let end = ((t + length) * rate as f64) as usize;
        for (i, sample) in channel[start..end].iter_mut().enumerate() {
            let time = i as f64 / rate as f64;
            // A voiced-like harmonic tone with a syllable-rate envelope.
            let envelope = (std::f64::consts::PI * time / length).sin().powi(2);
            let f0 = 140.0 + 20.0 * (time * 3.0).sin();
            let phase = 2.0 * std::f64::consts::PI * f0 * time;
            *sample = (0.3 * envelope * (phase.sin() + 0.5 * (2.0 * phase).sin() + 0.3 * (3.0 * phase).sin())) as f32;
        }
        if turn % 3 != 2 {
            left_bursts += 1;
        }
        t += length + 1.2;
        turn += 1;
    }
    write_wav(path, rate, &[left, right], WavEncoding::MuLaw).unwrap();
    left_bursts
}

fn read_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (header, lines.map(|l| l.split(',').map(String::from).collect()).collect())
}

#[test]
fn analyze_writes_five_consistent_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bundle(dir.path());
    let call = dir.path().join("来电.wav");
    let bursts = synthetic_call(&call, 90.0);
    let out = dir.path().join("report");
    let output = emotrace()
        .arg("analyze")
        .arg(&call)
        .arg("--model")
        .arg(&model)
        .args(["--assessment-minutes", "0.5", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let (header, segments) = read_rows(&out.join("segments.csv"));
    assert_eq!(header.join(","), "index,start_s,end_s,channel,speaker,p_nonnegative,label,stage");
    assert_eq!(segments.len(), bursts, "one segment per caller burst");
    assert!(segments.iter().all(|r| r[3] == "0"), "the caller is the busier left channel");
    let (header, summary) = read_rows(&out.join("summary.csv"));
    assert_eq!(header.join(","), "stage,n_segments,nss,ecr_binary,ecr_prob,speech_s,duration_s");
    // Recompute NSS and ECR from segments.csv for both stages.
    for row in &summary {
        let chosen: Vec<f64> = segments
            .iter()
            .filter(|s| row[0] == "full" || s[1].parse::<f64>().unwrap() < 30.0)
            .map(|s| s[5].parse().unwrap())
            .collect();
        assert_eq!(row[1].parse::<usize>().unwrap(), chosen.len());
        assert_eq!(row[2].parse::<usize>().unwrap(), chosen.iter().filter(|&&p| p <= 0.5).count());
        let labels: Vec<f64> = chosen.iter().map(|&p| if p > 0.5 { 1.0 } else { 0.0 }).collect();
        let ecr = labels.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (labels.len() - 1) as f64;
        assert!((row[3].parse::<f64>().unwrap() - ecr).abs() < 1e-9);
        let ecr_prob = chosen.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (chosen.len() - 1) as f64;
        assert!((row[4].parse::<f64>().unwrap() - ecr_prob).abs() < 1e-9);
    }
    for stage in segments.iter().map(|s| (s[1].parse::<f64>().unwrap(), s[7].clone())) {
        assert_eq!(stage.1, if stage.0 < 30.0 { "assessment" } else { "intervention" });
    }
    let png = std::fs::read(out.join("trajectory.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(out.join("trajectory.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), segments.len() + 2, "a point per segment + 2 legend markers");
    assert!(svg.contains("来电.wav"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["model_name"], "tiny-random");
    assert_eq!(report["input"]["name"], "来电.wav");
    assert_eq!(report["input"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(report["settings"]["assessment_minutes"], 0.5);
    let share = report["caller_assignment"]["auto_choice"]["speech_share"].as_f64().expect("auto's share of the speech");
    assert!((0.5..=1.0).contains(&share), "{report}");
    assert_eq!(report["caller_assignment"]["auto_choice"]["uncertain"], share < 0.55);
}

#[test]
fn batch_shards_records_failures_resumes_and_feeds_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bundle(dir.path());
    let mut manifest = String::from("call_id,path,group\n");
    for i in 0..3 {
        synthetic_call(&dir.path().join(format!("call{i}.wav")), 40.0 + i as f64 * 5.0);
        manifest += &format!("c{i},call{i}.wav,{}\n", if i % 2 == 0 { "g1" } else { "g2" });
    }
    std::fs::write(dir.path().join("broken.wav"), "not audio").unwrap();
    manifest += "bad,broken.wav,g2\n";
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let out = dir.path().join("out");
    let run = |shard: &str| {
        let output = emotrace()
            .arg("batch")
            .arg(&manifest_path)
            .arg("--out")
            .arg(&out)
            .arg("--model")
            .arg(&model)
            .args(["--resume", "--shard", shard])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let first = run("0/2"); // c0 and c2
    assert!(first.contains("2 analysed"), "{first}");
    let second = run("1/2"); // c1 and bad
    assert!(second.contains("1 analysed") && second.contains("1 failed"), "{second}");
    let again = run("0/2");
    assert!(again.contains("0 analysed, 2 already complete"), "{again}");

    let (header, calls) = read_rows(&out.join("calls.csv"));
    assert_eq!(
        header.join(","),
        "call_id,path,group,score,stage,n_segments,nss,ecr_binary,ecr_prob,speech_s,duration_s,caller,caller_speech_share,caller_uncertain"
    );
    assert_eq!(calls.len(), 6, "3 calls x 2 stages");
    for row in &calls {
        // Chosen automatically: the scored party, its share of the speech and whether that is close.
        assert!(["left", "right", "A", "B"].contains(&row[11].as_str()), "{row:?}");
        let share: f64 = row[12].parse().unwrap();
        assert!((0.5..=1.0).contains(&share), "{row:?}");
        assert_eq!(row[13], (share < 0.55).to_string(), "{row:?}");
    }
    let (_, failures) = read_rows(&out.join("failures.csv"));
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0][0], "bad");

    // The batch folder is a valid cohort input.
    let table = dir.path().join("table.csv");
    let output = emotrace()
        .args(["cohort", "--group"])
        .arg(format!("all={}", out.display()))
        .arg("--out")
        .arg(&table)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (_, rows) = read_rows(&table);
    assert!(rows.iter().any(|r| r[0] == "all" && r[1] == "full" && r[2] == "nss" && r[3] == "3"));
}

#[test]
fn slurm_example_runs_one_array_task() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bundle(dir.path());
    synthetic_call(&dir.path().join("a.wav"), 30.0);
    synthetic_call(&dir.path().join("b.wav"), 30.0);
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(&manifest, "call_id,path\na,a.wav\nb,b.wav\n").unwrap();
    let out = dir.path().join("out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/cluster/emotrace-batch.sbatch");
    // Slurm sets these for task 2 of --array=1-2; the script maps it to shard 1/2.
    let output = Command::new("bash")
        .arg(&script)
        .arg(&manifest)
        .arg(&out)
        .arg(&model)
        .env("EMOTRACE", env!("CARGO_BIN_EXE_emotrace"))
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(out.join("calls/b/report.json").is_file(), "task 2 of 2 analyses the second call");
    assert!(!out.join("calls/a").exists(), "and only that one");
}

/// `start_s` and `p_nonnegative` of every row of an analysis folder's segments.csv.
fn scored_rows(folder: &Path) -> Vec<(String, String)> {
    let (header, rows) = read_rows(&folder.join("segments.csv"));
    let start = header.iter().position(|h| h == "start_s").unwrap();
    let p = header.iter().position(|h| h == "p_nonnegative").unwrap();
    rows.into_iter().map(|r| (r[start].clone(), r[p].clone())).collect()
}

#[test]
fn batch_centres_each_call_on_the_baseline_call_its_manifest_row_names() {
    let dir = tempfile::tempdir().unwrap();
    let centred = dir.path().join("centred");
    let export = emotrace().args(["export-model", "default-centred"]).arg(&centred).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let demo = emotrace::assets::install_demo_call_in(dir.path()).unwrap();
    synthetic_call(&dir.path().join("first.wav"), 40.0);
    std::fs::write(dir.path().join("broken.wav"), "not audio").unwrap();
    // The later call comes first in the manifest: the batch still analyses its baseline first.
    let manifest = format!(
        "call_id,path,baseline\nlater,{},first\nfirst,first.wav,\nbad,broken.wav,\norphan,first.wav,bad\n",
        demo.display()
    );
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let out = dir.path().join("out");
    let batch = |model: &Path, extra: &[&str]| {
        emotrace().arg("batch").arg(&manifest_path).arg("--out").arg(&out).arg("--model").arg(model).args(extra).output().unwrap()
    };
    let output = batch(&centred, &[]);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    assert!(log.contains("2 analysed") && log.contains("2 failed"), "{log}");
    let failure = std::fs::read_to_string(out.join("calls/orphan/FAILED.txt")).unwrap();
    assert!(failure.contains("baseline call 'bad' has no report"), "{failure}");

    // The later call's scores are exactly `analyze --centre-on` the first call's report...
    let analyze = |name: &str, extra: &[&str]| {
        let folder = dir.path().join(name);
        let output = emotrace().arg("analyze").arg(&demo).arg("--model").arg(&centred).arg("--out").arg(&folder).arg("--quiet").args(extra).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        scored_rows(&folder)
    };
    let first_report = out.join("calls/first").display().to_string();
    let later = scored_rows(&out.join("calls/later"));
    assert!(later.len() >= 10, "{} segments", later.len());
    assert_eq!(later, analyze("cli-baseline", &["--centre-on", &first_report]));
    // ... not the call centred on itself (the comparison would be vacuous otherwise).
    let itself = analyze("cli-itself", &[]);
    let moved = later.iter().zip(&itself).map(|((_, a), (_, b))| (a.parse::<f64>().unwrap() - b.parse::<f64>().unwrap()).abs()).fold(0.0, f64::max);
    assert!(moved > 1e-3, "the baseline changed no score by more than {moved}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("calls/later/report.json")).unwrap()).unwrap();
    assert!(report["settings"]["baseline"]["source"].as_str().is_some_and(|s| s.ends_with("first.wav")), "{}", report["settings"]);

    // A model that does not centre, or one --centre-on for all, is refused before any call runs.
    let tiny = tiny_bundle(dir.path());
    let refused = batch(&tiny, &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not centre"), "{}", String::from_utf8_lossy(&refused.stderr));
    let both = batch(&centred, &["--centre-on", &first_report]);
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("use one of them"), "{}", String::from_utf8_lossy(&both.stderr));
}
