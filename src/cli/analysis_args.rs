//! Options shared by the commands that analyse calls (`analyze`, `batch`).

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::segment_cmd::SegmentParamArgs;
use crate::analysis::DEFAULT_ASSESSMENT_MINUTES;
use crate::model::DeviceChoice;
use crate::pipeline::AnalysisSettings;
use crate::segmentation::{CallerChoice, SegmentationParams};

#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// A model bundle directory (config.json, model.safetensors, meta.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Which party is the caller. Stereo: auto|left|right|all; mono: auto|a|b|all.
    #[arg(long, default_value = "auto")]
    pub caller: String,
    /// Length of the suicide-risk assessment stage, in minutes from the call's start.
    #[arg(long, default_value_t = DEFAULT_ASSESSMENT_MINUTES)]
    pub assessment_minutes: f64,
    /// Where the model runs: auto|cpu|cuda|metal (auto falls back to the CPU with a notice).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub segmentation: SegmentParamArgs,
}

impl AnalysisArgs {
    pub fn model_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.model {
            Some(dir) => Ok(dir.clone()),
            None => bail!(
                "no default model is bundled in this build yet; pass --model DIR (a bundle made by `emotrace import-model`)"
            ),
        }
    }

    pub fn device(&self) -> anyhow::Result<DeviceChoice> {
        Ok(self.device.parse()?)
    }

    pub fn settings(&self) -> anyhow::Result<AnalysisSettings> {
        if !(self.assessment_minutes > 0.0) {
            bail!("--assessment-minutes must be positive");
        }
        Ok(AnalysisSettings {
            caller: self.caller.parse::<CallerChoice>()?,
            segmentation: SegmentationParams::from(&self.segmentation),
            assessment_minutes: self.assessment_minutes,
            ..AnalysisSettings::default()
        })
    }
}
