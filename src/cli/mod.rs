//! The command-line interface: one subcommand per job, each a thin shell over the library.

mod cohort_cmd;
mod info_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// emotrace reviews recorded psychological-support hotline calls: it splits a call into caller
/// utterances, scores each with a speech-emotion model and draws the call's emotional trajectory
/// with its negative-segment count (NSS) and emotion change rate (ECR).
///
/// Run without a subcommand to open the review window. Everything runs on this machine: no
/// audio or result ever leaves it.
#[derive(Debug, Parser)]
#[command(name = "emotrace", version, about, long_about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A call recording to open in the review window.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a recording: container, codec, sample rate, channels, duration measured from the
    /// decoded samples, and packets that failed to decode.
    Info(info_cmd::InfoArgs),
    /// Compare groups of analysed calls (the paper's Table VII): per group, stage and metric the
    /// mean with a 95% bootstrap interval and, for two groups, Welch's t-test p-value.
    Cohort(cohort_cmd::CohortArgs),
    /// Open the review window (the same as running emotrace without a subcommand).
    Gui {
        /// A call recording to open.
        file: Option<PathBuf>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Info(args)) => info_cmd::run(args),
        Some(Command::Cohort(args)) => cohort_cmd::run(args),
        Some(Command::Gui { file }) => crate::gui::run(file),
        None => crate::gui::run(cli.file),
    }
}
