//! From frame features to utterances: hysteresis thresholds over the adaptive noise floor,
//! gap merging, voicing check, minimum length, padding, and splitting of long utterances.

use super::noise_floor::noise_floor_and_spread;
use super::split_long::split_long_spans;
use super::vad::FrameTrack;
use super::SegmentationParams;

/// A half-open range of frames `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    pub start: usize,
    pub end: usize,
}

impl FrameSpan {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// An utterance in seconds on one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeSpan {
    pub start_s: f64,
    pub end_s: f64,
}

impl TimeSpan {
    pub fn duration(&self) -> f64 {
        self.end_s - self.start_s
    }
}

fn frames(ms: f32, track: &FrameTrack) -> usize {
    (ms as f64 / 1000.0 / track.hop_s()).round() as usize
}

/// Per-frame speech thresholds derived from the noise floor.
struct Thresholds {
    low: Vec<f32>,
    high: Vec<f32>,
}

fn thresholds(track: &FrameTrack, params: &SegmentationParams) -> Thresholds {
    let window = (params.noise_window_s as f64 / track.hop_s()).round() as usize;
    let (floor, spread) = noise_floor_and_spread(&track.energy_db, window, params.noise_percentile);
    let low = floor
        .iter()
        .zip(&spread)
        .map(|(f, s)| (f + params.offset_db.max(params.offset_sigmas * s)).max(params.min_energy_dbfs))
        .collect();
    let high = floor
        .iter()
        .zip(&spread)
        .map(|(f, s)| {
            (f + params.onset_db.max(params.onset_sigmas * s))
                .max(params.min_energy_dbfs + (params.onset_db - params.offset_db))
        })
        .collect();
    Thresholds { low, high }
}

/// Detects utterances on one channel; returns frame spans (before padding) in time order.
pub fn detect_spans(track: &FrameTrack, params: &SegmentationParams) -> Vec<FrameSpan> {
    detect_spans_and_threshold(track, params).0
}

/// [`detect_spans`], and the per-frame offset threshold (dB) it used: a frame below it is not
/// speech.
pub fn detect_spans_and_threshold(track: &FrameTrack, params: &SegmentationParams) -> (Vec<FrameSpan>, Vec<f32>) {
    let n = track.len();
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let th = thresholds(track, params);
    let e = &track.energy_db;

    // 1. Hysteresis: maximal runs above the low threshold that contain a frame above the high one.
    let mut spans: Vec<FrameSpan> = Vec::new();
    let mut i = 0;
    while i < n {
        if e[i] > th.low[i] {
            let start = i;
            let mut has_onset = false;
            while i < n && e[i] > th.low[i] {
                has_onset |= e[i] > th.high[i];
                i += 1;
            }
            if has_onset {
                spans.push(FrameSpan { start, end: i });
            }
        } else {
            i += 1;
        }
    }

    // 2. Merge regions separated by short pauses.
    let merge_gap = frames(params.merge_gap_ms, track);
    let mut merged: Vec<FrameSpan> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start - last.end <= merge_gap => last.end = s.end,
            _ => merged.push(s),
        }
    }

    // 3. Voicing evidence and minimum length. The length limit applies to the segment as
    // written, i.e. with its pre-roll and hangover: a short word at a low SNR shows only its
    // loudest part above the noise, and that part alone is what the detector measures.
    let min_voiced = frames(params.min_voiced_ms, track);
    let min_len = frames(params.min_segment_ms, track).max(1);
    let pad = frames(params.pre_roll_ms, track) + frames(params.hangover_ms, track);
    merged.retain(|s| {
        if s.len() + pad < min_len {
            return false;
        }
        if min_voiced == 0 {
            return true;
        }
        let voiced = (s.start..s.end)
            .filter(|&k| track.periodicity[k] >= params.voicing_threshold && e[k] > th.low[k])
            .count();
        voiced >= min_voiced
    });

    // 4. Split utterances that would exceed the maximum length once padded.
    let max_frames = ((params.max_segment_s as f64 / track.hop_s()).floor() as usize).saturating_sub(pad + 1);
    let search = frames(params.split_search_s * 1000.0, track);
    let spans = split_long_spans(&merged, e, &th.low, max_frames.max(min_len * 2 + 1), search, min_len);
    (spans, th.low)
}

/// Converts frame spans to seconds, adding pre-roll and hangover without overlapping the
/// neighbouring spans or leaving the audio.
pub fn spans_to_times(spans: &[FrameSpan], track: &FrameTrack, params: &SegmentationParams) -> Vec<TimeSpan> {
    let hop = track.hop_s();
    let duration = track.duration_s();
    let pre = params.pre_roll_ms as f64 / 1000.0;
    let post = params.hangover_ms as f64 / 1000.0;
    let raw: Vec<TimeSpan> = spans
        .iter()
        .map(|s| TimeSpan {
            start_s: track.frame_centre_s(s.start) - hop / 2.0,
            end_s: track.frame_centre_s(s.end - 1) + hop / 2.0,
        })
        .collect();
    let mut out = Vec::with_capacity(raw.len());
    for (k, s) in raw.iter().enumerate() {
        let prev_end = if k > 0 { raw[k - 1].end_s } else { 0.0 };
        let next_start = raw.get(k + 1).map_or(duration, |n| n.start_s);
        let start_s = (s.start_s - pre).max(prev_end.min(s.start_s)).max(0.0);
        // Split pieces touch each other; padding must not make them overlap.
        let end_s = (s.end_s + post).min(next_start.max(s.end_s)).min(duration);
        if end_s > start_s {
            out.push(TimeSpan { start_s, end_s });
        }
    }
    // Padding of neighbours can meet in the middle of a short gap: split the gap fairly.
    for k in 1..out.len() {
        if out[k].start_s < out[k - 1].end_s {
            let mid = (out[k].start_s + out[k - 1].end_s) / 2.0;
            out[k - 1].end_s = mid;
            out[k].start_s = mid;
        }
    }
    out
}
