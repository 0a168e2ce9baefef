//! `emotrace demo`: the demo call shipped inside the binary, opened in the review window (or,
//! with --path, only written out and its path printed, e.g. for `emotrace analyze`).

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only write the demo call (and its true labels) to the data folder and print its path.
    #[arg(long)]
    pub path: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let demo = crate::assets::install_demo_call().context("cannot write the demo call")?;
    if args.path {
        println!("{}", demo.display());
        return Ok(());
    }
    crate::gui::run(Some(demo))
}
