//! The report's CSV tables, built and written with polars. Column order and names are the
//! product's interface to researchers' scripts: change them only on purpose.

use std::path::Path;

use polars::prelude::*;

use super::ReportError;
use crate::analysis::{ScoredSegment, SegmentStage, StageSummary};

/// Columns of `segments.csv`.
pub const SEGMENT_COLUMNS: [&str; 8] =
    ["index", "start_s", "end_s", "channel", "speaker", "p_nonnegative", "label", "stage"];
/// Columns of `summary.csv`.
pub const SUMMARY_COLUMNS: [&str; 7] =
    ["stage", "n_segments", "nss", "ecr_binary", "ecr_prob", "speech_s", "duration_s"];

/// One row per scored segment, in time order, with its label and stage.
pub fn segments_frame(segments: &[ScoredSegment], assessment_end_s: f64) -> PolarsResult<DataFrame> {
    let mut ordered: Vec<&ScoredSegment> = segments.iter().collect();
    ordered.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.index.cmp(&b.index)));
    df!(
        "index" => ordered.iter().map(|s| s.index as u64).collect::<Vec<_>>(),
        "start_s" => ordered.iter().map(|s| s.start_s).collect::<Vec<_>>(),
        "end_s" => ordered.iter().map(|s| s.end_s).collect::<Vec<_>>(),
        "channel" => ordered.iter().map(|s| s.channel as u64).collect::<Vec<_>>(),
        "speaker" => ordered.iter().map(|s| s.speaker.as_str()).collect::<Vec<_>>(),
        "p_nonnegative" => ordered.iter().map(|s| s.p_nonnegative).collect::<Vec<_>>(),
        "label" => ordered.iter().map(|s| s.label().as_str()).collect::<Vec<_>>(),
        "stage" => ordered
            .iter()
            .map(|s| SegmentStage::of(s.start_s, assessment_end_s).as_str())
            .collect::<Vec<_>>(),
    )
}

/// One row per summary stage (`assessment`, `full`); undefined ECRs are empty cells.
pub fn summary_frame(summaries: &[StageSummary]) -> PolarsResult<DataFrame> {
    df!(
        "stage" => summaries.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(),
        "n_segments" => summaries.iter().map(|s| s.n_segments as u64).collect::<Vec<_>>(),
        "nss" => summaries.iter().map(|s| s.nss as u64).collect::<Vec<_>>(),
        "ecr_binary" => summaries.iter().map(|s| s.ecr_binary).collect::<Vec<_>>(),
        "ecr_prob" => summaries.iter().map(|s| s.ecr_prob).collect::<Vec<_>>(),
        "speech_s" => summaries.iter().map(|s| round_to_ms(s.speech_s)).collect::<Vec<_>>(),
        "duration_s" => summaries.iter().map(|s| round_to_ms(s.duration_s)).collect::<Vec<_>>(),
    )
}

/// Sums of segment durations carry float noise (611.5700000000143); a report shows milliseconds.
fn round_to_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Serialises a frame as CSV (header, comma, empty cells for nulls).
pub fn csv_bytes(frame: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes).include_header(true).finish(frame)?;
    Ok(bytes)
}

/// Writes a frame as CSV, atomically.
pub fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<(), ReportError> {
    let bytes = csv_bytes(frame)?;
    crate::fsutil::atomic_write(path, &bytes)
        .map_err(|cause| ReportError::Write { path: path.to_path_buf(), cause })
}

/// Reads a CSV with a header row.
pub fn read_csv(path: &Path) -> Result<DataFrame, ReportError> {
    let read_error = |detail: String| ReportError::Read { path: path.to_path_buf(), detail };
    if !path.is_file() {
        return Err(read_error("no such file".into()));
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(|e| read_error(e.to_string()))
}

/// A column as optional f64 values (numbers, or empty cells as `None`).
pub fn float_column(frame: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<f64>>, ReportError> {
    let column = require_column(frame, path, name)?;
    let cast = column.cast(&DataType::Float64).map_err(|e| ReportError::BadValue {
        path: path.to_path_buf(),
        detail: format!("column '{name}' is not numeric: {e}"),
    })?;
    let values = cast.f64().map_err(ReportError::Table)?;
    Ok(values.iter().collect())
}

/// A column as strings (numbers are formatted; empty cells become "").
pub fn string_column(frame: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>, ReportError> {
    let column = require_column(frame, path, name)?;
    let cast = column.cast(&DataType::String).map_err(ReportError::Table)?;
    let values = cast.str().map_err(ReportError::Table)?;
    Ok(values.iter().map(|v| v.unwrap_or_default().to_string()).collect())
}

fn require_column<'a>(frame: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column, ReportError> {
    frame.column(name).map_err(|_| ReportError::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        present: frame.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::summarise_call;

    fn segments() -> Vec<ScoredSegment> {
        [(1, 1900.0, 0.8), (0, 12.5, 0.25)]
            .into_iter()
            .map(|(index, start_s, p)| ScoredSegment {
                index,
                start_s,
                end_s: start_s + 3.5,
                channel: 1,
                speaker: "caller".into(),
                p_nonnegative: p,
            })
            .collect()
    }

    #[test]
    fn segments_csv_has_the_promised_columns_in_time_order() {
        let mut frame = segments_frame(&segments(), 1800.0).unwrap();
        let text = String::from_utf8(csv_bytes(&mut frame).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), SEGMENT_COLUMNS.join(","));
        assert_eq!(lines.next().unwrap(), "0,12.5,16.0,1,caller,0.25,negative,assessment");
        assert_eq!(lines.next().unwrap(), "1,1900.0,1903.5,1,caller,0.8,non-negative,intervention");
    }

    #[test]
    fn summary_csv_leaves_undefined_ecr_empty() {
        let summaries = summarise_call(&segments(), 1800.0, 2000.0);
        let mut frame = summary_frame(&summaries).unwrap();
        let text = String::from_utf8(csv_bytes(&mut frame).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], SUMMARY_COLUMNS.join(","));
        assert_eq!(lines[1], "assessment,1,1,,,3.5,1800.0");
        assert_eq!(lines[2], "full,2,1,1.0,0.55,7.0,2000.0");
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        let summaries = summarise_call(&segments(), 1800.0, 2000.0);
        write_csv(&mut summary_frame(&summaries).unwrap(), &path).unwrap();
        let frame = read_csv(&path).unwrap();
        assert_eq!(float_column(&frame, &path, "ecr_binary").unwrap(), vec![None, Some(1.0)]);
        assert_eq!(string_column(&frame, &path, "stage").unwrap(), vec!["assessment", "full"]);
        let missing = float_column(&frame, &path, "nope").unwrap_err().to_string();
        assert!(missing.contains("missing column 'nope'"), "{missing}");
    }
}
