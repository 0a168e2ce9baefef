//! Export buttons: the files `analyze` writes, written by the same library function
//! ([`write_call_report_files`]) with the same names. Every export also writes report.json, the
//! provenance that says which model, settings and recording the numbers came from.

use std::path::{Path, PathBuf};

use crate::pipeline::CallAnalysis;
use crate::report::call_report::{write_call_report_files, ReportFiles};
use crate::report::figure::FigureLanguage;
use crate::report::ReportError;

pub use crate::report::call_report::{
    FIGURE_PNG, FIGURE_SVG, REPORT_JSON, SEGMENTS_FILE as SEGMENTS_CSV, SUMMARY_FILE as SUMMARY_CSV,
    TREND_FILE as TREND_CSV,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Csv,
    Png,
    Svg,
    All,
}

impl ExportKind {
    fn files(self) -> ReportFiles {
        match self {
            ExportKind::Csv => ReportFiles::TABLES,
            ExportKind::Png => ReportFiles::PNG,
            ExportKind::Svg => ReportFiles::SVG,
            ExportKind::All => ReportFiles::ALL,
        }
    }
}

/// The folder "Export all beside the recording" writes to: `<dir>/<stem>.emotrace/`.
pub fn beside_recording(recording: &Path) -> PathBuf {
    crate::fsutil::beside(recording, ".emotrace")
}

/// Writes the chosen files and report.json into `dir` (created if needed); returns the paths
/// written. `model_load_seconds` is what the window measured when it loaded the model; the
/// figures are labelled in `language` (the window's).
pub fn export(
    kind: ExportKind,
    analysis: &CallAnalysis,
    model_load_seconds: f64,
    dir: &Path,
    language: FigureLanguage,
) -> Result<Vec<PathBuf>, ReportError> {
    write_call_report_files(analysis, model_load_seconds, dir, kind.files().in_language(language)).map(|(_, written)| written)
}
