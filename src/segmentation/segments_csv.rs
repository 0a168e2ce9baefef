//! Reading and writing `segments.csv`:
//! `index,start_s,end_s,channel,speaker,is_caller,overlap` (`is_caller`/`overlap` are 1/0).
//! The first six columns are the documented interface; `overlap` is appended so readers that
//! look columns up by name are unaffected.

use std::path::Path;

use super::{Segment, SegmentationError};

pub const HEADER: &str = "index,start_s,end_s,channel,speaker,is_caller,overlap";

/// Renders segments as CSV text.
pub fn to_csv_string(segments: &[Segment]) -> String {
    let mut out = String::with_capacity(64 * (segments.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for (i, s) in segments.iter().enumerate() {
        out.push_str(&format!(
            "{},{:.3},{:.3},{},{},{},{}\n",
            i,
            s.start_s,
            s.end_s,
            s.channel,
            s.speaker,
            u8::from(s.is_caller),
            u8::from(s.overlap)
        ));
    }
    out
}

/// Writes `contents` to `path` atomically (temporary sibling, then rename).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SegmentationError> {
    crate::fsutil::atomic_write(path, contents)
        .map_err(|source| SegmentationError::Io { path: path.display().to_string(), source })
}

/// Writes segments to `path` atomically.
pub fn write_segments(path: &Path, segments: &[Segment]) -> Result<(), SegmentationError> {
    write_atomic(path, to_csv_string(segments).as_bytes())
}

/// A parsed CSV table: header names and rows of fields (one record per line).
pub struct CsvTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The fields of one CSV line: a field wrapped in double quotes may hold commas, and `""` inside
/// it stands for one quote (RFC 4180, without line breaks inside fields). Unquoted fields are
/// trimmed.
pub fn split_csv_line(line: &str) -> Vec<String> {
    let finish = |field: String, was_quoted: bool| if was_quoted { field } else { field.trim().to_string() };
    let mut fields = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
        } else if c == ',' {
            fields.push(finish(std::mem::take(&mut field), was_quoted));
            was_quoted = false;
        } else if c == '"' && !was_quoted && field.trim().is_empty() {
            field.clear();
            (quoted, was_quoted) = (true, true);
        } else if !was_quoted {
            field.push(c);
        }
        // Characters between a closing quote and the next comma are dropped.
    }
    fields.push(finish(field, was_quoted));
    fields
}

/// `value` as one CSV field: quoted (quotes doubled) when it holds a comma, a quote or spaces at
/// its ends.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"']) || value.trim() != value {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

impl CsvTable {
    /// Parses CSV text (see [`split_csv_line`]).
    pub fn parse(text: &str) -> Result<Self, SegmentationError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header_line = lines.next().ok_or_else(|| SegmentationError::Csv("empty file".into()))?;
        let header = split_csv_line(header_line.trim_start_matches('\u{feff}'));
        let rows = lines.map(split_csv_line).collect();
        Ok(Self { header, rows })
    }

    /// Index of column `name`.
    pub fn column(&self, name: &str) -> Result<usize, SegmentationError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| SegmentationError::Csv(format!("missing column '{name}'")))
    }

    /// Field `col` of row `row` (empty when the row is short).
    pub fn get(&self, row: usize, col: usize) -> &str {
        self.rows[row].get(col).map_or("", |s| s.as_str())
    }

    /// Field parsed as f64.
    pub fn get_f64(&self, row: usize, col: usize) -> Result<f64, SegmentationError> {
        let v = self.get(row, col);
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| SegmentationError::Csv(format!("row {}: '{}' is not a number", row + 2, v)))
    }
}

fn parse_bool(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// Parses `segments.csv` text.
pub fn parse_segments(text: &str) -> Result<Vec<Segment>, SegmentationError> {
    let t = CsvTable::parse(text)?;
    let (cs, ce) = (t.column("start_s")?, t.column("end_s")?);
    let channel = t.column("channel").ok();
    let speaker = t.column("speaker").ok();
    let is_caller = t.column("is_caller").ok();
    let overlap = t.column("overlap").ok();
    (0..t.rows.len())
        .map(|r| {
            Ok(Segment {
                start_s: t.get_f64(r, cs)?,
                end_s: t.get_f64(r, ce)?,
                channel: channel.and_then(|c| t.get(r, c).parse().ok()).unwrap_or(0),
                speaker: speaker.map_or_else(String::new, |c| t.get(r, c).to_string()),
                is_caller: is_caller.is_none_or(|c| parse_bool(t.get(r, c))),
                overlap: overlap.is_some_and(|c| parse_bool(t.get(r, c))),
            })
        })
        .collect()
}

/// Reads `segments.csv`.
pub fn read_segments(path: &Path) -> Result<Vec<Segment>, SegmentationError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| SegmentationError::Io { path: path.display().to_string(), source })?;
    parse_segments(&text)
}

#[cfg(test)]
mod tests {

    #[test]
    fn quoted_fields_hold_commas_and_quotes_and_round_trip() {
        let line = r#"a, "b,c" ,"say ""hi""",, "  padded  ",last"#;
        assert_eq!(split_csv_line(line), vec!["a", "b,c", "say \"hi\"", "", "  padded  ", "last"]);
        assert_eq!(split_csv_line("x,y,\r"), vec!["x", "y", ""]);
        for value in ["plain", "来电, 第二通.wav", "He said \"no\"", " edge ", ""] {
            assert_eq!(split_csv_line(&format!("{},z", csv_field(value))), vec![value, "z"], "{value}");
        }
    }
    use super::*;

    #[test]
    fn round_trip() {
        let segs = vec![Segment {
            start_s: 1.25,
            end_s: 3.5,
            channel: 1,
            speaker: "right".into(),
            is_caller: true,
            overlap: false,
        }];
        let back = parse_segments(&to_csv_string(&segs)).unwrap();
        assert_eq!(back, segs);
    }
}
