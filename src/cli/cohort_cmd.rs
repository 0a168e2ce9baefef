use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::analysis::cohort::{cohort_table, DEFAULT_BOOTSTRAP_RESAMPLES};
use crate::report::cohort_io::{group_values, load_group, load_groups_by_column, write_table, CallStageMetrics};

#[derive(Debug, Args)]
pub struct CohortArgs {
    /// A group as NAME=PATH, where PATH is a batch output (its calls.csv, or the folder holding it)
    /// or a folder whose sub-folders each hold one `analyze` output (summary.csv). Repeat per group;
    /// with exactly two groups the table also gets Welch's t-test p-values.
    #[arg(long = "group", value_name = "NAME=PATH", required_unless_present = "by_group", value_parser = parse_group)]
    pub groups: Vec<(String, PathBuf)>,
    /// Instead of --group: one batch output (calls.csv or its folder) whose calls are grouped by
    /// the manifest's `group` column (every call must have one).
    #[arg(long, value_name = "PATH", conflicts_with = "groups")]
    pub by_group: Option<PathBuf>,
    /// Where to write the table (columns group,stage,metric,n,mean,ci_low,ci_high,p_welch).
    #[arg(long)]
    pub out: PathBuf,
    /// Bootstrap resamples for the 95% confidence interval of each mean.
    #[arg(long, default_value_t = DEFAULT_BOOTSTRAP_RESAMPLES)]
    pub resamples: usize,
    /// Seed of the bootstrap's random numbers (same seed, same intervals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn parse_group(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_string(), PathBuf::from(path))),
        _ => Err(format!("expected NAME=PATH, got '{text}'")),
    }
}

pub fn run(args: CohortArgs) -> anyhow::Result<()> {
    let mut groups: Vec<(String, Vec<CallStageMetrics>, PathBuf)> = Vec::new();
    if let Some(path) = &args.by_group {
        let by_column = load_groups_by_column(path).with_context(|| format!("cannot group the calls of {}", path.display()))?;
        groups.extend(by_column.into_iter().map(|(name, rows)| (name, rows, path.clone())));
    }
    for (index, (name, path)) in args.groups.iter().enumerate() {
        if args.groups[..index].iter().any(|(other, _)| other == name) {
            bail!("group '{name}' is given twice");
        }
        let rows = load_group(path).with_context(|| format!("group '{name}'"))?;
        groups.push((name.clone(), rows, path.clone()));
    }
    let mut cells = Vec::new();
    for (name, rows, path) in &groups {
        let calls: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.call_id.as_str()).collect();
        eprintln!("group {name}: {} calls from {}", calls.len(), path.display());
        cells.extend(group_values(name, rows));
    }
    let table = cohort_table(&cells, args.resamples, args.seed);
    write_table(&table, &args.out)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
