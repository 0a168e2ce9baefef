//! A caller baseline: a centring model's scores heard against an earlier call of the same caller
//! instead of the call itself. Centring on the call removes the caller's voice offset but also
//! whatever sets this call apart from the caller's others; one fixed baseline call keeps the
//! caller's calls comparable with one another (each is then "relative to that call").
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::events::ModelInfo;
use super::run::{PipelineError, ScoringModel};
use crate::model::scoring::CallOffsets;

/// The offsets a centring model subtracted on the baseline call, with what identifies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallBaseline {
    /// The baseline call's recording as its report names it, and its SHA-256.
    pub source: String,
    pub source_sha256: String,
    /// The model whose offsets these are: only that model may use them.
    pub model_weights_sha256: String,
    pub offsets: CallOffsets,
}

/// The report.json fields a baseline is read from.
#[derive(Deserialize)]
struct ReportFields {
    model_weights_sha256: String,
    #[serde(default)]
    call_offsets: Option<CallOffsets>,
    input: InputFields,
    settings: SettingsFields,
}

#[derive(Deserialize)]
struct InputFields {
    path: String,
    sha256: String,
}

#[derive(Deserialize)]
struct SettingsFields {
    #[serde(default)]
    baseline: Option<CallBaseline>,
}

impl CallBaseline {
    /// The baseline of an earlier analysis's report.json (`analyze --out DIR` → DIR/report.json,
    /// or DIR itself). A report that was itself centred on a baseline hands on that baseline, so
    /// every call of a caller can name the same first call, directly or through another.
    pub fn from_report(path: &Path) -> Result<Self, PipelineError> {
        let file = if path.is_dir() { path.join(crate::report::call_report::REPORT_JSON) } else { path.to_path_buf() };
        let fail = |reason: String| PipelineError::Baseline { path: file.clone(), reason };
        let text = std::fs::read_to_string(&file).map_err(|e| fail(e.to_string()))?;
        let report: ReportFields =
            serde_json::from_str(&text).map_err(|e| fail(format!("not an emotrace report.json ({e})")))?;
        if let Some(baseline) = report.settings.baseline {
            return Ok(baseline);
        }
        let offsets = report.call_offsets.ok_or_else(|| {
            fail("its model does not centre scores on the call, so it has no call offsets to centre on".into())
        })?;
        Ok(Self {
            source: report.input.path,
            source_sha256: report.input.sha256,
            model_weights_sha256: report.model_weights_sha256,
            offsets,
        })
    }

    /// Refuses a model that does not centre, or is not the model the baseline was taken with.
    pub fn check(&self, model: &ScoringModel) -> Result<(), PipelineError> {
        self.check_info(&model.info())
    }

    /// [`CallBaseline::check`] on what an analysis reports of its model (the window checks a
    /// picked baseline against the model it shows before analysing again).
    pub fn check_info(&self, model: &ModelInfo) -> Result<(), PipelineError> {
        let fail = |reason: String| PipelineError::Baseline { path: PathBuf::from(&self.source), reason };
        if !model.per_call_centring {
            return Err(fail(format!(
                "the model '{}' does not centre its scores on the call; a baseline call needs a centring model \
                 (trained with --stats-centring or --per-call-centring)",
                model.name
            )));
        }
        if model.weights_sha256 != self.model_weights_sha256 {
            return Err(fail(format!(
                "the baseline was analysed with another model (weights {}), not '{}' (weights {}): analyse the baseline call \
                 with this model first",
                short(&self.model_weights_sha256),
                model.name,
                short(&model.weights_sha256)
            )));
        }
        Ok(())
    }

    /// The baseline call's file name, for notices.
    pub fn call_name(&self) -> String {
        Path::new(&self.source).file_name().map_or_else(|| self.source.clone(), |n| n.to_string_lossy().into_owned())
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
