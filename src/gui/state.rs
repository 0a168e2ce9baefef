//! What the window knows about the open call, built only from [`AnalysisEvent`]s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

use eframe::egui;

use super::launcher::{AnalysisLauncher, LaunchSettings};
use super::segment_edit::EditSpan;
use super::waveform::WaveformPyramid;
use crate::analysis::{summarise_call, ScoredSegment, StageSummary};
use crate::audio::Audio16k;
use crate::pipeline::{speaker_stats, AnalysisEvent, CallAnalysis, CallerAssignment, ModelInfo, PipelineStage, SpeakerSpan, SpeakerStats};
use crate::segmentation::{AutoCallerChoice, CallerChoice};

/// What the forwarding thread passes to the window.
pub enum Incoming {
    Event(AnalysisEvent),
    /// Built off the GUI thread right after decoding.
    Pyramid(Arc<WaveformPyramid>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Running,
    Finished,
    Failed(String),
    Cancelled,
}

/// A running analysis: where its events arrive and how to stop it.
pub struct Job {
    pub incoming: Receiver<Incoming>,
    pub cancel: Arc<AtomicBool>,
}

impl Job {
    /// Starts `launcher` and a thread that forwards its events to the window, builds the
    /// waveform pyramid after decoding, and wakes the window for each message.
    pub fn start(launcher: &dyn AnalysisLauncher, path: PathBuf, settings: &LaunchSettings, ctx: egui::Context) -> Self {
        Self::forwarding(ctx, |events, cancel| launcher.launch(path, settings, events, cancel))
    }

    /// Starts a re-analysis of the open call from its decoded audio (another caller choice).
    pub fn restart(
        launcher: &dyn AnalysisLauncher,
        previous: Arc<CallAnalysis>,
        audio: Arc<Audio16k>,
        settings: &LaunchSettings,
        ctx: egui::Context,
    ) -> Self {
        Self::forwarding(ctx, |events, cancel| launcher.relaunch(previous, audio, settings, events, cancel))
    }

    fn forwarding(ctx: egui::Context, start: impl FnOnce(mpsc::Sender<AnalysisEvent>, Arc<AtomicBool>)) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        let (events_in, events_out) = mpsc::channel::<AnalysisEvent>();
        let (to_window, incoming) = mpsc::channel();
        start(events_in, cancel.clone());
        std::thread::spawn(move || {
            for event in events_out {
                let terminal = matches!(event, AnalysisEvent::Finished { .. } | AnalysisEvent::Failed { .. } | AnalysisEvent::Cancelled);
                let audio = match &event {
                    AnalysisEvent::Decoded { audio } => Some(audio.clone()),
                    _ => None,
                };
                if to_window.send(Incoming::Event(event)).is_err() {
                    return; // the window moved on: dropping `events_out` stops the launcher
                }
                ctx.request_repaint();
                if let Some(audio) = audio {
                    let pyramid = Arc::new(WaveformPyramid::build(&audio.channels));
                    if to_window.send(Incoming::Pyramid(pyramid)).is_err() {
                        return;
                    }
                    ctx.request_repaint();
                }
                if terminal {
                    return;
                }
            }
        });
        Self { incoming, cancel }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Progress of one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageProgress {
    pub done: u64,
    pub total: u64,
}

impl StageProgress {
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            if self.done > 0 { 1.0 } else { 0.0 }
        } else {
            (self.done as f32 / self.total as f32).clamp(0.0, 1.0)
        }
    }
}

/// The open call as far as the events have told it.
pub struct CallView {
    pub path: PathBuf,
    pub demo_scoring: bool,
    pub phase: Phase,
    pub progress: [Option<StageProgress>; 4],
    pub audio: Option<Arc<Audio16k>>,
    pub pyramid: Option<Arc<WaveformPyramid>>,
    pub spans: Vec<SpeakerSpan>,
    /// Caller segments in time order.
    pub segments: Vec<ScoredSegment>,
    /// The library's summaries: recomputed as segments arrive, replaced by the final ones.
    pub summaries: Vec<StageSummary>,
    pub analysis: Option<Arc<CallAnalysis>>,
    /// The last finished analysis of this call (kept while a re-analysis runs).
    pub previous: Option<Arc<CallAnalysis>>,
    pub assessment_end_s: f64,
    /// The caller choice this analysis runs with.
    pub caller_choice: CallerChoice,
    /// Who segmentation scored as the caller, and the layout.
    pub assignment: Option<CallerAssignment>,
    /// The party `auto` picked on the first analysis (the suggestion shown beside the choice).
    pub suggested_caller: Option<String>,
    /// How clear-cut that suggestion was (its party's share of the speech).
    pub suggestion_strength: Option<AutoCallerChoice>,
    /// Segments and speech time per party. For a mono call analysed with `all` (no speaker
    /// separation) the figures of the last separated analysis are kept.
    pub speakers: Vec<SpeakerStats>,
    /// A model is loading: its name and since when.
    pub model_loading: Option<(String, Instant)>,
    /// The model in use and the seconds its loading took.
    pub model: Option<(ModelInfo, f64)>,
    /// How many times this call was decoded (a re-analysis must not decode again).
    pub decode_count: usize,
    summaries_stale: bool,
    /// The pipeline's own finished analysis, before any edit of the segmentation.
    pub unedited: Option<Arc<CallAnalysis>>,
    /// The segmentation shown is the reviewer's, not the pipeline's.
    pub edited: bool,
    /// Every score known for this call and model, by span: an edited segment found here is not
    /// scored again.
    scores: HashMap<SpanKey, f64>,
    /// Spans sent to the scoring worker and not back yet.
    in_flight: HashSet<SpanKey>,
    /// Spans the model cannot score (too short): they keep their provisional score.
    unscorable: HashSet<SpanKey>,
}

/// (channel, start ms, end ms): a segment's identity for scores.
type SpanKey = (usize, i64, i64);

fn span_key(channel: usize, start_s: f64, end_s: f64) -> SpanKey {
    (channel, (start_s * 1000.0).round() as i64, (end_s * 1000.0).round() as i64)
}

impl CallView {
    pub fn new(path: PathBuf, demo_scoring: bool, assessment_end_s: f64) -> Self {
        Self {
            path,
            demo_scoring,
            phase: Phase::Running,
            progress: [None; 4],
            audio: None,
            pyramid: None,
            spans: Vec::new(),
            segments: Vec::new(),
            summaries: Vec::new(),
            analysis: None,
            previous: None,
            assessment_end_s,
            caller_choice: CallerChoice::Auto,
            assignment: None,
            suggested_caller: None,
            suggestion_strength: None,
            speakers: Vec::new(),
            model_loading: None,
            model: None,
            decode_count: 0,
            summaries_stale: false,
            unedited: None,
            edited: false,
            scores: HashMap::new(),
            in_flight: HashSet::new(),
            unscorable: HashSet::new(),
        }
    }

    /// The caller segments shown, as spans to edit.
    pub fn caller_spans(&self) -> Vec<EditSpan> {
        self.segments.iter().map(|s| EditSpan::new(s.start_s, s.end_s, s.channel, &s.speaker)).collect()
    }

    /// Shows a segmentation: the reviewer's `spans`, or the pipeline's own with `None`. Segments
    /// already scored keep their score; the others show a provisional one (the overlapping old
    /// segments' mean) until their scores arrive, and are returned, to be scored. The plot,
    /// metrics, table and what Export writes follow at once.
    pub fn show_segmentation(&mut self, spans: Option<&[EditSpan]>) -> Vec<EditSpan> {
        let Some(base) = self.unedited.clone() else { return Vec::new() };
        let base = Arc::new(base.with_assessment_minutes(self.assessment_end_s / 60.0));
        let Some(spans) = spans else {
            self.edited = false;
            self.apply_analysis(base.segments.clone(), base.spans.clone(), &base);
            return Vec::new();
        };
        let mut to_score = Vec::new();
        let mut segments = Vec::with_capacity(spans.len());
        for (index, span) in spans.iter().enumerate() {
            let key = span_key(span.channel, span.start_s, span.end_s);
            let p_nonnegative = match self.scores.get(&key) {
                Some(p) => *p,
                None => {
                    if !self.in_flight.contains(&key) && !self.unscorable.contains(&key) {
                        self.in_flight.insert(key);
                        to_score.push(span.clone());
                    }
                    self.provisional_score(span)
                }
            };
            segments.push(ScoredSegment { index, start_s: span.start_s, end_s: span.end_s, channel: span.channel, speaker: span.speaker.clone(), p_nonnegative });
        }
        segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.index.cmp(&b.index)));
        let mut speaker_spans: Vec<SpeakerSpan> = base.spans.iter().filter(|s| !s.is_caller).cloned().collect();
        speaker_spans.extend(segments.iter().map(|s| SpeakerSpan {
            index: s.index,
            start_s: s.start_s,
            end_s: s.end_s,
            channel: s.channel,
            speaker: s.speaker.clone(),
            is_caller: true,
            overlapped: false,
        }));
        speaker_spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        self.edited = true;
        self.apply_analysis(segments, speaker_spans, &base);
        to_score
    }

    fn apply_analysis(&mut self, segments: Vec<ScoredSegment>, spans: Vec<SpeakerSpan>, base: &CallAnalysis) {
        let summaries = summarise_call(&segments, self.assessment_end_s, base.call_duration_s);
        let analysis = Arc::new(CallAnalysis { segments: segments.clone(), spans: spans.clone(), summaries: summaries.clone(), ..base.clone() });
        self.segments = segments;
        self.spans = spans;
        self.summaries = summaries;
        self.analysis = Some(analysis);
        self.summaries_stale = false;
    }

    /// The mean score of the shown segments overlapping `span` on its channel, weighted by
    /// overlap (0.5 where none does): what an edited segment shows until it is scored.
    fn provisional_score(&self, span: &EditSpan) -> f64 {
        let (mut weight, mut sum) = (0.0, 0.0);
        for segment in self.segments.iter().filter(|s| s.channel == span.channel) {
            let overlap = segment.end_s.min(span.end_s) - segment.start_s.max(span.start_s);
            if overlap > 0.0 {
                weight += overlap;
                sum += overlap * segment.p_nonnegative;
            }
        }
        if weight > 0.0 { sum / weight } else { 0.5 }
    }

    /// Scores arrived from the worker: the segments they belong to show them at once.
    pub fn apply_scores(&mut self, spans: &[EditSpan], scores: &[Option<f64>]) {
        for (span, score) in spans.iter().zip(scores) {
            let key = span_key(span.channel, span.start_s, span.end_s);
            self.in_flight.remove(&key);
            match score {
                Some(p) => {
                    self.scores.insert(key, *p);
                }
                None => {
                    self.unscorable.insert(key);
                }
            }
        }
        if !self.edited {
            return;
        }
        let mut changed = false;
        for segment in &mut self.segments {
            if let Some(p) = self.scores.get(&span_key(segment.channel, segment.start_s, segment.end_s)) {
                changed |= segment.p_nonnegative != *p;
                segment.p_nonnegative = *p;
            }
        }
        if changed {
            if let Some(base) = self.unedited.clone() {
                let (segments, spans) = (self.segments.clone(), self.spans.clone());
                let base = base.with_assessment_minutes(self.assessment_end_s / 60.0);
                self.apply_analysis(segments, spans, &base);
            }
        }
    }

    /// Scoring failed: the spans keep their provisional scores (and are not asked for again).
    pub fn scores_failed(&mut self, spans: &[EditSpan]) {
        for span in spans {
            let key = span_key(span.channel, span.start_s, span.end_s);
            self.in_flight.remove(&key);
            self.unscorable.insert(key);
        }
    }

    /// How many shown segments wait for their score.
    pub fn scores_pending(&self) -> usize {
        self.segments.iter().filter(|s| self.in_flight.contains(&span_key(s.channel, s.start_s, s.end_s))).count()
    }

    /// Whether the shown segment `row` is the reviewer's (not in the pipeline's segmentation).
    pub fn is_edited_segment(&self, row: usize) -> bool {
        let (Some(segment), Some(base)) = (self.segments.get(row), &self.unedited) else { return false };
        self.edited
            && !base.segments.iter().any(|b| span_key(b.channel, b.start_s, b.end_s) == span_key(segment.channel, segment.start_s, segment.end_s))
    }

    /// Applies another assessment-stage length to the finished analysis at once: its stage
    /// metrics, the table's stage column and what Export writes, exactly as a fresh analysis
    /// with that length would give them (nothing is scored again). While an analysis runs it
    /// does nothing (the setting reaches the next analysis); returns whether it applied.
    pub fn set_assessment_minutes(&mut self, minutes: f64) -> bool {
        if self.phase == Phase::Running {
            return false;
        }
        let Some(analysis) = &self.analysis else { return false };
        let updated = Arc::new(analysis.with_assessment_minutes(minutes));
        if let Some(unedited) = &self.unedited {
            self.unedited = Some(Arc::new(unedited.with_assessment_minutes(minutes)));
        }
        self.summaries = updated.summaries.clone();
        self.assessment_end_s = updated.assessment_end_s;
        self.previous = Some(updated.clone());
        self.analysis = Some(updated);
        true
    }

    /// Clears the results for a re-analysis with another caller choice; keeps the audio, the
    /// waveform, the decode progress, the model and the per-party figures.
    pub fn begin_reanalysis(&mut self, caller_choice: CallerChoice) {
        self.phase = Phase::Running;
        for stage in [PipelineStage::Segment, PipelineStage::Features, PipelineStage::Model] {
            self.progress[stage_slot(stage)] = None;
        }
        self.segments.clear();
        self.summaries.clear();
        self.analysis = None;
        self.caller_choice = caller_choice;
        self.summaries_stale = false;
    }

    /// Mono, or stereo: what the choice of caller is made between.
    pub fn is_mono(&self) -> Option<bool> {
        self.assignment.as_ref().map(|a| a.layout == "mono")
    }

    pub fn duration_s(&self) -> f64 {
        if let Some(analysis) = &self.analysis {
            return analysis.call_duration_s;
        }
        self.audio.as_ref().map_or(0.0, |a| a.duration_s())
    }

    pub fn progress_of(&self, stage: PipelineStage) -> Option<StageProgress> {
        self.progress[stage_slot(stage)]
    }

    pub fn apply(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Pyramid(pyramid) => self.pyramid = Some(pyramid),
            Incoming::Event(event) => self.apply_event(event),
        }
    }

    pub fn apply_event(&mut self, event: AnalysisEvent) {
        match event {
            AnalysisEvent::Progress { stage, done, total } => {
                self.progress[stage_slot(stage)] = Some(StageProgress { done, total });
            }
            AnalysisEvent::ModelLoading { name } => self.model_loading = Some((name, Instant::now())),
            AnalysisEvent::ModelLoaded { model, load_seconds } => {
                self.model_loading = None;
                self.model = Some((model, load_seconds));
            }
            AnalysisEvent::Decoded { audio } => {
                self.audio = Some(audio);
                self.decode_count += 1;
            }
            AnalysisEvent::Segmented { spans, assignment } => {
                let unseparated_mono = assignment.layout == "mono" && assignment.caller == "all";
                if !unseparated_mono {
                    self.speakers = speaker_stats(&spans);
                }
                if unseparated_mono {
                    for party in &mut self.speakers {
                        party.is_caller = true;
                    }
                }
                if self.caller_choice == CallerChoice::Auto && self.suggested_caller.is_none() {
                    self.suggested_caller = Some(assignment.caller.clone());
                    self.suggestion_strength = assignment.auto_choice;
                }
                self.spans = spans;
                self.assignment = Some(assignment);
            }
            AnalysisEvent::Scored { segment } => {
                let at = self.segments.partition_point(|s| (s.start_s, s.index) <= (segment.start_s, segment.index));
                self.segments.insert(at, segment);
                self.summaries_stale = true;
            }
            AnalysisEvent::Finished { analysis } => {
                let mut segments = analysis.segments.clone();
                segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.index.cmp(&b.index)));
                self.segments = segments;
                self.spans = analysis.spans.clone();
                self.summaries = analysis.summaries.clone();
                self.assessment_end_s = analysis.assessment_end_s;
                self.summaries_stale = false;
                for segment in &analysis.segments {
                    self.scores.insert(span_key(segment.channel, segment.start_s, segment.end_s), segment.p_nonnegative);
                }
                self.edited = false;
                self.unedited = Some(analysis.clone());
                self.previous = Some(analysis.clone());
                self.analysis = Some(analysis);
                self.phase = Phase::Finished;
            }
            AnalysisEvent::Failed { message } => self.phase = Phase::Failed(message),
            AnalysisEvent::Cancelled => self.phase = Phase::Cancelled,
        }
    }

    /// Brings partial summaries up to date (once per frame, not once per event).
    pub fn refresh_summaries(&mut self) {
        if self.summaries_stale {
            self.summaries = summarise_call(&self.segments, self.assessment_end_s, self.duration_s());
            self.summaries_stale = false;
        }
    }

    /// The segment playing at `seconds`, or the last one started before it.
    pub fn segment_at(&self, seconds: f64) -> Option<usize> {
        let after = self.segments.partition_point(|s| s.start_s <= seconds);
        after.checked_sub(1)
    }

    /// The first segment starting clearly after `seconds`.
    pub fn next_segment(&self, seconds: f64) -> Option<usize> {
        let at = self.segments.partition_point(|s| s.start_s <= seconds + 0.05);
        (at < self.segments.len()).then_some(at)
    }

    /// The segment before the one playing; within its first half second a segment counts as
    /// "just started", so ← goes to the one before it, as media players do.
    pub fn previous_segment(&self, seconds: f64) -> Option<usize> {
        let at = self.segments.partition_point(|s| s.start_s < seconds - 0.5);
        at.checked_sub(1)
    }
}

fn stage_slot(stage: PipelineStage) -> usize {
    PipelineStage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

/// Frame times over the last frames, for the readout.
#[derive(Debug, Default)]
pub struct FrameTimes {
    recent: VecDeque<f32>,
}

impl FrameTimes {
    pub const WINDOW: usize = 300;

    pub fn record(&mut self, seconds: f32) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
    }

    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    /// (median, p95) in milliseconds.
    pub fn median_p95_ms(&self) -> Option<(f32, f32)> {
        if self.recent.is_empty() {
            return None;
        }
        let mut sorted: Vec<f32> = self.recent.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        let pick = |q: f32| sorted[((sorted.len() - 1) as f32 * q).round() as usize] * 1000.0;
        Some((pick(0.5), pick(0.95)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(index: usize, start_s: f64, p: f64) -> ScoredSegment {
        ScoredSegment { index, start_s, end_s: start_s + 2.0, channel: 0, speaker: "caller".into(), p_nonnegative: p }
    }

    #[test]
    fn scored_segments_are_kept_in_time_order_with_live_summaries() {
        let mut view = CallView::new("call.wav".into(), true, 60.0);
        for (i, (start, p)) in [(100.0, 0.2), (10.0, 0.9), (50.0, 0.4)].into_iter().enumerate() {
            view.apply_event(AnalysisEvent::Scored { segment: segment(i, start, p) });
        }
        let starts: Vec<f64> = view.segments.iter().map(|s| s.start_s).collect();
        assert_eq!(starts, vec![10.0, 50.0, 100.0]);
        view.refresh_summaries();
        assert_eq!(view.summaries.len(), 2);
        assert_eq!(view.summaries[0].n_segments, 2, "assessment = starts before 60 s");
        assert_eq!(view.summaries[1].nss, 2);
    }

    #[test]
    fn segment_navigation() {
        let mut view = CallView::new("call.wav".into(), true, 60.0);
        for (i, start) in [10.0, 20.0, 30.0].into_iter().enumerate() {
            view.apply_event(AnalysisEvent::Scored { segment: segment(i, start, 0.7) });
        }
        assert_eq!(view.segment_at(5.0), None);
        assert_eq!(view.segment_at(21.0), Some(1));
        assert_eq!(view.next_segment(21.0), Some(2));
        assert_eq!(view.next_segment(30.0), None);
        assert_eq!(view.previous_segment(21.0), Some(1), "well into segment 1: back to its start");
        assert_eq!(view.previous_segment(20.2), Some(0), "just started: the one before");
        assert_eq!(view.previous_segment(10.1), None);
    }

    #[test]
    fn model_loading_then_loaded_and_a_reanalysis_keeps_the_audio_and_the_parties() {
        use crate::audio::AudioInfo;
        use crate::pipeline::{CallerAssignment, ModelInfo};
        let mut view = CallView::new("call.wav".into(), false, 60.0);
        view.apply_event(AnalysisEvent::ModelLoading { name: "big".into() });
        assert_eq!(view.model_loading.as_ref().map(|(name, _)| name.as_str()), Some("big"));
        let info = ModelInfo {
            name: "big".into(),
            display_name: "big (0123)".into(),
            weights_sha256: "0123".into(),
            dir: "models/big".into(),
            device: "CPU".into(),
            device_notice: None,
            needs_fine_tuning: true,
            backbone: "whisper".into(),
            per_call_centring: false,
        };
        view.apply_event(AnalysisEvent::ModelLoaded { model: info.clone(), load_seconds: 2.5 });
        assert!(view.model_loading.is_none());
        assert_eq!(view.model, Some((info, 2.5)));

        let info = AudioInfo {
            path: "call.wav".into(),
            container: "wav".into(),
            codec: "pcm".into(),
            sample_rate: 16_000,
            channels: 1,
            frames: 16_000,
            duration_s: 1.0,
            skipped_packets: 0,
            declared_duration_s: None,
            warnings: Vec::new(),
        };
        let audio = Arc::new(Audio16k { channels: vec![vec![0.0; 16_000]], info });
        view.apply_event(AnalysisEvent::Decoded { audio });
        let span = |speaker: &str, start_s: f64, is_caller| SpeakerSpan {
            index: 0,
            start_s,
            end_s: start_s + 1.0,
            channel: 0,
            speaker: speaker.into(),
            is_caller,
            overlapped: false,
        };
        let assignment = |caller: &str| CallerAssignment {
            layout: "mono".into(),
            caller: caller.into(),
            speaker_encoder: crate::segmentation::EncoderUse::Absent,
            auto_choice: AutoCallerChoice::from_speech(1.0, 1.0, 0.55),
        };
        view.apply_event(AnalysisEvent::Segmented { spans: vec![span("A", 0.0, true), span("B", 2.0, false)], assignment: assignment("A") });
        view.apply_event(AnalysisEvent::Scored { segment: segment(0, 0.0, 0.7) });
        assert_eq!(view.suggested_caller.as_deref(), Some("A"));
        assert!(view.suggestion_strength.is_some_and(|s| s.uncertain), "an even split is an uncertain suggestion");
        view.begin_reanalysis(CallerChoice::All);
        assert!(view.audio.is_some() && view.segments.is_empty() && view.phase == Phase::Running);
        // All speech in mono has no speaker separation: the parties' figures stay those of A/B.
        view.apply_event(AnalysisEvent::Segmented { spans: vec![span("A", 0.0, true)], assignment: assignment("all") });
        assert_eq!(view.speakers.len(), 2);
        assert!(view.speakers.iter().all(|p| p.is_caller));
        assert_eq!(view.suggested_caller.as_deref(), Some("A"), "the suggestion is the first analysis's");
        assert_eq!(view.decode_count, 1);
    }

    #[test]
    fn an_edited_segmentation_reuses_known_scores_and_waits_only_for_the_changed_segments() {
        use crate::pipeline::{CallerAssignment, ModelInfo};
        let mut view = CallView::new("call.wav".into(), true, 60.0);
        let segments = vec![segment(0, 10.0, 0.2), segment(1, 20.0, 0.9), segment(2, 70.0, 0.8)];
        let spans = segments
            .iter()
            .map(|s| SpeakerSpan { index: s.index, start_s: s.start_s, end_s: s.end_s, channel: 0, speaker: "caller".into(), is_caller: true, overlapped: false })
            .collect();
        let analysis = Arc::new(CallAnalysis {
            source: "call.wav".into(),
            audio_info: crate::audio::AudioInfo {
                path: "call.wav".into(),
                container: "wav".into(),
                codec: "pcm".into(),
                sample_rate: 16_000,
                channels: 1,
                frames: 16_000 * 120,
                duration_s: 120.0,
                skipped_packets: 0,
                declared_duration_s: None,
                warnings: Vec::new(),
            },
            spans,
            summaries: summarise_call(&segments, 60.0, 120.0),
            segments,
            assessment_end_s: 60.0,
            call_duration_s: 120.0,
            model_name: "demo".into(),
            model: ModelInfo {
                name: "demo".into(),
                display_name: "demo".into(),
                weights_sha256: String::new(),
                dir: String::new(),
                device: "none".into(),
                device_notice: None,
                needs_fine_tuning: false,
                backbone: "none".into(),
                per_call_centring: false,
            },
            settings: Default::default(),
            assignment: CallerAssignment { layout: "mono".into(), caller: "A".into(), speaker_encoder: crate::segmentation::EncoderUse::Absent, auto_choice: None },
            timings: Vec::new(),
            call_offsets: None,
        });
        view.apply_event(AnalysisEvent::Finished { analysis });
        // The first segment split in two, the others kept.
        let edited = vec![EditSpan::new(10.0, 11.0, 0, "caller"), EditSpan::new(11.0, 12.0, 0, "caller"), EditSpan::new(20.0, 22.0, 0, "caller"), EditSpan::new(70.0, 72.0, 0, "caller")];
        let to_score = view.show_segmentation(Some(&edited));
        assert_eq!(to_score, edited[..2].to_vec(), "only the changed segments are scored again");
        assert!(view.edited && view.is_edited_segment(0) && !view.is_edited_segment(2));
        assert_eq!(view.scores_pending(), 2);
        assert_eq!(view.segments[0].p_nonnegative, 0.2, "provisional: the score of the segment it came from");
        assert_eq!(view.analysis.as_ref().unwrap().segments.len(), 4, "export follows at once");
        assert!(view.show_segmentation(Some(&edited)).is_empty(), "not asked twice while in flight");
        view.apply_scores(&to_score, &[Some(0.7), Some(0.6)]);
        assert_eq!(view.scores_pending(), 0);
        let shown: Vec<f64> = view.segments.iter().map(|s| s.p_nonnegative).collect();
        assert_eq!(shown, vec![0.7, 0.6, 0.9, 0.8]);
        assert_eq!(view.summaries, summarise_call(&view.segments, 60.0, 120.0));
        // Back to the pipeline's own segmentation (an undo).
        view.show_segmentation(None);
        assert!(!view.edited);
        assert_eq!(view.segments.len(), 3);
    }

    #[test]
    fn frame_time_percentiles() {
        let mut times = FrameTimes::default();
        assert_eq!(times.median_p95_ms(), None);
        for i in 1..=100 {
            times.record(i as f32 / 1000.0);
        }
        let (median, p95) = times.median_p95_ms().unwrap();
        assert!((median - 50.5).abs() < 1.0, "{median}");
        assert!((p95 - 95.0).abs() < 1.1, "{p95}");
    }
}
