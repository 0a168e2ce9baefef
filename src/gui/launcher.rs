//! How the window starts an analysis. The window only knows [`AnalysisLauncher`]: it hands over a
//! file, the settings and an event sender, and draws whatever [`AnalysisEvent`]s come back.
//!
//! [`SyntheticLauncher`] is a test and demo driver, NOT the product's analysis: it decodes the
//! file for real, finds speech by energy and gives every span a made-up, deterministic score. The
//! window labels its results "demo scoring: no model".

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::{summarise_call, ScoredSegment};
use crate::audio::{load_16k, Audio16k, ANALYSIS_RATE};
use crate::pipeline::{AnalysisEvent, CallAnalysis, PipelineStage, SpeakerSpan};

/// What the window asks of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSettings {
    /// Segments starting before this belong to the assessment stage.
    pub assessment_end_s: f64,
    /// The model bundle picked in the Model menu (`None` = the shipped default).
    pub model: Option<String>,
}

impl Default for LaunchSettings {
    fn default() -> Self {
        Self { assessment_end_s: crate::analysis::DEFAULT_ASSESSMENT_MINUTES * 60.0, model: None }
    }
}

/// Starts an analysis on worker threads and returns at once. The launcher sends progress and
/// partial results on `events`, ends with exactly one of Finished/Failed/Cancelled, and stops
/// soon after `cancel` becomes true.
pub trait AnalysisLauncher: Send + Sync {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>);

    /// True when, with these settings, the scores will not come from a model (the window then
    /// says so).
    fn is_demo(&self, _settings: &LaunchSettings) -> bool {
        false
    }
}

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

/// Test/demo driver: real decoding, energy-based speech spans, made-up deterministic scores.
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

impl AnalysisLauncher for SyntheticLauncher {
    fn launch(&self, path: PathBuf, settings: &LaunchSettings, events: Sender<AnalysisEvent>, cancel: Arc<AtomicBool>) {
        let driver = self.clone();
        let settings = settings.clone();
        std::thread::spawn(move || {
            let outcome = driver.run(&path, &settings, &events, &cancel);
            let last = match outcome {
                Ok(analysis) => AnalysisEvent::Finished { analysis: Arc::new(analysis) },
                Err(Stop::Cancelled) => AnalysisEvent::Cancelled,
                Err(Stop::Failed(message)) => AnalysisEvent::Failed { message },
            };
            let _ = events.send(last);
        });
    }

    fn is_demo(&self, _settings: &LaunchSettings) -> bool {
        true
    }
}

enum Stop {
    Cancelled,
    Failed(String),
}

impl SyntheticLauncher {
    /// Runs the whole demo analysis on the current thread, sending events as it goes.
    fn run(
        &self,
        path: &Path,
        settings: &LaunchSettings,
        events: &Sender<AnalysisEvent>,
        cancel: &AtomicBool,
    ) -> Result<CallAnalysis, Stop> {
        let check = || if cancel.load(Ordering::Relaxed) { Err(Stop::Cancelled) } else { Ok(()) };
        let send = |event| events.send(event).map_err(|_| Stop::Cancelled);
        let mut timings = Vec::new();

        let started = Instant::now();
        send(AnalysisEvent::Progress { stage: PipelineStage::Decode, done: 0, total: 1 })?;
        let audio = Arc::new(load_16k(path).map_err(|e| Stop::Failed(e.to_string()))?);
        send(AnalysisEvent::Progress { stage: PipelineStage::Decode, done: 1, total: 1 })?;
        send(AnalysisEvent::Decoded { audio: audio.clone() })?;
        timings.push((PipelineStage::Decode, started.elapsed().as_secs_f64()));
        check()?;

        let started = Instant::now();
        let spans = energy_spans(&audio);
        send(AnalysisEvent::Progress { stage: PipelineStage::Segment, done: 1, total: 1 })?;
        send(AnalysisEvent::Segmented { spans: spans.clone() })?;
        timings.push((PipelineStage::Segment, started.elapsed().as_secs_f64()));
        check()?;

        let caller: Vec<&SpeakerSpan> = spans.iter().filter(|s| s.is_caller).collect();
        let total = caller.len() as u64;
        let started = Instant::now();
        let mut segments = Vec::with_capacity(caller.len());
        for (done, span) in caller.iter().enumerate() {
            check()?;
            let segment = ScoredSegment {
                index: segments.len(),
                start_s: span.start_s,
                end_s: span.end_s,
                channel: span.channel,
                speaker: span.speaker.clone(),
                p_nonnegative: demo_probability(span.start_s, segments.len()),
            };
            send(AnalysisEvent::Progress { stage: PipelineStage::Features, done: done as u64 + 1, total })?;
            send(AnalysisEvent::Progress { stage: PipelineStage::Model, done: done as u64 + 1, total })?;
            send(AnalysisEvent::Scored { segment: segment.clone() })?;
            segments.push(segment);
            if !self.per_segment_delay.is_zero() {
                std::thread::sleep(self.per_segment_delay);
            }
        }
        if total == 0 {
            send(AnalysisEvent::Progress { stage: PipelineStage::Features, done: 0, total: 0 })?;
            send(AnalysisEvent::Progress { stage: PipelineStage::Model, done: 0, total: 0 })?;
        }
        timings.push((PipelineStage::Model, started.elapsed().as_secs_f64()));
        check()?;

        let call_duration_s = audio.duration_s();
        let summaries = summarise_call(&segments, settings.assessment_end_s, call_duration_s);
        Ok(CallAnalysis {
            source: path.to_path_buf(),
            audio_info: audio.info.clone(),
            spans,
            segments,
            summaries,
            assessment_end_s: settings.assessment_end_s,
            call_duration_s,
            model_name: DEMO_MODEL_NAME.to_string(),
            timings,
        })
    }
}

/// A made-up but stable score: a slow wave with a faster wobble, so the plot shows both labels.
pub fn demo_probability(start_s: f64, index: usize) -> f64 {
    let slow = (2.0 * PI * start_s / 900.0).sin();
    let fast = (index as f64 * 1.7).sin();
    (0.5 + 0.32 * slow + 0.16 * fast).clamp(0.02, 0.98)
}

const FRAME_S: f64 = 0.02;
const MIN_GAP_S: f64 = 0.3;
const MIN_SPAN_S: f64 = 0.4;
const MAX_SPAN_S: f64 = 10.0;

/// Speech spans per channel from frame energy. Channel 0 is taken as the caller (the demo's
/// convention for stereo calls); every span of a mono recording is the caller's.
pub fn energy_spans(audio: &Audio16k) -> Vec<SpeakerSpan> {
    let frame = (FRAME_S * ANALYSIS_RATE as f64) as usize;
    let mut spans = Vec::new();
    let stereo = audio.channels.len() > 1;
    for (channel, samples) in audio.channels.iter().enumerate() {
        let energies: Vec<f32> = samples
            .chunks(frame)
            .map(|chunk| (chunk.iter().map(|x| x * x).sum::<f32>() / chunk.len().max(1) as f32).sqrt())
            .collect();
        let mut sorted = energies.clone();
        sorted.sort_by(f32::total_cmp);
        let loud = sorted.get(sorted.len() * 95 / 100).copied().unwrap_or(0.0);
        let threshold = (loud * 0.15).max(0.003);
        let mut runs: Vec<(f64, f64)> = Vec::new();
        let mut start: Option<usize> = None;
        for (i, &energy) in energies.iter().chain(std::iter::once(&0.0)).enumerate() {
            match (energy > threshold, start) {
                (true, None) => start = Some(i),
                (false, Some(first)) => {
                    let run = (first as f64 * FRAME_S, i as f64 * FRAME_S);
                    match runs.last_mut() {
                        Some(last) if run.0 - last.1 < MIN_GAP_S => last.1 = run.1,
                        _ => runs.push(run),
                    }
                    start = None;
                }
                _ => {}
            }
        }
        let is_caller = channel == 0;
        let speaker = match (stereo, is_caller) {
            (true, true) => "caller",
            (true, false) => "operator",
            (false, _) => "A",
        };
        for (start_s, end_s) in runs.into_iter().filter(|(a, b)| b - a >= MIN_SPAN_S) {
            // The model sees at most 10 s: longer utterances are split (SPEC §1).
            let pieces = ((end_s - start_s) / MAX_SPAN_S).ceil().max(1.0) as usize;
            let piece = (end_s - start_s) / pieces as f64;
            for k in 0..pieces {
                spans.push(SpeakerSpan {
                    index: 0,
                    start_s: start_s + k as f64 * piece,
                    end_s: start_s + (k + 1) as f64 * piece,
                    channel,
                    speaker: speaker.to_string(),
                    is_caller,
                    overlapped: false,
                });
            }
        }
    }
    spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.channel.cmp(&b.channel)));
    for (index, span) in spans.iter_mut().enumerate() {
        span.index = index;
    }
    spans
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
