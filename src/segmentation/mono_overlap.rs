//! Overlapped speech in a mono call: a speaker change inside an utterance with no pause.
//!
//! When one party starts while the other is still talking, the VAD sees one continuous
//! utterance and the resegmentation puts a change somewhere inside the overlap. A genuine
//! hand-over leaves a pause: the energy around the change drops to the noise (below the VAD's
//! offset threshold) or far below the speech. Without such a dip both are taken to be talking:
//! the two runs are marked `overlap` and extended across the change so that both speakers cover
//! the overlapped stretch, as in a stereo call.

use super::resegment::SpeakerRun;
use super::utterances::TimeSpan;
use super::vad::FrameTrack;

/// Frames averaged for the dip (a single quiet frame between syllables is not a pause).
const SMOOTH_FRAMES: usize = 5;
/// Half-width (s) of the window searched for a pause around a change.
const SEARCH_S: f64 = 0.3;
/// How far (s) each overlapping run is extended across the change (make-call overlaps last
/// 0.2-0.8 s; the change tends to fall inside the overlap).
const EXTEND_S: f64 = 0.25;

/// A run of one speaker, possibly overlapping the other's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonoRun {
    pub span: TimeSpan,
    pub speaker: usize,
    pub overlap: bool,
}

/// Marks overlaps at the changes inside utterances. `offset_threshold` is the VAD's per-frame
/// speech threshold (dB); `pause_db` is how far below the speech level a dip must fall to count
/// as a pause.
pub fn mark_overlaps(runs: &[SpeakerRun], track: &FrameTrack, offset_threshold: &[f32], pause_db: f32) -> Vec<MonoRun> {
    let mut out: Vec<MonoRun> = runs.iter().map(|r| MonoRun { span: r.span, speaker: r.speaker, overlap: false }).collect();
    if track.is_empty() {
        return out;
    }
    for k in 1..runs.len() {
        let (a, b) = (&runs[k - 1], &runs[k]);
        let touching = a.utterance == b.utterance && (b.span.start_s - a.span.end_s).abs() < 1e-6;
        if !touching || a.speaker == b.speaker {
            continue;
        }
        let change = a.span.end_s;
        if has_pause(track, offset_threshold, a.span, b.span, change, pause_db) {
            continue;
        }
        out[k - 1].overlap = true;
        out[k].overlap = true;
        out[k - 1].span.end_s = (change + EXTEND_S).min(b.span.end_s);
        out[k].span.start_s = (change - EXTEND_S).max(a.span.start_s);
    }
    out
}

fn frame_of(track: &FrameTrack, t: f64) -> usize {
    ((t / track.hop_s()).round().max(0.0) as usize).min(track.len() - 1)
}

/// True when the smoothed energy within [`SEARCH_S`] of `change` falls below the VAD threshold
/// or `pause_db` below the speech level (90th percentile of the two runs' frames).
fn has_pause(track: &FrameTrack, threshold: &[f32], a: TimeSpan, b: TimeSpan, change: f64, pause_db: f32) -> bool {
    let e = &track.energy_db;
    let (start, end) = (frame_of(track, a.start_s), frame_of(track, b.end_s) + 1);
    let mut level: Vec<f32> = e[start..end].to_vec();
    if level.is_empty() {
        return true;
    }
    let p90 = (level.len() * 9 / 10).min(level.len() - 1);
    let speech_level = *level.select_nth_unstable_by(p90, f32::total_cmp).1;
    let lo = frame_of(track, (change - SEARCH_S).max(a.start_s));
    let hi = frame_of(track, (change + SEARCH_S).min(b.end_s));
    let half = SMOOTH_FRAMES / 2;
    (lo..=hi).any(|i| {
        let (x, y) = (i.saturating_sub(half), (i + half + 1).min(e.len()));
        let smooth = e[x..y].iter().sum::<f32>() / (y - x) as f32;
        smooth < threshold.get(i).copied().unwrap_or(f32::NEG_INFINITY) || smooth < speech_level - pause_db
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(energy: Vec<f32>) -> FrameTrack {
        let n = energy.len();
        FrameTrack {
            sample_rate: 8000,
            hop: 80,
            frame_len: 80,
            n_samples: (n * 80) as u64,
            energy_db: energy,
            periodicity: vec![0.9; n],
            pitch_lag: vec![50; n],
        }
    }

    fn run(a: f64, b: f64, speaker: usize) -> SpeakerRun {
        SpeakerRun { span: TimeSpan { start_s: a, end_s: b }, speaker, utterance: 0 }
    }

    #[test]
    fn change_without_a_dip_is_overlap_and_with_a_dip_is_not() {
        // 4 s of steady speech at -20 dB; threshold -50 dB.
        let flat = track(vec![-20.0; 400]);
        let threshold = vec![-50.0; 400];
        let runs = [run(0.0, 2.0, 0), run(2.0, 4.0, 1)];
        let marked = mark_overlaps(&runs, &flat, &threshold, 20.0);
        assert!(marked.iter().all(|r| r.overlap));
        assert!((marked[0].span.end_s - 2.25).abs() < 1e-9 && (marked[1].span.start_s - 1.75).abs() < 1e-9);
        // A 100-ms pause down to -55 dB at the change: a hand-over.
        let mut e = vec![-20.0; 400];
        e[195..205].fill(-55.0);
        let marked = mark_overlaps(&runs, &track(e), &threshold, 20.0);
        assert!(marked.iter().all(|r| !r.overlap));
        assert_eq!(marked[0].span, runs[0].span);
        // Same speaker on both sides, or different utterances: nothing to mark.
        let same = [run(0.0, 2.0, 0), run(2.0, 4.0, 0)];
        assert!(mark_overlaps(&same, &flat, &threshold, 20.0).iter().all(|r| !r.overlap));
    }
}
