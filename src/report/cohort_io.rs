//! Reading groups of analysed calls for the cohort table, and writing `table.csv`.
//!
//! A group is either a batch output (`calls.csv`, one row per call and stage) or a folder whose
//! sub-folders each hold one `analyze` output (`summary.csv`).

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::tables::{float_column, read_csv, string_column, write_csv};
use super::ReportError;
use crate::analysis::cohort::{CohortMetric, CohortRow, GroupValues};
use crate::analysis::SummaryStage;

/// Columns of `table.csv`.
pub const TABLE_COLUMNS: [&str; 8] = ["group", "stage", "metric", "n", "mean", "ci_low", "ci_high", "p_welch"];

/// One call's metrics at one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStageMetrics {
    pub call_id: String,
    /// The batch manifest's group of the call (`calls.csv`'s `group` column), if it names one.
    pub group: Option<String>,
    pub stage: String,
    pub nss: Option<f64>,
    pub ecr_binary: Option<f64>,
    pub ecr_prob: Option<f64>,
}

impl CallStageMetrics {
    pub fn metric(&self, metric: CohortMetric) -> Option<f64> {
        match metric {
            CohortMetric::Nss => self.nss,
            CohortMetric::EcrBinary => self.ecr_binary,
            CohortMetric::EcrProb => self.ecr_prob,
        }
        .filter(|v| v.is_finite())
    }
}

/// Loads a group from a `calls.csv`, a folder holding one, or a folder of `analyze` outputs.
pub fn load_group(path: &Path) -> Result<Vec<CallStageMetrics>, ReportError> {
    if path.is_file() {
        return read_metrics(path, None);
    }
    if !path.is_dir() {
        return Err(ReportError::Read { path: path.to_path_buf(), detail: "no such file or folder".into() });
    }
    let calls = path.join("calls.csv");
    if calls.is_file() {
        return read_metrics(&calls, None);
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| ReportError::Read { path: path.to_path_buf(), detail: e.to_string() })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.join("summary.csv").is_file())
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(ReportError::Read {
            path: path.to_path_buf(),
            detail: "holds neither calls.csv nor sub-folders with summary.csv".into(),
        });
    }
    let mut rows = Vec::new();
    for folder in folders {
        let call_id = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        rows.extend(read_metrics(&folder.join("summary.csv"), Some(call_id))?);
    }
    Ok(rows)
}

fn read_metrics(path: &Path, call_id: Option<String>) -> Result<Vec<CallStageMetrics>, ReportError> {
    let frame = read_csv(path)?;
    let stages = string_column(&frame, path, "stage")?;
    let ids = match call_id {
        Some(id) => vec![id; frame.height()],
        None => string_column(&frame, path, "call_id")?,
    };
    // Only batch outputs have groups; an empty cell is no group.
    let groups = match frame.column("group") {
        Ok(_) => string_column(&frame, path, "group")?.into_iter().map(|g| Some(g).filter(|g| !g.is_empty())).collect(),
        Err(_) => vec![None; frame.height()],
    };
    let nss = float_column(&frame, path, "nss")?;
    let ecr_binary = float_column(&frame, path, "ecr_binary")?;
    let ecr_prob = float_column(&frame, path, "ecr_prob")?;
    Ok((0..frame.height())
        .map(|i| CallStageMetrics {
            call_id: ids[i].clone(),
            group: groups[i].clone(),
            stage: stages[i].clone(),
            nss: nss[i],
            ecr_binary: ecr_binary[i],
            ecr_prob: ecr_prob[i],
        })
        .collect())
}

/// The calls of one batch output split by the manifest's `group` column, groups in name order.
/// Every call must name a group (otherwise which side it belongs to is a guess).
pub fn load_groups_by_column(path: &Path) -> Result<Vec<(String, Vec<CallStageMetrics>)>, ReportError> {
    let rows = load_group(path)?;
    let mut ungrouped: Vec<&str> = rows.iter().filter(|r| r.group.is_none()).map(|r| r.call_id.as_str()).collect();
    ungrouped.dedup();
    if !ungrouped.is_empty() {
        let shown: Vec<&str> = ungrouped.iter().take(5).copied().collect();
        let more = if ungrouped.len() > shown.len() { format!(" and {} more", ungrouped.len() - shown.len()) } else { String::new() };
        return Err(ReportError::Read {
            path: path.to_path_buf(),
            detail: format!(
                "{} call(s) have no group ({}{more}): give every manifest row a group, or name the groups with --group",
                ungrouped.len(),
                shown.join(", ")
            ),
        });
    }
    let mut groups: std::collections::BTreeMap<String, Vec<CallStageMetrics>> = std::collections::BTreeMap::new();
    for row in rows {
        let name = row.group.clone().unwrap_or_default();
        groups.entry(name).or_default().push(row);
    }
    Ok(groups.into_iter().collect())
}

/// A group's values per (stage, metric), undefined values left out, stages in report order.
pub fn group_values(group: &str, rows: &[CallStageMetrics]) -> Vec<GroupValues> {
    let mut cells = Vec::new();
    for stage in SummaryStage::ALL {
        for metric in CohortMetric::ALL {
            let values: Vec<f64> =
                rows.iter().filter(|r| r.stage == stage.as_str()).filter_map(|r| r.metric(metric)).collect();
            cells.push(GroupValues { group: group.to_string(), stage: stage.as_str().to_string(), metric, values });
        }
    }
    cells
}

/// `table.csv` as a frame.
pub fn table_frame(rows: &[CohortRow]) -> PolarsResult<DataFrame> {
    df!(
        "group" => rows.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(),
        "stage" => rows.iter().map(|r| r.stage.as_str()).collect::<Vec<_>>(),
        "metric" => rows.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>(),
        "n" => rows.iter().map(|r| r.n as u64).collect::<Vec<_>>(),
        "mean" => rows.iter().map(|r| r.mean).collect::<Vec<_>>(),
        "ci_low" => rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        "ci_high" => rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
        "p_welch" => rows.iter().map(|r| r.p_welch).collect::<Vec<_>>(),
    )
}

/// Writes `table.csv` atomically.
pub fn write_table(rows: &[CohortRow], path: &Path) -> Result<(), ReportError> {
    write_csv(&mut table_frame(rows)?, path)
}
