use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::fuzz::{FuzzOptions, OutcomeKind};

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Cases to run.
    #[arg(long, default_value_t = 1000)]
    pub cases: u64,
    /// The run's seed (case i's own seed is derived from it and printed when the case fails).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run the single case with this seed (hex with 0x, as printed) instead of a run.
    #[arg(long, value_parser = parse_seed, conflicts_with_all = ["cases", "seed", "replay"])]
    pub case: Option<u64>,
    /// Run a saved case file (e.g. a regression under tests/fixtures/fuzz/regressions).
    #[arg(long, conflicts_with_all = ["cases", "seed"])]
    pub replay: Option<PathBuf>,
    /// Where failing cases' files are written.
    #[arg(long, default_value = "fuzz-failures")]
    pub out: PathBuf,
    /// Print every case's outcome.
    #[arg(long)]
    pub verbose: bool,
    /// Seconds a case may run before it counts as a hang.
    #[arg(long, default_value_t = 30.0)]
    pub bound_s: f64,
}

fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("not a seed: {e}"))
}

pub fn run(args: FuzzArgs) -> anyhow::Result<()> {
    let bound = Duration::from_secs_f64(args.bound_s.max(0.1));
    if let Some(file) = &args.replay {
        let outcome = crate::fuzz::replay(file, bound)?;
        println!("{}: {} {}", file.display(), outcome.kind.label(), outcome.detail);
        anyhow::ensure!(!outcome.kind.is_failure(), "the case fails");
        return Ok(());
    }
    let work_dir = std::env::temp_dir().join(format!("emotrace-fuzz-{}", std::process::id()));
    let (run_seed, cases) = match args.case {
        Some(seed) => (seed, 1),
        None => (args.seed, args.cases),
    };
    let options = FuzzOptions { run_seed, cases, failures_dir: args.out.clone(), work_dir: work_dir.clone(), bound };
    let single = args.case;
    let mut next_print = 1u64;
    let verbose = args.verbose;
    let result = crate::fuzz::run_with(&options, single, |report, failure, case, outcome| {
        if verbose {
            eprintln!("{:#018x} {:?}: {} {}", case.seed, case.kind, outcome.kind.label(), outcome.detail);
        }
        if let Some(failure) = failure {
            eprintln!(
                "FAILURE case seed {:#018x}: {} — {}\n  file: {}\n  case: {}",
                failure.seed,
                failure.outcome.kind.label(),
                failure.outcome.detail,
                failure.file.display(),
                failure.case
            );
        }
        if report.cases >= next_print || report.cases == cases {
            eprintln!("{}", report.summary());
            next_print = (next_print * 2).min(next_print + 1000);
        }
    });
    let _ = std::fs::remove_dir_all(&work_dir);
    let report = result.context("the fuzz run stopped")?;
    println!("{}", report.summary());
    let failed: u64 = OutcomeKind::ALL.iter().filter(|k| k.is_failure()).map(|k| report.count(*k)).sum();
    anyhow::ensure!(failed == 0, "{failed} failing case(s); their files are in {}", args.out.display());
    Ok(())
}

/// Test helper (hidden): labels `count` segments of `recording` one save at a time through
/// `CallLabels`, printing `ack N` after each save returns, for the SIGKILL and two-writer tests
/// (tests/crash_safety.rs).
#[derive(Debug, Args)]
pub struct LabelStressArgs {
    pub recording: PathBuf,
    /// The first segment number (segment N spans N..N+0.5 s on party A).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    #[arg(long, default_value_t = 100)]
    pub count: u64,
}

pub fn label_stress(args: LabelStressArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let mut labels = crate::training::call_labels::CallLabels::load(&args.recording)?;
    let mut out = std::io::stdout().lock();
    for n in args.first..args.first + args.count {
        let start_s = n as f64;
        labels.set(start_s, start_s + 0.5, "A", 0, Some((n % 2) as u8))?;
        writeln!(out, "ack {n}")?;
        out.flush()?;
    }
    Ok(())
}
