//! `emotrace segment FILE --out segments.csv`: caller utterances of a call.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::segmentation::{
    segment_source, segments_csv, AudioSource, CallerChoice, SegmentationError, SegmentationParams,
};

/// Every [`SegmentationParams`] field as a flag (defaults and meaning documented there).
#[derive(Debug, Clone, Args)]
pub struct SegmentParamArgs {
    /// Analysis frame length (ms).
    #[arg(long, default_value_t = SegmentationParams::default().frame_ms)]
    pub frame_ms: f32,
    /// Frame hop (ms); boundary resolution.
    #[arg(long, default_value_t = SegmentationParams::default().hop_ms)]
    pub hop_ms: f32,
    /// Lower edge of the analysed band (Hz).
    #[arg(long, default_value_t = SegmentationParams::default().band_low_hz)]
    pub band_low_hz: f32,
    /// Upper edge of the analysed band (Hz).
    #[arg(long, default_value_t = SegmentationParams::default().band_high_hz)]
    pub band_high_hz: f32,
    /// Centred window for the adaptive noise floor (s).
    #[arg(long, default_value_t = SegmentationParams::default().noise_window_s)]
    pub noise_window_s: f32,
    /// Percentile of band energy taken as the noise floor (0-100).
    #[arg(long, default_value_t = SegmentationParams::default().noise_percentile)]
    pub noise_percentile: f32,
    /// Onset threshold above the noise floor (dB).
    #[arg(long, default_value_t = SegmentationParams::default().onset_db, allow_negative_numbers = true)]
    pub onset_db: f32,
    /// Offset (hysteresis) threshold above the noise floor (dB).
    #[arg(long, default_value_t = SegmentationParams::default().offset_db, allow_negative_numbers = true)]
    pub offset_db: f32,
    /// Onset threshold in noise standard deviations (the larger of this and --onset-db wins).
    #[arg(long, default_value_t = SegmentationParams::default().onset_sigmas)]
    pub onset_sigmas: f32,
    /// Offset threshold in noise standard deviations.
    #[arg(long, default_value_t = SegmentationParams::default().offset_sigmas)]
    pub offset_sigmas: f32,
    /// Absolute band energy below which nothing is speech (dBFS).
    #[arg(long, default_value_t = SegmentationParams::default().min_energy_dbfs, allow_negative_numbers = true)]
    pub min_energy_dbfs: f32,
    /// Periodicity (0-1) at which a frame counts as voiced.
    #[arg(long, default_value_t = SegmentationParams::default().voicing_threshold)]
    pub voicing_threshold: f32,
    /// Voiced time a segment needs (ms); 0 disables the check.
    #[arg(long, default_value_t = SegmentationParams::default().min_voiced_ms)]
    pub min_voiced_ms: f32,
    /// Silence kept before an onset (ms).
    #[arg(long, default_value_t = SegmentationParams::default().pre_roll_ms)]
    pub pre_roll_ms: f32,
    /// Hangover kept after an offset (ms).
    #[arg(long, default_value_t = SegmentationParams::default().hangover_ms)]
    pub hangover_ms: f32,
    /// Pauses shorter than this are merged into one utterance (ms).
    #[arg(long, default_value_t = SegmentationParams::default().merge_gap_ms)]
    pub merge_gap_ms: f32,
    /// Shorter segments (pre-roll and hangover included) are dropped (ms).
    #[arg(long, default_value_t = SegmentationParams::default().min_segment_ms)]
    pub min_segment_ms: f32,
    /// Longer segments are split at a quiet point (s).
    #[arg(long, default_value_t = SegmentationParams::default().max_segment_s)]
    pub max_segment_s: f32,
    /// Window before the length limit searched for the quietest split point (s).
    #[arg(long, default_value_t = SegmentationParams::default().split_search_s)]
    pub split_search_s: f32,
    /// Chunk length embedded by mono diarization (s).
    #[arg(long, default_value_t = SegmentationParams::default().diarize_chunk_s)]
    pub diarize_chunk_s: f32,
    /// Stereo: drop segments this many dB quieter than the other channel (crosstalk); 0 = off.
    #[arg(long, default_value_t = SegmentationParams::default().crosstalk_db)]
    pub crosstalk_db: f32,
    /// Mono: rounds of frame-level resegmentation (per-speaker GMMs + Viterbi); 0 = none.
    #[arg(long, default_value_t = SegmentationParams::default().diarize_iterations)]
    pub diarize_iterations: u32,
    /// Mono with a speaker encoder: resegmentation rounds after the embeddings' 2-means
    /// [default: 0 for CAM++, 3 for GE2E].
    #[arg(long)]
    pub diarize_encoder_iterations: Option<u32>,
    /// Mono with the built-in speaker encoder: nuisance directions (how one voice varies with
    /// emotion, words and line) removed from its embeddings before clustering; 0 = none.
    #[arg(long, default_value_t = SegmentationParams::default().diarize_nuisance_dims)]
    pub diarize_nuisance_dims: u32,
    /// Mono: shortest speaker turn inside an utterance (ms).
    #[arg(long, default_value_t = SegmentationParams::default().diarize_min_run_ms)]
    pub diarize_min_run_ms: f32,
    /// Mono: log-likelihood cost of a speaker change inside an utterance.
    #[arg(long, default_value_t = SegmentationParams::default().diarize_switch_penalty)]
    pub diarize_switch_penalty: f32,
    /// Mono: a speaker change without a pause this many dB below the speech is marked overlap.
    #[arg(long, default_value_t = SegmentationParams::default().diarize_overlap_pause_db)]
    pub diarize_overlap_pause_db: f32,
    /// `--caller auto`: a chosen party with less than this share of the speech is flagged as an
    /// uncertain suggestion (0.5-1).
    #[arg(long, default_value_t = SegmentationParams::default().caller_uncertain_share)]
    pub caller_uncertain_share: f64,
    /// Speaker encoder of mono diarization: auto (the one imported with `emotrace
    /// import-speaker-encoder` if any, else the built-in CAM++), builtin (the built-in one even
    /// when another is imported), none (voiceprints only), or an encoder folder.
    #[arg(long, default_value_t = SegmentationParams::default().speaker_encoder)]
    pub speaker_encoder: String,
}

impl From<&SegmentParamArgs> for SegmentationParams {
    fn from(a: &SegmentParamArgs) -> Self {
        Self {
            frame_ms: a.frame_ms,
            hop_ms: a.hop_ms,
            band_low_hz: a.band_low_hz,
            band_high_hz: a.band_high_hz,
            noise_window_s: a.noise_window_s,
            noise_percentile: a.noise_percentile,
            onset_db: a.onset_db,
            offset_db: a.offset_db,
            onset_sigmas: a.onset_sigmas,
            offset_sigmas: a.offset_sigmas,
            min_energy_dbfs: a.min_energy_dbfs,
            voicing_threshold: a.voicing_threshold,
            min_voiced_ms: a.min_voiced_ms,
            pre_roll_ms: a.pre_roll_ms,
            hangover_ms: a.hangover_ms,
            merge_gap_ms: a.merge_gap_ms,
            min_segment_ms: a.min_segment_ms,
            max_segment_s: a.max_segment_s,
            split_search_s: a.split_search_s,
            diarize_chunk_s: a.diarize_chunk_s,
            crosstalk_db: a.crosstalk_db,
            diarize_iterations: a.diarize_iterations,
            diarize_encoder_iterations: a.diarize_encoder_iterations,
            diarize_nuisance_dims: a.diarize_nuisance_dims,
            diarize_min_run_ms: a.diarize_min_run_ms,
            diarize_switch_penalty: a.diarize_switch_penalty,
            diarize_overlap_pause_db: a.diarize_overlap_pause_db,
            caller_uncertain_share: a.caller_uncertain_share,
            speaker_encoder: a.speaker_encoder.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The call recording (WAV incl. μ-law, FLAC, MP3, ...). Stereo = one party per channel.
    pub file: PathBuf,
    /// Which party is the caller. Stereo: auto|left|right|all (auto = the channel with more
    /// speech: callers talk more than operators). Mono: auto|a|b|all (A = the speaker of the
    /// first utterance; auto = the speaker with more speech).
    #[arg(long, default_value = "auto")]
    pub caller: String,
    /// Output CSV: index,start_s,end_s,channel,speaker,is_caller,overlap.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub params: SegmentParamArgs,
}

/// A recording streamed from disk (decoded on every pass, never held whole).
struct FileSource<'a> {
    path: &'a Path,
    sample_rate: u32,
}

impl AudioSource for FileSource<'_> {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    fn stream(&self, sink: &mut dyn FnMut(&[&[f32]])) -> Result<(), SegmentationError> {
        crate::synth::audio_io::decode_streaming(self.path, sink)
            .map(|_| ())
            .map_err(|e| SegmentationError::Io { path: self.path.display().to_string(), source: std::io::Error::other(e.to_string()) })
    }
}

pub fn run(args: SegmentArgs) -> anyhow::Result<()> {
    let caller: CallerChoice = args.caller.parse()?;
    let params = SegmentationParams::from(&args.params);
    let sample_rate = crate::synth::audio_io::probe_sample_rate(&args.file)?;
    let source = FileSource { path: &args.file, sample_rate };
    let result = segment_source(&source, &params, caller)
        .with_context(|| format!("cannot segment {}", args.file.display()))?;
    segments_csv::write_segments(&args.out, &result.segments)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some(warning) = result.encoder.warning() {
        eprintln!("warning: {warning}");
    }
    if let Some(notice) = result.auto_choice.and_then(|c| c.notice(&result.caller)) {
        eprintln!("notice: {notice}");
    }
    if result.segments.is_empty() {
        eprintln!(
            "notice: no speech found in {} (silence or noise only); wrote an empty segments file",
            args.file.display()
        );
    } else {
        let caller_n = result.caller_segments().count();
        let caller_s: f64 = result.caller_segments().map(|s| s.end_s - s.start_s).sum();
        eprintln!(
            "{}: {} segments ({} layout), caller = {} ({} segments, {:.1} s of speech) -> {}",
            args.file.display(),
            result.segments.len(),
            result.layout,
            result.caller,
            caller_n,
            caller_s,
            args.out.display()
        );
    }
    Ok(())
}
