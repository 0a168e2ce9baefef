//! Synthetic hotline calls with ground truth, built from the labelled corpora in
//! `shared/data`: a caller and an operator (different speakers) take turns with pauses of
//! 0.2-3 s and occasional overlap, over noise at a chosen SNR, optionally through a simulated
//! telephone line (300-3400 Hz, 8 kHz, μ-law), stereo (one party per channel) or mono.

pub mod audio_io;
pub mod manifest;
pub mod rng;
pub mod telephony;

use std::path::{Path, PathBuf};

use manifest::{read_manifest, speakers, Utterance};
use rng::Rng;

/// Errors of the call builder.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("I/O error on {0}: {1}")]
    Io(String, std::io::Error),
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("decoding {0}")]
    Decode(String),
    #[error("invalid call specification: {0}")]
    Invalid(String),
    #[error("writing output: {0}")]
    Write(String),
}

/// What call to build.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// Folder holding `<corpus>/manifest.csv`.
    pub data_root: PathBuf,
    /// Corpus of the caller.
    pub corpus: String,
    /// Corpus of the operator (default: the caller's).
    pub operator_corpus: Option<String>,
    /// Caller speaker id (default: chosen by the seed).
    pub caller_speaker: Option<String>,
    /// Operator speaker id (default: chosen by the seed, different from the caller).
    pub operator_speaker: Option<String>,
    /// Length of the call in minutes.
    pub minutes: f64,
    pub seed: u64,
    /// Fixed SNR in dB; `None` draws one uniformly from `snr_range_db`.
    pub snr_db: Option<f64>,
    pub snr_range_db: (f64, f64),
    /// Probability that a turn starts before the previous one ends.
    pub overlap_probability: f64,
    pub telephony: bool,
    pub stereo: bool,
    /// Stereo: the caller's channel (0 = left, 1 = right); `None` = chosen by the seed.
    pub caller_channel: Option<usize>,
    /// Emotions the operator's utterances are drawn from (operators are trained to stay calm);
    /// empty = any. Falls back to any emotion when the speaker has none of these.
    pub operator_emotions: Vec<String>,
    /// With `telephony`: only the caller's voice crosses the phone network (300-3400 Hz band-pass
    /// before mixing) while the operator's headset is recorded locally; the recorder's 8-kHz
    /// μ-law then applies to both. `false` sends both voices through the same band-pass.
    pub caller_via_line: bool,
    /// Stereo: each party also leaks into the other channel this many dB down (echo,
    /// crosstalk); `None` = clean separation.
    pub crosstalk_db: Option<f64>,
    /// The caller's emotional arc: the call split into equal stretches of time, the caller's
    /// utterances in stretch i drawn from `caller_stages[i]` (a stretch with none of them falls
    /// back to any emotion); empty = any emotion throughout.
    pub caller_stages: Vec<Vec<String>>,
}

impl Default for CallSpec {
    fn default() -> Self {
        Self {
            data_root: PathBuf::from("../shared/data"),
            corpus: "casia".into(),
            operator_corpus: None,
            caller_speaker: None,
            operator_speaker: None,
            minutes: 5.0,
            seed: 1,
            snr_db: None,
            snr_range_db: (5.0, 30.0),
            overlap_probability: 0.1,
            telephony: false,
            stereo: true,
            caller_channel: None,
            operator_emotions: vec!["neutral".into(), "calm".into()],
            caller_via_line: true,
            crosstalk_db: None,
            caller_stages: Vec::new(),
        }
    }
}

/// One truth utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRow {
    pub start_s: f64,
    pub end_s: f64,
    /// `caller` or `operator`.
    pub speaker: String,
    /// Stereo channel of the speaker (0 for mono).
    pub channel: usize,
    pub corpus: String,
    pub emotion: String,
    pub label_binary: String,
    pub source_path: String,
}

/// A built call.
#[derive(Debug, Clone)]
pub struct SyntheticCall {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
    pub truth: Vec<TruthRow>,
    /// The truth cut to what can be heard over the call's noise ([`AUDIBLE_LOCAL_SNR_DB`]):
    /// each utterance from its first to its last audible 10-ms frame; utterances with none are
    /// left out.
    pub audible_truth: Vec<TruthRow>,
    pub caller_speaker: String,
    pub operator_speaker: String,
    pub snr_db: f64,
}

const SR: u32 = 16000;
/// Trim threshold: frames quieter than this below the loudest 10-ms frame are leading or
/// trailing silence (RAVDESS files start with ~1 s of it), so truth boundaries are speech.
const TRIM_DB: f32 = 35.0;
/// A 10-ms frame of an utterance is audible when its power, as mixed, is at least this many dB
/// above the power of the channel's noise. The trimmed truth keeps word tails down to 35 dB below
/// the peak, which at a low SNR lie far under the noise: no listener could mark them.
pub const AUDIBLE_LOCAL_SNR_DB: f64 = 0.0;
/// The 10-ms frame of the trimming and of the audible truth.
const FRAME: usize = (SR / 100) as usize;

/// Locates the shared data folder: `$EMOTRACE_SHARED_DATA`, else `<manifest dir>/../shared/data`,
/// else `/work/shared/data`; `None` when none holds a corpus manifest.
pub fn locate_shared_data(manifest_dir: &Path) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("EMOTRACE_SHARED_DATA") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(manifest_dir.join("../shared/data"));
    candidates.push(PathBuf::from("/work/shared/data"));
    candidates.into_iter().find(|p| {
        std::fs::read_dir(p).is_ok_and(|rd| rd.flatten().any(|e| e.path().join("manifest.csv").is_file()))
    })
}

/// Removes leading/trailing silence (relative to the loudest 10-ms frame).
pub fn trim_silence(x: &[f32]) -> &[f32] {
    let db: Vec<f32> = x
        .chunks(FRAME)
        .map(|c| 10.0 * (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32 + 1e-12).log10())
        .collect();
    let max = db.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let first = db.iter().position(|&d| d >= max - TRIM_DB);
    let last = db.iter().rposition(|&d| d >= max - TRIM_DB);
    match (first, last) {
        (Some(a), Some(b)) => &x[a * FRAME..((b + 1) * FRAME).min(x.len())],
        _ => &x[0..0],
    }
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

struct Party {
    utterances: Vec<Utterance>,
    name: &'static str,
    speaker: String,
    channel: usize,
    gain_db: f64,
}

fn pick_speaker(all: &[String], wanted: &Option<String>, exclude: Option<&str>, rng: &mut Rng) -> Result<String, SynthError> {
    if let Some(w) = wanted {
        if !all.contains(w) {
            return Err(SynthError::Invalid(format!("speaker '{w}' not found (have: {})", all.join(", "))));
        }
        return Ok(w.clone());
    }
    let choices: Vec<&String> = all.iter().filter(|s| Some(s.as_str()) != exclude).collect();
    if choices.is_empty() {
        return Err(SynthError::Invalid("not enough distinct speakers".into()));
    }
    Ok(choices[rng.below(choices.len())].clone())
}

/// Builds a call in memory.
pub fn build_call(spec: &CallSpec) -> Result<SyntheticCall, SynthError> {
    if !(spec.minutes > 0.0 && spec.minutes <= 600.0) {
        return Err(SynthError::Invalid("minutes must be within (0, 600]".into()));
    }
    let (snr_lo, snr_hi) = spec.snr_range_db;
    if !(snr_lo.is_finite() && snr_hi.is_finite() && snr_lo <= snr_hi) {
        return Err(SynthError::Invalid("bad SNR range".into()));
    }
    let mut rng = Rng::new(spec.seed);
    let caller_pool = read_manifest(&spec.data_root, &spec.corpus)?;
    let op_corpus = spec.operator_corpus.clone().unwrap_or_else(|| spec.corpus.clone());
    let op_pool = if op_corpus == spec.corpus { caller_pool.clone() } else { read_manifest(&spec.data_root, &op_corpus)? };
    let caller_speaker = pick_speaker(&speakers(&caller_pool), &spec.caller_speaker, None, &mut rng)?;
    let exclude = (op_corpus == spec.corpus).then_some(caller_speaker.as_str());
    let operator_speaker = pick_speaker(&speakers(&op_pool), &spec.operator_speaker, exclude, &mut rng)?;
    if op_corpus == spec.corpus && operator_speaker == caller_speaker {
        return Err(SynthError::Invalid("caller and operator must be different speakers".into()));
    }
    let caller_channel = spec.caller_channel.unwrap_or_else(|| rng.below(2)).min(1);
    let mut parties = [
        Party {
            utterances: caller_pool.into_iter().filter(|u| u.speaker == caller_speaker).collect(),
            name: "caller",
            speaker: caller_speaker.clone(),
            channel: caller_channel,
            gain_db: rng.uniform(-6.0, 0.0),
        },
        Party {
            utterances: {
                let all: Vec<Utterance> = op_pool.into_iter().filter(|u| u.speaker == operator_speaker).collect();
                let calm: Vec<Utterance> =
                    all.iter().filter(|u| spec.operator_emotions.contains(&u.emotion)).cloned().collect();
                if calm.is_empty() { all } else { calm }
            },
            name: "operator",
            speaker: operator_speaker.clone(),
            channel: 1 - caller_channel,
            gain_db: rng.uniform(-6.0, 0.0),
        },
    ];
    let snr_db = spec.snr_db.unwrap_or_else(|| rng.uniform(snr_lo, snr_hi));

    let total = (spec.minutes * 60.0 * SR as f64) as usize;
    let n_out_ch = if spec.stereo { 2 } else { 1 };
    let mut channels = vec![vec![0.0f32; total]; n_out_ch];
    let mut truth = Vec::new();
    // Per truth row, the power of each 10-ms frame of the utterance as mixed (for the audible truth).
    let mut frame_powers: Vec<Vec<f64>> = Vec::new();
    let mut speech_energy = vec![0.0f64; n_out_ch];
    let mut speech_samples = vec![0usize; n_out_ch];

    // Turns: the operator greets first, then caller (1-4 utterances) and operator (1-2) alternate.
    let mut t = (rng.uniform(0.5, 2.0) * SR as f64) as usize;
    let mut party = 1usize;
    let mut last_end = 0usize;
    let mut last_len = 0usize;
    'call: loop {
        let n_utts = if party == 0 { 1 + rng.below(4) } else { 1 + rng.below(2) };
        for k in 0..n_utts {
            let p = &mut parties[party];
            let staged: Vec<&Utterance> = match (party, spec.caller_stages.len()) {
                (0, n) if n > 0 => {
                    let stage = &spec.caller_stages[(t * n / total.max(1)).min(n - 1)];
                    p.utterances.iter().filter(|u| stage.contains(&u.emotion)).collect()
                }
                _ => Vec::new(),
            };
            let pick = if staged.is_empty() {
                p.utterances.get(rng.below(p.utterances.len())).cloned()
            } else {
                staged.get(rng.below(staged.len())).map(|u| (*u).clone())
            };
            let Some(utt) = pick else {
                return Err(SynthError::Invalid(format!("no utterances for speaker {}", p.speaker)));
            };
            let (audio, rate) = audio_io::decode_mono(&utt.path)?;
            if rate != SR {
                return Err(SynthError::Decode(format!("{}: expected 16 kHz, got {rate}", utt.path.display())));
            }
            let speech = trim_silence(&audio);
            if speech.len() < (SR / 10) as usize {
                continue;
            }
            if k > 0 {
                t = last_end + (rng.uniform(0.4, 1.5) * SR as f64) as usize;
            }
            if t + speech.len() > total {
                break 'call;
            }
            let level = rms(speech).max(1e-6);
            let gain = (10f64.powf((p.gain_db + rng.uniform(-2.0, 2.0) - 20.0) / 20.0) / level as f64) as f32;
            let ch = if spec.stereo { p.channel } else { 0 };
            let line_filtered;
            let speech: &[f32] = if spec.telephony && (party == 0 || !spec.caller_via_line) {
                let mut v = speech.to_vec();
                telephony::band_pass_telephone(&mut v, SR);
                line_filtered = v;
                &line_filtered
            } else {
                speech
            };
            for (dst, s) in channels[ch][t..t + speech.len()].iter_mut().zip(speech) {
                *dst += s * gain;
                speech_energy[ch] += ((s * gain) as f64).powi(2);
            }
            speech_samples[ch] += speech.len();
            if let (true, Some(db)) = (spec.stereo, spec.crosstalk_db) {
                let leak = gain * 10f32.powf(-(db.abs() as f32) / 20.0);
                for (dst, s) in channels[1 - ch][t..t + speech.len()].iter_mut().zip(speech) {
                    *dst += s * leak;
                }
            }
            frame_powers.push(
                speech.chunks(FRAME).map(|c| c.iter().map(|s| ((s * gain) as f64).powi(2)).sum::<f64>() / c.len() as f64).collect(),
            );
            truth.push(TruthRow {
                start_s: t as f64 / SR as f64,
                end_s: (t + speech.len()) as f64 / SR as f64,
                speaker: p.name.to_string(),
                channel: ch,
                corpus: utt.corpus.clone(),
                emotion: utt.emotion.clone(),
                label_binary: utt.label_binary.clone(),
                source_path: format!("{}/{}", utt.corpus, utt.rel_path),
            });
            last_end = t + speech.len();
            last_len = speech.len();
        }
        // Next turn: pause of 0.2-3 s, or an overlap of 0.2-0.8 s (at most half the last utterance).
        party = 1 - party;
        t = if rng.unit() < spec.overlap_probability {
            let ov = ((rng.uniform(0.2, 0.8) * SR as f64) as usize).min(last_len / 2);
            last_end - ov
        } else {
            last_end + (rng.uniform(0.2, 3.0) * SR as f64) as usize
        };
    }
    if truth.is_empty() {
        return Err(SynthError::Invalid("call too short for a single utterance".into()));
    }

    // Noise per channel at the requested SNR (relative to that channel's active speech power):
    // white + low-passed (pinkish) noise + 50-Hz mains hum with harmonics.
    let mut noise_powers = Vec::with_capacity(channels.len());
    for (ch, x) in channels.iter_mut().enumerate() {
        let p_speech = if speech_samples[ch] > 0 {
            speech_energy[ch] / speech_samples[ch] as f64
        } else {
            // A silent channel gets the other channel's noise level.
            speech_energy.iter().sum::<f64>() / speech_samples.iter().sum::<usize>().max(1) as f64
        };
        let p_noise = p_speech / 10f64.powf(snr_db / 10.0);
        noise_powers.push(p_noise);
        let white_amp = (0.6 * p_noise).sqrt();
        // One-pole low-pass of unit white noise has variance (1-a)/(1+a).
        let a = 0.97f64;
        let lp_amp = (0.3 * p_noise * (1.0 + a) / (1.0 - a)).sqrt();
        let hum_amp = (2.0 * 0.1 * p_noise / 3.0).sqrt();
        let hum_phase = rng.uniform(0.0, std::f64::consts::TAU);
        let mut lp = 0.0f64;
        for (i, s) in x.iter_mut().enumerate() {
            let w = rng.normal();
            lp = a * lp + (1.0 - a) * rng.normal();
            let tt = i as f64 / SR as f64;
            let hum: f64 = [50.0, 150.0, 250.0]
                .iter()
                .map(|f| (std::f64::consts::TAU * f * tt + hum_phase).sin())
                .sum::<f64>()
                * hum_amp;
            *s += (white_amp * w + lp_amp * lp + hum) as f32;
        }
    }

    let (sample_rate, mut channels) = if spec.telephony {
        (8000, channels.iter().map(|c| telephony::recorder_channel(c, SR)).collect::<Vec<_>>())
    } else {
        (SR, channels)
    };
    let peak = channels.iter().flat_map(|c| c.iter()).fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.95 {
        let g = 0.95 / peak;
        channels.iter_mut().flat_map(|c| c.iter_mut()).for_each(|v| *v *= g);
    }
    let mut audible_truth = audible_rows(&truth, &frame_powers, &noise_powers);
    truth.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    audible_truth.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(SyntheticCall { sample_rate, channels, truth, audible_truth, caller_speaker, operator_speaker, snr_db })
}

/// Each truth row cut to its first..last frame whose power clears its channel's noise power by
/// [`AUDIBLE_LOCAL_SNR_DB`]; rows with no such frame are dropped. `frame_powers[i]` are row
/// i's 10-ms frame powers, the first starting at its `start_s`.
fn audible_rows(truth: &[TruthRow], frame_powers: &[Vec<f64>], noise_powers: &[f64]) -> Vec<TruthRow> {
    let factor = 10f64.powf(AUDIBLE_LOCAL_SNR_DB / 10.0);
    truth
        .iter()
        .zip(frame_powers)
        .filter_map(|(row, powers)| {
            let floor = noise_powers.get(row.channel).copied().unwrap_or(0.0) * factor;
            let first = powers.iter().position(|&p| p >= floor)?;
            let last = powers.iter().rposition(|&p| p >= floor)?;
            let frame_s = FRAME as f64 / SR as f64;
            Some(TruthRow {
                start_s: row.start_s + first as f64 * frame_s,
                end_s: (row.start_s + (last + 1) as f64 * frame_s).min(row.end_s),
                ..row.clone()
            })
        })
        .collect()
}

/// Truth CSV text: `start_s,end_s,speaker,corpus,emotion,label_binary,source_path,channel`.
pub fn truth_csv(truth: &[TruthRow]) -> String {
    let mut out = String::from("start_s,end_s,speaker,corpus,emotion,label_binary,source_path,channel\n");
    for r in truth {
        out.push_str(&format!(
            "{:.3},{:.3},{},{},{},{},{},{}\n",
            r.start_s, r.end_s, r.speaker, r.corpus, r.emotion, r.label_binary, r.source_path, r.channel
        ));
    }
    out
}

/// Builds a call and writes `<wav>`, `<truth csv>` and, when asked, the audible truth (same
/// columns).
pub fn write_call(spec: &CallSpec, wav: &Path, truth_path: &Path, audible_truth_path: Option<&Path>) -> Result<SyntheticCall, SynthError> {
    let call = build_call(spec)?;
    audio_io::write_wav_i16(wav, call.sample_rate, &call.channels)?;
    let write = |path: &Path, rows: &[TruthRow]| {
        crate::segmentation::segments_csv::write_atomic(path, truth_csv(rows).as_bytes()).map_err(|e| SynthError::Write(e.to_string()))
    };
    write(truth_path, &call.truth)?;
    if let Some(path) = audible_truth_path {
        write(path, &call.audible_truth)?;
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start_s: f64, end_s: f64, channel: usize) -> TruthRow {
        TruthRow {
            start_s,
            end_s,
            speaker: "caller".into(),
            channel,
            corpus: "c".into(),
            emotion: "neutral".into(),
            label_binary: "non-negative".into(),
            source_path: "c/x.flac".into(),
        }
    }

    #[test]
    fn audible_rows_cut_quiet_edges_and_drop_buried_utterances() {
        // Row 0: quiet, loud, loud, quiet frames (0.04 s); row 1: all under the noise;
        // row 2 on channel 1, whose noise is quieter, is kept whole.
        let truth = [row(1.0, 1.04, 0), row(2.0, 2.03, 0), row(3.0, 3.02, 1)];
        let powers = vec![vec![0.001, 0.5, 0.2, 0.009], vec![0.001; 3], vec![0.001, 0.002]];
        let audible = audible_rows(&truth, &powers, &[0.01, 0.0001]);
        assert_eq!(audible.len(), 2);
        assert!((audible[0].start_s - 1.01).abs() < 1e-9 && (audible[0].end_s - 1.03).abs() < 1e-9, "{:?}", audible[0]);
        assert_eq!((audible[1].start_s, audible[1].end_s, audible[1].channel), (3.0, 3.02, 1));
    }
}
