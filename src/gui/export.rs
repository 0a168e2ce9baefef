//! Export buttons: the same report files `analyze` writes (minus report.json, whose provenance
//! needs the loaded model), through the report module and with its file names.

use std::path::{Path, PathBuf};

use crate::pipeline::CallAnalysis;
use crate::report::figure::{self, TrajectoryFigure};
use crate::report::{tables, ReportError};

pub use crate::report::call_report::{FIGURE_PNG, FIGURE_SVG, SEGMENTS_FILE as SEGMENTS_CSV, SUMMARY_FILE as SUMMARY_CSV};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Csv,
    Png,
    Svg,
    All,
}

/// The folder "Export all beside the recording" writes to: `<dir>/<stem>.emotrace/`.
pub fn beside_recording(recording: &Path) -> PathBuf {
    let stem = recording.file_stem().map_or_else(|| "call".into(), |s| s.to_string_lossy().into_owned());
    recording.parent().unwrap_or(Path::new(".")).join(format!("{stem}.emotrace"))
}

/// Writes the chosen files into `dir` (created if needed); returns the paths written.
pub fn export(kind: ExportKind, analysis: &CallAnalysis, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    if kind == ExportKind::All {
        return crate::report::call_report::write_tables_and_figures(analysis, dir);
    }
    std::fs::create_dir_all(dir).map_err(|cause| ReportError::Write { path: dir.to_path_buf(), cause })?;
    let mut written = Vec::new();
    if matches!(kind, ExportKind::Csv | ExportKind::All) {
        let path = dir.join(SEGMENTS_CSV);
        tables::write_csv(&mut tables::segments_frame(&analysis.segments, analysis.assessment_end_s)?, &path)?;
        written.push(path);
        let path = dir.join(SUMMARY_CSV);
        tables::write_csv(&mut tables::summary_frame(&analysis.summaries)?, &path)?;
        written.push(path);
    }
    let title = analysis.source.file_name().map_or_else(|| analysis.source.display().to_string(), |n| n.to_string_lossy().into_owned());
    let trajectory = TrajectoryFigure {
        title,
        segments: &analysis.segments,
        summaries: &analysis.summaries,
        assessment_end_s: analysis.assessment_end_s,
        call_duration_s: analysis.call_duration_s,
    };
    if matches!(kind, ExportKind::Png | ExportKind::All) {
        let path = dir.join(FIGURE_PNG);
        figure::write_png(&trajectory, &path)?;
        written.push(path);
    }
    if matches!(kind, ExportKind::Svg | ExportKind::All) {
        let path = dir.join(FIGURE_SVG);
        figure::write_svg(&trajectory, &path)?;
        written.push(path);
    }
    Ok(written)
}
