//! Running the whole analysis of one call. Features are computed on a producer thread and handed
//! to inference through a bounded queue, so feature extraction of the next segments overlaps
//! scoring of the current ones and memory stays bounded whatever the call's length.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use super::events::{AnalysisEvent, CallAnalysis, CallerAssignment, ModelInfo, PipelineStage, SpeakerSpan};
use crate::analysis::{summarise_call, ScoredSegment, DEFAULT_ASSESSMENT_MINUTES};
use crate::audio::{load_16k, Audio16k, AudioError, ANALYSIS_RATE};
use crate::features::{FeatureError, FeatureExtractor, SegmentFeatures};
use crate::model::bundle::Bundle;
use super::baseline::CallBaseline;
use crate::model::scoring::{centring_offset, logits_from_parts, score_segments, segment_parts, sigmoid, CallOffsets, SegmentInput};
use crate::model::{select_device, DeviceChoice, FusedModel, ModelError};
use crate::segmentation::{expected_passes, segment_call_watched, CallSegmentation, CallerChoice, Segment, SegmentationError, SegmentationParams, SegmentationProgress, SegmentationWatch};

/// Segments whose features are computed together (in parallel) and queued as one unit.
const FEATURE_CHUNK: usize = 8;
/// Feature chunks waiting for the model at most: bounds memory to a few MB.
const QUEUE_CHUNKS: usize = 2;

/// Everything that can stop an analysis.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("segmentation: {0}")]
    Segmentation(SegmentationError),
    #[error("features: {0}")]
    Features(#[from] FeatureError),
    #[error("model: {0}")]
    Model(#[from] ModelError),
    /// The model could not be loaded (the message names the bundle and why).
    #[error("{0}")]
    ModelLoad(String),
    #[error("the analysis was cancelled")]
    Cancelled,
    /// A caller baseline (`--centre-on`) that cannot be used with this model.
    #[error("cannot centre on the baseline {path}: {reason}")]
    Baseline { path: std::path::PathBuf, reason: String },
}

impl From<SegmentationError> for PipelineError {
    fn from(e: SegmentationError) -> Self {
        match e {
            SegmentationError::Cancelled => PipelineError::Cancelled,
            other => PipelineError::Segmentation(other),
        }
    }
}

/// How to analyse a call (everything but the model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisSettings {
    #[serde(serialize_with = "serialize_display")]
    pub caller: CallerChoice,
    pub segmentation: SegmentationParams,
    /// The assessment stage: segments starting before this many minutes.
    pub assessment_minutes: f64,
    /// Equal-length segments scored together at most.
    pub max_batch: usize,
    /// Width of the caller's trend window (centred moving average), in minutes.
    pub trend_window_minutes: f64,
    /// A centring model centres on this earlier call of the caller instead of the call itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<CallBaseline>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            caller: CallerChoice::Auto,
            segmentation: SegmentationParams::default(),
            assessment_minutes: DEFAULT_ASSESSMENT_MINUTES,
            max_batch: 8,
            trend_window_minutes: crate::analysis::trend::DEFAULT_TREND_WINDOW_MINUTES,
            baseline: None,
        }
    }
}

fn serialize_display<S: serde::Serializer>(value: &CallerChoice, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A loaded model bundle and the device it runs on; load once, analyse many calls.
pub struct ScoringModel {
    pub model: FusedModel,
    pub device: Device,
    pub bundle: Bundle,
    /// Set when the requested device was not available and the CPU is used instead.
    pub device_notice: Option<String>,
}

impl ScoringModel {
    pub fn load(dir: &Path, device: DeviceChoice) -> Result<Self, PipelineError> {
        Self::load_or_default(Some(dir), device)
    }

    /// The bundle in `dir`, or the default model when `dir` is `None`.
    pub fn load_or_default(dir: Option<&Path>, device: DeviceChoice) -> Result<Self, PipelineError> {
        let selected = select_device(device)?;
        let (model, bundle) = crate::model::default_model::load_or_default(dir, &selected.device)?;
        Ok(Self { model, device: selected.device, bundle, device_notice: selected.notice })
    }

    /// The name shown in reports: the bundle's name and the first 12 hex digits of its weights.
    pub fn display_name(&self) -> String {
        let hash = &self.bundle.meta.weights_sha256;
        format!("{} ({})", self.bundle.meta.name, &hash[..hash.len().min(12)])
    }

    /// What reports and the window say about this model.
    pub fn info(&self) -> ModelInfo {
        ModelInfo {
            name: self.bundle.meta.name.clone(),
            display_name: self.display_name(),
            weights_sha256: self.bundle.meta.weights_sha256.clone(),
            dir: self.bundle.dir.display().to_string(),
            device: device_label(&self.device).to_string(),
            device_notice: self.device_notice.clone(),
            needs_fine_tuning: self.bundle.meta.needs_fine_tuning,
            backbone: match self.bundle.config.backbone {
                crate::model::config::Backbone::Wav2vec2 => "wav2vec2",
                crate::model::config::Backbone::Whisper => "whisper",
            }
            .to_string(),
            per_call_centring: self.model.centres_per_call(),
        }
    }
}

/// The device's kind as users know it.
pub fn device_label(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "CPU",
        Device::Cuda(_) => "CUDA",
        Device::Metal(_) => "Metal",
    }
}

/// Analyses one call: decode, segment, score every caller segment, summarise. Events go to
/// `report` as the work advances; `cancel` is checked between units of work.
pub fn analyze_call(
    path: &Path,
    settings: &AnalysisSettings,
    model: &ScoringModel,
    report: &mut dyn FnMut(AnalysisEvent),
    cancel: &AtomicBool,
) -> Result<CallAnalysis, PipelineError> {
    let (audio, decode_seconds) = decode_call(path, report)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(PipelineError::Cancelled);
    }
    analyze_decoded(path, &audio, settings, model, &ScoreMemo::default(), decode_seconds, report, cancel)
}

/// The decode stage on its own: loads the call at 16 kHz, reporting progress and `Decoded`;
/// returns the audio and the seconds it took.
pub fn decode_call(path: &Path, report: &mut dyn FnMut(AnalysisEvent)) -> Result<(Arc<Audio16k>, f64), PipelineError> {
    let started = Instant::now();
    report(AnalysisEvent::Progress { stage: PipelineStage::Decode, done: 0, total: 1 });
    let audio = Arc::new(load_16k(path)?);
    report(AnalysisEvent::Progress { stage: PipelineStage::Decode, done: 1, total: 1 });
    report(AnalysisEvent::Decoded { audio: audio.clone() });
    Ok((audio, started.elapsed().as_secs_f64()))
}

/// Analyses a call again with other settings (typically another caller choice) from its
/// already decoded audio: segmentation runs again (it is cheap and deterministic), and every
/// segment `previous` already scored with the same model is reused instead of re-scored. The
/// result equals what [`analyze_call`] gives for these settings.
pub fn reanalyze_call(
    previous: &CallAnalysis,
    audio: &Audio16k,
    settings: &AnalysisSettings,
    model: &ScoringModel,
    report: &mut dyn FnMut(AnalysisEvent),
    cancel: &AtomicBool,
) -> Result<CallAnalysis, PipelineError> {
    let memo = if previous.model == model.info() { ScoreMemo::from_analysis(previous) } else { ScoreMemo::default() };
    analyze_decoded(&previous.source, audio, settings, model, &memo, previous.decode_seconds(), report, cancel)
}

/// Scores already computed for a call, by channel and time (ms): a segment found here is not
/// scored again. Only valid for the same recording and the same model.
#[derive(Debug, Clone, Default)]
pub struct ScoreMemo {
    scores: HashMap<(usize, i64, i64), f64>,
}

impl ScoreMemo {
    pub fn from_analysis(analysis: &CallAnalysis) -> Self {
        let scores =
            analysis.segments.iter().map(|s| (memo_key(s.channel, s.start_s, s.end_s), s.p_nonnegative)).collect();
        Self { scores }
    }

    pub fn get(&self, channel: usize, start_s: f64, end_s: f64) -> Option<f64> {
        self.scores.get(&memo_key(channel, start_s, end_s)).copied()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

fn memo_key(channel: usize, start_s: f64, end_s: f64) -> (usize, i64, i64) {
    (channel, (start_s * 1000.0).round() as i64, (end_s * 1000.0).round() as i64)
}

/// Segmentation of decoded audio, as the pipeline reports it: every speech span and who the
/// caller is. Shared by the model pipeline and the window's demo driver. Reports the Segment
/// stage's progress (in seconds of audio read, over the passes the call needs: two for a mono
/// call) and stops when `cancel` is set.
pub fn segment_decoded(
    audio: &Audio16k,
    settings: &AnalysisSettings,
    report: &mut dyn FnMut(AnalysisEvent),
    cancel: &AtomicBool,
) -> Result<(CallSegmentation, Vec<SpeakerSpan>, CallerAssignment), PipelineError> {
    let call_s = audio.duration_s().ceil().max(1.0) as u64;
    let first_total = u64::from(expected_passes(audio.channels.len())) * call_s;
    report(AnalysisEvent::Progress { stage: PipelineStage::Segment, done: 0, total: first_total });
    // The reports' own pass count replaces the first guess: a dual-mono stereo file is read twice.
    let total = Cell::new(first_total);
    let mut progress = |p: SegmentationProgress| {
        total.set(u64::from(p.passes.max(p.pass)) * call_s);
        let done = (p.pass.saturating_sub(1) as u64 * call_s + p.seconds_read as u64).min(total.get() - 1);
        report(AnalysisEvent::Progress { stage: PipelineStage::Segment, done, total: total.get() });
    };
    let mut watch = SegmentationWatch { cancel, progress: &mut progress };
    let segmentation =
        segment_call_watched(&audio.channels, ANALYSIS_RATE, &settings.segmentation, settings.caller, &mut watch)?;
    report(AnalysisEvent::Progress { stage: PipelineStage::Segment, done: total.get(), total: total.get() });
    let spans: Vec<SpeakerSpan> = segmentation
        .segments
        .iter()
        .enumerate()
        .map(|(index, s)| SpeakerSpan {
            index,
            start_s: round_to_ms(s.start_s),
            end_s: round_to_ms(s.end_s),
            channel: s.channel,
            speaker: s.speaker.clone(),
            is_caller: s.is_caller,
            overlapped: s.overlap,
        })
        .collect();
    let assignment =
        CallerAssignment {
            layout: segmentation.layout.to_string(),
            caller: segmentation.caller.clone(),
            speaker_encoder: segmentation.encoder.clone(),
            auto_choice: segmentation.auto_choice,
        };
    Ok((segmentation, spans, assignment))
}

/// The caller's segment number `index` (its position among the caller's segments) with its score.
pub fn caller_segment(index: usize, source: &Segment, p_nonnegative: f64) -> ScoredSegment {
    ScoredSegment {
        index,
        start_s: round_to_ms(source.start_s),
        end_s: round_to_ms(source.end_s),
        channel: source.channel,
        speaker: source.speaker.clone(),
        p_nonnegative,
    }
}

/// What every analysis ends with: segments in time order, the stage summaries, the record.
pub struct AnalysisParts {
    pub source: PathBuf,
    pub audio_info: crate::audio::AudioInfo,
    pub call_duration_s: f64,
    pub spans: Vec<SpeakerSpan>,
    pub segments: Vec<ScoredSegment>,
    pub settings: AnalysisSettings,
    pub model: ModelInfo,
    pub assignment: CallerAssignment,
    pub timings: Vec<(PipelineStage, f64)>,
    pub call_offsets: Option<CallOffsets>,
}

/// Puts a finished analysis together (sorting, summaries): the one place the CLI's pipeline and
/// the window's demo driver build their result.
pub fn finish_analysis(parts: AnalysisParts) -> CallAnalysis {
    let mut segments = parts.segments;
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.index.cmp(&b.index)));
    let assessment_end_s = parts.settings.assessment_minutes * 60.0;
    let summaries = summarise_call(&segments, assessment_end_s, parts.call_duration_s);
    CallAnalysis {
        source: parts.source,
        audio_info: parts.audio_info,
        spans: parts.spans,
        segments,
        summaries,
        assessment_end_s,
        call_duration_s: parts.call_duration_s,
        model_name: parts.model.display_name.clone(),
        model: parts.model,
        settings: parts.settings,
        assignment: parts.assignment,
        timings: parts.timings,
        call_offsets: parts.call_offsets,
    }
}

/// Segments, scores and summarises decoded audio. Segments found in `memo` keep their score
/// (reported at once, and counted as done in the first Features/Model progress); only the others
/// go through features and the model.
#[allow(clippy::too_many_arguments)]
pub fn analyze_decoded(
    path: &Path,
    audio: &Audio16k,
    settings: &AnalysisSettings,
    model: &ScoringModel,
    memo: &ScoreMemo,
    decode_seconds: f64,
    report: &mut dyn FnMut(AnalysisEvent),
    cancel: &AtomicBool,
) -> Result<CallAnalysis, PipelineError> {
    let check_cancel = || if cancel.load(Ordering::Relaxed) { Err(PipelineError::Cancelled) } else { Ok(()) };
    if let Some(baseline) = &settings.baseline {
        baseline.check(model)?;
    }
    let mut timings = vec![(PipelineStage::Decode, decode_seconds)];

    let started = Instant::now();
    let (segmentation, spans, assignment) = segment_decoded(audio, settings, report, cancel)?;
    report(AnalysisEvent::Segmented { spans: spans.clone(), assignment: assignment.clone() });
    timings.push((PipelineStage::Segment, started.elapsed().as_secs_f64()));
    check_cancel()?;

    let min_samples = model.model.config().min_samples();
    let caller: Vec<&Segment> = segmentation.caller_segments().collect();
    let mut segments = Vec::with_capacity(caller.len());
    let mut clips: Vec<(usize, &[f32])> = Vec::new();
    for (index, source) in caller.iter().enumerate() {
        let Some(samples) = clip(&audio.channels, source).filter(|samples| samples.len() >= min_samples) else {
            continue;
        };
        // With per-call centring every score depends on the whole set of segments: none is reused.
        let known = if model.model.centres_per_call() {
            None
        } else {
            memo.get(source.channel, round_to_ms(source.start_s), round_to_ms(source.end_s))
        };
        match known {
            Some(p_nonnegative) => {
                let segment = caller_segment(index, source, p_nonnegative);
                report(AnalysisEvent::Scored { segment: segment.clone() });
                segments.push(segment);
            }
            None => clips.push((index, samples)),
        }
    }
    // Reused scores count as done, so a re-analysis that reuses everything shows 100%.
    let reused = segments.len() as u64;
    let total = reused + clips.len() as u64;
    // Stops the producer when scoring fails, without touching the caller's cancel flag.
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let (feature_seconds, model_seconds, call_offsets) = std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Result<Vec<(usize, SegmentFeatures)>, FeatureError>>(QUEUE_CHUNKS);
        let clips = &clips;
        let extractor = FeatureExtractor::for_model(model.model.config());
        let producer = scope.spawn(move || produce_features(&extractor, clips, sender, cancel, stop));

        let mut model_seconds = 0.0;
        let mut scored_so_far = reused;
        // Per-call centring: every segment's parts first, the heads once the call's mean is known.
        let centring = model.model.centres_per_call();
        let mut pending: Vec<(usize, crate::model::scoring::SegmentParts)> = Vec::new();
        let mut call_offsets = None;
        report(AnalysisEvent::Progress { stage: PipelineStage::Features, done: reused, total });
        report(AnalysisEvent::Progress { stage: PipelineStage::Model, done: reused, total });
        let consumed: Result<(), PipelineError> = (|| {
            for chunk in receiver {
                check_cancel()?;
                let (indices, features): (Vec<usize>, Vec<SegmentFeatures>) = chunk?.into_iter().unzip();
                let started = Instant::now();
                let inputs: Vec<SegmentInput> =
                    features.into_iter().map(|f| SegmentInput::from_features(f, model.model.backbone())).collect();
                if centring {
                    let parts = segment_parts(&model.model, &model.device, &inputs, settings.max_batch)?;
                    pending.extend(indices.iter().copied().zip(parts));
                    model_seconds += started.elapsed().as_secs_f64();
                } else {
                    let logits = score_segments(&model.model, &model.device, &inputs, settings.max_batch)?;
                    model_seconds += started.elapsed().as_secs_f64();
                    for (&index, logit) in indices.iter().zip(logits) {
                        let segment = caller_segment(index, caller[index], sigmoid(logit) as f64);
                        report(AnalysisEvent::Scored { segment: segment.clone() });
                        segments.push(segment);
                    }
                }
                scored_so_far += indices.len() as u64;
                report(AnalysisEvent::Progress { stage: PipelineStage::Features, done: scored_so_far, total });
                report(AnalysisEvent::Progress { stage: PipelineStage::Model, done: scored_so_far, total });
            }
            if centring && !pending.is_empty() {
                check_cancel()?;
                let started = Instant::now();
                let (indices, parts): (Vec<usize>, Vec<_>) = std::mem::take(&mut pending).into_iter().unzip();
                let offset = match &settings.baseline {
                    Some(baseline) => baseline.offsets.clone(),
                    None => centring_offset(&model.model, &parts)?,
                };
                let logits = logits_from_parts(&model.model, &model.device, &parts, &offset)?;
                call_offsets = Some(offset);
                model_seconds += started.elapsed().as_secs_f64();
                for (&index, logit) in indices.iter().zip(logits) {
                    let segment = caller_segment(index, caller[index], sigmoid(logit) as f64);
                    report(AnalysisEvent::Scored { segment: segment.clone() });
                    segments.push(segment);
                }
            }
            Ok(())
        })();
        if consumed.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let feature_seconds = producer.join().unwrap_or(0.0);
        consumed.map(|()| (feature_seconds, model_seconds, call_offsets))
    })?;
    check_cancel()?;
    timings.push((PipelineStage::Features, feature_seconds));
    timings.push((PipelineStage::Model, model_seconds));

    Ok(finish_analysis(AnalysisParts {
        source: path.to_path_buf(),
        audio_info: audio.info.clone(),
        call_duration_s: audio.duration_s(),
        spans,
        segments,
        settings: settings.clone(),
        model: model.info(),
        assignment,
        timings,
        call_offsets,
    }))
}

/// Scores given spans `(channel, start_s, end_s)` of decoded audio with `model`, in input order
/// (the window's edited segments: only the changed ones are scored again). A span too short
/// for the model (or outside the audio) gets `None`. A model that centres its scores on the call
/// needs `call`: the offsets its analysis of this call subtracted ([`CallAnalysis::call_offsets`]),
/// so edited segments are heard against the analysed call's mean; without them it is refused.
pub fn score_spans(
    model: &ScoringModel,
    audio: &Audio16k,
    spans: &[(usize, f64, f64)],
    max_batch: usize,
    call: Option<&CallOffsets>,
) -> Result<Vec<Option<f64>>, PipelineError> {
    let offsets = match (model.model.centres_per_call(), call) {
        // Scored alone, edited segments would be centred on themselves, not on the call.
        (true, None) => {
            return Err(PipelineError::Model(ModelError::Input(
                "this model centres its scores on the whole call: analyse the call again to score edited segments".into(),
            )))
        }
        (true, Some(offsets)) => Some(offsets),
        (false, _) => None,
    };
    let min_samples = model.model.config().min_samples();
    let mut scorable: Vec<(usize, &[f32])> = Vec::new();
    for (position, &(channel, start_s, end_s)) in spans.iter().enumerate() {
        let Some(samples) = audio.channels.get(channel) else { continue };
        let start = ((start_s * ANALYSIS_RATE as f64).round().max(0.0) as usize).min(samples.len());
        let end = ((end_s * ANALYSIS_RATE as f64).round().max(0.0) as usize).min(samples.len());
        if end > start && end - start >= min_samples {
            scorable.push((position, &samples[start..end]));
        }
    }
    let mut scores = vec![None; spans.len()];
    if scorable.is_empty() {
        return Ok(scores);
    }
    let extractor = FeatureExtractor::for_model(model.model.config());
    let clips: Vec<&[f32]> = scorable.iter().map(|(_, samples)| *samples).collect();
    let features = extractor.extract_many(&clips)?;
    let inputs: Vec<SegmentInput> = features.into_iter().map(|f| SegmentInput::from_features(f, model.model.backbone())).collect();
    let logits = match offsets {
        Some(offsets) => {
            let parts = segment_parts(&model.model, &model.device, &inputs, max_batch.max(1))?;
            logits_from_parts(&model.model, &model.device, &parts, offsets)?
        }
        None => score_segments(&model.model, &model.device, &inputs, max_batch.max(1))?,
    };
    for ((position, _), logit) in scorable.iter().zip(logits) {
        scores[*position] = Some(sigmoid(logit) as f64);
    }
    Ok(scores)
}

/// Segment times are reported to the millisecond (the segmentation's grid is 10 ms), so every
/// file and view agrees on the same value, e.g. for the 30-minute stage boundary.
fn round_to_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// The samples of one segment on its own channel.
fn clip<'a>(channels: &'a [Vec<f32>], segment: &Segment) -> Option<&'a [f32]> {
    let channel = channels.get(segment.channel)?;
    let start = ((segment.start_s * ANALYSIS_RATE as f64).round() as usize).min(channel.len());
    let end = ((segment.end_s * ANALYSIS_RATE as f64).round() as usize).min(channel.len());
    (end > start).then(|| &channel[start..end])
}

/// Computes features chunk by chunk and queues them; returns the seconds it spent computing.
fn produce_features(
    extractor: &FeatureExtractor,
    clips: &[(usize, &[f32])],
    sender: mpsc::SyncSender<Result<Vec<(usize, SegmentFeatures)>, FeatureError>>,
    cancel: &AtomicBool,
    stop: &AtomicBool,
) -> f64 {
    let mut seconds = 0.0;
    for chunk in clips.chunks(FEATURE_CHUNK) {
        if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
            break;
        }
        let started = Instant::now();
        let samples: Vec<&[f32]> = chunk.iter().map(|(_, s)| *s).collect();
        let result = extractor
            .extract_many(&samples)
            .map(|features| chunk.iter().map(|(index, _)| *index).zip(features).collect());
        seconds += started.elapsed().as_secs_f64();
        let failed = result.is_err();
        if sender.send(result).is_err() || failed {
            break;
        }
    }
    seconds
}

/// Runs `job` on a worker thread with a sender for its progress events, then sends the event
/// that ends it (`Finished`, `Failed` or `Cancelled`) to `events`.
pub fn spawn_worker<F>(events: Sender<AnalysisEvent>, job: F) -> std::thread::JoinHandle<()>
where
    F: FnOnce(&mut dyn FnMut(AnalysisEvent)) -> Result<CallAnalysis, PipelineError> + Send + 'static,
{
    std::thread::spawn(move || {
        let mut forward = |event: AnalysisEvent| {
            let _ = events.send(event);
        };
        let outcome = job(&mut forward);
        forward(final_event(outcome));
    })
}

/// The event that ends an analysis.
pub fn final_event(outcome: Result<CallAnalysis, PipelineError>) -> AnalysisEvent {
    match outcome {
        Ok(analysis) => AnalysisEvent::Finished { analysis: Arc::new(analysis) },
        Err(PipelineError::Cancelled) => AnalysisEvent::Cancelled,
        Err(error) => AnalysisEvent::Failed { message: error.to_string() },
    }
}
