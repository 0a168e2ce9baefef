//! Segmentation of a whole call into caller utterances.
//!
//! Pipeline per channel: [`vad::FrameAnalyzer`] (band energy 300-3400 Hz + periodicity per
//! 10-ms frame) -> [`noise_floor`] (running low percentile) -> [`utterances`] (hysteresis
//! thresholds, gap merging, voicing check, minimum length, padding) -> [`split_long`]
//! (utterances over 10 s cut at the quietest point near the limit).
//!
//! Caller vs operator:
//! - **Stereo** (one party per channel): each channel is segmented on its own. The default
//!   caller channel (`CallerChoice::Auto`) is the one with **more total speech**: on a support
//!   hotline the caller does most of the talking while the operator mostly listens. "Who speaks
//!   first" was rejected as a default because the operator's greeting is often clipped or the
//!   recording starts mid-call. A segment is marked `overlap` when the other channel is active.
//! - **Mono**: utterances are diarized into two speakers labelled `A` (the speaker of the first
//!   utterance) and `B` ([`resegment`]: call-level GMM fingerprints of <=2-s pieces and their
//!   learned [`voiceprint`]s, 2-means, then GMM/Viterbi resegmentation frame by frame; the chunk
//!   clustering of [`diarize`] is one of the first guesses and the fallback when there is too
//!   little speech). The default caller
//!   (`Auto`) is again the speaker with more total speech; `--caller a|b` overrides it;
//!   `--caller all` skips diarization and keeps every utterance whole as the caller's. A
//!   speaker change inside an utterance without a pause is marked as overlap ([`mono_overlap`]).
//!   The strongest cue is the recording path: in a mono hotline recording the caller is heard
//!   through the phone network (nothing below ~300 Hz) while the operator's headset is recorded
//!   locally; when both voices share a path the speakers rest on cepstra alone and are much less
//!   reliable (see the figures in docs/segmentation.md).

pub mod cepstra;
pub mod diarize;
pub mod encoder_nuisance;
pub mod encoder_nuisance_training;
pub mod eval;
pub mod gmm;
mod mono;
pub mod mono_overlap;
pub mod noise_floor;
pub mod params;
pub mod piece_embeddings;
pub mod resegment;
pub mod segments_csv;
pub mod span_feeder;
pub mod speech_frames;
pub mod split_long;
pub mod utterances;
pub mod vad;
pub mod voiceprint;
pub mod voiceprint_training;

pub use params::SegmentationParams;
pub use utterances::TimeSpan;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::builtin_speaker_encoder::BUILTIN_ENCODER_LABEL;

/// Errors of the segmentation stage.
#[derive(Debug, thiserror::Error)]
pub enum SegmentationError {
    #[error("invalid segmentation parameters: {0}")]
    InvalidParams(String),
    #[error("the audio has no channels")]
    NoChannels,
    #[error("caller choice '{choice}' does not apply to {layout} audio (use {allowed})")]
    CallerChoiceMismatch { choice: CallerChoice, layout: &'static str, allowed: &'static str },
    #[error("invalid caller choice '{0}' (expected auto, left, right, a, b or all)")]
    BadCallerChoice(String),
    #[error("segments file: {0}")]
    Csv(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("speaker encoder {path}: {message} (import it again with `emotrace import-speaker-encoder`, or use the built-in one: --speaker-encoder builtin, or none: --speaker-encoder none)")]
    SpeakerEncoder { path: String, message: String },
    #[error("the segmentation was cancelled")]
    Cancelled,
}

/// Which party is the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallerChoice {
    /// Stereo: channel with more speech. Mono: cluster with more speech.
    #[default]
    Auto,
    /// Stereo: channel 0 is the caller.
    Left,
    /// Stereo: channel 1 is the caller.
    Right,
    /// Mono: speaker A (the one who speaks first) is the caller.
    A,
    /// Mono: speaker B is the caller.
    B,
    /// Every segment is treated as the caller's (no speaker separation).
    All,
}

impl fmt::Display for CallerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            CallerChoice::Auto => "auto",
            CallerChoice::Left => "left",
            CallerChoice::Right => "right",
            CallerChoice::A => "a",
            CallerChoice::B => "b",
            CallerChoice::All => "all",
        };
        f.write_str(s)
    }
}

impl FromStr for CallerChoice {
    type Err = SegmentationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CallerChoice::Auto),
            "left" | "l" => Ok(CallerChoice::Left),
            "right" | "r" => Ok(CallerChoice::Right),
            "a" => Ok(CallerChoice::A),
            "b" => Ok(CallerChoice::B),
            "all" => Ok(CallerChoice::All),
            _ => Err(SegmentationError::BadCallerChoice(s.to_string())),
        }
    }
}

/// One output segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    /// Source channel (0 for mono).
    pub channel: usize,
    /// `left`/`right` (stereo, by channel) or `A`/`B` (mono clusters).
    pub speaker: String,
    pub is_caller: bool,
    /// True when the other party is speaking at the same time (stereo: the other channel is
    /// active; mono: a speaker change without a pause, see [`mono_overlap`]).
    pub overlap: bool,
}

/// Result of segmenting a call.
#[derive(Debug, Clone)]
pub struct CallSegmentation {
    /// All segments of both parties, in time order.
    pub segments: Vec<Segment>,
    /// `"mono"` or `"stereo"`.
    pub layout: &'static str,
    /// Speaker label chosen as the caller (`left`, `right`, `A`, `B` or `all`).
    pub caller: String,
    /// Whether mono diarization had a speaker encoder.
    pub encoder: EncoderUse,
    /// How clear-cut the automatic caller choice was (`None` when the user chose, or nobody spoke).
    pub auto_choice: Option<AutoCallerChoice>,
}

/// Default of [`SegmentationParams::caller_uncertain_share`]: below this share of the two
/// parties' speech time the "more speech" suggestion is a near coin flip. Chosen on calls of the
/// tuning speakers only (128 mono calls, session 15): both wrong suggestions had shares of 0.516
/// and 0.527, and 10 of the 128 calls fall below 0.55.
pub const UNCERTAIN_CALLER_SHARE: f64 = 0.55;

/// The automatic caller choice ("the party with more speech") and how clear-cut it was.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AutoCallerChoice {
    /// The chosen party's share of both parties' speech time (0.5-1).
    pub speech_share: f64,
    /// The share is below [`SegmentationParams::caller_uncertain_share`]: the user should listen
    /// before trusting it.
    pub uncertain: bool,
}

impl AutoCallerChoice {
    /// From the speech time of the chosen party and of the other one, uncertain below
    /// `uncertain_below`; `None` when neither spoke.
    pub fn from_speech(chosen_s: f64, other_s: f64, uncertain_below: f64) -> Option<Self> {
        let total = chosen_s + other_s;
        (total > 0.0).then(|| {
            let speech_share = chosen_s / total;
            AutoCallerChoice { speech_share, uncertain: speech_share < uncertain_below }
        })
    }

    /// What the command line tells the user when the choice is uncertain.
    pub fn notice(&self, caller: &str) -> Option<String> {
        self.uncertain.then(|| {
            // `auto` names a party (A/B or left/right), never `all`.
            let other = match caller {
                "A" => "b",
                "B" => "a",
                "right" => "left",
                _ => "right",
            };
            format!(
                "the two parties speak for nearly the same time ({:.0} % / {:.0} %), so the caller suggestion ({caller}) is uncertain: listen to both and pass --caller {other} if it is the other one",
                100.0 * self.speech_share,
                100.0 * (1.0 - self.speech_share)
            )
        })
    }
}

/// What mono diarization did about a speaker encoder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EncoderUse {
    /// No diarization ran (stereo, `--caller all`, no speech).
    #[default]
    NotNeeded,
    /// The CAM++ network built into emotrace.
    BuiltIn,
    /// An imported encoder, or a folder named with `--speaker-encoder DIR`.
    Imported,
    /// `--speaker-encoder none`: the voiceprint diarizer.
    Absent,
    /// The imported encoder (`auto`) could not be loaded; the built-in one was used instead.
    /// An encoder folder named explicitly fails the segmentation instead.
    Unusable(String),
}

impl EncoderUse {
    /// Whether the embeddings came from the built-in network (also when it stood in for a
    /// broken import), i.e. live in the space its nuisance directions describe.
    pub fn built_in_network(&self) -> bool {
        matches!(self, EncoderUse::BuiltIn | EncoderUse::Unusable(_))
    }

    /// What the command line tells the user, if anything.
    pub fn warning(&self) -> Option<String> {
        match self {
            EncoderUse::Unusable(why) => Some(format!(
                "the imported speaker encoder could not be loaded, so the {BUILTIN_ENCODER_LABEL} encoder told the speakers apart ({why}); import it again with `emotrace import-speaker-encoder --force`"
            )),
            _ => None,
        }
    }
}

impl fmt::Display for EncoderUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncoderUse::NotNeeded => f.write_str("not needed"),
            EncoderUse::BuiltIn => f.write_str(BUILTIN_ENCODER_LABEL),
            EncoderUse::Imported => f.write_str("imported"),
            EncoderUse::Absent => f.write_str("none"),
            EncoderUse::Unusable(why) => write!(f, "imported one unusable, {BUILTIN_ENCODER_LABEL} used: {why}"),
        }
    }
}

/// In `report.json` as its text ("built-in CAM++", "imported", "none", "not needed" or
/// "imported one unusable, …").
impl serde::Serialize for EncoderUse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl CallSegmentation {
    /// The caller's segments only.
    pub fn caller_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| s.is_caller)
    }
}

/// A source of planar audio that can be streamed (possibly more than once: mono diarization
/// reads the audio twice instead of holding it in memory).
pub trait AudioSource {
    fn sample_rate(&self) -> u32;
    /// Streams all channels from the start, in chunks of planar samples.
    fn stream(&self, sink: &mut dyn FnMut(&[&[f32]])) -> Result<(), SegmentationError>;
    /// Whether whoever reads this source has asked to stop: the work after the passes (speaker
    /// models, a few seconds on a long call) checks it too.
    fn cancelled(&self) -> bool {
        false
    }
}

/// In-memory planar channels as an [`AudioSource`].
pub struct InMemorySource<'a> {
    pub channels: &'a [Vec<f32>],
    pub sample_rate: u32,
}

impl AudioSource for InMemorySource<'_> {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    fn stream(&self, sink: &mut dyn FnMut(&[&[f32]])) -> Result<(), SegmentationError> {
        let len = self.channels.iter().map(Vec::len).min().unwrap_or(0);
        let step = self.sample_rate.max(1) as usize;
        let mut start = 0;
        while start < len {
            let end = (start + step).min(len);
            let chunk: Vec<&[f32]> = self.channels.iter().map(|c| &c[start..end]).collect();
            sink(&chunk);
            start = end;
        }
        Ok(())
    }
}

/// Segments one channel into utterances; also returns its frame track.
pub fn segment_channel(
    samples: &[f32],
    sample_rate: u32,
    params: &SegmentationParams,
) -> Result<(Vec<TimeSpan>, vad::FrameTrack), SegmentationError> {
    let track = vad::analyse_channel(samples, sample_rate, params)?;
    let spans = utterances::detect_spans(&track, params);
    Ok((utterances::spans_to_times(&spans, &track, params), track))
}

fn channel_name(c: usize) -> String {
    match c {
        0 => "left".to_string(),
        1 => "right".to_string(),
        _ => format!("ch{c}"),
    }
}

/// Segments in-memory channels (any rate from 8 kHz; 16 kHz is the pipeline's rate).
pub fn segment_call(
    channels: &[Vec<f32>],
    sample_rate: u32,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    segment_source(&InMemorySource { channels, sample_rate }, params, caller)
}

/// [`segment_call`] watched from another thread: `watch` hears how far it has read and can
/// stop it.
pub fn segment_call_watched(
    channels: &[Vec<f32>],
    sample_rate: u32,
    params: &SegmentationParams,
    caller: CallerChoice,
    watch: &mut SegmentationWatch<'_>,
) -> Result<CallSegmentation, SegmentationError> {
    let source = InMemorySource { channels, sample_rate };
    segment_source(&WatchedSource::new(&source, watch), params, caller)
}

/// How far a segmentation has read: the audio is read once for the voice activity, and a mono
/// call once more for the speakers (the long part with a speaker encoder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentationProgress {
    /// 1 or 2.
    pub pass: u32,
    /// The passes the whole segmentation is expected to make, as far as the audio read so far
    /// tells: a two-channel file counts two while its channels have been identical (a
    /// dual-mono file is segmented as mono), one once they differ.
    pub passes: u32,
    pub seconds_read: f64,
}

/// Passes over the audio a segmentation of `channels` channels is expected to make before any
/// of it is read: one for a stereo call, two for a mono call (the second for the speakers). A
/// stereo file whose two channels are identical is segmented as mono and read twice; the
/// progress reports say so ([`SegmentationProgress::passes`]) once the first chunks are read.
pub fn expected_passes(channels: usize) -> u32 {
    if channels >= 2 {
        1
    } else {
        2
    }
}

/// Lets a caller on another thread follow a segmentation and stop it.
pub struct SegmentationWatch<'a> {
    /// When set, the segmentation stops at its next chunk of audio with
    /// [`SegmentationError::Cancelled`].
    pub cancel: &'a AtomicBool,
    /// Told every [`PROGRESS_EVERY_S`] seconds of audio read.
    pub progress: &'a mut dyn FnMut(SegmentationProgress),
}

/// Seconds of audio between two progress reports.
pub const PROGRESS_EVERY_S: f64 = 10.0;

/// An [`AudioSource`] that reports each pass's progress and stops feeding its reader once
/// cancelled (a pass then ends with [`SegmentationError::Cancelled`]).
struct WatchedSource<'a, 'w> {
    inner: &'a dyn AudioSource,
    watch: RefCell<&'a mut SegmentationWatch<'w>>,
    pass: Cell<u32>,
    /// The first pass's channels compared so far, for the passes to expect.
    channels: RefCell<ChannelComparison>,
}

impl<'a, 'w> WatchedSource<'a, 'w> {
    fn new(inner: &'a dyn AudioSource, watch: &'a mut SegmentationWatch<'w>) -> Self {
        WatchedSource { inner, watch: RefCell::new(watch), pass: Cell::new(0), channels: RefCell::default() }
    }
}

impl AudioSource for WatchedSource<'_, '_> {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn stream(&self, sink: &mut dyn FnMut(&[&[f32]])) -> Result<(), SegmentationError> {
        let pass = self.pass.get() + 1;
        self.pass.set(pass);
        let mut watch = self.watch.borrow_mut();
        if watch.cancel.load(Ordering::Relaxed) {
            return Err(SegmentationError::Cancelled);
        }
        let rate = self.inner.sample_rate().max(1) as f64;
        let every = (PROGRESS_EVERY_S * rate) as usize;
        let (mut read, mut reported) = (0usize, 0usize);
        let mut channels = self.channels.borrow_mut();
        self.inner.stream(&mut |chunk: &[&[f32]]| {
            if watch.cancel.load(Ordering::Relaxed) {
                return;
            }
            sink(chunk);
            if pass == 1 {
                channels.push(chunk);
            }
            read += chunk.first().map_or(0, |c| c.len());
            if read - reported >= every {
                reported = read;
                let passes = if channels.is_mono() { pass.max(2) } else { pass };
                (watch.progress)(SegmentationProgress { pass, passes, seconds_read: read as f64 / rate });
            }
        })?;
        if watch.cancel.load(Ordering::Relaxed) {
            return Err(SegmentationError::Cancelled);
        }
        Ok(())
    }
    fn cancelled(&self) -> bool {
        self.watch.try_borrow().is_ok_and(|w| w.cancel.load(Ordering::Relaxed))
    }
}

/// Segments a streamed call and marks the caller. Memory is a few bytes per 10-ms frame plus
/// one diarization chunk (and, with a speaker encoder, one batch of pieces and an embedding per
/// piece): the samples are never held whole.
pub fn segment_source(
    source: &dyn AudioSource,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    let sample_rate = source.sample_rate();
    params.validate(sample_rate)?;
    // Pass 1: frame features of every channel, and whether the channels differ at all.
    let mut analyzers: Vec<vad::FrameAnalyzer> = Vec::new();
    let mut setup_error = None;
    let mut channels = ChannelComparison::default();
    source.stream(&mut |chunk: &[&[f32]]| {
        if analyzers.is_empty() && setup_error.is_none() {
            for _ in 0..chunk.len().min(2) {
                match vad::FrameAnalyzer::new(sample_rate, params) {
                    Ok(a) => analyzers.push(a),
                    Err(e) => setup_error = Some(e),
                }
            }
        }
        for (a, samples) in analyzers.iter_mut().zip(chunk) {
            a.push(samples);
        }
        channels.push(chunk);
    })?;
    if let Some(e) = setup_error {
        return Err(e);
    }
    if analyzers.is_empty() {
        return Err(SegmentationError::NoChannels);
    }
    let dual_mono = channels.is_mono();
    let tracks: Vec<vad::FrameTrack> = analyzers.into_iter().map(vad::FrameAnalyzer::finish).collect();
    if dual_mono {
        mono::segment_mono(source, &tracks[0], params, caller)
    } else {
        segment_stereo(&tracks, params, caller)
    }
}

/// Whether the channels read so far are one signal: a single channel, or two whose difference
/// is negligible (a mono recording saved as stereo, which is segmented as mono).
#[derive(Debug, Default)]
struct ChannelComparison {
    two_channels: bool,
    difference: f64,
    energy: f64,
}

impl ChannelComparison {
    fn push(&mut self, chunk: &[&[f32]]) {
        if let [left, right, ..] = chunk {
            self.two_channels = true;
            for (x, y) in left.iter().zip(*right) {
                self.difference += f64::from(x - y).powi(2);
                self.energy += f64::from(*x).powi(2) + f64::from(*y).powi(2);
            }
        }
    }

    fn is_mono(&self) -> bool {
        !self.two_channels || self.difference <= 1e-6 * self.energy
    }
}

fn segment_stereo(
    tracks: &[vad::FrameTrack],
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    let mut frame_spans: Vec<Vec<utterances::FrameSpan>> =
        tracks.iter().map(|t| utterances::detect_spans(t, params)).collect();
    if params.crosstalk_db > 0.0 && tracks.len() == 2 {
        for c in 0..2 {
            let (own, other) = (&tracks[c], &tracks[1 - c]);
            frame_spans[c].retain(|s| !is_crosstalk(own, other, *s, params.crosstalk_db));
        }
    }
    let per_channel: Vec<Vec<TimeSpan>> = tracks
        .iter()
        .zip(&frame_spans)
        .map(|(t, spans)| utterances::spans_to_times(spans, t, params))
        .collect();
    let speech: Vec<f64> = per_channel.iter().map(|s| s.iter().map(TimeSpan::duration).sum()).collect();
    let caller_channel: Option<usize> = match caller {
        CallerChoice::Left => Some(0),
        CallerChoice::Right => Some(1),
        CallerChoice::All => None,
        CallerChoice::Auto => Some(usize::from(speech[1] > speech[0])),
        CallerChoice::A | CallerChoice::B => {
            return Err(SegmentationError::CallerChoiceMismatch {
                choice: caller,
                layout: "stereo",
                allowed: "auto, left, right or all",
            })
        }
    };
    let mut segments = Vec::new();
    for (c, spans) in per_channel.iter().enumerate() {
        let others: Vec<&TimeSpan> =
            per_channel.iter().enumerate().filter(|(o, _)| *o != c).flat_map(|(_, s)| s.iter()).collect();
        for s in spans {
            let overlap = others.iter().any(|o| o.start_s < s.end_s && s.start_s < o.end_s);
            segments.push(Segment {
                start_s: s.start_s,
                end_s: s.end_s,
                channel: c,
                speaker: channel_name(c),
                is_caller: caller_channel.is_none_or(|cc| cc == c),
                overlap,
            });
        }
    }
    sort_segments(&mut segments);
    Ok(CallSegmentation {
        segments,
        layout: "stereo",
        caller: caller_channel.map_or_else(|| "all".to_string(), channel_name),
        encoder: EncoderUse::NotNeeded,
        auto_choice: match (caller, caller_channel) {
            (CallerChoice::Auto, Some(c)) => AutoCallerChoice::from_speech(speech[c], speech[1 - c], params.caller_uncertain_share),
            _ => None,
        },
    })
}

/// True when `span` on `own` is the other party leaking in (echo, crosstalk): over the span the
/// other channel is louder by more than `margin_db` on average (power mean over the frames).
fn is_crosstalk(own: &vad::FrameTrack, other: &vad::FrameTrack, span: utterances::FrameSpan, margin_db: f32) -> bool {
    let end = span.end.min(own.len()).min(other.len());
    if end <= span.start {
        return false;
    }
    let power = |t: &vad::FrameTrack| {
        (span.start..end).map(|i| 10f64.powf(t.energy_db[i] as f64 / 10.0)).sum::<f64>() / (end - span.start) as f64
    };
    10.0 * (power(other) / power(own).max(1e-30)).log10() > margin_db as f64
}

pub(crate) fn sort_segments(segments: &mut [Segment]) {
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.channel.cmp(&b.channel)));
}
