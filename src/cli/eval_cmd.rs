//! `emotrace eval`: accuracy, precision, recall and F1 for the negative class (and macro),
//! confusion matrix and a per-speaker table of a model bundle on labelled clips.
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::training::job::{evaluate, EvalOptions};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model bundle directory (default: the built-in default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Manifest CSV(s) (same format as `emotrace train --data`).
    #[arg(long, num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Only these speakers (comma-separated `corpus/speaker` or bare ids), e.g. the speakers a
    /// model was trained without.
    #[arg(long, value_delimiter = ',')]
    pub speakers: Vec<String>,
    /// Pass every clip through the telephone line model first (300-3400 Hz band-pass, 8 kHz, μ-law).
    #[arg(long)]
    pub telephony: bool,
    /// Write the reliability diagram (observed fraction non-negative against mean p per bin) as
    /// a PNG (or SVG by extension), with its table beside it as CSV.
    #[arg(long)]
    pub reliability: Option<PathBuf>,
    /// Print the report as JSON (metrics, per-speaker table, predictions) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write per-clip predictions as CSV (path,speaker,label_binary,p_non_negative).
    #[arg(long)]
    pub predictions_csv: Option<PathBuf>,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let options = EvalOptions { speakers: args.speakers.clone(), telephony: args.telephony };
    let report = evaluate(args.model.as_deref(), &args.data, &options, &candle_core::Device::Cpu, &mut |done, total| {
        if !args.json {
            eprint!("\rscored {done}/{total}");
        }
    })
    .with_context(|| match &args.model {
        Some(dir) => format!("cannot evaluate {}", dir.display()),
        None => "cannot evaluate the built-in default model".to_string(),
    })?;
    if !args.json {
        eprintln!();
    }
    if let Some(path) = &args.predictions_csv {
        let mut csv = String::from("path,speaker,label_binary,p_non_negative\n");
        for p in &report.predictions {
            let label = if p.label == 1 { "non-negative" } else { "negative" };
            csv.push_str(&format!("{},{},{label},{:.6}\n", p.path, p.speaker, p.p_non_negative));
        }
        crate::fsutil::atomic_write(path, csv.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.reliability {
        crate::report::reliability::write_reliability(path, &report.reliability, &report.model, report.ece)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let m = &report.overall;
    println!("model {} on {} (negative = p <= 0.5)", report.model, report.data);
    let ci = &report.intervals;
    println!(
        "accuracy {:.4} [{:.4}, {:.4}]  negative-class F1 {:.4} [{:.4}, {:.4}]  macro-F1 {:.4} [{:.4}, {:.4}]  ROC AUC {} [{:.4}, {:.4}]  (95% bootstrap over clips, {} resamples)",
        m.accuracy, ci.accuracy.0, ci.accuracy.1, m.negative.f1, ci.negative_f1.0, ci.negative_f1.1, m.macro_f1, ci.macro_f1.0, ci.macro_f1.1,
        report.auc.map_or("n/a".to_string(), |a| format!("{a:.4}")), ci.auc.0, ci.auc.1, ci.resamples
    );
    let c = &report.constant.metrics;
    println!(
        "constant predictor (every clip {}): accuracy {:.4}  negative-class F1 {:.4}  macro-F1 {:.4}  ROC AUC 0.5",
        report.constant.predicts, c.accuracy, c.negative.f1, c.macro_f1
    );
    println!("expected calibration error ({} bins): {:.4}", report.reliability.len(), report.ece);
    println!("class         precision  recall     F1  support");
    for (name, c) in [("negative", &m.negative), ("non-negative", &m.non_negative)] {
        println!("{name:<12} {:>10.4} {:>7.4} {:>6.4} {:>8}", c.precision, c.recall, c.f1, c.support);
    }
    let c = &m.confusion;
    println!("confusion (rows truth, columns predicted): negative [{} {}], non-negative [{} {}]",
        c.negative_as_negative, c.negative_as_non_negative, c.non_negative_as_negative, c.non_negative_as_non_negative);
    println!("\nspeaker,n,accuracy,negative_f1,negative_recall,macro_f1,auc");
    for row in &report.per_speaker {
        let s = &row.metrics;
        let auc = row.auc.map_or(String::new(), |a| format!("{a:.4}"));
        println!("{},{},{:.4},{:.4},{:.4},{:.4},{auc}", row.speaker, s.n, s.accuracy, s.negative.f1, s.negative.recall, s.macro_f1);
    }
    Ok(())
}
