//! The command-line interface: one subcommand per job, each a thin shell over the library.

mod bench_features;
mod bench_fine_tune;
mod features_cmd;
mod agreement_cmd;
mod fuzz_cmd;
mod analysis_args;
mod analyze_cmd;
mod batch_cmd;
mod bench_model;
mod bench_speaker_encoder;
mod cohort_cmd;
mod demo_cmd;
mod generate_assets_cmd;
mod eval_segments_cmd;
mod export_model_cmd;
mod import_model_cmd;
mod import_speaker_encoder_cmd;
mod info_cmd;
mod make_call_cmd;
mod score_cmd;
mod segment_cmd;
mod train_cmd;
mod train_nuisance_cmd;
mod train_voiceprint_cmd;
mod eval_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// emotrace reviews recorded psychological-support hotline calls: it splits a call into caller
/// utterances, scores each with a speech-emotion model and draws the call's emotional trajectory
/// with its negative-segment count (NSS) and emotion change rate (ECR).
///
/// Run without a subcommand to open the review window. Everything runs on this machine: no
/// audio or result ever leaves it.
#[derive(Debug, Parser)]
#[command(name = "emotrace", version, about, long_about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A call recording to open in the review window.
    pub file: Option<PathBuf>,

    /// Write outputs group-readable (files 0640, folders 0750, as the umask allows) instead of
    /// owner-only 0600/0700, for shared research folders: anyone in the folder's group can then
    /// read call-derived data. Also EMOTRACE_SHARED_FILES=1.
    #[arg(long, global = true)]
    pub shared_output: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a recording: container, codec, sample rate, channels, duration measured from the
    /// decoded samples, and packets that failed to decode.
    Info(info_cmd::InfoArgs),
    /// Write the model's hand-crafted inputs (MFCC39, pitch track, normalised audio) as .npy
    /// files for one window (default the first 10 s) or, with --windows, every 10-s window.
    Features(features_cmd::FeaturesArgs),
    /// Time pipeline stages on a long synthetic call (e.g. `bench features --minutes 45`).
    Bench(bench_features::BenchArgs),
    /// Analyse one call: segment it, score every caller segment, and write segments.csv,
    /// summary.csv (NSS/ECR for the assessment stage and the full call), trajectory.png/.svg and
    /// report.json (provenance).
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Analyse many calls listed in a manifest (call_id,path[,group][,score]): one analyze output
    /// per call, calls.csv (a row per call and stage) and failures.csv; resumable and shardable.
    Batch(batch_cmd::BatchArgs),
    /// Split a call into utterances and mark the caller's (segments CSV).
    Segment(segment_cmd::SegmentArgs),
    /// Build a synthetic call with ground truth from the labelled corpora.
    MakeCall(make_call_cmd::MakeCallArgs),
    /// Score segments against ground truth: boundary F1, IoU, diarization error rate.
    EvalSegments(eval_segments_cmd::EvalSegmentsArgs),
    /// Compare groups of analysed calls (the paper's Table VII): per group, stage and metric the
    /// mean with a 95% bootstrap interval and, for two groups, Welch's t-test p-value.
    Cohort(cohort_cmd::CohortArgs),
    /// Agreement between annotators' labels of a call: Cohen's kappa (two), Fleiss' kappa and
    /// Krippendorff's alpha, percent agreement and confusion matrices, with bootstrap 95% intervals,
    /// and the disagreeing segments (as a table, --csv and --json).
    Agreement(agreement_cmd::AgreementArgs),
    /// Build a model bundle from a Whisper folder (CTranslate2 or HF; fresh head), an HF wav2vec2
    /// directory (fresh head) or a fused checkpoint.
    ImportModel(import_model_cmd::ImportModelArgs),
    /// Write a built-in model as an ordinary bundle folder: `default`, or `default-centred` (its
    /// statistics head centred on each call; use with `analyze --model DIR [--centre-on ...]`).
    ExportModel(export_model_cmd::ExportModelArgs),
    /// Install another pretrained speaker encoder for mono diarization in place of the built-in
    /// CAM++: a CAM++ checkpoint (3D-Speaker's campplus_*.pt) or GE2E (Resemblyzer's
    /// pretrained.pt).
    ImportSpeakerEncoder(import_speaker_encoder_cmd::ImportSpeakerEncoderArgs),
    /// Score audio files with a model bundle, each file as one segment: CSV file,logit,p_nonnegative
    /// (p = P(non-negative)) or JSON.
    Score(score_cmd::ScoreArgs),
    /// Train a model bundle on labelled clips (speaker-held-out validation, resumable).
    Train(train_cmd::TrainArgs),
    /// Rebuild the diarizer's voiceprint projection from synthetic calls of the labelled
    /// corpora (developers: the shipped one is models/diarization/voiceprint.json).
    TrainVoiceprint(train_voiceprint_cmd::TrainVoiceprintArgs),
    /// Rebuild the built-in speaker encoder's nuisance directions (how one voice's embeddings
    /// vary) from synthetic calls of the labelled corpora (developers: the shipped ones are
    /// models/speaker_encoder/nuisance.json).
    TrainEncoderNuisance(train_nuisance_cmd::TrainNuisanceArgs),
    /// Measure a model bundle on labelled clips: negative-class and macro metrics, per speaker.
    Eval(eval_cmd::EvalArgs),
    /// Open the review window on the demo call shipped with emotrace (a 4-minute telephone call of
    /// acted speech with known labels), written to the data folder on first use.
    Demo(demo_cmd::DemoArgs),
    /// Write the man pages and shell completions (packaging).
    #[command(hide = true)]
    GenerateAssets(generate_assets_cmd::GenerateAssetsArgs),
    /// Developers: throw N mutated recordings at the whole pipeline (info, decode, segmentation,
    /// features, scoring with a tiny random model) and count outcomes; failing cases are saved.
    Fuzz(fuzz_cmd::FuzzArgs),
    #[command(hide = true)]
    LabelStress(fuzz_cmd::LabelStressArgs),
    /// Open the review window (the same as running emotrace without a subcommand).
    Gui {
        /// A call recording to open.
        file: Option<PathBuf>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.shared_output {
        crate::fsutil::set_shared_files(true);
    }
    match cli.command {
        Some(Command::Info(args)) => info_cmd::run(args),
        Some(Command::Features(args)) => features_cmd::run(args),
        Some(Command::Bench(args)) => bench_features::run(args),
        Some(Command::Analyze(args)) => analyze_cmd::run(args),
        Some(Command::Batch(args)) => batch_cmd::run(args),
        Some(Command::Segment(args)) => segment_cmd::run(args),
        Some(Command::MakeCall(args)) => make_call_cmd::run(args),
        Some(Command::EvalSegments(args)) => eval_segments_cmd::run(args),
        Some(Command::Cohort(args)) => cohort_cmd::run(args),
        Some(Command::Agreement(args)) => agreement_cmd::run(args),
        Some(Command::ImportModel(args)) => import_model_cmd::run(args),
        Some(Command::ExportModel(args)) => export_model_cmd::run(args),
        Some(Command::ImportSpeakerEncoder(args)) => import_speaker_encoder_cmd::run(args),
        Some(Command::Score(args)) => score_cmd::run(args),
        Some(Command::Train(args)) => train_cmd::run(args),
        Some(Command::Eval(args)) => eval_cmd::run(args),
        Some(Command::TrainVoiceprint(args)) => train_voiceprint_cmd::run(args),
        Some(Command::TrainEncoderNuisance(args)) => train_nuisance_cmd::run(args),
        Some(Command::Demo(args)) => demo_cmd::run(args),
        Some(Command::GenerateAssets(args)) => generate_assets_cmd::run(args),
        Some(Command::Fuzz(args)) => fuzz_cmd::run(args),
        Some(Command::LabelStress(args)) => fuzz_cmd::label_stress(args),
        Some(Command::Gui { file }) => crate::gui::run(file),
        None => crate::gui::run(cli.file),
    }
}
