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
//! - **Mono**: utterances are diarized into two clusters ([`diarize`]) labelled `A` (the speaker
//!   of the first utterance) and `B`. The default caller (`Auto`) is again the cluster with more
//!   total speech; `--caller a|b` overrides it, `--caller all` marks everything as caller.

pub mod diarize;
pub mod eval;
pub mod noise_floor;
pub mod params;
pub mod segments_csv;
pub mod split_long;
pub mod utterances;
pub mod vad;

pub use params::SegmentationParams;
pub use utterances::TimeSpan;

use std::fmt;
use std::str::FromStr;

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
    /// True when the other party is speaking at the same time (stereo only).
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
}

impl CallSegmentation {
    /// The caller's segments only.
    pub fn caller_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| s.is_caller)
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

/// True when all channels carry (nearly) the same signal: treat as mono.
fn is_dual_mono(channels: &[Vec<f32>]) -> bool {
    if channels.len() < 2 {
        return true;
    }
    let (a, b) = (&channels[0], &channels[1]);
    let (mut diff, mut energy) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        diff += ((x - y) as f64).powi(2);
        energy += (*x as f64).powi(2) + (*y as f64).powi(2);
    }
    diff <= 1e-6 * energy.max(1e-30) || energy == 0.0
}

/// Segments a call (all channels at `sample_rate`, ideally 16 kHz) and marks the caller.
pub fn segment_call(
    channels: &[Vec<f32>],
    sample_rate: u32,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    if channels.is_empty() {
        return Err(SegmentationError::NoChannels);
    }
    params.validate(sample_rate)?;
    if is_dual_mono(channels) {
        segment_mono(&channels[0], sample_rate, params, caller)
    } else {
        segment_stereo(&channels[..2], sample_rate, params, caller)
    }
}

fn segment_stereo(
    channels: &[Vec<f32>],
    sample_rate: u32,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    let mut per_channel = Vec::with_capacity(channels.len());
    for ch in channels {
        per_channel.push(segment_channel(ch, sample_rate, params)?.0);
    }
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
    })
}

fn segment_mono(
    samples: &[f32],
    sample_rate: u32,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    if matches!(caller, CallerChoice::Left | CallerChoice::Right) {
        return Err(SegmentationError::CallerChoiceMismatch {
            choice: caller,
            layout: "mono",
            allowed: "auto, a, b or all",
        });
    }
    let (spans, track) = segment_channel(samples, sample_rate, params)?;
    let labelled = diarize::diarize_two_speakers(
        samples,
        sample_rate,
        &spans,
        &track,
        params.diarize_chunk_s as f64,
        params.voicing_threshold,
    );
    // Cluster of the first segment is A.
    let first = labelled.first().map_or(0, |l| l.cluster);
    let name = |cluster: usize| if cluster == first { "A" } else { "B" };
    let mut speech = [0.0f64; 2];
    for l in &labelled {
        speech[usize::from(name(l.cluster) == "B")] += l.span.duration();
    }
    let caller_name: Option<&str> = match caller {
        CallerChoice::A => Some("A"),
        CallerChoice::B => Some("B"),
        CallerChoice::All => None,
        _ => Some(if speech[1] > speech[0] { "B" } else { "A" }),
    };
    let mut segments: Vec<Segment> = labelled
        .iter()
        .filter(|l| l.span.duration() * 1000.0 >= params.min_segment_ms as f64 / 2.0)
        .map(|l| Segment {
            start_s: l.span.start_s,
            end_s: l.span.end_s,
            channel: 0,
            speaker: name(l.cluster).to_string(),
            is_caller: caller_name.is_none_or(|c| c == name(l.cluster)),
            overlap: false,
        })
        .collect();
    sort_segments(&mut segments);
    Ok(CallSegmentation { segments, layout: "mono", caller: caller_name.unwrap_or("all").to_string() })
}

fn sort_segments(segments: &mut [Segment]) {
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.channel.cmp(&b.channel)));
}
