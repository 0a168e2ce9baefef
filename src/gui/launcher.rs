//! How the window starts an analysis. The window only knows [`AnalysisLauncher`]: it hands over a
//! file, the settings and an event sender, and draws whatever [`AnalysisEvent`]s come back.
//!
//! [`SyntheticLauncher`] is a test and demo driver, NOT the product's analysis: it decodes and
//! segments the file with the pipeline's own functions and gives every caller segment a made-up,
//! deterministic score. The window labels its results "demo scoring: no model".

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::ScoredSegment;
use crate::audio::Audio16k;
use crate::pipeline::{
    decode_call, finish_analysis, segment_decoded, spawn_worker, AnalysisEvent, AnalysisParts, AnalysisSettings, CallAnalysis,
    CallBaseline, ModelInfo, PipelineError, PipelineStage,
};
use crate::segmentation::CallerChoice;

/// What the window asks of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSettings {
    /// Segments starting before this belong to the assessment stage.
    pub assessment_end_s: f64,
    /// The model bundle picked in the Model menu (`None` = the shipped default).
    pub model: Option<String>,
    /// Which party is scored (`auto` = segmentation's suggestion).
    pub caller: CallerChoice,
    /// A centring model's scores heard against this earlier call of the caller instead of the
    /// call itself (the Model menu; `analyze --centre-on`).
    pub baseline: Option<CallBaseline>,
}

impl Default for LaunchSettings {
    fn default() -> Self {
        Self {
            assessment_end_s: crate::analysis::DEFAULT_ASSESSMENT_MINUTES * 60.0,
            model: None,
            caller: CallerChoice::Auto,
            baseline: None,
        }
    }
}

impl LaunchSettings {
    /// The pipeline's settings for this launch (segmentation at its documented defaults, as
    /// `analyze` without options).
    pub fn analysis_settings(&self) -> AnalysisSettings {
        AnalysisSettings {
            assessment_minutes: self.assessment_end_s / 60.0,
            caller: self.caller,
            baseline: self.baseline.clone(),
            ..AnalysisSettings::default()
        }
    }
}

/// Starts an analysis on worker threads and returns at once. The launcher sends progress and
/// partial results on `events`, ends with exactly one of Finished/Failed/Cancelled, and stops
/// soon after `cancel` becomes true.
pub trait AnalysisLauncher: Send + Sync {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>);

    /// Analyses an already decoded call again with other settings (another caller choice),
    /// reusing its audio and the scores `previous` already has where the launcher can. The
    /// default decodes again.
    fn relaunch(
        &self,
        previous: Arc<CallAnalysis>,
        _audio: Arc<Audio16k>,
        settings: &LaunchSettings,
        events: Sender<AnalysisEvent>,
        cancel: Arc<AtomicBool>,
    ) {
        self.launch(previous.source.clone(), settings, events, cancel)
    }

    /// True when the scores will not come from a model (the window then says so).
    fn is_demo(&self) -> bool {
        false
    }

    /// Scores spans `(channel, start_s, end_s)` of a decoded call on a worker thread (the
    /// segments a reviewer edited) and hands `done` one score per span (`None`: too short to
    /// score). `analysed` is the call's last analysis: a centring model scores against its call
    /// offsets. The default gives the demo scores.
    fn rescore(
        &self,
        _audio: Arc<Audio16k>,
        spans: Vec<(usize, f64, f64)>,
        _analysed: Option<Arc<CallAnalysis>>,
        _settings: &LaunchSettings,
        done: RescoreDone,
    ) {
        std::thread::spawn(move || done(Ok(spans.iter().map(|&(_, start_s, _)| Some(demo_probability(start_s, (start_s * 10.0) as usize))).collect())));
    }
}

/// Where [`AnalysisLauncher::rescore`] delivers its scores (or why it could not score).
pub type RescoreDone = Box<dyn FnOnce(Result<Vec<Option<f64>>, String>) + Send>;

/// Any function with the launch signature is a launcher, so the real pipeline plugs in as
/// `Box::new(|path, settings: &LaunchSettings, events, cancel| { ... })`.
impl<F> AnalysisLauncher for F
where
    F: Fn(PathBuf, &LaunchSettings, Sender<AnalysisEvent>, Arc<AtomicBool>) + Send + Sync,
{
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>) {
        self(path, settings, events, cancel)
    }
}

/// Test/demo driver: the pipeline's real decoding and segmentation (caller choice included),
/// made-up deterministic scores instead of a model.
#[derive(Debug, Clone)]
pub struct SyntheticLauncher {
    /// Pause after each scored segment, so partial results arrive like a real model's.
    pub per_segment_delay: Duration,
}

impl Default for SyntheticLauncher {
    fn default() -> Self {
        Self { per_segment_delay: Duration::from_millis(12) }
    }
}

/// The model name the demo driver reports.
pub const DEMO_MODEL_NAME: &str = "demo scoring: no model";

/// What reports say about the demo driver's "model".
pub fn demo_model_info() -> ModelInfo {
    ModelInfo {
        name: DEMO_MODEL_NAME.to_string(),
        display_name: DEMO_MODEL_NAME.to_string(),
        weights_sha256: String::new(),
        dir: String::new(),
        device: "none".to_string(),
        device_notice: None,
        needs_fine_tuning: false,
        backbone: "none".to_string(),
        per_call_centring: false,
    }
}

impl AnalysisLauncher for SyntheticLauncher {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>) {
        let driver = self.clone();
        let settings = settings.analysis_settings();
        spawn_worker(events, move |send| {
            let (audio, decode_seconds) = decode_call(&path, send)?;
            driver.score(&path, &audio, decode_seconds, &settings, send, &cancel)
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
        let driver = self.clone();
        let settings = settings.analysis_settings();
        spawn_worker(events, move |send| {
            driver.score(&previous.source, &audio, previous.decode_seconds(), &settings, send, &cancel)
        });
    }

    fn is_demo(&self) -> bool {
        true
    }
}

impl SyntheticLauncher {
    /// Segments decoded audio like the pipeline and gives each caller segment a demo score.
    fn score(
        &self,
        path: &Path,
        audio: &Audio16k,
        decode_seconds: f64,
        settings: &AnalysisSettings,
        send: &mut dyn FnMut(AnalysisEvent),
        cancel: &AtomicBool,
    ) -> Result<CallAnalysis, PipelineError> {
        let check = || if cancel.load(Ordering::Relaxed) { Err(PipelineError::Cancelled) } else { Ok(()) };
        check()?;
        let mut timings = vec![(PipelineStage::Decode, decode_seconds)];
        let started = Instant::now();
        let (segmentation, spans, assignment) = segment_decoded(audio, settings, send, cancel)?;
        send(AnalysisEvent::Segmented { spans: spans.clone(), assignment: assignment.clone() });
        timings.push((PipelineStage::Segment, started.elapsed().as_secs_f64()));
        check()?;

        let caller: Vec<_> = segmentation.caller_segments().collect();
        let total = caller.len() as u64;
        let started = Instant::now();
        let mut segments: Vec<ScoredSegment> = Vec::with_capacity(caller.len());
        send(AnalysisEvent::Progress { stage: PipelineStage::Features, done: 0, total });
        send(AnalysisEvent::Progress { stage: PipelineStage::Model, done: 0, total });
        for (index, source) in caller.iter().enumerate() {
            check()?;
            let segment = crate::pipeline::run::caller_segment(index, source, demo_probability(source.start_s, index));
            send(AnalysisEvent::Progress { stage: PipelineStage::Features, done: index as u64 + 1, total });
            send(AnalysisEvent::Progress { stage: PipelineStage::Model, done: index as u64 + 1, total });
            send(AnalysisEvent::Scored { segment: segment.clone() });
            segments.push(segment);
            if !self.per_segment_delay.is_zero() {
                std::thread::sleep(self.per_segment_delay);
            }
        }
        timings.push((PipelineStage::Model, started.elapsed().as_secs_f64()));
        check()?;
        Ok(finish_analysis(AnalysisParts {
            source: path.to_path_buf(),
            audio_info: audio.info.clone(),
            call_duration_s: audio.duration_s(),
            spans,
            segments,
            settings: settings.clone(),
            model: demo_model_info(),
            assignment,
            timings,
            call_offsets: None,
        }))
    }
}

/// A made-up but stable score: a slow wave with a faster wobble, so the plot shows both labels.
pub fn demo_probability(start_s: f64, index: usize) -> f64 {
    let slow = (2.0 * PI * start_s / 900.0).sin();
    let fast = (index as f64 * 1.7).sin();
    (0.5 + 0.32 * slow + 0.16 * fast).clamp(0.02, 0.98)
}

/// Runs a launcher to the end on this thread and returns the finished analysis (tests, tools).
pub fn run_to_end(launcher: &dyn AnalysisLauncher, path: &Path, settings: &LaunchSettings) -> Result<Arc<CallAnalysis>, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    launcher.launch(path.to_path_buf(), settings, sender, Arc::new(AtomicBool::new(false)));
    for event in receiver {
        match event {
            AnalysisEvent::Finished { analysis } => return Ok(analysis),
            AnalysisEvent::Failed { message } => return Err(message),
            AnalysisEvent::Cancelled => return Err("cancelled".into()),
            _ => {}
        }
    }
    Err("the analysis stopped without a result".into())
}
