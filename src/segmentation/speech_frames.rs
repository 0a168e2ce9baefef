//! Cepstral frames of a mono call's utterances, stored compactly for resegmentation.
//!
//! Values are quantised to `i16` (steps of 1/256; the cepstra and the low-band ratio stay well
//! inside ±128) and the number of frames is capped: when the utterances hold more 10-ms frames
//! than the cap, the hop grows (20 ms, 30 ms, ...) so a 4-hour call costs the same as the cap.

use super::cepstra::{Cepstra, CepstraConfig};
use super::gmm::Frames;
use super::span_feeder::SpanFeeder;
use super::utterances::TimeSpan;

/// Quantisation step of the stored values.
const STEP: f32 = 1.0 / 256.0;
/// Frame hop before decimation.
const BASE_HOP_S: f64 = 0.010;

/// Values per stored frame: 16 cepstra and the low-band ratio.
pub const FRAME_FEATURES: usize = 17;

/// The cepstral analysis of the diarizer: 24 mel bands over the telephone band (the same for 8
/// and 16 kHz input, so a call resampled for the pipeline diarizes like the file), 16 cepstra.
pub fn cepstra_config(hop_s: f64) -> CepstraConfig {
    CepstraConfig { n_mels: 24, n_ceps: FRAME_FEATURES - 1, low_hz: 250.0, high_hz: 3600.0, frame_s: 0.025, hop_s: hop_s as f32 }
}

/// The frames of one utterance: a contiguous range of the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtteranceFrames {
    pub span: TimeSpan,
    /// Index of its first frame in the store.
    pub first: usize,
    pub len: usize,
    /// Time (s) of the centre of its first frame.
    pub first_centre_s: f64,
}

/// Quantised, mean- and variance-normalised (when read) cepstral frames of the utterances.
pub struct SpeechFrames {
    dim: usize,
    data: Vec<i16>,
    log_energy: Vec<i16>,
    utterances: Vec<UtteranceFrames>,
    step_s: f64,
    mean: Vec<f32>,
    inv_sd: Vec<f32>,
}

impl SpeechFrames {
    /// Seconds between consecutive frames of an utterance.
    pub fn step_s(&self) -> f64 {
        self.step_s
    }

    pub fn utterances(&self) -> &[UtteranceFrames] {
        &self.utterances
    }

    /// Log band energy (natural log) of frame `i`.
    pub fn log_energy(&self, i: usize) -> f32 {
        self.log_energy[i] as f32 * STEP
    }

    /// Time (s) of the centre of frame `j` of utterance `u`.
    pub fn frame_time(&self, u: usize, j: usize) -> f64 {
        self.utterances[u].first_centre_s + j as f64 * self.step_s
    }

    /// Frame `i` as analysed (not normalised by the call's statistics).
    pub fn raw_frame(&self, i: usize, out: &mut [f32]) {
        let row = &self.data[i * self.dim..(i + 1) * self.dim];
        for (o, q) in out.iter_mut().zip(row) {
            *o = *q as f32 * STEP;
        }
    }

    /// Heap bytes held (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() * 2 + self.log_energy.capacity() * 2 + self.utterances.capacity() * std::mem::size_of::<UtteranceFrames>()
    }
}

impl Frames for SpeechFrames {
    fn len(&self) -> usize {
        self.log_energy.len()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn frame(&self, i: usize, out: &mut [f32]) {
        let row = &self.data[i * self.dim..(i + 1) * self.dim];
        for (j, (o, q)) in out.iter_mut().zip(row).enumerate() {
            *o = (*q as f32 * STEP - self.mean[j]) * self.inv_sd[j];
        }
    }
}

fn quantise(v: f32) -> i16 {
    (v / STEP).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// Streaming collector: fed the channel's samples in order, it analyses each utterance once its
/// samples are complete, holding one utterance's samples at most.
pub struct SpeechFrameCollector<'a> {
    utterances: &'a [TimeSpan],
    feeder: SpanFeeder,
    analysis: Analysis,
}

/// Everything [`SpeechFrameCollector`] accumulates besides the stream position.
struct Analysis {
    cepstra: Cepstra,
    sample_rate: f64,
    out: SpeechFrames,
    sums: Vec<f64>,
    squares: Vec<f64>,
}

impl<'a> SpeechFrameCollector<'a> {
    /// A collector for `utterances` that keeps at most about `max_frames` frames.
    pub fn new(sample_rate: u32, utterances: &'a [TimeSpan], max_frames: usize) -> Self {
        let speech_s: f64 = utterances.iter().map(TimeSpan::duration).sum();
        let decimation = ((speech_s / BASE_HOP_S) / max_frames.max(1) as f64).ceil().max(1.0);
        let step_s = BASE_HOP_S * decimation;
        let cepstra = Cepstra::new(sample_rate, cepstra_config(step_s));
        let dim = cepstra.dim();
        let expected = ((speech_s / step_s) as usize).min(max_frames.saturating_mul(2));
        Self {
            utterances,
            feeder: SpanFeeder::from_seconds(utterances.iter().map(|s| (s.start_s, s.end_s)), sample_rate as f64),
            analysis: Analysis {
                cepstra,
                sample_rate: sample_rate as f64,
                out: SpeechFrames {
                    dim,
                    data: Vec::with_capacity(expected * dim),
                    log_energy: Vec::with_capacity(expected),
                    utterances: Vec::with_capacity(utterances.len()),
                    step_s: cepstra_step_s(sample_rate, step_s),
                    mean: vec![0.0; dim],
                    inv_sd: vec![1.0; dim],
                },
                sums: vec![0.0; dim],
                squares: vec![0.0; dim],
            },
        }
    }

    /// Feeds the next samples of the channel.
    pub fn push(&mut self, samples: &[f32]) {
        let (utterances, analysis) = (self.utterances, &mut self.analysis);
        self.feeder.push(samples, |k, start, buffer| analysis.add_utterance(utterances[k], start, buffer));
    }

    /// Analyses what the stream did not reach (cut-off audio) and normalises the store.
    pub fn finish(mut self) -> SpeechFrames {
        let (utterances, analysis) = (self.utterances, &mut self.analysis);
        self.feeder.finish(|k, start, buffer| analysis.add_utterance(utterances[k], start, buffer));
        let Analysis { mut out, sums, squares, .. } = self.analysis;
        let n = out.log_energy.len().max(1) as f64;
        for j in 0..out.dim {
            let mean = sums[j] / n;
            let var = (squares[j] / n - mean * mean).max(1e-8);
            out.mean[j] = mean as f32;
            out.inv_sd[j] = (1.0 / var.sqrt()) as f32;
        }
        out.data.shrink_to_fit();
        out.log_energy.shrink_to_fit();
        out
    }
}

impl Analysis {
    /// Appends one utterance's quantised frames (its samples start at sample `start`), adding
    /// them to the running sums.
    fn add_utterance(&mut self, span: TimeSpan, start: u64, samples: &[f32]) {
        let out = &mut self.out;
        let (sums, squares) = (&mut self.sums, &mut self.squares);
        let first = out.log_energy.len();
        self.cepstra.for_each_frame(samples, |f| {
            for (j, v) in f.features.iter().enumerate() {
                let q = quantise(*v);
                out.data.push(q);
                let x = q as f64 * STEP as f64;
                sums[j] += x;
                squares[j] += x * x;
            }
            out.log_energy.push(quantise(f.log_energy));
        });
        let len = out.log_energy.len() - first;
        let first_centre_s = (start as f64 + self.cepstra.frame_len() as f64 / 2.0) / self.sample_rate;
        out.utterances.push(UtteranceFrames { span, first, len, first_centre_s });
    }
}

/// The hop actually used (whole samples) in seconds.
fn cepstra_step_s(sample_rate: u32, step_s: f64) -> f64 {
    (step_s * sample_rate as f64).round().max(1.0) / sample_rate as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_per_utterance_and_decimation() {
        let sr = 8000u32;
        let audio: Vec<f32> = (0..sr as usize * 10).map(|n| ((n as f32) * 0.37).sin() * 0.1).collect();
        let utts = [TimeSpan { start_s: 1.0, end_s: 2.0 }, TimeSpan { start_s: 5.0, end_s: 7.0 }];
        let mut c = SpeechFrameCollector::new(sr, &utts, 10_000);
        for chunk in audio.chunks(777) {
            c.push(chunk);
        }
        let f = c.finish();
        assert_eq!(f.utterances().len(), 2);
        // 1 s at a 10-ms hop with 25-ms frames: 98 whole frames; 2 s: 198.
        assert_eq!((f.utterances()[0].len, f.utterances()[1].len), (98, 198));
        assert!((f.frame_time(1, 0) - 5.0125).abs() < 1e-9);
        // Capped at 100 frames for 3 s of speech: the hop becomes 30 ms.
        let mut c = SpeechFrameCollector::new(sr, &utts, 100);
        c.push(&audio);
        let f = c.finish();
        assert!((f.step_s() - 0.03).abs() < 1e-9);
        assert!(f.len() <= 100, "{}", f.len());
        // Normalised values have zero mean.
        let mut x = vec![0.0; f.dim()];
        let mut sum = 0.0;
        for i in 0..f.len() {
            f.frame(i, &mut x);
            sum += x[0];
        }
        assert!((sum / f.len() as f32).abs() < 1e-2);
    }
}
