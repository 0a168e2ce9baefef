//! `emotrace make-call`: a synthetic call with ground truth from the labelled corpora.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::synth::{locate_shared_data, write_call, CallSpec};

#[derive(Debug, Args)]
pub struct MakeCallArgs {
    /// Output audio (16-bit PCM WAV; 8 kHz after the μ-law round trip with --telephony).
    #[arg(long)]
    pub out: PathBuf,
    /// Output truth CSV: start_s,end_s,speaker,corpus,emotion,label_binary,source_path,channel.
    #[arg(long)]
    pub truth: PathBuf,
    /// Also write the audible truth (same columns): each utterance cut to the stretch whose
    /// 10-ms frames are louder than the call's noise, as a listener would mark it; utterances
    /// buried in the noise are left out.
    #[arg(long)]
    pub audible_truth: Option<PathBuf>,
    /// Folder with <corpus>/manifest.csv (default: $EMOTRACE_SHARED_DATA, ../shared/data,
    /// /work/shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Corpus of the caller (casia, emodb, ravdess, turev-db).
    #[arg(long, default_value = "casia")]
    pub corpus: String,
    /// Corpus of the operator (default: the caller's).
    #[arg(long)]
    pub operator_corpus: Option<String>,
    /// Caller speaker id (default: chosen by --seed).
    #[arg(long)]
    pub caller_speaker: Option<String>,
    /// Operator speaker id (default: chosen by --seed, different from the caller).
    #[arg(long)]
    pub operator_speaker: Option<String>,
    /// Call length in minutes.
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// Random seed: the same seed and options give the same call.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fixed SNR in dB (default: uniform in [--snr-min, --snr-max]).
    #[arg(long, allow_negative_numbers = true)]
    pub snr: Option<f64>,
    #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
    pub snr_min: f64,
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub snr_max: f64,
    /// Probability that a turn overlaps the previous one.
    #[arg(long, default_value_t = 0.1)]
    pub overlap_probability: f64,
    /// Simulate a telephone line: 300-3400 Hz band-pass, 8 kHz, μ-law round trip.
    #[arg(long)]
    pub telephony: bool,
    /// Mix both parties into one channel (default: stereo, one party per channel).
    #[arg(long)]
    pub mono: bool,
    /// Stereo: the caller's channel, left or right (default: chosen by --seed).
    #[arg(long)]
    pub caller_channel: Option<String>,
    /// Comma-separated emotions the operator's utterances are drawn from ("" = any).
    #[arg(long, default_value = "neutral,calm")]
    pub operator_emotions: String,
    /// With --telephony: send the operator's voice through the 300-3400 Hz line too (default:
    /// only the caller is heard through the phone network; the operator's headset is local).
    #[arg(long)]
    pub operator_via_line: bool,
    /// Stereo: leak each party into the other channel this many dB down (echo/crosstalk).
    #[arg(long)]
    pub crosstalk_db: Option<f64>,
    /// The caller's emotional arc: stages separated by ';', each a comma-separated list of
    /// emotions, spread evenly over the call (e.g. "sadness,fear;sadness,neutral;neutral,happiness");
    /// default: any emotion throughout.
    #[arg(long, default_value = "")]
    pub caller_arc: String,
}

pub fn run(args: MakeCallArgs) -> anyhow::Result<()> {
    let data_root = match args.data {
        Some(d) => d,
        None => locate_shared_data(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .context("no corpus data found: pass --data or set EMOTRACE_SHARED_DATA")?,
    };
    let caller_channel = match args.caller_channel.as_deref() {
        None => None,
        Some("left") => Some(0),
        Some("right") => Some(1),
        Some(other) => anyhow::bail!("--caller-channel must be left or right, not '{other}'"),
    };
    let spec = CallSpec {
        data_root,
        corpus: args.corpus,
        operator_corpus: args.operator_corpus,
        caller_speaker: args.caller_speaker,
        operator_speaker: args.operator_speaker,
        minutes: args.minutes,
        seed: args.seed,
        snr_db: args.snr,
        snr_range_db: (args.snr_min, args.snr_max),
        overlap_probability: args.overlap_probability,
        telephony: args.telephony,
        stereo: !args.mono,
        caller_channel,
        operator_emotions: args
            .operator_emotions
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        caller_via_line: !args.operator_via_line,
        crosstalk_db: args.crosstalk_db,
        caller_stages: args
            .caller_arc
            .split(';')
            .map(|stage| stage.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect::<Vec<_>>())
            .filter(|stage| !stage.is_empty())
            .collect(),
    };
    let call = write_call(&spec, &args.out, &args.truth, args.audible_truth.as_deref())?;
    let caller_n = call.truth.iter().filter(|t| t.speaker == "caller").count();
    let caller_ch = call.truth.iter().find(|t| t.speaker == "caller").map_or(0, |t| t.channel);
    eprintln!(
        "{}: {:.1} min, {} Hz, {} channel(s), caller {} ({} utterances{}), operator {}, SNR {:.1} dB; truth -> {}",
        args.out.display(),
        spec.minutes,
        call.sample_rate,
        call.channels.len(),
        call.caller_speaker,
        caller_n,
        if spec.stereo { format!(", channel {}", if caller_ch == 0 { "left" } else { "right" }) } else { String::new() },
        call.operator_speaker,
        call.snr_db,
        args.truth.display()
    );
    Ok(())
}
