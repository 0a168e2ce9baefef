//! The product's analysis in the window: the pipeline (decode → segment → features → model) with
//! the model bundle picked in the Model menu. With no bundle picked (none is shipped yet) the demo
//! driver runs instead and the window says "demo scoring: no model".

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use super::launcher::{AnalysisLauncher, LaunchSettings, SyntheticLauncher};
use super::models;
use crate::model::DeviceChoice;
use crate::pipeline::{spawn_analysis, AnalysisEvent, AnalysisSettings, ScoringModel};

/// The last model loaded, kept so re-analysing or opening the next call does not reload it.
type ModelCache = Arc<Mutex<Option<(PathBuf, Arc<ScoringModel>)>>>;

#[derive(Default)]
pub struct ProductLauncher {
    demo: SyntheticLauncher,
    loaded: ModelCache,
}

impl AnalysisLauncher for ProductLauncher {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>) {
        let Some(name) = settings.model.clone() else {
            return self.demo.launch(path, settings, events, cancel);
        };
        let pipeline_settings =
            AnalysisSettings { assessment_minutes: settings.assessment_end_s / 60.0, ..AnalysisSettings::default() };
        let cache = self.loaded.clone();
        std::thread::spawn(move || match load_cached(&cache, &name) {
            Ok(model) => {
                let _ = spawn_analysis(path, pipeline_settings, model, events, cancel).join();
            }
            Err(message) => {
                let _ = events.send(AnalysisEvent::Failed { message });
            }
        });
    }

    fn is_demo(&self, settings: &LaunchSettings) -> bool {
        settings.model.is_none()
    }
}

/// The bundle folder of that name under the first bundle root that has it.
fn bundle_dir(name: &str) -> Option<PathBuf> {
    models::bundle_roots().into_iter().map(|root| root.join(name)).find(|dir| dir.is_dir())
}

fn load_cached(cache: &Mutex<Option<(PathBuf, Arc<ScoringModel>)>>, name: &str) -> Result<Arc<ScoringModel>, String> {
    let dir = bundle_dir(name).ok_or_else(|| {
        let roots: Vec<String> = models::bundle_roots().iter().map(|r| r.display().to_string()).collect();
        format!("model bundle '{name}' not found in {}", roots.join(", "))
    })?;
    let mut slot = cache.lock().map_err(|_| "the model cache is unusable after an earlier failure".to_string())?;
    if let Some((loaded_dir, model)) = slot.as_ref() {
        if *loaded_dir == dir {
            return Ok(model.clone());
        }
    }
    let model = ScoringModel::load(&dir, DeviceChoice::Cpu)
        .map_err(|e| format!("cannot load the model {}: {e}", dir.display()))?;
    let model = Arc::new(model);
    *slot = Some((dir, model.clone()));
    Ok(model)
}
