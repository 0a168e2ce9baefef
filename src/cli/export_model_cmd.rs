use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::model::{default_centred, default_model};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuiltinModel {
    /// The default model (`models/default`): scores comparable between calls.
    Default,
    /// The default with a statistics head centred on each call (`models/default-centred`): reads
    /// one call's course better for an unheard voice; calls compare only through a shared
    /// baseline (`analyze --centre-on`).
    DefaultCentred,
}

#[derive(Debug, Args)]
pub struct ExportModelArgs {
    /// Which built-in model.
    #[arg(value_enum)]
    pub model: BuiltinModel,
    /// The bundle folder to create (must not exist); use it as `--model DIR` or
    /// `train --init DIR`.
    pub out: PathBuf,
}

pub fn run(args: ExportModelArgs) -> anyhow::Result<()> {
    let written = match args.model {
        BuiltinModel::Default => default_model::export_default(&args.out),
        BuiltinModel::DefaultCentred => default_centred::export_centred(&args.out),
    }
    .with_context(|| format!("cannot write the built-in model to {}", args.out.display()))?;
    println!("{}", written.display());
    Ok(())
}
