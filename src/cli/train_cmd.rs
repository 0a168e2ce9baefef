//! `emotrace train`: train a model bundle on labelled clips (manifests), speaker-held-out
//! validation, checkpoints every epoch (rerun the same command to resume after an interruption).
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use clap::Args;

use crate::training::augment::AugmentConfig;
use crate::training::net::Branches;
use crate::training::job::{run_train_job, TrainJob};
use crate::training::loss::LossKind;
use crate::training::presets::preset;
use crate::training::trainer::SelectBy;
use crate::training::{TrainEvent, TrainOptions, ValSpeakers};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Manifest CSV(s): path,label_binary[,speaker][,corpus][,start_s,end_s]; label_binary is
    /// "negative" or "non-negative" (the model outputs P(non-negative)).
    #[arg(long, num_args = 1.., required_unless_present = "measure")]
    pub data: Vec<PathBuf>,
    /// Output bundle directory (written atomically at the end).
    #[arg(long, required_unless_present = "measure")]
    pub out: Option<PathBuf>,
    /// Start from this bundle (fine-tuning; its architecture is used); `default` = the built-in default model.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Model size: tiny|small|base|large.
    #[arg(long, default_value = "small")]
    pub config: String,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// AdamW learning rate (reference: 3e-5).
    #[arg(long, default_value_t = 3e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Clips per optimiser step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Validation speakers (comma-separated ids, `corpus/speaker` or bare speaker id).
    #[arg(long, value_delimiter = ',')]
    pub val_speakers: Vec<String>,
    /// Speakers left out of training and validation (held out for an evaluation), comma-separated
    /// `corpus/speaker` or bare ids.
    #[arg(long, value_delimiter = ',')]
    pub exclude_speakers: Vec<String>,
    /// Per-call centring (Whisper bundles): train with each speaker's mean encoder states
    /// subtracted, and write a bundle that subtracts each call's (see docs/model-card.md).
    #[arg(long)]
    pub per_call_centring: bool,
    /// Fit a statistics head (Whisper bundles): an L2-regularised logistic regression on every
    /// hidden state's mean and standard deviation over the clip, stacked with the fused head on
    /// the validation speakers (see docs/model-card.md). With --epochs 0 and --init, it is added
    /// to the starting model without training the rest.
    #[arg(long)]
    pub stats_head: bool,
    /// With --stats-head: centre each speaker's clip summaries on the speaker's mean in the fit,
    /// and write a bundle that centres each call's caller segments on the call's mean. Segments
    /// are then heard against their caller's own voice on the line; scores compare segments within
    /// a call, not calls (see docs/model-card.md).
    #[arg(long, requires = "stats_head")]
    pub stats_centring: bool,
    /// With --stats-head: project out this many directions along which the training speakers'
    /// mean summaries (each speaker and each augmented copy's recording conditions) differ most,
    /// before the fit (nuisance attribute projection; a fixed linear map folded into the head).
    #[arg(long, default_value_t = 0, requires = "stats_head")]
    pub stats_nuisance_dims: usize,
    /// With --stats-head: the statistics head alone decides; the fused head's logit gets weight 0
    /// in the stacking (measured with --stats-centring: see docs/model-card.md).
    #[arg(long, requires = "stats_head")]
    pub stats_alone: bool,
    /// With --stats-head: fit its weights on training summaries centred on each corpus's mean, so
    /// a corpus's recording and language colouring (and its share of negative clips) does not
    /// pass for emotion; scores stay absolute, comparable between calls (see docs/model-card.md).
    #[arg(long, requires = "stats_head", conflicts_with = "stats_centring")]
    pub stats_corpus_centred_fit: bool,
    /// With --stats-head: weigh every training speaker alike and, within each, each class half
    /// (instead of each class half overall), so that a speaker's or corpus's share of negative
    /// clips does not make its voice pass for emotion; scores stay absolute.
    #[arg(long, requires = "stats_head")]
    pub stats_speaker_balanced: bool,
    /// L2 weight of the statistics head's fit (on the mean loss over training clips).
    #[arg(long, default_value_t = 0.5)]
    pub stats_l2: f64,
    /// Name recorded in meta.json (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// A licence line to record in the bundle's meta.json (repeatable), e.g. a training corpus's.
    #[arg(long)]
    pub licence: Vec<String>,
    /// Do not fit Platt scaling on the validation speakers (by default it is fitted at the best
    /// epoch and folded into the classifier, so that p means what it says).
    #[arg(long)]
    pub no_calibration: bool,
    /// Keep prepared clips (frozen encoder outputs and features) in this folder and reuse them in
    /// later runs with the same clips and frozen encoders.
    #[arg(long)]
    pub feature_cache: Option<PathBuf>,
    /// Fraction of each corpus's speakers held out for validation (when --val-speakers is not given).
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Dropout before `fc` and before `classifier`.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    /// bce|focal.
    #[arg(long, default_value = "bce")]
    pub loss: String,
    #[arg(long, default_value_t = 2.0)]
    pub focal_gamma: f64,
    /// Do not weight the classes to contribute equally.
    #[arg(long)]
    pub no_class_weights: bool,
    /// Weight every training speaker alike in the head's loss and, within each speaker, each
    /// class half (instead of each class half overall), so that a speaker's or corpus's share of
    /// negative clips does not make its voice pass for emotion.
    #[arg(long, conflicts_with = "no_class_weights")]
    pub speaker_balanced: bool,
    /// Feed the LSTM raw MFCC39 during training too (by default it is standardised with the
    /// training set's statistics, folded into the LSTM weights when the bundle is written).
    #[arg(long)]
    pub no_mfcc_scaling: bool,
    /// Best-epoch criterion on the validation set: negative-f1 (reference), macro-f1, auc, or
    /// last (the last epoch; validation then only calibrates).
    #[arg(long, default_value = "negative-f1")]
    pub select_by: String,
    /// Augmented copies per training clip (speed, gain, telephone channel, noise).
    #[arg(long, default_value_t = 0)]
    pub augment_copies: usize,
    /// Freeze the randomly initialised pitch conv encoder as well and cache its output (the
    /// reference trains it; on a CPU it dominates a step's cost).
    #[arg(long)]
    pub freeze_pitch_encoder: bool,
    /// Branches feeding the classifier: the fused model, or an ablation (writes OUT/ablation.json
    /// with its validation metrics instead of a model bundle).
    #[arg(long, value_enum, default_value_t = Branches::Fused)]
    pub branches: Branches,
    /// Trim clips to a multiple of this many seconds (0 = off) and batch clips of equal length
    /// together: every batch then runs as one tensor batch, several times faster on a CPU.
    #[arg(long, default_value_t = 0.0)]
    pub length_grid: f64,
    /// Linear learning-rate warm-up over this many epochs.
    #[arg(long, default_value_t = 0)]
    pub warmup_epochs: usize,
    /// Cosine decay of the learning rate to 0 at the last epoch (after the warm-up).
    #[arg(long)]
    pub cosine: bool,
    /// Keep at most this many clips (seeded subsample), for quick experiments.
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Checkpoint directory (default: OUT.checkpoint next to the bundle).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Start over even when a checkpoint of this run exists.
    #[arg(long)]
    pub no_resume: bool,
    /// Replace an existing bundle at --out.
    #[arg(long)]
    pub force: bool,
    /// Only time one training step and one forward of --config at 10 s and 2 s, then exit.
    #[arg(long)]
    pub measure: bool,
}

fn measure(args: &TrainArgs) -> anyhow::Result<()> {
    let cfg = preset(&args.config)?;
    for (secs, frames) in [(10.0, 1001), (2.0, 1001), (2.0, 201)] {
        let t = crate::training::bench::measure(&cfg, secs, frames, args.batch, args.freeze_pitch_encoder, 3)?;
        let model = crate::model::bench::random_model(&cfg, &candle_core::Device::Cpu)?;
        let inference = crate::model::bench::time_forward(&model, &candle_core::Device::Cpu, 1, (secs * 16_000.0) as usize, 3)?;
        println!(
            "config {} clip {secs:.0} s, MFCC frames {frames}: train step (batch {}, fwd+bwd) {:.3} s; frozen conv encoder {:.4} s/clip; \
             training-graph forward {:.4} s/clip; inference forward (FusedModel, 1001 frames) {:.4} s/clip",
            args.config, t.batch, t.train_step_seconds, t.frozen_encoder_seconds, t.forward_seconds, inference.seconds_per_segment
        );
    }
    Ok(())
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.measure {
        return measure(&args);
    }
    let Some(out) = args.out.clone() else { bail!("--out is required") };
    if out.exists() && !args.force {
        bail!("{} already exists (pass --force to replace it)", out.display());
    }
    let config = preset(&args.config)?;
    let loss = match args.loss.as_str() {
        "bce" => LossKind::Bce,
        "focal" => LossKind::Focal { gamma: args.focal_gamma },
        other => bail!("unknown --loss {other:?} (bce, focal)"),
    };
    let checkpoint_dir = args.checkpoint_dir.clone().unwrap_or_else(|| crate::training::job::checkpoint_beside(&out));
    let mut options = TrainOptions {
        epochs: args.epochs,
        batch: args.batch,
        seed: args.seed,
        dropout: args.dropout,
        loss,
        class_weighting: !args.no_class_weights,
        speaker_balanced: args.speaker_balanced,
        mfcc_scaling: !args.no_mfcc_scaling,
        select_by: match args.select_by.as_str() {
            "negative-f1" => SelectBy::NegativeF1,
            "macro-f1" => SelectBy::MacroF1,
            "auc" => SelectBy::Auc,
            "last" => SelectBy::Last,
            other => bail!("unknown --select-by {other:?} (negative-f1, macro-f1, auc, last)"),
        },
        augment: AugmentConfig { copies: args.augment_copies, ..Default::default() },
        freeze_pitch_encoder: args.freeze_pitch_encoder,
        branches: args.branches,
        length_grid: (args.length_grid.max(0.0) * crate::features::SAMPLE_RATE as f64).round() as usize,
        warmup_epochs: args.warmup_epochs,
        cosine_decay: args.cosine,
        checkpoint_dir: Some(checkpoint_dir.clone()),
        feature_cache: args.feature_cache.clone(),
        resume: !args.no_resume,
        ..Default::default()
    };
    options.adamw.lr = args.lr;
    options.adamw.weight_decay = args.weight_decay;
    let val = if !args.val_speakers.is_empty() {
        ValSpeakers::Named(args.val_speakers.clone())
    } else if args.val_fraction > 0.0 {
        ValSpeakers::Fraction(args.val_fraction)
    } else {
        ValSpeakers::None
    };
    let job = TrainJob {
        manifests: args.data.clone(),
        out: out.clone(),
        init: args.init.clone(),
        config,
        config_name: args.config.clone(),
        options,
        val,
        exclude_speakers: args.exclude_speakers.clone(),
        calibrate: !args.no_calibration,
        per_call_centring: args.per_call_centring,
        stats_head: args.stats_head.then_some(crate::training::job::StatsHeadFit { l2: args.stats_l2, centring: args.stats_centring, nuisance_dims: args.stats_nuisance_dims, alone: args.stats_alone, corpus_centred_fit: args.stats_corpus_centred_fit, speaker_balanced: args.stats_speaker_balanced }),
        licences: args.licence.clone(),
        name: args.name.clone(),
        max_clips: args.max_clips,
        overwrite: args.force,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let (tx, rx) = std::sync::mpsc::channel::<TrainEvent>();
    let printer = std::thread::spawn(move || {
        for event in rx {
            match event {
                TrainEvent::Preparing { done, total } if done == total => eprintln!("prepared {total} clips"),
                TrainEvent::Resumed { epochs_done } => eprintln!("resuming after epoch {epochs_done} from the checkpoint"),
                TrainEvent::EpochFinished(r) => {
                    let val = r.val.as_ref().map_or(String::new(), |m| {
                        format!(
                            " | val loss {:.4} acc {:.3} F1(neg) {:.3} recall(neg) {:.3} macro-F1 {:.3}",
                            r.val_loss.unwrap_or(f64::NAN),
                            m.accuracy,
                            m.negative.f1,
                            m.negative.recall,
                            m.macro_f1
                        )
                    });
                    let auc = r.val_auc.map_or(String::new(), |a| format!(" AUC {a:.3}"));
                    eprintln!("epoch {:>3}: train loss {:.4}{val}{auc} ({:.0} s)", r.epoch, r.train_loss, r.seconds);
                }
                TrainEvent::Step { epoch, step, steps, loss } if step % 25 == 0 || step == steps => {
                    eprintln!("epoch {epoch:>3} step {step}/{steps}: batch loss {loss:.4}")
                }
                TrainEvent::Cancelled { epochs_done } => eprintln!("stopped after epoch {epochs_done}"),
                _ => {}
            }
        }
    });
    let cancel = AtomicBool::new(false);
    let result = run_train_job(&job, Some(&tx), &cancel).context("training failed");
    drop(tx);
    let _ = printer.join();
    let result = result?;
    if let Some(report) = &result.ablation_report {
        println!("wrote {} (ablation {:?}, best epoch {:?}, validation speakers {:?})", report.display(), args.branches, result.best_epoch, result.split.val_speakers);
        return Ok(());
    }
    match result.bundle {
        Some(meta) => println!(
            "wrote {} (best epoch {:?}, validation speakers {:?}, weights sha256 {})\ncheckpoint kept in {} (delete it once the bundle is accepted)",
            out.display(),
            result.best_epoch,
            result.split.val_speakers,
            meta.weights_sha256,
            checkpoint_dir.display()
        ),
        None => println!("training stopped; rerun the same command to resume from {}", checkpoint_dir.display()),
    }
    Ok(())
}

