use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::audio::{probe_info, AudioInfo};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The recording to describe (WAV incl. μ-law/A-law, FLAC, MP3, Ogg Vorbis, AAC/M4A, ...).
    pub file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let info = probe_info(&args.file)?;
    for warning in &info.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&info).context("cannot encode the result as JSON")?);
    } else {
        print!("{}", describe(&info));
    }
    Ok(())
}

fn describe(info: &AudioInfo) -> String {
    let declared = info
        .declared_duration_s
        .map(|d| format!("{d:.3} s"))
        .unwrap_or_else(|| "not stated".into());
    format!(
        "file:             {}\n\
         container:        {}\n\
         codec:            {}\n\
         sample rate:      {} Hz\n\
         channels:         {}\n\
         duration:         {:.3} s ({} frames decoded)\n\
         header duration:  {declared}\n\
         skipped packets:  {}\n",
        info.path.display(),
        info.container,
        info.codec,
        info.sample_rate,
        info.channels,
        info.duration_s,
        info.frames,
        info.skipped_packets,
    )
}
