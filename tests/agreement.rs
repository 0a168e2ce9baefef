//! `emotrace agreement` against the reference implementations (scikit-learn's
//! `cohen_kappa_score`, statsmodels' `fleiss_kappa`, `krippendorff.alpha`, nominal) on the label
//! sets written by `scripts/gen_agreement_fixtures.py` (tests/fixtures/agreement/).

use std::path::{Path, PathBuf};
use std::process::Command;

use emotrace::analysis::agreement::{
    agreement_report, align, disagreements, load_inputs, AgreementReport, Estimate, ItemKey,
};
use serde_json::Value;

const SETS: [&str; 6] = ["two_annotators", "three_annotators", "four_annotators_missing", "moved_boundaries", "all_same", "one_constant"];

fn fixture(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agreement").join(set)
}

fn expected(set: &str) -> Value {
    let text = std::fs::read_to_string(fixture(set).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A reference number; `null` stands for undefined (NaN).
fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

fn report_for(set: &str, resamples: usize) -> AgreementReport {
    // The recording's per-annotator files are found beside it (the recording itself need not exist).
    let annotators = load_inputs(&[fixture(set).join("call.wav")]).unwrap();
    agreement_report(&align(&annotators), resamples, 7)
}

fn assert_same_value(what: &str, ours: f64, reference: f64) {
    if reference.is_nan() {
        assert!(ours.is_nan(), "{what}: {ours}, the reference is undefined");
    } else {
        assert!((ours - reference).abs() <= 1e-9, "{what}: {ours} vs reference {reference}");
    }
}

/// The bootstrap interval's bounds agree with the reference bootstrap's within sampling error.
///
/// Both intervals are percentiles of B = 2000 independent resamples. The Monte-Carlo standard
/// error of a 2.5th (or 97.5th) percentile is sqrt(q(1 - q)/B) / f(x_q); for a bootstrap
/// distribution close to normal with standard deviation sd, f(x_q) = φ(1.96)/sd, so the error is
/// 0.0035/0.0585·sd ≈ 0.060·sd, and the difference of two independent bootstraps has a standard
/// error of ≈ 0.085·sd. We allow 5 of those (0.42·sd; about 100 bounds are compared, so a
/// false failure has a chance well below 1e-4) plus one step of the statistic's lattice (1/n:
/// percent agreement on n items moves in steps of 1/n, and tails of kappa on few items are
/// lumpy).
fn assert_interval_within_sampling_error(what: &str, ours: &Estimate, reference: &Value) {
    let (low, high) = (number(&reference["ci_low"]), number(&reference["ci_high"]));
    if low.is_nan() {
        assert!(ours.ci_low.is_nan() && ours.ci_high.is_nan(), "{what}: interval {ours:?}, the reference is undefined");
        return;
    }
    let sd = number(&reference["sd"]);
    let tolerance = 5.0 * 0.085 * sd + 1.0 / ours.n_items as f64;
    assert!(
        (ours.ci_low - low).abs() <= tolerance && (ours.ci_high - high).abs() <= tolerance,
        "{what}: [{}, {}] vs reference [{low}, {high}] (tolerance {tolerance})",
        ours.ci_low,
        ours.ci_high
    );
    assert!(ours.ci_low <= ours.ci_high);
}

fn assert_estimate(what: &str, ours: &Estimate, reference: &Value) {
    assert_same_value(what, ours.value, number(&reference["value"]));
    assert_eq!(ours.n_items as u64, reference["n_items"].as_u64().unwrap(), "{what}: items");
    assert_interval_within_sampling_error(what, ours, reference);
}

fn key_of(value: &Value) -> ItemKey {
    let v = value.as_array().unwrap();
    ItemKey {
        channel: v[0].as_u64().unwrap() as usize,
        party: v[1].as_str().unwrap().to_string(),
        start_ms: v[2].as_i64().unwrap(),
        end_ms: v[3].as_i64().unwrap(),
    }
}

#[test]
fn statistics_equal_the_references_and_intervals_agree_within_sampling_error() {
    for set in SETS {
        let reference = expected(set);
        let report = report_for(set, reference["resamples"].as_u64().unwrap() as usize);
        let names: Vec<&str> = reference["annotators"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(report.annotators, names, "{set}: annotator names");

        assert_estimate(&format!("{set} percent agreement"), &report.percent_agreement, &reference["percent_agreement"]);
        assert_estimate(&format!("{set} Fleiss' kappa"), &report.fleiss_kappa, &reference["fleiss_kappa"]);
        assert_estimate(&format!("{set} Krippendorff's alpha"), &report.krippendorff_alpha, &reference["krippendorff_alpha"]);
        // α from the label matrix with NaN for missing labels, as the package is usually called.
        assert_same_value(
            &format!("{set} alpha from reliability data"),
            report.krippendorff_alpha.value,
            number(&reference["krippendorff_alpha_from_reliability_data"]),
        );
        match (&report.cohen_kappa, reference["cohen_kappa"].is_null()) {
            (Some(kappa), false) => assert_estimate(&format!("{set} Cohen's kappa"), kappa, &reference["cohen_kappa"]),
            (None, true) => {}
            (ours, _) => panic!("{set}: Cohen's kappa {ours:?} vs reference {}", reference["cohen_kappa"]),
        }
        let pairs = reference["pairs"].as_array().unwrap();
        assert_eq!(report.pairs.len(), pairs.len(), "{set}: pairs");
        for (ours, theirs) in report.pairs.iter().zip(pairs) {
            let what = format!("{set} {}|{}", ours.annotator_a, ours.annotator_b);
            assert_eq!((ours.annotator_a.as_str(), ours.annotator_b.as_str()), (theirs["annotator_a"].as_str().unwrap(), theirs["annotator_b"].as_str().unwrap()));
            assert_estimate(&format!("{what} percent agreement"), &ours.percent_agreement, &theirs["percent_agreement"]);
            assert_estimate(&format!("{what} Cohen's kappa"), &ours.cohen_kappa, &theirs["cohen_kappa"]);
            let confusion: Vec<Vec<u64>> = serde_json::from_value(theirs["confusion"].clone()).unwrap();
            for i in 0..2 {
                for j in 0..2 {
                    assert_eq!(ours.confusion[i][j] as u64, confusion[i][j], "{what}: confusion[{i}][{j}]");
                }
            }
        }
    }
}

#[test]
fn items_are_matched_across_annotators_and_the_disagreements_listed() {
    for set in SETS {
        let reference = expected(set);
        let annotators = load_inputs(&[fixture(set).join("call.wav")]).unwrap();
        let matrix = align(&annotators);
        let items: Vec<ItemKey> = reference["items"].as_array().unwrap().iter().map(key_of).collect();
        assert_eq!(matrix.items, items, "{set}: items (matched by key, else by shared span)");
        let labels: Vec<Vec<Option<u8>>> = serde_json::from_value(reference["labels"].clone()).unwrap();
        assert_eq!(matrix.labels, labels, "{set}: label matrix");
        let listed: Vec<ItemKey> = disagreements(&matrix).into_iter().map(|d| d.item).collect();
        let expected_list: Vec<ItemKey> = reference["disagreements"].as_array().unwrap().iter().map(key_of).collect();
        assert_eq!(listed, expected_list, "{set}: disagreements");
    }
}

#[test]
fn the_same_seed_gives_the_same_intervals() {
    let a = report_for("three_annotators", 300);
    let b = report_for("three_annotators", 300);
    assert_eq!(a.krippendorff_alpha, b.krippendorff_alpha);
    assert_eq!(a.pairs, b.pairs);
}

#[test]
fn labels_files_with_annotator_columns_still_read_as_training_manifests() {
    let file = fixture("three_annotators").join("call.labels.1.csv");
    let clips = emotrace::training::dataset::read_manifest(&file).unwrap();
    assert_eq!(clips.len(), std::fs::read_to_string(&file).unwrap().lines().count() - 1);
    // The annotator column names the annotator, not the file name.
    let labels = emotrace::analysis::agreement::read_labels_file(&file).unwrap();
    assert_eq!(labels.annotator, "li");
}

#[test]
fn agreement_command_prints_and_writes_csv_and_json() {
    let out = tempfile::tempdir().unwrap();
    let (csv, json) = (out.path().join("agreement.csv"), out.path().join("agreement.json"));
    let set = fixture("two_annotators");
    let run = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .arg("agreement")
        .arg(set.join("call.labels.alice.csv"))
        .arg(set.join("call.labels.bob.csv"))
        .args(["--resamples", "500", "--csv"])
        .arg(&csv)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed = String::from_utf8_lossy(&run.stdout);
    let reference = expected("two_annotators");
    let kappa = number(&reference["cohen_kappa"]["value"]);
    assert!(printed.contains("Cohen's kappa") && printed.contains(&format!("{kappa:.3}")), "{printed}");
    assert!(printed.contains("disagreeing items"), "{printed}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!((number(&report["cohen_kappa"]["value"]) - kappa).abs() <= 1e-12);
    assert_eq!(report["disagreements"].as_array().unwrap().len(), reference["disagreements"].as_array().unwrap().len());
    let table = std::fs::read_to_string(&csv).unwrap();
    assert!(table.starts_with("scope,statistic,value,ci_low,ci_high,n_items\n"));
    assert!(table.lines().any(|l| l.starts_with("all,cohen_kappa,")), "{table}");

    // Undefined statistics print as "undefined" and are null in the JSON.
    let same = fixture("all_same");
    let run = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .arg("agreement")
        .arg(same.join("call.wav"))
        .args(["--resamples", "50", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("undefined"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["fleiss_kappa"]["value"].is_null());

    // One annotator is not enough.
    let run = Command::new(env!("CARGO_BIN_EXE_emotrace")).arg("agreement").arg(set.join("call.labels.alice.csv")).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("at least two annotators"));
}
