use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::analysis::agreement::{
    agreement_report, align, format_value, label_name, load_inputs, report_csv, AgreementReport, Estimate,
    CATEGORY_NAMES, DEFAULT_AGREEMENT_RESAMPLES,
};

#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// Two or more annotators' labels files (`<stem>.labels.<annotator>.csv`, training-manifest
    /// form), or a recording: then every `<stem>.labels.<annotator>.csv` beside it.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Bootstrap resamples (of items) for the 95% intervals.
    #[arg(long, default_value_t = DEFAULT_AGREEMENT_RESAMPLES)]
    pub resamples: usize,
    /// Seed of the bootstrap (same seed, same intervals).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the statistics as CSV (scope,statistic,value,ci_low,ci_high,n_items).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the full report (statistics, confusion matrices, disagreeing items) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// How many disagreeing items to list (all are in the JSON).
    #[arg(long, default_value_t = 20)]
    pub list: usize,
}

pub fn run(args: AgreementArgs) -> anyhow::Result<()> {
    let annotators = load_inputs(&args.inputs)?;
    for annotator in &annotators {
        eprintln!("{}: {} labels from {}", annotator.annotator, annotator.labels.len(), annotator.source.display());
    }
    let matrix = align(&annotators);
    let report = agreement_report(&matrix, args.resamples, args.seed);
    print!("{}", render_table(&report, args.list));
    if let Some(path) = &args.csv {
        crate::fsutil::atomic_write(path, report_csv(&report).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("cannot encode the report")?;
        crate::fsutil::atomic_write(path, json.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn estimate_line(name: &str, estimate: &Estimate) -> String {
    let interval = if estimate.ci_low.is_finite() {
        format!("[{}, {}]", format_value(estimate.ci_low), format_value(estimate.ci_high))
    } else {
        "undefined".to_string()
    };
    format!("{name:<22} {:>9}  {interval:<18} {:>6}\n", format_value(estimate.value), estimate.n_items)
}

fn render_table(report: &AgreementReport, list: usize) -> String {
    let mut text = format!(
        "{} annotators, {} items; 95% percentile-bootstrap intervals ({} resamples of items, seed {})\n\n",
        report.annotators.len(),
        report.n_items,
        report.resamples,
        report.seed
    );
    text += &format!("{:<22} {:>9}  {:<18} {:>6}\n", "statistic", "value", "95% CI", "items");
    text += &estimate_line("percent agreement", &report.percent_agreement);
    if let Some(kappa) = &report.cohen_kappa {
        text += &estimate_line("Cohen's kappa", kappa);
    }
    text += &estimate_line("Fleiss' kappa", &report.fleiss_kappa);
    text += &estimate_line("Krippendorff's alpha", &report.krippendorff_alpha);
    for pair in &report.pairs {
        text += &format!("\n{} vs {}:\n", pair.annotator_a, pair.annotator_b);
        text += &estimate_line("  percent agreement", &pair.percent_agreement);
        text += &estimate_line("  Cohen's kappa", &pair.cohen_kappa);
        text += &format!("  {:<28} {:>12} {:>12}\n", format!("{} \\ {}", pair.annotator_a, pair.annotator_b), CATEGORY_NAMES[0], CATEGORY_NAMES[1]);
        for (i, name) in CATEGORY_NAMES.iter().enumerate() {
            text += &format!("  {name:<28} {:>12} {:>12}\n", pair.confusion[i][0], pair.confusion[i][1]);
        }
    }
    let undefined = [&report.percent_agreement, &report.fleiss_kappa, &report.krippendorff_alpha]
        .iter()
        .any(|e| !e.value.is_finite());
    if undefined {
        text += "\nundefined: no items, or every label given is the same category (chance agreement is 1)\n";
    }
    text += &format!("\n{} disagreeing items", report.disagreements.len());
    if report.disagreements.len() > list {
        text += &format!(" (first {list}; all in --json)");
    }
    text += "\n";
    for disagreement in report.disagreements.iter().take(list) {
        let labels: Vec<String> = report
            .annotators
            .iter()
            .zip(&disagreement.labels)
            .map(|(name, label)| format!("{name}={}", if label.is_some() { label_name(*label) } else { "-" }))
            .collect();
        text += &format!("  {}  {}\n", disagreement.item, labels.join("  "));
    }
    text
}
