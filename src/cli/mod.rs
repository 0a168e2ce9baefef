//! The command-line interface (segmentation branch stub; the coordinator's version on main wins).

mod eval_segments_cmd;
mod make_call_cmd;
mod segment_cmd;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "emotrace", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Split a call into utterances and mark the caller's (segments CSV).
    Segment(segment_cmd::SegmentArgs),
    /// Build a synthetic call with ground truth from the labelled corpora.
    MakeCall(make_call_cmd::MakeCallArgs),
    /// Score segments against ground truth: boundary F1, IoU, diarization error rate.
    EvalSegments(eval_segments_cmd::EvalSegmentsArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Segment(args)) => segment_cmd::run(args),
        Some(Command::MakeCall(args)) => make_call_cmd::run(args),
        Some(Command::EvalSegments(args)) => eval_segments_cmd::run(args),
        None => Ok(()),
    }
}
