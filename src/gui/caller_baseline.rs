//! A caller baseline in the window (Model → "Centre on an earlier call of this caller…"): a
//! centring model's scores heard against an earlier call of the same caller, whose report.json
//! (an export, or `emotrace analyze --out`) names the offsets that model subtracted there.
//! Calls centred on the same baseline are comparable with one another, as with `--centre-on`.
//!
//! The report is read on a worker ([`OneShot`]): a file on a slow share must not stall the window.

use std::path::PathBuf;

use super::one_shot::{OneShot, Outcome};
use crate::pipeline::{CallBaseline, ModelInfo};

/// A report being read.
pub struct BaselineLoad(OneShot<CallBaseline>);

impl BaselineLoad {
    /// Reads the baseline of `report` (a report.json, or the folder holding one).
    pub fn start(report: PathBuf, on_done: impl FnOnce() + Send + 'static) -> Self {
        Self(OneShot::spawn("reading the baseline call's report", move || CallBaseline::from_report(&report).map_err(|e| e.to_string()), on_done))
    }

    pub fn poll(&self) -> Option<Outcome<CallBaseline>> {
        self.0.poll()
    }
}

/// Whether `baseline` can centre the scores of the model the window shows (`None`: no call
/// analysed yet, so the analysis checks it when it loads the model).
pub fn usable_with(baseline: &CallBaseline, model: Option<&ModelInfo>) -> Result<(), String> {
    match model {
        Some(model) => baseline.check_info(model).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scoring::CallOffsets;

    fn wait(load: &BaselineLoad) -> Outcome<CallBaseline> {
        loop {
            if let Some(outcome) = load.poll() {
                return outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn model(weights: &str, centring: bool) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            display_name: "m".into(),
            weights_sha256: weights.into(),
            dir: String::new(),
            device: "CPU".into(),
            device_notice: None,
            needs_fine_tuning: false,
            backbone: "whisper".into(),
            per_call_centring: centring,
        }
    }

    #[test]
    fn a_report_is_read_on_a_worker_and_checked_against_the_shown_model() {
        let dir = tempfile::tempdir().unwrap();
        let report = serde_json::json!({
            "model_weights_sha256": "abc123",
            "call_offsets": CallOffsets { states: None, stats: 0.25 },
            "input": { "path": "/calls/首次来电.wav", "sha256": "ff" },
            "settings": {},
        });
        std::fs::write(dir.path().join("report.json"), report.to_string()).unwrap();
        let baseline = wait(&BaselineLoad::start(dir.path().to_path_buf(), || {})).unwrap();
        assert_eq!(baseline.offsets.stats, 0.25);
        assert_eq!(baseline.call_name(), "首次来电.wav");
        assert_eq!(usable_with(&baseline, Some(&model("abc123", true))), Ok(()));
        assert_eq!(usable_with(&baseline, None), Ok(()));
        let other = usable_with(&baseline, Some(&model("def456", true))).unwrap_err();
        assert!(other.contains("another model"), "{other}");
        let uncentred = usable_with(&baseline, Some(&model("abc123", false))).unwrap_err();
        assert!(uncentred.contains("does not centre"), "{uncentred}");
        // A report without offsets (its model did not centre) and a missing file say so.
        std::fs::write(dir.path().join("report.json"), serde_json::json!({
            "model_weights_sha256": "abc123", "input": { "path": "a.wav", "sha256": "ff" }, "settings": {},
        }).to_string())
        .unwrap();
        let none = wait(&BaselineLoad::start(dir.path().join("report.json"), || {})).unwrap_err();
        assert!(none.contains("no call offsets"), "{none}");
        let missing = wait(&BaselineLoad::start(dir.path().join("nothing.json"), || {})).unwrap_err();
        assert!(missing.contains("nothing.json"), "{missing}");
    }
}
