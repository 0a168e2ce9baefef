//! Stage 6 of the pipeline: what a call's analysis leaves behind — CSV tables (through polars),
//! the trajectory figure (plotters, PNG and SVG) and provenance.

pub mod cohort_io;
pub mod call_report;
pub mod figure;
pub mod provenance;
pub mod reliability;
pub mod tables;

use std::path::PathBuf;

/// Everything that can go wrong while writing or reading reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {cause}")]
    Write { path: PathBuf, cause: std::io::Error },
    #[error("cannot read {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("{path}: missing column '{column}' (has: {present})")]
    MissingColumn { path: PathBuf, column: String, present: String },
    #[error("{path}: {detail}")]
    BadValue { path: PathBuf, detail: String },
    #[error("table error: {0}")]
    Table(#[from] polars::error::PolarsError),
    #[error("cannot draw the figure: {0}")]
    Figure(String),
    /// An io error not yet tied to a path (see `fsutil::atomic_write_via_path`).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
