//! Options shared by the commands that analyse calls (`analyze`, `batch`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::segment_cmd::SegmentParamArgs;
use crate::analysis::DEFAULT_ASSESSMENT_MINUTES;
use crate::model::DeviceChoice;
use crate::pipeline::{AnalysisSettings, CallBaseline, ScoringModel};
use crate::report::figure::FigureLanguage;
use crate::segmentation::{CallerChoice, SegmentationParams};

#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// A model bundle directory (config.json, model.safetensors, meta.json); without it the
    /// built-in default model is used.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Which party is the caller. Stereo: auto|left|right|all; mono: auto|a|b|all.
    #[arg(long, default_value = "auto")]
    pub caller: String,
    /// Length of the suicide-risk assessment stage, in minutes from the call's start.
    #[arg(long, default_value_t = DEFAULT_ASSESSMENT_MINUTES)]
    pub assessment_minutes: f64,
    /// Width of the caller's trend window (centred moving average of p) in minutes, for trend.csv,
    /// report.json and the figures' trend line.
    #[arg(long, value_name = "MIN", default_value_t = crate::analysis::trend::DEFAULT_TREND_WINDOW_MINUTES)]
    pub trend_window: f64,
    /// Where the model runs: auto|cpu|cuda|metal (auto falls back to the CPU with a notice).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Language of the trajectory figure's labels: en or zh (the title is the file name).
    #[arg(long, default_value = "en")]
    pub figure_language: String,
    /// With a centring model: centre on an earlier call of the same caller (its report.json or
    /// output folder, analysed with this model) instead of on each call, so the caller's calls stay
    /// comparable with one another.
    #[arg(long, value_name = "REPORT")]
    pub centre_on: Option<PathBuf>,
    #[command(flatten)]
    pub segmentation: SegmentParamArgs,
}

impl AnalysisArgs {
    /// Loads `--model`, or the built-in default model without it, and prints its notices. A
    /// `--centre-on` baseline (in `settings`) is checked against the model here, before any call
    /// is decoded.
    pub fn load_model(&self, settings: &AnalysisSettings) -> anyhow::Result<ScoringModel> {
        let model = ScoringModel::load_or_default(self.model.as_deref(), self.device()?).with_context(|| match &self.model {
            Some(dir) => format!("cannot load the model {}", dir.display()),
            None => "cannot load the built-in default model".to_string(),
        })?;
        if let Some(notice) = &model.device_notice {
            eprintln!("notice: {notice}");
        }
        if let Some(baseline) = &settings.baseline {
            baseline.check(&model)?;
        }
        if model.bundle.meta.needs_fine_tuning {
            eprintln!(
                "warning: model '{}' has an untrained head and needs fine-tuning; its scores are not meaningful",
                model.bundle.meta.name
            );
        }
        Ok(model)
    }

    pub fn figure_language(&self) -> anyhow::Result<FigureLanguage> {
        self.figure_language.parse::<FigureLanguage>().map_err(anyhow::Error::msg)
    }

    pub fn device(&self) -> anyhow::Result<DeviceChoice> {
        Ok(self.device.parse()?)
    }

    pub fn settings(&self) -> anyhow::Result<AnalysisSettings> {
        if !(self.assessment_minutes > 0.0) {
            bail!("--assessment-minutes must be positive");
        }
        if !(self.trend_window.is_finite() && self.trend_window > 0.0) {
            bail!("--trend-window must be a positive number of minutes");
        }
        Ok(AnalysisSettings {
            caller: self.caller.parse::<CallerChoice>()?,
            segmentation: SegmentationParams::from(&self.segmentation),
            assessment_minutes: self.assessment_minutes,
            trend_window_minutes: self.trend_window,
            baseline: self.centre_on.as_deref().map(CallBaseline::from_report).transpose()?,
            ..AnalysisSettings::default()
        })
    }
}
