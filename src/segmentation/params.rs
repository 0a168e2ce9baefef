//! Tunable parameters of voice-activity detection and utterance segmentation.
//!
//! Every field has a documented default (see [`SegmentationParams::default`]) and a matching
//! `emotrace segment` flag of the same name in kebab-case (e.g. `onset_db` -> `--onset-db`).

use std::path::PathBuf;

use super::SegmentationError;
use crate::model::speaker_encoder_store::{self, SpeakerEncoderNet};
use crate::model::{builtin_speaker_encoder, ModelError};

/// [`SegmentationParams::speaker_encoder`] values besides a folder.
pub const AUTO_SPEAKER_ENCODER: &str = "auto";
pub const NO_SPEAKER_ENCODER: &str = "none";
pub const BUILTIN_SPEAKER_ENCODER: &str = "builtin";

/// Where mono diarization's speaker encoder comes from. A folder the user named must load; a
/// broken imported one makes diarization fall back to the built-in encoder (the window has no
/// way round it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderSource {
    /// The CAM++ network compiled into emotrace (`auto` with nothing imported).
    BuiltIn,
    /// The one `emotrace import-speaker-encoder` installed (`auto`).
    Imported(PathBuf),
    /// A folder given as `--speaker-encoder DIR`.
    Named(PathBuf),
}

impl EncoderSource {
    /// The folder the encoder is read from (none for the built-in one).
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            EncoderSource::BuiltIn => None,
            EncoderSource::Imported(dir) | EncoderSource::Named(dir) => Some(dir),
        }
    }

    /// Loads the network.
    pub fn load(&self, device: &candle_core::Device) -> Result<SpeakerEncoderNet, ModelError> {
        match self.dir() {
            None => builtin_speaker_encoder::load(device),
            Some(dir) => speaker_encoder_store::load(dir, device),
        }
    }
}

/// Parameters of the energy/periodicity VAD, utterance building and diarization.
/// Fields missing from a saved copy (older versions) take their defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SegmentationParams {
    /// Analysis frame length in milliseconds. Default 32 ms: long enough for the
    /// autocorrelation to see two periods of an 80 Hz voice (12.5 ms lag).
    pub frame_ms: f32,
    /// Frame hop in milliseconds; also the time resolution of boundaries. Default 10 ms.
    pub hop_ms: f32,
    /// Lower edge of the analysed band in Hz. Default 300 Hz (telephone band; drops mains hum).
    pub band_low_hz: f32,
    /// Upper edge of the analysed band in Hz. Default 3400 Hz (telephone band).
    pub band_high_hz: f32,
    /// Length in seconds of the centred window over which the noise floor is estimated.
    /// Default 60 s: long enough to contain pauses (at least 10% of it must be non-speech)
    /// even around a long monologue.
    pub noise_window_s: f32,
    /// Percentile (0-100) of band energy taken as the noise floor inside that window. Default 10.
    pub noise_percentile: f32,
    /// A region becomes speech only if some frame rises this many dB above the noise floor.
    /// Default 3 dB: low, because the voicing check (not the energy) rejects noise; tuned on
    /// synthetic telephone calls at 5-30 dB SNR.
    pub onset_db: f32,
    /// Speech regions extend over frames at least this many dB above the noise floor
    /// (hysteresis: lower than `onset_db`). Default 1 dB.
    pub offset_db: f32,
    /// The onset threshold is at least this many noise standard deviations above the floor
    /// (the spread is measured per window): fluctuating narrow-band noise (rumble, hum) needs
    /// more margin than white noise. Default 5.
    pub onset_sigmas: f32,
    /// Likewise for the offset threshold. Default 2.
    pub offset_sigmas: f32,
    /// Absolute band energy (dBFS) below which a frame is never speech, whatever the floor.
    /// Stops digital silence and faint dither from being "speech above the floor". Default -60 dBFS.
    pub min_energy_dbfs: f32,
    /// Periodicity (normalised autocorrelation, 0-1) at which a frame counts as voiced. Default 0.5.
    pub voicing_threshold: f32,
    /// A segment must contain at least this many milliseconds of voiced frames; rejects noise
    /// bursts, clicks and line noise. 0 disables the check. Default 60 ms.
    pub min_voiced_ms: f32,
    /// Silence kept before each detected onset, in ms. Default 20 ms.
    pub pre_roll_ms: f32,
    /// Hangover: silence kept after each detected offset, in ms. Default 60 ms.
    pub hangover_ms: f32,
    /// Speech regions separated by a pause shorter than this (ms) are merged into one utterance.
    /// Default 250 ms (shorter pauses are inside sentences).
    pub merge_gap_ms: f32,
    /// Segments shorter than this (ms) after merging, pre-roll and hangover included, are
    /// dropped. Default 250 ms.
    pub min_segment_ms: f32,
    /// Segments longer than this (s) are split. Default 10 s: the model sees at most 10 s.
    pub max_segment_s: f32,
    /// When splitting, the cut is the quietest frame within this many seconds before the
    /// `max_segment_s` limit. Default 3 s.
    pub split_search_s: f32,
    /// Length in seconds of the chunks that mono diarization embeds and clusters. Default 1.0 s.
    pub diarize_chunk_s: f32,
    /// Stereo: a segment whose channel is on average more than this many dB quieter than the
    /// other channel over the same frames is the other party leaking in (echo, crosstalk) and
    /// is dropped. 0 disables the check. Default 15 dB (typical echo return loss is 20-30 dB;
    /// genuine double talk is louder on its own channel).
    pub crosstalk_db: f32,
    /// Mono: rounds of frame-level resegmentation (a GMM per speaker and a Viterbi pass) after
    /// the first clustering of 2-s fingerprints. 0 keeps the fingerprint clustering. Default 3
    /// (later rounds change almost nothing).
    pub diarize_iterations: u32,
    /// Mono, with a speaker encoder: rounds of the same resegmentation after the 2-means of the
    /// embeddings. Default (unset): what suits the encoder — none for CAM++, whose split is
    /// better left as it is, 3 for GE2E, whose split the rounds improve (held-out and tuning
    /// calls, docs/segmentation.md).
    pub diarize_encoder_iterations: Option<u32>,
    /// Mono, with the built-in speaker encoder: how many of its nuisance directions (the ones
    /// along which one voice's embeddings vary most with emotion, words and line, learnt on the
    /// tuning voices: `models/speaker_encoder/nuisance.json`) are removed before clustering;
    /// 0 = none, at most 16. Default 1 (chosen on the tuning voices among 0, 1, 2 and 4; docs/segmentation.md,
    /// "Speaker encoder").
    pub diarize_nuisance_dims: u32,
    /// Mono: shortest speaker turn the resegmentation allows inside an utterance, in ms.
    /// Default 300 ms (a back-channel "mm-hm" is about that long).
    pub diarize_min_run_ms: f32,
    /// Mono: log-likelihood cost of a speaker change inside an utterance; higher keeps
    /// utterances whole. Default 20.
    pub diarize_switch_penalty: f32,
    /// Mono: a speaker change inside an utterance with no pause at least this many dB below
    /// the surrounding speech is taken as both talking at once and marked `overlap`. Default 20 dB.
    pub diarize_overlap_pause_db: f32,
    /// `--caller auto`: below this share of the two parties' speech time the chosen party is
    /// flagged as an uncertain suggestion (a notice, `report.json`, the Caller panel). Default
    /// 0.55 (chosen on the tuning voices; docs/segmentation.md, "When \"more speech\" cannot tell").
    pub caller_uncertain_share: f64,
    /// Speaker encoder of mono diarization: `auto` (the one imported with `emotrace
    /// import-speaker-encoder` when there is one, else the built-in CAM++), `builtin` (the
    /// built-in one even when another is imported), `none` (the voiceprint diarizer), or an
    /// encoder folder. Default auto.
    pub speaker_encoder: String,
}

impl Default for SegmentationParams {
    fn default() -> Self {
        Self {
            frame_ms: 32.0,
            hop_ms: 10.0,
            band_low_hz: 300.0,
            band_high_hz: 3400.0,
            noise_window_s: 60.0,
            noise_percentile: 10.0,
            onset_db: 3.0,
            offset_db: 1.0,
            onset_sigmas: 5.0,
            offset_sigmas: 2.0,
            min_energy_dbfs: -60.0,
            voicing_threshold: 0.5,
            min_voiced_ms: 60.0,
            pre_roll_ms: 20.0,
            hangover_ms: 60.0,
            merge_gap_ms: 250.0,
            min_segment_ms: 250.0,
            max_segment_s: 10.0,
            split_search_s: 3.0,
            diarize_chunk_s: 1.0,
            crosstalk_db: 15.0,
            diarize_iterations: 3,
            diarize_encoder_iterations: None,
            diarize_nuisance_dims: 1,
            diarize_min_run_ms: 300.0,
            diarize_switch_penalty: 20.0,
            diarize_overlap_pause_db: 20.0,
            caller_uncertain_share: super::UNCERTAIN_CALLER_SHARE,
            speaker_encoder: AUTO_SPEAKER_ENCODER.to_string(),
        }
    }
}

impl SegmentationParams {
    /// The speaker encoder mono diarization will use, if any.
    pub fn speaker_encoder_source(&self) -> Option<EncoderSource> {
        match self.speaker_encoder.trim() {
            "" | AUTO_SPEAKER_ENCODER => Some(
                speaker_encoder_store::installed_dir().map_or(EncoderSource::BuiltIn, EncoderSource::Imported),
            ),
            NO_SPEAKER_ENCODER => None,
            BUILTIN_SPEAKER_ENCODER => Some(EncoderSource::BuiltIn),
            _ => Some(EncoderSource::Named(PathBuf::from(&self.speaker_encoder))),
        }
    }

    /// Checks that the parameters are mutually consistent for audio at `sample_rate`.
    pub fn validate(&self, sample_rate: u32) -> Result<(), SegmentationError> {
        let bad = |msg: &str| Err(SegmentationError::InvalidParams(msg.to_string()));
        let nyquist = sample_rate as f32 / 2.0;
        let finite = [
            self.frame_ms,
            self.hop_ms,
            self.band_low_hz,
            self.band_high_hz,
            self.noise_window_s,
            self.noise_percentile,
            self.onset_db,
            self.offset_db,
            self.onset_sigmas,
            self.offset_sigmas,
            self.min_energy_dbfs,
            self.voicing_threshold,
            self.min_voiced_ms,
            self.pre_roll_ms,
            self.hangover_ms,
            self.merge_gap_ms,
            self.min_segment_ms,
            self.max_segment_s,
            self.split_search_s,
            self.diarize_chunk_s,
            self.crosstalk_db,
            self.diarize_min_run_ms,
            self.diarize_switch_penalty,
            self.diarize_overlap_pause_db,
        ];
        if finite.iter().any(|v| !v.is_finite()) {
            return bad("all parameters must be finite numbers");
        }
        if sample_rate < 4000 {
            return bad("sample rate must be at least 4000 Hz");
        }
        if self.hop_ms <= 0.0 || self.frame_ms < self.hop_ms {
            return bad("need 0 < hop_ms <= frame_ms");
        }
        if self.frame_ms > 200.0 {
            return bad("frame_ms must be at most 200 ms");
        }
        if self.band_low_hz < 0.0 || self.band_high_hz <= self.band_low_hz || self.band_low_hz >= nyquist {
            return bad("need 0 <= band_low_hz < band_high_hz and band_low_hz below Nyquist");
        }
        if self.noise_window_s <= 0.0 {
            return bad("noise_window_s must be positive");
        }
        if !(0.0..=100.0).contains(&self.noise_percentile) {
            return bad("noise_percentile must be within 0..=100");
        }
        if self.onset_sigmas < 0.0 || self.offset_sigmas < 0.0 || self.offset_sigmas > self.onset_sigmas {
            return bad("need 0 <= offset_sigmas <= onset_sigmas");
        }
        if self.offset_db > self.onset_db {
            return bad("offset_db must not exceed onset_db");
        }
        if !(0.0..=1.0).contains(&self.voicing_threshold) {
            return bad("voicing_threshold must be within 0..=1");
        }
        if [self.min_voiced_ms, self.pre_roll_ms, self.hangover_ms, self.merge_gap_ms, self.min_segment_ms]
            .iter()
            .any(|v| *v < 0.0)
        {
            return bad("durations must not be negative");
        }
        if self.max_segment_s <= 0.5 {
            return bad("max_segment_s must exceed 0.5 s");
        }
        if self.split_search_s < 0.0 || self.split_search_s >= self.max_segment_s {
            return bad("need 0 <= split_search_s < max_segment_s");
        }
        if self.min_segment_ms / 1000.0 * 2.0 >= self.max_segment_s {
            return bad("min_segment_ms must be well below max_segment_s");
        }
        if self.crosstalk_db < 0.0 {
            return bad("crosstalk_db must not be negative (0 disables the check)");
        }
        if !(0.5..=1.0).contains(&self.caller_uncertain_share) {
            return bad("caller_uncertain_share must be between 0.5 and 1");
        }
        if self.diarize_nuisance_dims > 16 {
            return bad("diarize_nuisance_dims must be at most 16 (the directions shipped)");
        }
        if self.diarize_iterations > 20 || self.diarize_encoder_iterations.is_some_and(|n| n > 20) {
            return bad("diarize_iterations and diarize_encoder_iterations must be at most 20");
        }
        if self.diarize_min_run_ms < 0.0 || self.diarize_switch_penalty < 0.0 || self.diarize_overlap_pause_db < 0.0 {
            return bad("diarize_min_run_ms, diarize_switch_penalty and diarize_overlap_pause_db must not be negative");
        }
        if self.diarize_chunk_s < 0.2 {
            return bad("diarize_chunk_s must be at least 0.2 s");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_parameters_without_newer_fields_still_load() {
        let mut old = serde_json::to_value(SegmentationParams::default()).unwrap();
        let map = old.as_object_mut().unwrap();
        map.remove("diarize_iterations");
        map.remove("diarize_overlap_pause_db");
        map.remove("diarize_encoder_iterations");
        map.insert("onset_db".into(), serde_json::json!(4.0));
        let back: SegmentationParams = serde_json::from_value(old).unwrap();
        assert_eq!(back.onset_db, 4.0);
        assert_eq!(back.diarize_iterations, 3);
        assert_eq!(back.diarize_overlap_pause_db, 20.0);
        assert_eq!(back.diarize_encoder_iterations, None);
    }
}
