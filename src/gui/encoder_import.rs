//! Installing a speaker encoder from the window (Model → Import speaker encoder…), so a clinician
//! handed a CAM++ or GE2E checkpoint needs no terminal. The import reads, checks and writes tens
//! of megabytes, so it runs on a worker thread and reports once, like the CLI's
//! `import-speaker-encoder --force` (the user picked the file: replacing the installed one is
//! what they asked for).

use std::path::{Path, PathBuf};

use super::one_shot::OneShot;
use crate::model::speaker_encoder_store::{self, EncoderConfig};

/// What an import ended with: the installed network's description, or why it failed.
pub type ImportOutcome = Result<String, String>;

/// Checks `checkpoint` and installs it as the encoder folder `dest`, replacing any encoder
/// there; `config` defaults to the published network its tensor names point to.
pub fn install(checkpoint: &Path, config: Option<&EncoderConfig>, dest: &Path) -> ImportOutcome {
    speaker_encoder_store::import(checkpoint, config, dest, true)
        .map(|(_, config)| config.describe())
        .map_err(|e| format!("{}: {e}", checkpoint.display()))
}

/// An import running on its own thread.
pub struct EncoderImport {
    job: OneShot<String>,
}

impl EncoderImport {
    /// Starts installing `checkpoint` into `dest`; `on_done` runs on the worker once the outcome
    /// is sent (the window passes a repaint request).
    pub fn start(checkpoint: PathBuf, dest: PathBuf, on_done: impl FnOnce() + Send + 'static) -> Self {
        Self { job: OneShot::spawn("the import", move || install(&checkpoint, None, &dest), on_done) }
    }

    /// The outcome once the worker has finished, `None` while it runs.
    pub fn poll(&self) -> Option<ImportOutcome> {
        self.job.poll()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_checkpoint_fails_with_its_name_and_installs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("not-a-model.pt");
        std::fs::write(&bogus, b"hello").unwrap();
        let dest = dir.path().join("speaker-encoder");
        let import = EncoderImport::start(bogus, dest.clone(), || {});
        let outcome = loop {
            if let Some(outcome) = import.poll() {
                break outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let message = outcome.unwrap_err();
        assert!(message.contains("not-a-model.pt"), "{message}");
        assert!(!dest.exists());
    }
}
