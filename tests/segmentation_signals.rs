//! Segmentation on synthetic signals with known answers (no corpus data needed).

use emotrace::segmentation::eval::boundary_scores;
use emotrace::segmentation::{
    segment_call, segment_call_watched, segment_source, AudioSource, CallerChoice, InMemorySource, SegmentationError, SegmentationParams, SegmentationProgress,
    SegmentationWatch, PROGRESS_EVERY_S,
};
use std::sync::atomic::{AtomicBool, Ordering};
use emotrace::synth::rng::Rng;
use emotrace::synth::telephony::mu_law_round_trip;

const SR: u32 = 16000;

/// A voiced-speech stand-in: 140-Hz harmonic complex up to 3.4 kHz with a 4-Hz syllable-like
/// amplitude modulation.
fn voice(n: usize, amp: f32, offset: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = (i + offset) as f32 / SR as f32;
            let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            let s: f32 = (1..=24).map(|k| (2.0 * std::f32::consts::PI * 140.0 * k as f32 * t).sin() / k as f32).sum();
            amp * env * s / 2.0
        })
        .collect()
}

fn white(n: usize, rms: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rms * rng.normal() as f32).collect()
}

fn segments(x: Vec<f32>) -> Vec<(f64, f64)> {
    let seg = segment_call(&[x], SR, &SegmentationParams::default(), CallerChoice::All).unwrap();
    seg.segments.iter().map(|s| (s.start_s, s.end_s)).collect()
}

#[test]
fn digital_silence_gives_no_segments() {
    assert!(segments(vec![0.0; 20 * SR as usize]).is_empty());
}

#[test]
fn stationary_noise_gives_no_segments() {
    let n = 30 * SR as usize;
    // White line noise at -30 dBFS.
    assert!(segments(white(n, 0.03, 1)).is_empty(), "white noise");
    // Low-passed (rumble) noise plus 50-Hz hum with harmonics.
    let mut rng = Rng::new(2);
    let mut lp = 0.0f32;
    let hum_noise: Vec<f32> = (0..n)
        .map(|i| {
            lp = 0.97 * lp + 0.03 * rng.normal() as f32;
            let t = i as f32 / SR as f32;
            let hum: f32 = [50.0f32, 150.0, 250.0, 350.0]
                .iter()
                .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                .sum();
            0.3 * lp + 0.02 * hum + 0.003 * rng.normal() as f32
        })
        .collect();
    assert!(segments(hum_noise).is_empty(), "hum + rumble");
    // Faint noise through μ-law companding.
    let mu: Vec<f32> = white(n, 0.002, 3).into_iter().map(mu_law_round_trip).collect();
    assert!(segments(mu).is_empty(), "mu-law noise");
}

/// Bursts at known times over white noise (15 dB below the bursts): boundaries within ±200 ms.
#[test]
fn bursts_are_found_at_their_boundaries() {
    let truth = [(1.0, 2.5), (3.2, 4.0), (5.5, 8.7), (9.5, 10.1), (12.0, 15.5)];
    let n = 17 * SR as usize;
    let mut x = white(n, 0.01, 4);
    for &(s, e) in &truth {
        let (a, b) = ((s * SR as f64) as usize, (e * SR as f64) as usize);
        for (dst, v) in x[a..b].iter_mut().zip(voice(b - a, 0.1, a)) {
            *dst += v;
        }
    }
    let found = segments(x);
    let scores = boundary_scores(&truth, &found, 0.2);
    assert!(scores.f1 >= 0.99, "F1 {} found {found:?}", scores.f1);
}

/// The minimum length is that of the segment as written, pre-roll and hangover included: a
/// 0.2-s word is kept (its detected core alone is shorter than the 250-ms minimum), a 0.1-s
/// burst is not, and no written segment is shorter than the minimum.
#[test]
fn minimum_length_counts_the_padding() {
    let params = SegmentationParams::default();
    let n = 8 * SR as usize;
    let mut x = white(n, 0.01, 11);
    for (start, len) in [(2.0, 0.2), (5.0, 0.1)] {
        let (a, b) = ((start * SR as f64) as usize, ((start + len) * SR as f64) as usize);
        for (dst, v) in x[a..b].iter_mut().zip(voice(b - a, 0.1, a)) {
            *dst += v;
        }
    }
    let found = segments(x);
    assert_eq!(found.len(), 1, "{found:?}");
    let (s, e) = found[0];
    assert!((s - 2.0).abs() < 0.1 && (e - 2.2).abs() < 0.1, "{found:?}");
    assert!(e - s >= params.min_segment_ms as f64 / 1000.0 - 1e-9, "{found:?}");
}

#[test]
fn long_speech_is_split_to_at_most_ten_seconds() {
    // A 35-s monologue without pauses, with 10 s of line noise on either side.
    let n = 55 * SR as usize;
    let mut x = white(n, 0.002, 5);
    for (dst, v) in x[10 * SR as usize..45 * SR as usize].iter_mut().zip(voice(35 * SR as usize, 0.2, 0)) {
        *dst += v;
    }
    let found = segments(x);
    assert!(found.len() >= 4, "{found:?}");
    assert!(found.iter().all(|(s, e)| e - s <= 10.0 + 1e-9), "{found:?}");
    let covered: f64 = found.iter().map(|(s, e)| e - s).sum();
    assert!(covered >= 0.9 * 35.0, "covered {covered} of 35 s: {found:?}");
}

/// A 12-s stereo call over faint noise: voice on the left channel over `left` (start, end) spans
/// in seconds, on the right over `right`.
fn two_party_call(left: &[(f64, f64)], right: &[(f64, f64)], seed: u64) -> Vec<Vec<f32>> {
    let n = 12 * SR as usize;
    let mut channels = vec![white(n, 0.002, seed), white(n, 0.002, seed + 1)];
    for (channel, spans) in channels.iter_mut().zip([left, right]) {
        for &(start_s, end_s) in spans {
            let (a, b) = ((start_s * SR as f64) as usize, (end_s * SR as f64) as usize);
            for (dst, v) in channel[a..b].iter_mut().zip(voice(b - a, 0.1, a)) {
                *dst += v;
            }
        }
    }
    channels
}

#[test]
fn stereo_caller_is_the_talkative_channel_and_overlap_is_marked() {
    // Operator (left) greets briefly; the caller (right) talks more, overlapping once.
    let call = two_party_call(&[(0.5, 1.5), (4.5, 5.5)], &[(2.0, 5.0), (6.0, 11.0)], 6);
    let seg = segment_call(&call, SR, &SegmentationParams::default(), CallerChoice::Auto).unwrap();
    assert_eq!(seg.layout, "stereo");
    assert_eq!(seg.caller, "right");
    assert!(seg.segments.iter().all(|s| s.is_caller == (s.channel == 1)));
    // 8 s against 2 s of speech: a clear-cut suggestion, no notice.
    let choice = seg.auto_choice.expect("auto chose the caller");
    assert!((choice.speech_share - 0.8).abs() < 0.03 && !choice.uncertain, "{choice:?}");
    assert_eq!(choice.notice(&seg.caller), None);
    let overlapping: Vec<_> = seg.segments.iter().filter(|s| s.overlap).collect();
    assert_eq!(overlapping.len(), 2, "{:?}", seg.segments);
    // An explicit choice wins; a mono-only choice is refused.
    let seg2 = segment_call(&[vec![0.0; 100], vec![0.1; 100]], SR, &SegmentationParams::default(), CallerChoice::Left).unwrap();
    assert_eq!(seg2.caller, "left");
    assert_eq!(seg2.auto_choice, None, "a choice made by hand is not a suggestion");
    assert!(segment_call(&[vec![0.0; 100], vec![0.1; 100]], SR, &SegmentationParams::default(), CallerChoice::A).is_err());
}

#[test]
fn parties_speaking_about_equally_long_make_an_uncertain_suggestion() {
    // 4.5 s against 5 s: the right channel talks a little more, too little to be sure.
    let call = two_party_call(&[(0.5, 3.0), (6.5, 8.5)], &[(3.5, 6.0), (9.0, 11.5)], 8);
    let seg = segment_call(&call, SR, &SegmentationParams::default(), CallerChoice::Auto).unwrap();
    assert_eq!(seg.caller, "right");
    let choice = seg.auto_choice.expect("auto chose the caller");
    assert!(choice.uncertain && choice.speech_share > 0.5 && choice.speech_share < 0.55, "{choice:?}");
    let notice = choice.notice(&seg.caller).expect("an uncertain choice has a notice");
    assert!(notice.contains("--caller left"), "{notice}");
    // The threshold is a parameter: at 0.5 any majority is sure enough.
    let params = SegmentationParams { caller_uncertain_share: 0.5, ..SegmentationParams::default() };
    let seg = segment_call(&call, SR, &params, CallerChoice::Auto).unwrap();
    assert!(seg.auto_choice.is_some_and(|c| !c.uncertain), "{:?}", seg.auto_choice);
    let params = SegmentationParams { caller_uncertain_share: 0.45, ..SegmentationParams::default() };
    assert!(segment_call(&call, SR, &params, CallerChoice::Auto).is_err(), "a share under one half is refused");
}

#[test]
fn invalid_parameters_are_rejected() {
    let p = SegmentationParams { offset_db: 9.0, onset_db: 3.0, ..SegmentationParams::default() };
    assert!(segment_call(&[vec![0.0; 1000]], SR, &p, CallerChoice::Auto).is_err());
}

#[test]
fn stereo_crosstalk_is_not_the_other_partys_speech() {
    let n = 12 * SR as usize;
    let mut left = white(n, 0.001, 8);
    let mut right = white(n, 0.001, 9);
    let (a, b) = (2 * SR as usize, 5 * SR as usize);
    let v = voice(b - a, 0.1, a);
    for (i, x) in v.iter().enumerate() {
        left[a + i] += x;
        right[a + i] += 0.1 * x; // echo 20 dB down
    }
    let (c, d) = (7 * SR as usize, 10 * SR as usize);
    for (i, x) in voice(d - c, 0.1, c).iter().enumerate() {
        right[c + i] += x;
    }
    let params = SegmentationParams::default();
    let seg = segment_call(&[left.clone(), right.clone()], SR, &params, CallerChoice::Right).unwrap();
    let right_segs: Vec<_> = seg.segments.iter().filter(|s| s.channel == 1).collect();
    assert_eq!(right_segs.len(), 1, "{:?}", seg.segments);
    assert!((right_segs[0].start_s - 7.0).abs() < 0.2);
    // With the check disabled the echo shows up as speech.
    let off = SegmentationParams { crosstalk_db: 0.0, ..params };
    let seg = segment_call(&[left, right], SR, &off, CallerChoice::Right).unwrap();
    assert_eq!(seg.segments.iter().filter(|s| s.channel == 1).count(), 2);
}

/// A 60-s mono call of 1.5-s bursts every 2.5 s over line noise, segmented without any
/// speaker encoder a developer may have imported.
fn mono_bursts() -> (Vec<f32>, SegmentationParams) {
    let n = 60 * SR as usize;
    let mut x = white(n, 0.003, 6);
    let mut start = SR as usize / 2;
    while start + 3 * SR as usize / 2 < n {
        let len = 3 * SR as usize / 2;
        for (dst, v) in x[start..start + len].iter_mut().zip(voice(len, 0.15, start)) {
            *dst += v;
        }
        start += 5 * SR as usize / 2;
    }
    (x, SegmentationParams { speaker_encoder: "none".to_string(), ..SegmentationParams::default() })
}

#[test]
fn a_watched_mono_segmentation_reports_both_passes_and_finds_the_same_segments() {
    let (x, params) = mono_bursts();
    let cancel = AtomicBool::new(false);
    let mut seen: Vec<SegmentationProgress> = Vec::new();
    let mut progress = |p: SegmentationProgress| seen.push(p);
    let mut watch = SegmentationWatch { cancel: &cancel, progress: &mut progress };
    let watched = segment_call_watched(std::slice::from_ref(&x), SR, &params, CallerChoice::Auto, &mut watch).unwrap();
    let plain = segment_call(&[x], SR, &params, CallerChoice::Auto).unwrap();
    assert!(!plain.segments.is_empty());
    assert_eq!(watched.segments, plain.segments);
    for pass in [1, 2] {
        let read: Vec<f64> = seen.iter().filter(|p| p.pass == pass).map(|p| p.seconds_read).collect();
        // A report every PROGRESS_EVERY_S seconds of the 60-s call, in order.
        assert_eq!(read.len(), (60.0 / PROGRESS_EVERY_S) as usize, "pass {pass}: {seen:?}");
        assert!(read.windows(2).all(|w| w[1] > w[0]), "pass {pass}: {read:?}");
        assert!((read[read.len() - 1] - 60.0).abs() < 1.0, "pass {pass}: {read:?}");
    }
}

#[test]
fn progress_counts_two_passes_for_a_mono_recording_saved_as_stereo_and_one_for_true_stereo() {
    let (x, params) = mono_bursts();
    let (quiet_copy, _) = mono_bursts();
    let quiet_copy: Vec<f32> = quiet_copy.iter().map(|v| 0.5 * v).collect();
    for (name, channels, passes) in [("dual mono", vec![x.clone(), x.clone()], 2), ("stereo", vec![x.clone(), quiet_copy], 1)] {
        let cancel = AtomicBool::new(false);
        let mut seen: Vec<SegmentationProgress> = Vec::new();
        let mut progress = |p: SegmentationProgress| seen.push(p);
        let mut watch = SegmentationWatch { cancel: &cancel, progress: &mut progress };
        let segmentation = segment_call_watched(&channels, SR, &params, CallerChoice::Auto, &mut watch).unwrap();
        assert_eq!(segmentation.layout, if passes == 2 { "mono" } else { "stereo" }, "{name}");
        assert!(seen.iter().all(|p| p.passes == passes), "{name}: {seen:?}");
        assert_eq!(seen.iter().map(|p| p.pass).max(), Some(passes), "{name}: {seen:?}");
    }
}

#[test]
fn a_cancelled_segmentation_stops_at_once_with_cancelled() {
    let (x, params) = mono_bursts();
    let cancel = AtomicBool::new(false);
    let mut reports = 0;
    let mut progress = |_: SegmentationProgress| {
        reports += 1;
        cancel.store(true, Ordering::Relaxed);
    };
    let mut watch = SegmentationWatch { cancel: &cancel, progress: &mut progress };
    let result = segment_call_watched(&[x], SR, &params, CallerChoice::Auto, &mut watch);
    assert!(matches!(result, Err(SegmentationError::Cancelled)), "{result:?}");
    assert_eq!(reports, 1, "nothing more is read once cancelled");
}

/// Audio whose reader asks to stop once both passes have been read: the speaker models, which
/// come after the passes, must not turn that into an answer.
struct StopAfterReading {
    channels: Vec<Vec<f32>>,
    passes_read: std::cell::Cell<u32>,
}

impl AudioSource for StopAfterReading {
    fn sample_rate(&self) -> u32 {
        SR
    }
    fn stream(&self, sink: &mut dyn FnMut(&[&[f32]])) -> Result<(), SegmentationError> {
        InMemorySource { channels: &self.channels, sample_rate: SR }.stream(sink)?;
        self.passes_read.set(self.passes_read.get() + 1);
        Ok(())
    }
    fn cancelled(&self) -> bool {
        self.passes_read.get() >= 2
    }
}

#[test]
fn a_cancel_after_the_passes_still_ends_with_cancelled() {
    let (x, params) = mono_bursts();
    let source = StopAfterReading { channels: vec![x], passes_read: std::cell::Cell::new(0) };
    let result = segment_source(&source, &params, CallerChoice::Auto);
    assert!(matches!(result, Err(SegmentationError::Cancelled)), "{result:?}");
    assert_eq!(source.passes_read.get(), 2);
}
