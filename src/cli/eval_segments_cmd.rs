//! `emotrace eval-segments truth.csv segments.csv`: boundary F1, IoU and DER.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::segmentation::eval::{evaluate_files, EvalReport};

#[derive(Debug, Args)]
pub struct EvalSegmentsArgs {
    /// Ground truth (start_s,end_s,speaker with speaker caller/operator), e.g. from make-call.
    pub truth: PathBuf,
    /// Predicted segments (index,start_s,end_s,channel,speaker,is_caller).
    pub segments: PathBuf,
    /// Boundary tolerance in seconds.
    #[arg(long, default_value_t = 0.2)]
    pub tolerance: f64,
    /// Seconds around each truth boundary left out of the second DER figure.
    #[arg(long, default_value_t = crate::segmentation::eval::DEFAULT_COLLAR_S)]
    pub collar: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// SEGMENTS is an analysis's segments.csv (with p_nonnegative): instead of segmentation,
    /// measure the scores against the truth's caller labels (ROC AUC, F1, ECE).
    #[arg(long)]
    pub scores: bool,
}

pub fn run(args: EvalSegmentsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.tolerance >= 0.0 && args.tolerance.is_finite(), "--tolerance must be >= 0");
    anyhow::ensure!(args.collar >= 0.0 && args.collar.is_finite(), "--collar must be >= 0");
    if args.scores {
        let a = crate::analysis::truth_labels::agreement_files(&args.truth, &args.segments).map_err(anyhow::Error::msg)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&a).context("cannot encode the result as JSON")?);
        } else {
            let m = &a.metrics;
            println!(
                "segments with a caller label: {} ({} without)\nROC AUC {}  macro-F1 {:.3}  negative-class F1 {:.3}  accuracy {:.3}  ECE {:.3}  sd(p) {:.3}\nconstant predictor macro-F1 {:.3} (AUC 0.5)",
                a.matched, a.unmatched, a.auc.map_or("n/a".into(), |v| format!("{v:.3}")), m.macro_f1, m.negative.f1, m.accuracy, a.ece, a.p_std, a.constant_macro_f1
            );
        }
        return Ok(());
    }
    let report = evaluate_files(&args.truth, &args.segments, args.tolerance, args.collar)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).context("cannot encode the result as JSON")?);
    } else {
        print!("{}", describe(&report));
    }
    Ok(())
}

fn describe(r: &EvalReport) -> String {
    let b = |s: &crate::segmentation::eval::BoundaryScores| {
        format!("P {:.3}  R {:.3}  F1 {:.3}  ({} of {} truth / {} predicted boundaries)", s.precision, s.recall, s.f1, s.matched, s.truth_boundaries, s.predicted_boundaries)
    };
    let d = &r.diarization;
    let mapping: Vec<String> = d.mapping.iter().map(|(p, t)| format!("{p}->{t}")).collect();
    let c = &r.diarization_collar;
    let o = &r.overlap;
    format!(
        "tolerance:             ±{:.3} s\n\
         caller boundaries:     {}\n\
         caller mean IoU:       {:.3}  ({} truth, {} predicted segments)\n\
         all boundaries:        {}\n\
         all mean IoU:          {:.3}\n\
         DER:                   {:.2}%  (missed {:.2}%, false alarm {:.2}%, confusion {:.2}%; {:.1} s truth speech; {})\n\
         DER, collar ±{:.2} s:    {:.2}%  (missed {:.2}%, false alarm {:.2}%, confusion {:.2}%; {:.1} s scored)\n\
         overlap:               P {:.3}  R {:.3}  ({:.1} s truth, {:.1} s predicted)\n",
        r.tolerance_s,
        b(&r.caller_boundaries),
        r.caller_mean_iou,
        r.caller_truth_segments,
        r.caller_predicted_segments,
        b(&r.all_boundaries),
        r.all_mean_iou,
        100.0 * d.der,
        100.0 * d.missed,
        100.0 * d.false_alarm,
        100.0 * d.confusion,
        d.truth_speech_s,
        mapping.join(", "),
        r.collar_s,
        100.0 * c.der,
        100.0 * c.missed,
        100.0 * c.false_alarm,
        100.0 * c.confusion,
        c.truth_speech_s,
        o.precision,
        o.recall,
        o.truth_s,
        o.predicted_s
    )
}
