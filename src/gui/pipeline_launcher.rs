//! The product's analysis in the window: the pipeline (decode → segment → features → model) with
//! the model bundle picked in the Model menu, or the built-in default model
//! ([`crate::model::default_model`]) when none is picked.
//!
//! A bundle can be large: it loads on a worker thread while the call decodes, reported as
//! `ModelLoading`/`ModelLoaded`, and stays loaded for the next call or a re-analysis.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::launcher::{AnalysisLauncher, LaunchSettings};
use super::models;
use crate::audio::Audio16k;
use crate::model::DeviceChoice;
use crate::pipeline::run::final_event;
use crate::pipeline::{
    analyze_decoded, decode_call, reanalyze_call, AnalysisEvent, CallAnalysis, PipelineError, ScoreMemo, ScoringModel,
};

/// The last model loaded (its folder, the model, the seconds loading took), kept so
/// re-analysing or opening the next call does not reload it.
type ModelCache = Arc<Mutex<Option<(PathBuf, Arc<ScoringModel>, f64)>>>;

#[derive(Default)]
pub struct ProductLauncher {
    loaded: ModelCache,
}

impl AnalysisLauncher for ProductLauncher {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>) {
        let name = settings.model.clone();
        let pipeline_settings = settings.analysis_settings();
        let cache = self.loaded.clone();
        std::thread::spawn(move || {
            let mut send = |event| {
                let _ = events.send(event);
            };
            // The model loads while the call decodes, so the waveform does not wait for it.
            let loader = {
                let events = events.clone();
                std::thread::spawn(move || load_cached(&cache, name.as_deref(), &events))
            };
            let decoded = decode_call(&path, &mut send);
            let model = loader.join().unwrap_or_else(|_| Err("loading the model crashed".to_string()));
            let outcome = match (decoded, model) {
                (Err(error), _) => Err(error),
                (Ok(_), Err(message)) => return send(AnalysisEvent::Failed { message }),
                (Ok(_), Ok(_)) if cancel.load(Ordering::Relaxed) => Err(PipelineError::Cancelled),
                (Ok((audio, decode_seconds)), Ok(model)) => analyze_decoded(
                    &path,
                    &audio,
                    &pipeline_settings,
                    &model,
                    &ScoreMemo::default(),
                    decode_seconds,
                    &mut send,
                    &cancel,
                ),
            };
            send(final_event(outcome));
        });
    }

    fn relaunch(
        &self,
        previous: Arc<CallAnalysis>,
        audio: Arc<Audio16k>,
        settings: &LaunchSettings,
        events: Sender<AnalysisEvent>,
        cancel: Arc<AtomicBool>,
    ) {
        let name = settings.model.clone();
        let pipeline_settings = settings.analysis_settings();
        let cache = self.loaded.clone();
        std::thread::spawn(move || {
            let mut send = |event| {
                let _ = events.send(event);
            };
            match load_cached(&cache, name.as_deref(), &events) {
                Ok(model) => {
                    let outcome = reanalyze_call(&previous, &audio, &pipeline_settings, &model, &mut send, &cancel);
                    send(final_event(outcome));
                }
                Err(message) => send(AnalysisEvent::Failed { message }),
            }
        });
    }

    fn is_demo(&self, _settings: &LaunchSettings) -> bool {
        false
    }
}

/// The bundle folder of that name under the first bundle root that has it.
fn bundle_dir(name: &str) -> Option<PathBuf> {
    models::bundle_roots().into_iter().map(|root| root.join(name)).find(|dir| dir.is_dir())
}

/// The model of that name (`None`: the built-in default), from the cache or loaded now; reports
/// `ModelLoading` (only when it must load) and `ModelLoaded` on `events`.
fn load_cached(
    cache: &Mutex<Option<(PathBuf, Arc<ScoringModel>, f64)>>,
    name: Option<&str>,
    events: &Sender<AnalysisEvent>,
) -> Result<Arc<ScoringModel>, String> {
    let dir = match name {
        None => PathBuf::from(crate::model::default_model::DEFAULT_MODEL_LABEL),
        Some(name) => bundle_dir(name).ok_or_else(|| {
            let roots: Vec<String> = models::bundle_roots().iter().map(|r| r.display().to_string()).collect();
            format!("model bundle '{name}' not found in {}", roots.join(", "))
        })?,
    };
    let mut slot = cache.lock().map_err(|_| "the model cache is unusable after an earlier failure".to_string())?;
    if let Some((loaded_dir, model, load_seconds)) = slot.as_ref() {
        if *loaded_dir == dir {
            let _ = events.send(AnalysisEvent::ModelLoaded { model: model.info(), load_seconds: *load_seconds });
            return Ok(model.clone());
        }
    }
    let _ = events.send(AnalysisEvent::ModelLoading { name: name.unwrap_or(crate::model::default_model::DEFAULT_MODEL_LABEL).to_string() });
    let started = Instant::now();
    // Auto: a GPU when this build and machine have one, else the CPU (the window shows which).
    let model = match name {
        None => ScoringModel::load_default(DeviceChoice::Auto),
        Some(_) => ScoringModel::load(&dir, DeviceChoice::Auto),
    }
    .map_err(|e| format!("cannot load the model {}: {e}", dir.display()))?;
    let load_seconds = started.elapsed().as_secs_f64();
    let model = Arc::new(model);
    let _ = events.send(AnalysisEvent::ModelLoaded { model: model.info(), load_seconds });
    *slot = Some((dir, model.clone(), load_seconds));
    Ok(model)
}
