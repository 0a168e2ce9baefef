//! The fuzzer's CI sample: a fixed run of mutated recordings through the whole pipeline with no
//! panic, hang or impossible output; every seed recording decodes unmutated; every case the
//! fuzzer ever failed on (tests/fixtures/fuzz/regressions) now ends cleanly.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use emotrace::fuzz::seeds::SEED_KINDS;
use emotrace::fuzz::{run, run_file, tiny_scoring_model, Case, FuzzOptions, OutcomeKind};

/// Generous: the machine may be shared; a real hang runs forever.
const BOUND: Duration = Duration::from_secs(60);

#[test]
fn every_seed_recording_decodes_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(tiny_scoring_model().unwrap());
    for kind in SEED_KINDS {
        // Symphonia 0.5 maps a channel count to speaker positions and knows 26 of them, so WAV,
        // AIFF and CAF decode up to 26 channels (tests/fuzz_edge_signals.rs covers 32).
        let counts: &[usize] = match kind {
            _ if !kind.is_generated() => &[1],
            emotrace::fuzz::seeds::SeedKind::Caf => &[1, 2, 26],
            _ => &[1, 2],
        };
        for &channels in counts {
            let path = dir.path().join(format!("seed-{channels}.{}", kind.extension()));
            std::fs::write(&path, kind.recording(16_000, channels, 8_000)).unwrap();
            let outcome = run_file(&path, &model, BOUND);
            assert!(
                matches!(outcome.kind, OutcomeKind::Decoded | OutcomeKind::DecodedWithWarnings),
                "{kind:?} with {channels} channel(s): {outcome:?}"
            );
        }
    }
}

#[test]
fn cases_replay_from_their_seed() {
    let first = Case::from_seed(0xDEAD_BEEF).unwrap();
    let again = Case::from_seed(0xDEAD_BEEF).unwrap();
    assert_eq!(first, again);
    assert_eq!(first.bytes(), again.bytes());
    assert_ne!(Case::from_seed(0xDEAD_BEF0).unwrap().bytes(), first.bytes());
}

#[test]
fn ci_sample_has_no_panic_hang_or_bad_output() {
    let dir = tempfile::tempdir().unwrap();
    // Failing cases are kept where a developer can find them after the test's tempdir is gone.
    let failures_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let options = FuzzOptions {
        run_seed: 2026,
        cases: 400,
        failures_dir: failures_dir.clone(),
        work_dir: dir.path().join("work"),
        bound: BOUND,
    };
    let report = run(&options, |_, failure| {
        if let Some(failure) = failure {
            eprintln!("case seed {:#018x}: {:?} (file {})", failure.seed, failure.outcome, failure.file.display());
        }
    })
    .unwrap();
    eprintln!("{}", report.summary());
    assert_eq!(report.cases, 400);
    assert!(report.failures.is_empty(), "failing cases (files in {}): {:#?}", failures_dir.display(), report.failures);
    // The sample must reach the later stages, not only stop at header errors.
    assert!(report.count(OutcomeKind::Decoded) + report.count(OutcomeKind::DecodedWithWarnings) >= 100, "{}", report.summary());
    assert!(report.count(OutcomeKind::CleanError) >= 20, "{}", report.summary());
}

#[test]
fn committed_regressions_end_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/regressions");
    let model = Arc::new(tiny_scoring_model().unwrap());
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md" || e == "txt") {
            continue;
        }
        let outcome = run_file(&path, &model, BOUND);
        assert!(!outcome.kind.is_failure(), "{}: {outcome:?}", path.display());
        replayed += 1;
    }
    let seeds = std::fs::read_to_string(dir.join("seeds.txt")).unwrap();
    let work = tempfile::tempdir().unwrap();
    for line in seeds.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let seed = u64::from_str_radix(line.trim().trim_start_matches("0x"), 16).unwrap();
        let case = Case::from_seed(seed).unwrap();
        let path = work.path().join(case.file_name());
        std::fs::write(&path, case.bytes()).unwrap();
        let outcome = run_file(&path, &model, BOUND);
        assert!(!outcome.kind.is_failure(), "case {line}: {outcome:?}");
        replayed += 1;
    }
    assert!(replayed >= 5, "only {replayed} regression cases found in {}", dir.display());
}
