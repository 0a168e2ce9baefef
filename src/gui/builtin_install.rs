//! Picking the centred built-in model in the Model menu: its weights are assembled from the
//! default's plus a small overlay and written once as an ordinary bundle into the data folder's
//! `models/` (46 MB), on a worker thread so the window keeps drawing. From then on it is a bundle
//! like any other: analysis, re-scoring, fine-tuning and the report find it by name.

use std::path::PathBuf;

use super::one_shot::OneShot;
use crate::model::default_centred::{export_centred, CENTRED_MODEL_NAME};

/// What an install ended with: the installed bundle's name, or why it failed.
pub type InstallOutcome = Result<String, String>;

/// An install running on its own thread.
pub struct CentredInstall {
    job: OneShot<String>,
}

impl CentredInstall {
    /// Starts writing the centred model into `models_root`/[`CENTRED_MODEL_NAME`]; `on_done` runs
    /// on the worker once the outcome is sent (the window passes a repaint request).
    pub fn start(models_root: PathBuf, on_done: impl FnOnce() + Send + 'static) -> Self {
        let install = move || {
            export_centred(&models_root.join(CENTRED_MODEL_NAME)).map(|_| CENTRED_MODEL_NAME.to_string()).map_err(|e| e.to_string())
        };
        Self { job: OneShot::spawn("the install", install, on_done) }
    }

    /// The outcome once the worker has finished, `None` while it runs.
    pub fn poll(&self) -> Option<InstallOutcome> {
        self.job.poll()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(install: &CentredInstall) -> InstallOutcome {
        loop {
            if let Some(outcome) = install.poll() {
                return outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn installs_a_listed_bundle_once_and_reports_a_failure_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("models");
        assert_eq!(wait(&CentredInstall::start(root.clone(), || {})), Ok(CENTRED_MODEL_NAME.to_string()));
        assert!(crate::model::bundle::read_bundle(&root.join(CENTRED_MODEL_NAME)).unwrap().config.whisper.unwrap().stats_centring);
        // A second install finds the folder taken and says so, leaving the first intact.
        let error = wait(&CentredInstall::start(root.clone(), || {})).unwrap_err();
        assert!(error.contains(CENTRED_MODEL_NAME), "{error}");
        assert!(crate::model::bundle::read_bundle(&root.join(CENTRED_MODEL_NAME)).is_ok());
    }
}
