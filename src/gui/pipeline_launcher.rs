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

use super::launcher::{AnalysisLauncher, LaunchSettings, RescoreDone};
use super::models;
use crate::audio::Audio16k;
use crate::model::DeviceChoice;
use crate::pipeline::{
    analyze_decoded, decode_call, reanalyze_call, score_spans, spawn_worker, AnalysisEvent, CallAnalysis, PipelineError, ScoreMemo,
    ScoringModel,
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
        // The model loads while the call decodes, so the waveform does not wait for it.
        let loader_events = events.clone();
        spawn_worker(events, move |send| {
            let loader = std::thread::spawn(move || load_cached(&cache, name.as_deref(), &loader_events));
            let decoded = decode_call(&path, send);
            let model = loader.join().unwrap_or_else(|_| Err("loading the model crashed".to_string()));
            let (audio, decode_seconds) = decoded?;
            let model = model.map_err(PipelineError::ModelLoad)?;
            if cancel.load(Ordering::Relaxed) {
                return Err(PipelineError::Cancelled);
            }
            analyze_decoded(&path, &audio, &pipeline_settings, &model, &ScoreMemo::default(), decode_seconds, send, &cancel)
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
        let loader_events = events.clone();
        spawn_worker(events, move |send| {
            let model = load_cached(&cache, name.as_deref(), &loader_events).map_err(PipelineError::ModelLoad)?;
            reanalyze_call(&previous, &audio, &pipeline_settings, &model, send, &cancel)
        });
    }

    fn is_demo(&self) -> bool {
        false
    }

    fn rescore(
        &self,
        audio: Arc<Audio16k>,
        spans: Vec<(usize, f64, f64)>,
        analysed: Option<Arc<CallAnalysis>>,
        settings: &LaunchSettings,
        done: RescoreDone,
    ) {
        let name = settings.model.clone();
        let max_batch = settings.analysis_settings().max_batch;
        let cache = self.loaded.clone();
        std::thread::spawn(move || {
            // The model is normally cached by the analysis: its load reports have no reader here.
            let (reports, _unread) = std::sync::mpsc::channel();
            let scored = load_cached(&cache, name.as_deref(), &reports)
                .and_then(|model| {
                    // Offsets of the analysis by this very model only.
                    let offsets = analysed.as_deref().filter(|a| a.model == model.info()).and_then(|a| a.call_offsets.as_ref());
                    score_spans(&model, &audio, &spans, max_batch, offsets).map_err(|e| e.to_string())
                });
            done(scored);
        });
    }
}


/// The model of that name (`None`: the built-in default), from the cache or loaded now; reports
/// `ModelLoading` (only when it must load) and `ModelLoaded` on `events`.
fn load_cached(
    cache: &Mutex<Option<(PathBuf, Arc<ScoringModel>, f64)>>,
    name: Option<&str>,
    events: &Sender<AnalysisEvent>,
) -> Result<Arc<ScoringModel>, String> {
    use crate::model::default_model::DEFAULT_MODEL_LABEL;
    // `None`: the built-in default model, cached under its label.
    let bundle = match name {
        None => None,
        Some(name) => Some(models::bundle_dir(name).ok_or_else(|| {
            let roots: Vec<String> = models::bundle_roots().iter().map(|r| r.display().to_string()).collect();
            format!("model bundle '{name}' not found in {}", roots.join(", "))
        })?),
    };
    let dir = bundle.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_LABEL));
    let mut slot = cache.lock().map_err(|_| "the model cache is unusable after an earlier failure".to_string())?;
    if let Some((loaded_dir, model, load_seconds)) = slot.as_ref() {
        if *loaded_dir == dir {
            let _ = events.send(AnalysisEvent::ModelLoaded { model: model.info(), load_seconds: *load_seconds });
            return Ok(model.clone());
        }
    }
    let _ = events.send(AnalysisEvent::ModelLoading { name: name.unwrap_or(DEFAULT_MODEL_LABEL).to_string() });
    let started = Instant::now();
    // Auto: a GPU when this build and machine have one, else the CPU (the window shows which).
    let model = ScoringModel::load_or_default(bundle.as_deref(), DeviceChoice::Auto)
        .map_err(|e| format!("cannot load the model {}: {e}", dir.display()))?;
    let load_seconds = started.elapsed().as_secs_f64();
    let model = Arc::new(model);
    let _ = events.send(AnalysisEvent::ModelLoaded { model: model.info(), load_seconds });
    *slot = Some((dir, model.clone(), load_seconds));
    Ok(model)
}
