//! Many calls, headless: a manifest in, one `analyze` output per call plus `calls.csv` (one row
//! per call and stage) and `failures.csv` out. A failing call is recorded and skipped; `--resume`
//! skips calls whose report is complete; `--shard I/N` splits the manifest across machines
//! (Slurm job arrays, Kubernetes indexed Jobs), all writing into one output folder.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::report::call_report::{REPORT_JSON, SUMMARY_FILE};
use crate::report::tables::{float_column, read_csv, string_column, write_csv};
use crate::report::ReportError;

/// Per-call output folders live here, inside the batch folder.
pub const CALLS_FOLDER: &str = "calls";
pub const CALLS_FILE: &str = "calls.csv";
pub const FAILURES_FILE: &str = "failures.csv";
/// Written into a call's folder when it fails; removed when it later succeeds.
pub const FAILURE_NOTE: &str = "FAILED.txt";

/// One row of the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestCall {
    pub call_id: String,
    pub path: PathBuf,
    pub group: String,
    pub score: String,
    /// The call id of this caller's baseline call in the same manifest (empty: none): a
    /// centring model's scores are then heard against that call, as with `--centre-on`.
    pub baseline: String,
}

/// `I/N`: this process handles manifest rows whose position modulo N is I (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (index, count) = text.split_once('/').ok_or_else(|| format!("expected I/N, got '{text}'"))?;
        let index: usize = index.trim().parse().map_err(|_| format!("bad shard index in '{text}'"))?;
        let count: usize = count.trim().parse().map_err(|_| format!("bad shard count in '{text}'"))?;
        if count == 0 || index >= count {
            return Err(format!("shard '{text}': need 0 <= I < N"));
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    pub fn all() -> Self {
        Self { index: 0, count: 1 }
    }

    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

/// Reads `call_id,path[,group][,score]`. Relative paths are taken relative to the manifest's
/// folder, so a manifest can travel with its recordings.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestCall>, ReportError> {
    let frame = read_csv(path)?;
    let ids = string_column(&frame, path, "call_id")?;
    let paths = string_column(&frame, path, "path")?;
    let optional = |name: &str| -> Result<Vec<String>, ReportError> {
        if frame.column(name).is_ok() {
            string_column(&frame, path, name)
        } else {
            Ok(vec![String::new(); frame.height()])
        }
    };
    let groups = optional("group")?;
    let scores = optional("score")?;
    let baselines = optional("baseline")?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut calls = Vec::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        validate_call_id(id).map_err(|detail| ReportError::BadValue {
            path: path.to_path_buf(),
            detail: format!("row {}: {detail}", row + 1),
        })?;
        if calls.iter().any(|c: &ManifestCall| &c.call_id == id) {
            return Err(ReportError::BadValue {
                path: path.to_path_buf(),
                detail: format!("row {}: call_id '{id}' appears twice", row + 1),
            });
        }
        let recording = PathBuf::from(&paths[row]);
        calls.push(ManifestCall {
            call_id: id.clone(),
            path: if recording.is_absolute() { recording } else { base.join(recording) },
            group: groups[row].clone(),
            score: scores[row].clone(),
            baseline: baselines[row].trim().to_string(),
        });
    }
    check_baselines(&calls).map_err(|detail| ReportError::BadValue { path: path.to_path_buf(), detail })?;
    Ok(calls)
}

/// Every `baseline` names another call of the manifest that has no baseline of its own: all of
/// a caller's calls name the same first call, which is analysed before them.
fn check_baselines(calls: &[ManifestCall]) -> Result<(), String> {
    for (row, call) in calls.iter().enumerate().filter(|(_, c)| !c.baseline.is_empty()) {
        let row = row + 1;
        if call.baseline == call.call_id {
            return Err(format!("row {row}: call '{}' names itself as its baseline", call.call_id));
        }
        match calls.iter().find(|c| c.call_id == call.baseline) {
            None => return Err(format!("row {row}: baseline '{}' is not a call_id of this manifest", call.baseline)),
            Some(base) if !base.baseline.is_empty() => {
                return Err(format!(
                    "row {row}: baseline '{}' has a baseline of its own ('{}'); name that first call instead",
                    call.baseline, base.baseline
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The order a batch runs its calls in: baseline calls (and calls without one) first, in manifest
/// order, then the calls centred on them, so a baseline's report exists when it is needed.
pub fn run_order<'a>(calls: impl IntoIterator<Item = &'a ManifestCall>) -> Vec<&'a ManifestCall> {
    let (later, first): (Vec<&ManifestCall>, Vec<&ManifestCall>) = calls.into_iter().partition(|c| !c.baseline.is_empty());
    first.into_iter().chain(later).collect()
}

/// A call id names a folder: it must be one plain path component.
fn validate_call_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty call_id".into());
    }
    if id == "." || id == ".." || id.contains(['/', '\\']) || id.contains('\0') {
        return Err(format!("call_id '{id}' cannot be used as a folder name"));
    }
    Ok(())
}

/// The folder of one call's report.
pub fn call_folder(batch_dir: &Path, call_id: &str) -> PathBuf {
    batch_dir.join(CALLS_FOLDER).join(call_id)
}

/// A call's report is complete when report.json (written last) exists.
pub fn is_complete(batch_dir: &Path, call_id: &str) -> bool {
    call_folder(batch_dir, call_id).join(REPORT_JSON).is_file()
}

/// Records a failure in the call's folder (atomic), so any shard's collection step sees it.
pub fn record_failure(batch_dir: &Path, call_id: &str, message: &str) -> Result<(), ReportError> {
    let folder = call_folder(batch_dir, call_id);
    crate::fsutil::create_private_dir_all(&folder).map_err(|cause| ReportError::Write { path: folder.clone(), cause })?;
    let note = folder.join(FAILURE_NOTE);
    crate::fsutil::atomic_write(&note, message.as_bytes()).map_err(|cause| ReportError::Write { path: note, cause })
}

/// Clears an earlier failure note once the call succeeds.
pub fn clear_failure(batch_dir: &Path, call_id: &str) {
    let _ = std::fs::remove_file(call_folder(batch_dir, call_id).join(FAILURE_NOTE));
}

/// Rebuilds calls.csv and failures.csv from every call folder of the manifest (all shards),
/// atomically. Returns (complete calls, failed calls).
pub fn collect(batch_dir: &Path, manifest: &[ManifestCall]) -> Result<(usize, usize), ReportError> {
    let mut columns: [Vec<String>; 5] = Default::default(); // call_id, path, group, score, stage
    let mut numbers: [Vec<Option<f64>>; 6] = Default::default();
    let (mut callers, mut caller_shares, mut caller_uncertain) = (Vec::new(), Vec::new(), Vec::new());
    let (mut failed_ids, mut failed_paths, mut failed_messages) = (Vec::new(), Vec::new(), Vec::new());
    let mut complete = 0;
    for call in manifest {
        let folder = call_folder(batch_dir, &call.call_id);
        if is_complete(batch_dir, &call.call_id) {
            let summary_path = folder.join(SUMMARY_FILE);
            let summary = read_csv(&summary_path)?;
            let stages = string_column(&summary, &summary_path, "stage")?;
            let values: Vec<Vec<Option<f64>>> =
                ["n_segments", "nss", "ecr_binary", "ecr_prob", "speech_s", "duration_s"]
                    .iter()
                    .map(|name| float_column(&summary, &summary_path, name))
                    .collect::<Result<_, _>>()?;
            let choice = CallerRecord::read(&folder.join(REPORT_JSON))?;
            for (row, stage) in stages.iter().enumerate() {
                callers.push(choice.caller.clone());
                caller_shares.push(choice.speech_share);
                caller_uncertain.push(choice.uncertain);
                columns[0].push(call.call_id.clone());
                columns[1].push(call.path.display().to_string());
                columns[2].push(call.group.clone());
                columns[3].push(call.score.clone());
                columns[4].push(stage.clone());
                for (target, source) in numbers.iter_mut().zip(&values) {
                    target.push(source[row]);
                }
            }
            complete += 1;
        } else if let Ok(message) = std::fs::read_to_string(folder.join(FAILURE_NOTE)) {
            failed_ids.push(call.call_id.clone());
            failed_paths.push(call.path.display().to_string());
            failed_messages.push(message.trim().replace('\n', " "));
        }
    }
    let as_count = |v: &[Option<f64>]| v.iter().map(|x| x.map(|x| x as u64)).collect::<Vec<_>>();
    let mut calls = df!(
        "call_id" => &columns[0],
        "path" => &columns[1],
        "group" => &columns[2],
        "score" => &columns[3],
        "stage" => &columns[4],
        "n_segments" => as_count(&numbers[0]),
        "nss" => as_count(&numbers[1]),
        "ecr_binary" => &numbers[2],
        "ecr_prob" => &numbers[3],
        "speech_s" => &numbers[4],
        "duration_s" => &numbers[5],
        "caller" => &callers,
        "caller_speech_share" => &caller_shares,
        "caller_uncertain" => &caller_uncertain,
    )?;
    write_csv(&mut calls, &batch_dir.join(CALLS_FILE))?;
    let mut failures = df!("call_id" => &failed_ids, "path" => &failed_paths, "error" => &failed_messages)?;
    write_csv(&mut failures, &batch_dir.join(FAILURES_FILE))?;
    Ok((complete, failed_ids.len()))
}

/// Who was scored as the caller in one call's report.json, and how sure the automatic choice was
/// (share and flag are empty when the caller was chosen by hand).
struct CallerRecord {
    caller: String,
    speech_share: Option<f64>,
    uncertain: Option<bool>,
}

impl CallerRecord {
    fn read(path: &Path) -> Result<Self, ReportError> {
        let bad = |detail: String| ReportError::Read { path: path.to_path_buf(), detail };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let assignment = &report["caller_assignment"];
        let auto_choice = &assignment["auto_choice"];
        Ok(CallerRecord {
            caller: assignment["caller"].as_str().unwrap_or_default().to_string(),
            speech_share: auto_choice["speech_share"].as_f64().map(|share| (share * 1000.0).round() / 1000.0),
            uncertain: auto_choice["uncertain"].as_bool(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_manifest() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for position in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(position)).count(), 1);
        }
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn call_ids_must_be_plain_folder_names() {
        for bad in ["", "..", "a/b", "a\\\\b"] {
            assert!(validate_call_id(bad).is_err(), "{bad}");
        }
        assert!(validate_call_id("来电-0001").is_ok());
    }

    fn manifest(text: &str) -> Result<Vec<ManifestCall>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.csv");
        std::fs::write(&path, text).unwrap();
        read_manifest(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn baselines_name_a_first_call_of_the_manifest_which_runs_before_its_later_calls() {
        let calls = manifest("call_id,path,baseline\nlater,b.wav,首次\n首次,a.wav,\nother,c.wav,\nlatest,d.wav,首次\n").unwrap();
        assert_eq!(calls[0].baseline, "首次");
        assert_eq!(calls[1].baseline, "");
        let order: Vec<&str> = run_order(&calls).iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(order, ["首次", "other", "later", "latest"]);
        // Without the column, no call has a baseline.
        assert!(manifest("call_id,path\na,a.wav\n").unwrap().iter().all(|c| c.baseline.is_empty()));
        for (bad, says) in [
            ("call_id,path,baseline\na,a.wav,a\n", "names itself"),
            ("call_id,path,baseline\na,a.wav,nobody\n", "not a call_id"),
            ("call_id,path,baseline\na,a.wav,\nb,b.wav,a\nc,c.wav,b\n", "has a baseline of its own"),
        ] {
            let error = manifest(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }
}
