//! The files `analyze` leaves for one call: segments.csv, summary.csv, trend.csv,
//! trajectory.png, trajectory.svg and report.json.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::figure::{write_png, write_svg, FigureLanguage, TrajectoryFigure};
use super::provenance::{write_json, InputFile};
use super::tables::{segments_frame, summary_frame, write_csv};
use super::ReportError;
use crate::analysis::trend::{caller_trend, Trend, DEFAULT_TREND_GRID_SECONDS};
use crate::model::bundle::LABEL_SEMANTICS;
use crate::pipeline::{CallAnalysis, CallerAssignment};

pub const SEGMENTS_FILE: &str = "segments.csv";
pub const SUMMARY_FILE: &str = "summary.csv";
pub const TREND_FILE: &str = "trend.csv";
pub const FIGURE_PNG: &str = "trajectory.png";
pub const FIGURE_SVG: &str = "trajectory.svg";
pub const REPORT_JSON: &str = "report.json";

/// Provenance of one analysis.
#[derive(Debug, Serialize)]
pub struct CallProvenance<'a, S: Serialize> {
    pub app: &'static str,
    pub app_version: &'static str,
    pub model_name: &'a str,
    pub model_weights_sha256: &'a str,
    pub model_dir: &'a str,
    pub model_device: &'a str,
    pub model_needs_fine_tuning: bool,
    /// The model's scores are centred on this call (per-call centring): they compare the call's
    /// segments with one another; NSS and stage means are not comparable between calls.
    pub model_scores_centred_on_call: bool,
    /// The model's scores are centred on this earlier call of the caller instead (`--centre-on`;
    /// `settings.baseline` holds its offsets): comparable with the caller's calls centred on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_scores_centred_on_baseline: Option<&'a str>,
    /// What a centring model subtracted for this call (the baseline's when there is one): another
    /// analysis can centre on this call (`--centre-on`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_offsets: Option<&'a crate::model::scoring::CallOffsets>,
    pub label_semantics: &'static str,
    pub settings: &'a S,
    /// Which party was scored as the caller, and the layout it was chosen in.
    pub caller_assignment: &'a CallerAssignment,
    pub input: InputFile,
    pub audio: &'a crate::audio::AudioInfo,
    pub call_duration_s: f64,
    pub caller_segments: usize,
    pub speech_spans: usize,
    pub timings_s: Vec<(&'static str, f64)>,
    pub report_seconds: f64,
    /// The caller's smoothed trend (trend.csv, the figures' line and band).
    pub trend: &'a Trend,
}

/// The caller's trend over the call with the analysis's window (`trend_window_minutes`).
pub fn call_trend(analysis: &CallAnalysis) -> Trend {
    caller_trend(&analysis.segments, analysis.call_duration_s, analysis.settings.trend_window_minutes, DEFAULT_TREND_GRID_SECONDS)
}

/// Which of a report's files to write; report.json (provenance) is always written, last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFiles {
    pub tables: bool,
    pub png: bool,
    pub svg: bool,
    /// The language of the figures' labels.
    pub figure_language: FigureLanguage,
}

impl ReportFiles {
    const NONE: ReportFiles = ReportFiles { tables: false, png: false, svg: false, figure_language: FigureLanguage::English };
    pub const ALL: ReportFiles = ReportFiles { tables: true, png: true, svg: true, ..Self::NONE };
    pub const TABLES: ReportFiles = ReportFiles { tables: true, ..Self::NONE };
    pub const PNG: ReportFiles = ReportFiles { png: true, ..Self::NONE };
    pub const SVG: ReportFiles = ReportFiles { svg: true, ..Self::NONE };

    /// The same files, with the figures' labels in `language`.
    pub const fn in_language(self, language: FigureLanguage) -> ReportFiles {
        ReportFiles { figure_language: language, ..self }
    }
}

/// Writes the chosen CSVs and figures for an analysis into `dir` (created if needed); returns
/// the paths in the order segments.csv, summary.csv, trend.csv, trajectory.png, trajectory.svg.
pub fn write_tables_and_figures(analysis: &CallAnalysis, dir: &Path, files: ReportFiles) -> Result<Vec<PathBuf>, ReportError> {
    write_tables_and_figures_with_trend(analysis, &call_trend(analysis), dir, files)
}

fn write_tables_and_figures_with_trend(
    analysis: &CallAnalysis,
    trend: &Trend,
    dir: &Path,
    files: ReportFiles,
) -> Result<Vec<PathBuf>, ReportError> {
    crate::fsutil::create_private_dir_all(dir).map_err(|cause| ReportError::Write { path: dir.to_path_buf(), cause })?;
    let mut written = Vec::new();
    if files.tables {
        let segments = dir.join(SEGMENTS_FILE);
        write_csv(&mut segments_frame(&analysis.segments, analysis.assessment_end_s)?, &segments)?;
        written.push(segments);
        let summary = dir.join(SUMMARY_FILE);
        write_csv(&mut summary_frame(&analysis.summaries)?, &summary)?;
        written.push(summary);
        let trend_path = dir.join(TREND_FILE);
        crate::fsutil::atomic_write(&trend_path, trend.to_csv().as_bytes())
            .map_err(|cause| ReportError::Write { path: trend_path.clone(), cause })?;
        written.push(trend_path);
    }
    let title = analysis
        .source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| analysis.source.display().to_string());
    let figure = TrajectoryFigure {
        title,
        segments: &analysis.segments,
        summaries: &analysis.summaries,
        assessment_end_s: analysis.assessment_end_s,
        call_duration_s: analysis.call_duration_s,
        language: files.figure_language,
        trend: Some(trend),
    };
    if files.png {
        let png = dir.join(FIGURE_PNG);
        write_png(&figure, &png)?;
        written.push(png);
    }
    if files.svg {
        let svg = dir.join(FIGURE_SVG);
        write_svg(&figure, &svg)?;
        written.push(svg);
    }
    Ok(written)
}

/// Writes report.json.
pub fn write_provenance<S: Serialize>(provenance: &CallProvenance<S>, dir: &Path) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_JSON);
    write_json(provenance, &path)?;
    Ok(path)
}

/// Seconds per stage (model load first), and for writing the report itself.
#[derive(Debug, Clone)]
pub struct ReportTimings {
    pub stages: Vec<(&'static str, f64)>,
    pub report_seconds: f64,
}

/// Writes all five files of one analysed call into `dir`; report.json goes last, so its presence
/// marks a complete report (batch `--resume` relies on that). `analyze`, `batch` and the
/// window's Export all write through here.
pub fn write_call_report(
    analysis: &CallAnalysis,
    model_load_seconds: f64,
    dir: &Path,
    figure_language: FigureLanguage,
) -> Result<ReportTimings, ReportError> {
    write_call_report_files(analysis, model_load_seconds, dir, ReportFiles::ALL.in_language(figure_language)).map(|(timings, _)| timings)
}

/// Writes the chosen files of one analysed call and its report.json (last); returns the
/// timings and every path written.
pub fn write_call_report_files(
    analysis: &CallAnalysis,
    model_load_seconds: f64,
    dir: &Path,
    files: ReportFiles,
) -> Result<(ReportTimings, Vec<PathBuf>), ReportError> {
    let started = std::time::Instant::now();
    let trend = call_trend(analysis);
    let mut written = write_tables_and_figures_with_trend(analysis, &trend, dir, files)?;
    let stages: Vec<(&'static str, f64)> = std::iter::once(("model_load", model_load_seconds))
        .chain(analysis.timings.iter().map(|(stage, seconds)| (stage.as_str(), *seconds)))
        .collect();
    let model = &analysis.model;
    let provenance = CallProvenance {
        app: "emotrace",
        app_version: env!("CARGO_PKG_VERSION"),
        model_name: &model.name,
        model_weights_sha256: &model.weights_sha256,
        model_dir: &model.dir,
        model_device: &model.device,
        model_needs_fine_tuning: model.needs_fine_tuning,
        model_scores_centred_on_call: model.per_call_centring && analysis.settings.baseline.is_none(),
        model_scores_centred_on_baseline: analysis.settings.baseline.as_ref().map(|b| b.source.as_str()),
        call_offsets: analysis.call_offsets.as_ref(),
        label_semantics: LABEL_SEMANTICS,
        settings: &analysis.settings,
        caller_assignment: &analysis.assignment,
        input: InputFile::describe(&analysis.source)?,
        audio: &analysis.audio_info,
        call_duration_s: analysis.call_duration_s,
        caller_segments: analysis.segments.len(),
        speech_spans: analysis.spans.len(),
        timings_s: stages.clone(),
        report_seconds: started.elapsed().as_secs_f64(),
        trend: &trend,
    };
    written.push(write_provenance(&provenance, dir)?);
    Ok((ReportTimings { stages, report_seconds: provenance.report_seconds }, written))
}
