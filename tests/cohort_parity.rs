//! Cohort statistics against numpy/scipy (fixtures by scripts/gen_cohort_fixtures.py):
//! Welch p-values within 1e-6; bootstrap intervals within Monte-Carlo error (the RNGs differ).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use emotrace::analysis::cohort::{bootstrap_mean_ci, cohort_table, mean, welch_t_test, CohortMetric, GroupValues};
use rand::SeedableRng;

type Key = (String, String, String); // group, stage, metric

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cohort").join(name)).unwrap()
}

fn groups() -> BTreeMap<Key, Vec<f64>> {
    let mut values: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for line in fixture("groups.csv").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        values.entry((f[0].into(), f[1].into(), f[2].into())).or_default().push(f[3].parse().unwrap());
    }
    values
}

struct Expected {
    key: Key,
    n: usize,
    mean: f64,
    ci: (f64, f64),
    p_welch: Option<f64>,
    boot_se: f64,
}

fn expected() -> Vec<Expected> {
    fixture("expected.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Expected {
                key: (f[0].into(), f[1].into(), f[2].into()),
                n: f[3].parse().unwrap(),
                mean: f[4].parse().unwrap(),
                ci: (f[5].parse().unwrap(), f[6].parse().unwrap()),
                p_welch: (!f[7].is_empty()).then(|| f[7].parse().unwrap()),
                boot_se: f[8].parse().unwrap(),
            }
        })
        .collect()
}

fn metric(name: &str) -> CohortMetric {
    CohortMetric::ALL.into_iter().find(|m| m.as_str() == name).unwrap()
}

#[test]
fn welch_p_values_match_scipy() {
    let values = groups();
    let mut checked = 0;
    for row in expected() {
        let Some(p_scipy) = row.p_welch else { continue };
        let other = if row.key.0 == "suicide" { "non-suicide" } else { "suicide" };
        let b = &values[&(other.to_string(), row.key.1.clone(), row.key.2.clone())];
        let p = welch_t_test(&values[&row.key], b).unwrap();
        assert!((p - p_scipy).abs() <= 1e-6, "{:?}: {p} vs scipy {p_scipy}", row.key);
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn means_and_bootstrap_intervals_match_numpy_within_monte_carlo_error() {
    let values = groups();
    for row in expected() {
        let v = &values[&row.key];
        assert_eq!(v.len(), row.n);
        assert!((mean(v).unwrap() - row.mean).abs() < 1e-12);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (low, high) = bootstrap_mean_ci(v, 5000, &mut rng).unwrap();
        // A 2.5% percentile of 5000 bootstrap means has a Monte-Carlo standard error of about
        // 0.04 bootstrap SEs; two independent runs differ by ~0.055 SE. Allow 0.25 SE (4.5 sigma),
        // and more for the 3-call group, whose bootstrap distribution is a handful of atoms.
        let tolerance = if row.n < 5 { 1.0 } else { 0.25 } * row.boot_se;
        assert!((low - row.ci.0).abs() <= tolerance, "{:?} low {low} vs {} (tol {tolerance})", row.key, row.ci.0);
        assert!((high - row.ci.1).abs() <= tolerance, "{:?} high {high} vs {} (tol {tolerance})", row.key, row.ci.1);
    }
}

#[test]
fn cohort_table_with_two_groups_carries_scipy_p_values() {
    let values = groups();
    let cells: Vec<GroupValues> = values
        .iter()
        .filter(|(k, _)| k.0 != "tiny")
        .map(|(k, v)| GroupValues { group: k.0.clone(), stage: k.1.clone(), metric: metric(&k.2), values: v.clone() })
        .collect();
    let table = cohort_table(&cells, 1000, 3);
    for row in expected().into_iter().filter(|r| r.key.0 != "tiny") {
        let got = table
            .iter()
            .find(|t| t.group == row.key.0 && t.stage == row.key.1 && t.metric.as_str() == row.key.2)
            .unwrap();
        assert!((got.p_welch.unwrap() - row.p_welch.unwrap()).abs() <= 1e-6);
    }
}

#[test]
fn cohort_command_reads_batch_and_analyze_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let values = groups();
    // Group "suicide" as a batch output (calls.csv); "non-suicide" as per-call analyze folders.
    let stages = ["assessment", "full"];
    let value_of = |group: &str, stage: &str, m: &str, i: usize| values[&(group.into(), stage.into(), m.into())][i];
    let mut calls = String::from("call_id,path,group,stage,n_segments,nss,ecr_binary,ecr_prob,speech_s,duration_s\n");
    for i in 0..23 {
        for stage in stages {
            calls += &format!(
                "c{i},/calls/c{i}.wav,suicide,{stage},40,{},{},{},100.0,1800.0\n",
                value_of("suicide", stage, "nss", i),
                value_of("suicide", stage, "ecr_binary", i),
                value_of("suicide", stage, "ecr_prob", i)
            );
        }
    }
    let batch = dir.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    std::fs::write(batch.join("calls.csv"), calls).unwrap();
    let analyzed = dir.path().join("analyzed");
    for i in 0..31 {
        let folder = analyzed.join(format!("call_{i:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        let mut summary = String::from("stage,n_segments,nss,ecr_binary,ecr_prob,speech_s,duration_s\n");
        for stage in stages {
            summary += &format!(
                "{stage},40,{},{},{},100.0,1800.0\n",
                value_of("non-suicide", stage, "nss", i),
                value_of("non-suicide", stage, "ecr_binary", i),
                value_of("non-suicide", stage, "ecr_prob", i)
            );
        }
        std::fs::write(folder.join("summary.csv"), summary).unwrap();
    }
    let out = dir.path().join("table.csv");
    let status = Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .args(["cohort", "--group"])
        .arg(format!("suicide={}", batch.display()))
        .arg("--group")
        .arg(format!("non-suicide={}", analyzed.display()))
        .arg("--out")
        .arg(&out)
        .args(["--seed", "5"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let table = std::fs::read_to_string(&out).unwrap();
    let mut lines = table.lines();
    assert_eq!(lines.next().unwrap(), "group,stage,metric,n,mean,ci_low,ci_high,p_welch");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12, "2 groups x 2 stages x 3 metrics");
    for row in expected().into_iter().filter(|r| r.key.0 != "tiny") {
        let got = rows.iter().find(|r| r[0] == row.key.0 && r[1] == row.key.1 && r[2] == row.key.2).unwrap();
        assert_eq!(got[3].parse::<usize>().unwrap(), row.n);
        let p: f64 = got[7].parse().unwrap();
        assert!((p - row.p_welch.unwrap()).abs() <= 1e-6, "{:?}", row.key);
    }
}

/// `calls.csv` rows of `n` calls of `group` (ids `{prefix}{i}`), the fixture's values.
fn calls_rows(values: &BTreeMap<Key, Vec<f64>>, group: &str, prefix: &str, n: usize) -> String {
    let mut rows = String::new();
    for i in 0..n {
        for stage in ["assessment", "full"] {
            let v = |m: &str| values[&(group.into(), stage.into(), m.into())][i];
            rows += &format!(
                "{prefix}{i},/calls/{prefix}{i}.wav,{group},{stage},40,{},{},{},100.0,1800.0\n",
                v("nss"),
                v("ecr_binary"),
                v("ecr_prob")
            );
        }
    }
    rows
}

fn cohort(args: &[std::ffi::OsString]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emotrace")).arg("cohort").args(args).output().unwrap()
}

/// One batch whose manifest named the groups gives the same table as the groups given as two
/// batch folders; a call without a group is refused by name.
#[test]
fn cohort_by_the_manifests_group_column_equals_the_groups_given_apart() {
    let dir = tempfile::tempdir().unwrap();
    let values = groups();
    let header = "call_id,path,group,stage,n_segments,nss,ecr_binary,ecr_prob,speech_s,duration_s\n";
    let (suicide, non_suicide) = (calls_rows(&values, "suicide", "s", 23), calls_rows(&values, "non-suicide", "n", 31));
    let write = |name: &str, body: &str| {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("calls.csv"), format!("{header}{body}")).unwrap();
        folder
    };
    let together = write("together", &format!("{suicide}{non_suicide}"));
    let (apart_s, apart_n) = (write("apart_s", &suicide), write("apart_n", &non_suicide));
    let (by_column, given) = (dir.path().join("by_column.csv"), dir.path().join("given.csv"));
    let out = cohort(&["--by-group".into(), together.clone().into(), "--out".into(), by_column.clone().into(), "--seed".into(), "5".into()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // --by-group takes the groups in name order: the same order here.
    let out = cohort(&[
        "--group".into(),
        format!("non-suicide={}", apart_n.display()).into(),
        "--group".into(),
        format!("suicide={}", apart_s.display()).into(),
        "--out".into(),
        given.clone().into(),
        "--seed".into(),
        "5".into(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = std::fs::read_to_string(&by_column).unwrap();
    assert_eq!(table, std::fs::read_to_string(&given).unwrap());
    // Welch p-values as scipy's, so the split really is by group.
    let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12);
    for row in expected().into_iter().filter(|r| r.key.0 != "tiny") {
        let got = rows.iter().find(|r| r[0] == row.key.0 && r[1] == row.key.1 && r[2] == row.key.2).unwrap();
        assert_eq!(got[3].parse::<usize>().unwrap(), row.n);
        assert!((got[7].parse::<f64>().unwrap() - row.p_welch.unwrap()).abs() <= 1e-6, "{:?}", row.key);
    }

    let ungrouped = write("ungrouped", &format!("{suicide}x9,/calls/x9.wav,,full,40,3,0.1,0.2,100.0,1800.0\n"));
    let out = cohort(&["--by-group".into(), ungrouped.into(), "--out".into(), dir.path().join("no.csv").into()]);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("x9") && message.contains("no group"), "{message}");
    assert!(!dir.path().join("no.csv").exists());
    // Both ways at once is a usage error.
    let out = cohort(&["--by-group".into(), together.into(), "--group".into(), format!("a={}", apart_s.display()).into(), "--out".into(), dir.path().join("no.csv").into()]);
    assert!(!out.status.success());
}
