//! End-to-end jobs shared by the CLI and the GUI: train a bundle from manifests, evaluate a
//! bundle on manifests.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::augment::augment;
use super::cache::RawExample;
use super::dataset::{load_clips, read_manifests, split_by_speaker, subsample, LabelledClip, SpeakerSplit, ValSpeakers};
use super::metrics::{binary_metrics, bootstrap_intervals, per_speaker, BinaryMetrics, BootstrapIntervals, SpeakerRow};
use super::trainer::{EpochRecord, TrainEvent, TrainOptions, Trainer};
use super::TrainingError;
use crate::model::bundle::{self, BundleMeta};
use crate::model::scoring::{centring_offset, logits_from_parts, score_segments, segment_parts, sigmoid, SegmentInput};
use crate::model::FusedConfig;
use crate::synth::rng::Rng;

#[derive(Debug, Clone)]
pub struct TrainJob {
    pub manifests: Vec<PathBuf>,
    pub out: PathBuf,
    /// Bundle to start from (fine-tuning); its config wins over `config`.
    pub init: Option<PathBuf>,
    pub config: FusedConfig,
    /// Name of the preset `config` came from (recorded in meta.json).
    pub config_name: String,
    pub options: TrainOptions,
    pub val: ValSpeakers,
    /// Speakers left out of training and validation altogether (`corpus/speaker` or a bare id):
    /// held out for an evaluation.
    pub exclude_speakers: Vec<String>,
    /// Fit Platt scaling on the validation speakers' logits at the best epoch and fold it into
    /// the classifier (needs validation speakers).
    pub calibrate: bool,
    /// Turn per-call centring on in the (Whisper) model's config.
    pub per_call_centring: bool,
    /// Fit a statistics head (Whisper) after training and stack it with the fused head on the
    /// validation speakers (`None`: no new statistics head).
    pub stats_head: Option<StatsHeadFit>,
    /// Licence lines for meta.json beyond the starting bundle's (e.g. the training data's).
    pub licences: Vec<String>,
    /// meta.json's name (`None`: the output folder's name).
    pub name: Option<String>,
    /// Keep at most this many clips (seeded subsample) for short experiments.
    pub max_clips: Option<usize>,
    pub overwrite: bool,
    /// The command line, recorded for reproducibility.
    pub command: String,
}

/// How `train --stats-head` fits the statistics head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsHeadFit {
    /// L2 weight on the mean loss over training clips.
    pub l2: f64,
    /// Centre each speaker's clip summaries on the speaker's mean (and each call's, in the bundle).
    pub centring: bool,
    /// Project out this many directions along which the training speakers' (and recording
    /// conditions') mean summaries differ most (0: none); see `stats_fit::Nuisance`.
    pub nuisance_dims: usize,
    /// The statistics head alone: the fused head's logit gets weight 0 in the stacking (it still
    /// runs, and fine-tuning can give it weight again).
    pub alone: bool,
    /// Fit the weights on training summaries centred on their corpus's mean (the corpus is the
    /// speaker key's `corpus/` part): each corpus's recording and language colouring, and its
    /// share of negative clips, no longer pass for emotion. Scoring is unchanged (absolute): the
    /// stacking on the validation speakers sets the intercept on raw summaries.
    pub corpus_centred_fit: bool,
    /// Weight every training speaker alike and, within each speaker, each class half (instead
    /// of each class half overall): a speaker's or corpus's share of negative clips, and with it
    /// its voice or recording colouring, no longer pass for emotion. Scores stay absolute.
    pub speaker_balanced: bool,
}

pub struct TrainJobResult {
    /// `None` when cancelled: the checkpoint stays the resume point and no bundle is written.
    pub bundle: Option<BundleMeta>,
    pub history: Vec<EpochRecord>,
    pub best_epoch: Option<usize>,
    pub split: SpeakerSplit,
    /// An ablation run writes its validation record here instead of a bundle.
    pub ablation_report: Option<PathBuf>,
    /// The validation clips (`split.val`): never trained on, so a comparison of the starting
    /// model and the new one can score them.
    pub held_out: Vec<LabelledClip>,
}

/// What an ablation run (`TrainOptions::branches` other than fused) records.
#[derive(Serialize)]
struct AblationReport<'a> {
    branches: super::net::Branches,
    best_epoch: Option<usize>,
    validation_at_best_epoch: Option<&'a BinaryMetrics>,
    /// ROC AUC of the selected epoch on the validation clips, with 95% bootstrap intervals (and
    /// those of accuracy and F1; uncalibrated p, threshold 0.5).
    validation_auc: Option<f64>,
    validation_intervals: BootstrapIntervals,
    validation_speakers: &'a [String],
    history: &'a [EpochRecord],
    options: &'a TrainOptions,
    command: &'a str,
}

#[derive(Serialize)]
struct Fingerprint<'a> {
    config: &'a FusedConfig,
    seed: u64,
    batch: usize,
    adamw: &'a super::optim::AdamWParams,
    dropout: f32,
    loss: &'a super::loss::LossKind,
    class_weighting: bool,
    /// Absent when off, so earlier runs' checkpoints still match.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    speaker_balanced: bool,
    augment: &'a super::augment::AugmentConfig,
    clips: Vec<(String, u8, &'a str)>,
    val_speakers: &'a [String],
    init: Option<String>,
    mfcc_scaling: bool,
    select_by: super::trainer::SelectBy,
    freeze_pitch_encoder: bool,
    branches: super::net::Branches,
    length_grid: usize,
    warmup_epochs: usize,
    cosine_decay: bool,
    epochs: Option<usize>,
}

/// What a clip is, independent of its position in the data: its file, span and channel.
/// The clip's key in the feature cache: its file's canonical path (one file, one key, however the
/// path was written or wherever the command runs from), span and channel.
fn clip_identity(clip: &LabelledClip) -> String {
    let path = std::fs::canonicalize(&clip.path).unwrap_or_else(|_| clip.path.clone());
    format!("{}|{:?}|{:?}|{:?}", path.display(), clip.start_s, clip.end_s, clip.channel)
}

fn hash_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A seed for the clip's `copy`-th augmentation: from the clip's name in its manifest, so the same
/// clip gets the same augmentation whichever other clips a run holds (held-out folds share the
/// cache), wherever the data lie and whichever way their path is written.
fn augmentation_seed(seed: u64, clip: &LabelledClip, copy: usize) -> u64 {
    let name = format!("{}|{:?}|{:?}|{:?}", clip.name, clip.start_s, clip.end_s, clip.channel);
    let digest = hash_hex(&[&name, &copy.to_string()]);
    let prefix = u64::from_str_radix(&digest[..16], 16).unwrap_or(0);
    seed ^ prefix
}

/// Drops the clips of `excluded` speakers (`corpus/speaker`, or an id matching any corpus).
pub fn exclude_speakers(clips: Vec<LabelledClip>, excluded: &[String]) -> Result<Vec<LabelledClip>, TrainingError> {
    select_speakers(clips, excluded, false, "excluded speaker")
}

/// Keeps (`keep`) or drops the clips of the speakers `names` (`corpus/speaker` or a bare id);
/// every name must match a clip. Nothing changes when `names` is empty.
fn select_speakers(clips: Vec<LabelledClip>, names: &[String], keep: bool, what: &str) -> Result<Vec<LabelledClip>, TrainingError> {
    if names.is_empty() {
        return Ok(clips);
    }
    let matches = |speaker: &str, name: &str| speaker == name || speaker.split_once('/').is_some_and(|(_, id)| id == name);
    for name in names {
        if !clips.iter().any(|c| matches(&c.speaker, name)) {
            return Err(TrainingError::Dataset(format!("{what} {name:?} is not in the data")));
        }
    }
    Ok(clips.into_iter().filter(|c| names.iter().any(|name| matches(&c.speaker, name)) == keep).collect())
}

/// `OUT.checkpoint` beside the bundle `out`: where a run's epochs are kept for resuming.
pub fn checkpoint_beside(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".checkpoint");
    out.with_file_name(name)
}

/// The fine-tuning the window starts on annotators' labels files, for `epochs` epochs from the
/// bundle `init` (`None`: the built-in default model): for a wav2vec2 model the reference recipe
/// ([`TrainOptions::default`]); for a Whisper model the head alone on cached encoder states (the
/// encoder and pitch conv stack frozen). A fifth of the labelled speakers (each a call's party)
/// is held out for validation (and the calibration) when there are two or more, otherwise a
/// fifth of each label's segments ([`ValSpeakers::SpeakersOrSegments`]), and checkpoints
/// beside `out` let a stopped run resume.
pub fn fine_tune_job(manifests: Vec<PathBuf>, init: Option<PathBuf>, out: PathBuf, epochs: usize) -> Result<TrainJob, TrainingError> {
    let starting_config = match &init {
        Some(dir) if !is_default_init(dir) => bundle::read_bundle(dir)?.config,
        _ => crate::model::default_model::default_bundle()?.config,
    };
    // The starting model's LSTM already takes raw MFCC39 (its standardisation was folded into the
    // weights when it was written); standardising again would change its function.
    let mut options =
        TrainOptions { epochs, checkpoint_dir: Some(checkpoint_beside(&out)), mfcc_scaling: false, ..TrainOptions::default() };
    if starting_config.whisper_branch().is_some() {
        // The Whisper head on cached encoder states (the default model's own recipe, gentler):
        // minutes, not hours, for a few hundred segments on a CPU.
        options.freeze_pitch_encoder = true;
        options.length_grid = (0.25 * crate::features::SAMPLE_RATE as f64) as usize;
        options.adamw.lr = 3e-4;
        options.batch = 16;
        options.dropout = 0.3;
        options.select_by = super::trainer::SelectBy::Auc;
    }
    Ok(TrainJob {
        command: format!(
            "fine-tuning in the window: {} epochs from {} on {}",
            epochs,
            init.as_ref().map_or("the built-in default model".to_string(), |p| p.display().to_string()),
            manifests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
        manifests,
        out,
        init: Some(init.unwrap_or_else(|| PathBuf::from("default"))),
        // The starting model's config wins; this one is only recorded.
        config: starting_config,
        config_name: "fine-tune".to_string(),
        options,
        val: ValSpeakers::SpeakersOrSegments(0.2),
        exclude_speakers: Vec::new(),
        calibrate: true,
        per_call_centring: false,
        stats_head: None,
        licences: Vec::new(),
        name: None,
        max_clips: None,
        overwrite: false,
    })
}

/// `--init default` (when no folder of that name exists) means the built-in default model.
pub fn is_default_init(path: &Path) -> bool {
    path == Path::new("default") && !path.exists()
}

/// Runs a whole training job: data, split, preparation, training with checkpoints, bundle.
pub fn run_train_job(job: &TrainJob, events: Option<&Sender<TrainEvent>>, cancel: &AtomicBool) -> Result<TrainJobResult, TrainingError> {
    let opts = &job.options;
    let mut clips = exclude_speakers(read_manifests(&job.manifests)?, &job.exclude_speakers)?;
    if let Some(max) = job.max_clips {
        clips = subsample(clips, max, opts.seed);
    }
    let split = split_by_speaker(&clips, &job.val, opts.seed)?;
    let (mut config, init, init_dtypes, init_licences) = match &job.init {
        Some(dir) if is_default_init(dir) => {
            // Loading checks the hash, every name and shape.
            let (_, b) = crate::model::default_model::load_default(&Device::Cpu)?;
            let tensors = crate::model::default_model::default_tensors()?;
            (b.config, Some(tensors), crate::model::default_model::default_dtypes()?, b.meta.licences)
        }
        Some(dir) => {
            let (_, b) = bundle::load_bundle(dir, &Device::Cpu)?;
            let path = dir.join(bundle::WEIGHTS_FILE);
            let bytes = std::fs::read(&path).map_err(|e| TrainingError::io(&path, e))?;
            let dtypes = crate::model::weights::stored_dtypes(&bytes)?;
            let tensors = crate::model::weights::read_safetensors(&path)?;
            (b.config, Some(tensors), dtypes, b.meta.licences)
        }
        None => (job.config.clone(), None, HashMap::new(), Vec::new()),
    };
    if job.per_call_centring {
        match config.whisper.as_mut() {
            Some(w) if config.backbone == crate::model::config::Backbone::Whisper => w.per_call_centring = true,
            _ => return Err(TrainingError::Config("per-call centring needs a Whisper bundle (--init)".into())),
        }
    }
    if job.stats_head.is_some() {
        // Refused before any training, not after it.
        match config.whisper_branch() {
            None => return Err(TrainingError::Config("a statistics head needs a Whisper bundle (--init)".into())),
            Some(w) if w.stats_head => return Err(TrainingError::Config("the starting model already has a statistics head".into())),
            Some(w) if w.per_call_centring => {
                return Err(TrainingError::Config("the statistics head does not combine with per-call centring".into()))
            }
            Some(_) => {}
        }
    }
    if job.stats_head.is_some_and(|f| f.centring) && job.per_call_centring {
        return Err(TrainingError::Config("the statistics head does not combine with per-call centring".into()));
    }
    let device = Device::Cpu;
    let mut trainer = Trainer::new(config.clone(), init, opts.clone(), &device)?;
    let frozen = trainer.frozen_digest()?;

    // Every example's cache key; only clips with an example missing from the feature cache are
    // decoded (and augmented) at all.
    let recipe = serde_json::to_string(&opts.augment).unwrap_or_default();
    let clean_key = |i: usize| hash_hex(&[&frozen, &clip_identity(&clips[i]), "clean"]);
    let copy_key = |i: usize, k: usize| {
        let seed = augmentation_seed(opts.seed, &clips[i], k);
        (seed, hash_hex(&[&frozen, &clip_identity(&clips[i]), &format!("augment {k} {seed} {recipe}")]))
    };
    let cached = |key: &str| opts.feature_cache.as_deref().is_some_and(|dir| super::cache::FeatureCache { dir }.contains(key));
    let mut needed = vec![false; clips.len()];
    for &i in &split.train {
        needed[i] = !cached(&clean_key(i)) || (0..opts.augment.copies).any(|k| !cached(&copy_key(i, k).1));
    }
    for &i in &split.val {
        needed[i] = !cached(&clean_key(i));
    }
    let to_decode: Vec<usize> = (0..clips.len()).filter(|&i| needed[i]).collect();
    let decoded = load_clips(&to_decode.iter().map(|&i| clips[i].clone()).collect::<Vec<_>>())?;
    let mut audio: Vec<Vec<f32>> = vec![Vec::new(); clips.len()];
    for (i, samples) in to_decode.into_iter().zip(decoded) {
        audio[i] = samples;
    }
    let example = |i: usize, samples: Vec<f32>, group: String, key: String| RawExample {
        samples,
        label: clips[i].label,
        speaker: clips[i].speaker.clone(),
        source: i,
        group,
        cache_key: Some(key),
    };
    let mut train_raw: Vec<RawExample> =
        split.train.iter().map(|&i| example(i, audio[i].clone(), clips[i].speaker.clone(), clean_key(i))).collect();
    if opts.augment.copies > 0 {
        let copies: Vec<RawExample> = split
            .train
            .par_iter()
            .flat_map_iter(|&i| (0..opts.augment.copies).map(move |k| (i, k)))
            .map(|(i, k)| {
                let (seed, key) = copy_key(i, k);
                let samples = if cached(&key) { Vec::new() } else { augment(&audio[i], &opts.augment, &mut Rng::new(seed))? };
                Ok(example(i, samples, format!("{}#copy{k}", clips[i].speaker), key))
            })
            .collect::<Result<_, TrainingError>>()?;
        train_raw.extend(copies);
    }
    let val_raw: Vec<RawExample> =
        split.val.iter().map(|&i| example(i, audio[i].clone(), clips[i].speaker.clone(), clean_key(i))).collect();
    drop(audio);
    let train = trainer.prepare(train_raw, events)?;
    let val = trainer.prepare(val_raw, events)?;
    // Zero epochs keeps the starting model's function, whose LSTM takes raw MFCC39.
    let scaling = if opts.mfcc_scaling && opts.epochs > 0 { Some(super::net::MfccScaling::fit(&train)?) } else { None };
    trainer.set_mfcc_scaling(scaling.clone());
    if config.whisper_branch().is_some_and(|w| w.per_call_centring) {
        // Over training and validation together: a call's segments may fall in both.
        let all: Vec<_> = train.iter().chain(&val).cloned().collect();
        trainer.set_group_means(Some(super::cache::group_state_means(&all)?));
    }
    // A starting model whose statistics head is centred per call (its head stays frozen).
    trainer.set_stats_offsets(&[&train, &val])?;

    let fingerprint = Fingerprint {
        config: &config,
        seed: opts.seed,
        batch: opts.batch,
        adamw: &opts.adamw,
        dropout: opts.dropout,
        loss: &opts.loss,
        class_weighting: opts.class_weighting,
        speaker_balanced: opts.speaker_balanced,
        augment: &opts.augment,
        clips: clips.iter().map(|c| (c.path.display().to_string(), c.label, c.speaker.as_str())).collect(),
        val_speakers: &split.val_speakers,
        init: job.init.as_ref().map(|p| p.display().to_string()),
        mfcc_scaling: opts.mfcc_scaling,
        select_by: opts.select_by,
        freeze_pitch_encoder: opts.freeze_pitch_encoder,
        branches: opts.branches,
        length_grid: opts.length_grid,
        warmup_epochs: opts.warmup_epochs,
        cosine_decay: opts.cosine_decay,
        // The schedule depends on the epoch count only when it decays.
        epochs: opts.cosine_decay.then_some(opts.epochs),
    };
    let text = serde_json::to_string(&fingerprint).map_err(|e| TrainingError::Config(e.to_string()))?;
    let digest: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();

    let outcome = trainer.run(&train, &val, &digest, events, cancel)?;
    let held_out: Vec<LabelledClip> = split.val.iter().map(|&i| clips[i].clone()).collect();
    if !outcome.completed {
        return Ok(TrainJobResult { bundle: None, history: outcome.history, best_epoch: outcome.best_epoch, split, ablation_report: None, held_out });
    }
    if opts.branches != super::net::Branches::Fused {
        let best = outcome.best_epoch.and_then(|e| outcome.history.get(e - 1)).and_then(|r| r.val.as_ref());
        let probs: Vec<f32> = outcome.best_val_logits.iter().map(|&l| sigmoid(l)).collect();
        let labels: Vec<u8> = val.iter().map(|e| e.label).collect();
        let report = AblationReport {
            branches: opts.branches,
            best_epoch: outcome.best_epoch,
            validation_at_best_epoch: best,
            validation_auc: super::calibration::roc_auc(&probs, &labels),
            validation_intervals: bootstrap_intervals(&probs, &labels, 2000, 0),
            validation_speakers: &split.val_speakers,
            history: &outcome.history,
            options: opts,
            command: &job.command,
        };
        let text = serde_json::to_vec_pretty(&report).map_err(|e| TrainingError::Config(e.to_string()))?;
        crate::fsutil::create_private_dir_all(&job.out).map_err(|e| TrainingError::io(&job.out, e))?;
        let path = job.out.join("ablation.json");
        crate::fsutil::atomic_write(&path, &text).map_err(|e| TrainingError::io(&path, e))?;
        return Ok(TrainJobResult { bundle: None, history: outcome.history, best_epoch: outcome.best_epoch, split, ablation_report: Some(path), held_out });
    }
    let n_neg = |idx: &[usize]| idx.iter().filter(|&&i| clips[i].label == 0).count();
    let training_data = format!(
        "{} clips from {} ({} train clips of {} speakers, {} negative; {} validation clips of speakers {:?}, {} negative); \
         {} augmented copies per training clip",
        clips.len(),
        job.manifests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        split.train.len(),
        split.train.iter().map(|&i| clips[i].speaker.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
        n_neg(&split.train),
        split.val.len(),
        split.val_speakers,
        n_neg(&split.val),
        opts.augment.copies
    );
    let name = job.name.clone().unwrap_or_else(|| job.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()));
    let mut meta = BundleMeta::new(&name, &training_data, "trained by emotrace train", false);
    meta.licences = init_licences;
    meta.licences.extend(job.licences.iter().cloned());
    let best = outcome.best_epoch.and_then(|e| outcome.history.get(e - 1));
    let json = |v: &dyn erased::Ser| v.to_value();
    meta.metrics.insert("best_epoch".into(), serde_json::json!(outcome.best_epoch));
    meta.metrics.insert("validation_at_best_epoch".into(), json(&best.and_then(|r| r.val.clone())));
    meta.metrics.insert("history".into(), json(&outcome.history));
    meta.metrics.insert("validation_speakers".into(), json(&split.val_speakers));
    meta.metrics.insert("config_preset".into(), serde_json::json!(job.config_name));
    meta.metrics.insert("options".into(), json(opts));
    meta.metrics.insert("command".into(), serde_json::json!(job.command));
    meta.metrics.insert("run_fingerprint".into(), serde_json::json!(digest));
    let mut tensors = trainer.export(outcome.best_tensors)?;
    if let Some(fit) = job.stats_head {
        let record = fit_stats_head(&train, &val, &outcome.best_val_logits, fit, opts.class_weighting, &mut tensors)?;
        if let Some(w) = config.whisper.as_mut() {
            w.stats_head = true;
            w.stats_centring = fit.centring;
        }
        meta.metrics.insert("stats_head".into(), json(&record));
        if let Some(calibration) = &record.calibration {
            meta.metrics.insert("calibration".into(), json(calibration));
        }
    } else if job.calibrate {
        let labels: Vec<u8> = val.iter().map(|e| e.label).collect();
        match calibrate(&outcome.best_val_logits, &labels, &split.val_speakers) {
            Some(record) => {
                let scaling = super::calibration::PlattScaling { a: record.a, b: record.b };
                super::calibration::fold_into_classifier(&mut tensors, scaling)?;
                meta.metrics.insert("calibration".into(), json(&record));
            }
            None => {
                meta.metrics.insert("calibration".into(), serde_json::json!("not fitted: no validation clips of both classes"));
            }
        }
    }
    // Frozen weights go back in the precision they came in (e.g. Whisper's float16).
    for (name, dtype) in &init_dtypes {
        if let Some(t) = tensors.get_mut(name) {
            if Trainer::is_frozen(opts, name) && t.dtype() != *dtype {
                *t = t.to_dtype(*dtype)?;
            }
        }
    }
    let meta = bundle::write_bundle(&job.out, &config, &tensors, meta, job.overwrite)?;
    Ok(TrainJobResult { bundle: Some(meta), history: outcome.history, best_epoch: outcome.best_epoch, split, ablation_report: None, held_out })
}

/// What meta.json records of a statistics head's fit.
#[derive(Debug, Clone, Serialize)]
struct StatsHeadRecord {
    l2: f64,
    /// Summaries centred on their speaker's (group's) mean.
    centring: bool,
    /// Speaker/condition directions projected out of the summaries.
    nuisance_dims: usize,
    /// The fused head's logit weighted 0 (the statistics head alone).
    alone: bool,
    /// The weights fitted on summaries centred on their corpus's mean (scoring absolute).
    corpus_centred_fit: bool,
    /// Every training speaker weighed alike, each class half within it.
    speaker_balanced: bool,
    training_clips: usize,
    iterations: usize,
    gradient_norm: f64,
    /// `logit = fused * a + stats * b + c`, fitted on the validation clips (`None` without both
    /// classes there: then the two logits are averaged).
    stacking: Option<super::stats_fit::Stacking>,
    /// ROC AUC on the validation clips of the fused head alone, the statistics head alone, and both.
    validation_auc_fused: Option<f64>,
    validation_auc_stats: Option<f64>,
    validation_auc_stacked: Option<f64>,
    calibration: Option<super::calibration::CalibrationRecord>,
}

/// Fits the statistics head on the training clips' summaries, stacks it with the fused head's
/// validation logits (the stacking is also the calibration), and writes both into `tensors`.
fn fit_stats_head(
    train: &[super::cache::PreparedExample],
    val: &[super::cache::PreparedExample],
    fused_val_logits: &[f32],
    fit_options: StatsHeadFit,
    balanced: bool,
    tensors: &mut HashMap<String, candle_core::Tensor>,
) -> Result<StatsHeadRecord, TrainingError> {
    use super::calibration::{expected_calibration_error, roc_auc, CalibrationRecord, PlattScaling, ECE_BINS};
    use super::stats_fit::{centre_by_group, clip_statistics, fit_logistic_with, fit_stacking, Nuisance, Stacking};
    let StatsHeadFit { l2, centring, nuisance_dims, alone, corpus_centred_fit, speaker_balanced } = fit_options;
    let summaries = |examples: &[super::cache::PreparedExample]| -> Result<Vec<Vec<f32>>, TrainingError> {
        let mut rows = clip_statistics(examples)?;
        if centring {
            let groups: Vec<&str> = examples.iter().map(|e| e.group.as_str()).collect();
            centre_by_group(&mut rows, &groups);
        }
        Ok(rows)
    };
    let labels: Vec<u8> = train.iter().map(|e| e.label).collect();
    let groups: Vec<&str> = train.iter().map(|e| e.group.as_str()).collect();
    let nuisance = Nuisance { groups: &groups, dims: nuisance_dims };
    let mut train_rows = summaries(train)?;
    if corpus_centred_fit {
        let corpora: Vec<&str> = train.iter().map(|e| super::dataset::corpus_of(&e.speaker)).collect();
        centre_by_group(&mut train_rows, &corpora);
    }
    let speakers: Vec<&str> = train.iter().map(|e| e.speaker.as_str()).collect();
    let fit = fit_logistic_with(train_rows, &labels, l2, balanced, 3000, Some(nuisance), speaker_balanced.then_some(&speakers[..]))?;
    let val_labels: Vec<u8> = val.iter().map(|e| e.label).collect();
    let val_stats: Vec<f32> = summaries(val)?.iter().map(|x| fit.logit(x)).collect();
    let stacking = if alone {
        // One-input Platt scaling of the statistics head: the fused logit held at weight 0.
        fit_stacking(&vec![0.0; val_stats.len()], &val_stats, &val_labels).map(|s| Stacking { fused: 0.0, ..s })
    } else {
        fit_stacking(fused_val_logits, &val_stats, &val_labels)
    };
    let used = stacking.unwrap_or(Stacking { fused: 0.5, stats: 0.5, bias: 0.0 });
    super::calibration::fold_into_classifier(tensors, PlattScaling { a: used.fused, b: used.bias })?;
    tensors.extend(fit.tensors(used.stats)?);
    let probs = |logits: &mut dyn Iterator<Item = f32>| -> Vec<f32> { logits.map(sigmoid).collect() };
    let fused_probs = probs(&mut fused_val_logits.iter().copied());
    let stacked = probs(&mut fused_val_logits.iter().zip(&val_stats).map(|(&f, &s)| used.apply(f, s)));
    let calibration = stacking.map(|s| CalibrationRecord {
        method: "stacked with the statistics head (two-input Platt scaling)".into(),
        a: s.fused,
        b: s.bias,
        fitted_on: format!("{} validation clips", val.len()),
        clips: val.len(),
        ece_before: expected_calibration_error(&fused_probs, &val_labels, ECE_BINS),
        ece_after: expected_calibration_error(&stacked, &val_labels, ECE_BINS),
        bins: ECE_BINS,
    });
    Ok(StatsHeadRecord {
        l2,
        centring,
        nuisance_dims,
        alone,
        corpus_centred_fit,
        speaker_balanced,
        training_clips: train.len(),
        iterations: fit.iterations,
        gradient_norm: fit.gradient_norm,
        stacking,
        validation_auc_fused: roc_auc(&fused_probs, &val_labels),
        validation_auc_stats: roc_auc(&probs(&mut val_stats.iter().copied()), &val_labels),
        validation_auc_stacked: roc_auc(&stacked, &val_labels),
        calibration,
    })
}

/// Platt scaling fitted on the best epoch's validation logits, with the ECE before and after.
fn calibrate(logits: &[f32], labels: &[u8], speakers: &[String]) -> Option<super::calibration::CalibrationRecord> {
    use super::calibration::{expected_calibration_error, CalibrationRecord, PlattScaling, ECE_BINS};
    if logits.len() != labels.len() || !labels.contains(&0) || !labels.contains(&1) {
        return None;
    }
    let scaling = PlattScaling::fit(logits, labels);
    let probs = |f: &dyn Fn(f32) -> f32| -> Vec<f32> { logits.iter().map(|&l| sigmoid(f(l))).collect() };
    Some(CalibrationRecord {
        method: "platt".into(),
        a: scaling.a,
        b: scaling.b,
        fitted_on: format!("validation speakers {speakers:?} at the best epoch"),
        clips: logits.len(),
        ece_before: expected_calibration_error(&probs(&|l| l), labels, ECE_BINS),
        ece_after: expected_calibration_error(&probs(&|l| scaling.apply_logit(l)), labels, ECE_BINS),
        bins: ECE_BINS,
    })
}

mod erased {
    /// Serialises any value to JSON (null when it cannot be represented).
    pub trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prediction {
    pub path: String,
    pub speaker: String,
    /// 1 = non-negative, 0 = negative.
    pub label: u8,
    /// P(non-negative).
    pub p_non_negative: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub model: String,
    /// What was scored: clips, filters, the telephone line.
    pub data: String,
    pub overall: BinaryMetrics,
    /// ROC AUC of p for the non-negative class.
    pub auc: Option<f64>,
    /// Expected calibration error (10 equal-width bins) and the reliability table behind it.
    pub ece: f64,
    pub reliability: Vec<crate::training::calibration::ReliabilityBin>,
    /// 95% bootstrap intervals of the overall figures (2000 clip resamples, seed 0).
    pub intervals: BootstrapIntervals,
    /// The best constant prediction on the same clips (every clip called the majority class;
    /// its AUC is 0.5).
    pub constant: ConstantBaseline,
    pub per_speaker: Vec<SpeakerRow>,
    pub predictions: Vec<Prediction>,
}

/// What calling every clip one class scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConstantBaseline {
    /// "negative" or "non-negative": the majority class, whose constant scores best.
    pub predicts: String,
    pub metrics: BinaryMetrics,
}

/// Which clips `evaluate` scores and how.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Keep only these speakers (`corpus/speaker` or bare ids); empty: all.
    pub speakers: Vec<String>,
    /// Pass every clip through the telephone line model first (300-3400 Hz band-pass, 8 kHz,
    /// μ-law; `crate::synth::telephony`), as training's augmentation does.
    pub telephony: bool,
}

/// Keeps the clips of `speakers` (`corpus/speaker` or a bare id); all when empty.
pub fn only_speakers(clips: Vec<LabelledClip>, speakers: &[String]) -> Result<Vec<LabelledClip>, TrainingError> {
    select_speakers(clips, speakers, true, "speaker")
}

/// Scores every clip of the manifests with the bundle (the product's inference path) and
/// measures it. `progress(done, total)`.
/// `model_dir`: a bundle, or `None` for the built-in default model.
pub fn evaluate(
    model_dir: Option<&Path>,
    manifests: &[PathBuf],
    options: &EvalOptions,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<EvalReport, TrainingError> {
    let clips = only_speakers(read_manifests(manifests)?, &options.speakers)?;
    let (probs, b) = score_clips(model_dir, &clips, options.telephony, device, progress)?;
    let labels: Vec<u8> = clips.iter().map(|c| c.label).collect();
    let speakers: Vec<String> = clips.iter().map(|c| c.speaker.clone()).collect();
    let non_negative = labels.iter().filter(|&&l| l == 1).count();
    let majority_non_negative = 2 * non_negative > labels.len();
    let constant_p = if majority_non_negative { 1.0 } else { 0.0 };
    use crate::training::calibration::{expected_calibration_error, reliability, roc_auc, ECE_BINS};
    Ok(EvalReport {
        model: b.meta.name.clone(),
        data: format!(
            "{} clips of {} speakers from {}{}{}",
            clips.len(),
            speakers.iter().collect::<std::collections::BTreeSet<_>>().len(),
            manifests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            if options.speakers.is_empty() { String::new() } else { format!(", speakers {}", options.speakers.join(",")) },
            if options.telephony { ", through the telephone line model" } else { "" }
        ),
        overall: binary_metrics(&probs, &labels),
        auc: roc_auc(&probs, &labels),
        ece: expected_calibration_error(&probs, &labels, ECE_BINS),
        reliability: reliability(&probs, &labels, ECE_BINS),
        constant: ConstantBaseline {
            predicts: if majority_non_negative { "non-negative" } else { "negative" }.into(),
            metrics: binary_metrics(&vec![constant_p; labels.len()], &labels),
        },
        intervals: bootstrap_intervals(&probs, &labels, 2000, 0),
        per_speaker: per_speaker(&probs, &labels, &speakers),
        predictions: clips
            .iter()
            .zip(&probs)
            .map(|(c, &p)| Prediction { path: c.path.display().to_string(), speaker: c.speaker.clone(), label: c.label, p_non_negative: p })
            .collect(),
    })
}

/// P(non-negative) of every clip by the bundle (`None`: the built-in default model) through the
/// product's inference path; a model that centres per call centres on each speaker's clips.
/// `progress(done, total)`.
pub fn score_clips(
    model_dir: Option<&Path>,
    clips: &[LabelledClip],
    telephony: bool,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f32>, crate::model::bundle::Bundle), TrainingError> {
    let (model, b) = crate::model::default_model::load_or_default(model_dir, device)?;
    let extractor = crate::features::FeatureExtractor::for_model(model.config());
    let min = model.config().min_samples();
    let mut probs = Vec::with_capacity(clips.len());
    let mut parts = Vec::new();
    for chunk in clips.chunks(64) {
        let mut audio = load_clips(chunk)?;
        if telephony {
            audio = audio.par_iter().map(|a| super::augment::telephony(a)).collect::<Result<_, _>>()?;
        }
        for a in audio.iter_mut() {
            if a.len() < min {
                a.resize(min, 0.0);
            }
        }
        let refs: Vec<&[f32]> = audio.iter().map(|a| a.as_slice()).collect();
        let inputs: Vec<SegmentInput> = extractor
            .extract_many(&refs)?
            .into_iter()
            .map(|f| SegmentInput::from_features(f, model.backbone()))
            .collect();
        if model.centres_per_call() {
            parts.extend(segment_parts(&model, device, &inputs, 8)?);
            progress(parts.len(), clips.len());
        } else {
            probs.extend(score_segments(&model, device, &inputs, 8)?.into_iter().map(sigmoid));
            progress(probs.len(), clips.len());
        }
    }
    if model.centres_per_call() {
        // Each speaker's clips are one "call": centred on that speaker's mean.
        probs = vec![0.0; clips.len()];
        let mut by_speaker: std::collections::BTreeMap<&str, Vec<usize>> = std::collections::BTreeMap::new();
        for (i, c) in clips.iter().enumerate() {
            by_speaker.entry(c.speaker.as_str()).or_default().push(i);
        }
        for members in by_speaker.values() {
            let call: Vec<_> = members.iter().map(|&i| parts[i].clone()).collect();
            let offset = centring_offset(&model, &call)?;
            for (&i, logit) in members.iter().zip(logits_from_parts(&model, device, &call, &offset)?) {
                probs[i] = sigmoid(logit);
            }
        }
    }
    Ok((probs, b))
}

/// Tensor map of a bundle (for `--init`).
pub fn bundle_tensors(dir: &Path) -> Result<HashMap<String, Tensor>, TrainingError> {
    Ok(crate::model::weights::read_safetensors(&dir.join(bundle::WEIGHTS_FILE))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two corpora whose recordings differ in feature 0 and whose label shares differ (80%
    /// negative against 80% non-negative), as the acted corpora do, and an emotion cue in feature
    /// 1 within each: fitted on raw summaries the statistics head takes the corpus colouring for
    /// emotion; fitted on corpus-centred summaries it weighs the real cue far above it.
    #[test]
    fn a_corpus_centred_fit_does_not_take_a_corpus_colouring_for_emotion() {
        use super::super::cache::{PitchInput, PreparedExample};
        let device = candle_core::Device::Cpu;
        let mut rng = crate::synth::rng::Rng::new(11);
        let mut examples = Vec::new();
        for (corpus, colour, negative_share) in [("a", 1.0f32, 0.8), ("b", -1.0f32, 0.2)] {
            for k in 0..400 {
                let label = u8::from((k as f64 / 400.0) >= negative_share);
                let cue = if label == 1 { 0.05f32 } else { -0.05 };
                // One state, 4 frames, 2 features: (1, 1, 4, 2).
                let frames: Vec<f32> = (0..4)
                    .flat_map(|_| [colour + rng.normal() as f32 * 0.5, cue + rng.normal() as f32 * 0.5])
                    .collect();
                examples.push(PreparedExample {
                    audio_conv: candle_core::Tensor::from_vec(frames, (1, 1, 4, 2), &device).unwrap(),
                    pitch: PitchInput::Track(candle_core::Tensor::zeros((1, 1), candle_core::DType::F32, &device).unwrap()),
                    mfcc: candle_core::Tensor::zeros((1, 1), candle_core::DType::F32, &device).unwrap(),
                    label,
                    speaker: format!("{corpus}/s{}", k % 4),
                    source: examples.len(),
                    group: format!("{corpus}/s{}", k % 4),
                });
            }
        }
        let (val, train): (Vec<_>, Vec<_>) = examples.into_iter().partition(|e| e.speaker.ends_with("s3"));
        let fused_val = vec![0.0f32; val.len()];
        let weights = |corpus_centred_fit: bool| -> Vec<f32> {
            let mut tensors = HashMap::new();
            tensors.insert("classifier.weight".to_string(), candle_core::Tensor::ones((1, 1), candle_core::DType::F32, &device).unwrap());
            tensors.insert("classifier.bias".to_string(), candle_core::Tensor::zeros(1, candle_core::DType::F32, &device).unwrap());
            let fit = StatsHeadFit { l2: 0.01, centring: false, nuisance_dims: 0, alone: true, corpus_centred_fit, speaker_balanced: false };
            fit_stats_head(&train, &val, &fused_val, fit, true, &mut tensors).unwrap();
            tensors["stats_head.weight"].flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        // Summary layout: [mean of feature 0, mean of feature 1, std 0, std 1].
        let raw = weights(false);
        let centred = weights(true);
        let colour_share = |w: &[f32]| w[0].abs() / w[1].abs();
        assert!(colour_share(&raw) > 0.5, "raw fit: the colouring should pass for emotion here: {raw:?}");
        assert!(colour_share(&centred) < 0.25, "corpus-centred fit still weighs the colouring: {centred:?}");
        assert!(centred[1] > 0.0, "the cue's sign: {centred:?}");
    }

    /// One file reached by two spellings of its path (relative through `..`, absolute): one cache
    /// key and one augmentation draw; another file: another key.
    #[test]
    fn a_clip_keeps_its_cache_key_and_seed_however_its_path_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("casia")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        for name in ["a.wav", "b.wav"] {
            std::fs::write(data.join("casia").join(name), b"RIFF").unwrap();
        }
        let manifest = "path,label_binary,speaker,corpus\na.wav,negative,s1,casia\nb.wav,negative,s1,casia\n";
        std::fs::write(data.join("casia").join("manifest.csv"), manifest).unwrap();
        let absolute = crate::training::dataset::read_manifest(&data.join("casia/manifest.csv")).unwrap();
        let relative = crate::training::dataset::read_manifest(&dir.path().join("work/../data/casia/manifest.csv")).unwrap();
        assert_ne!(absolute[0].path, relative[0].path, "the test needs two spellings");
        assert_eq!(clip_identity(&absolute[0]), clip_identity(&relative[0]));
        assert_eq!(augmentation_seed(5, &absolute[0], 0), augmentation_seed(5, &relative[0], 0));
        assert_ne!(clip_identity(&absolute[0]), clip_identity(&absolute[1]));
        assert_ne!(augmentation_seed(5, &absolute[0], 0), augmentation_seed(5, &absolute[1], 0));
        assert_ne!(augmentation_seed(5, &absolute[0], 0), augmentation_seed(5, &absolute[0], 1));
    }
}
