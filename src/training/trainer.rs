//! The training loop: epochs over shuffled speaker-split data, weighted loss, AdamW, validation
//! after every epoch (best epoch = highest negative-class F1), atomic checkpoint after every
//! epoch and exact resume from it, progress events over a channel, cancellation.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::augment::AugmentConfig;
use super::cache::{self, PreparedExample, RawExample};
use super::checkpoint::{self, CheckpointState};
use super::init::seeded_var_builder;
use super::loss::{self, LossKind};
use super::metrics::{binary_metrics, BinaryMetrics};
use super::net::{load_frozen_encoder, load_frozen_whisper, Branches, TrainableNet, FROZEN_PREFIX, PITCH_ENCODER_PREFIX, STATS_HEAD_PREFIX, WHISPER_PREFIX};
use super::optim::{AdamW, AdamWParams};
use super::TrainingError;
use crate::model::FusedConfig;
use crate::synth::rng::Rng;

/// Which validation figure picks the best epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectBy {
    /// F1 of the negative class (the paper's headline figure). Note that a model calling every
    /// clip negative scores `2q / (1 + q)` here when a fraction `q` of the clips is negative.
    #[default]
    NegativeF1,
    /// Mean of both classes' F1: a constant prediction cannot score well.
    MacroF1,
    /// ROC AUC: threshold-free (the threshold is set afterwards by the calibration).
    Auc,
    /// The last epoch (a fixed schedule; the validation speakers only calibrate).
    Last,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub epochs: usize,
    /// Clips per optimiser step (each clip runs at its own length; the loss is their weighted mean).
    pub batch: usize,
    pub seed: u64,
    pub adamw: AdamWParams,
    /// Probability of `dropout1` / `dropout2` (0.5 in the reference).
    pub dropout: f32,
    pub loss: LossKind,
    /// Weight classes so each contributes half of the loss.
    pub class_weighting: bool,
    /// Weight every training speaker alike and, within each speaker, each class half (instead of
    /// each class half overall): a speaker's or corpus's share of negative clips then says nothing
    /// about the class, so its voice cannot pass for emotion. Implies class balance.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub speaker_balanced: bool,
    /// Standardise MFCC39 for the LSTM during training (folded into the bundle's weights).
    #[serde(default)]
    pub mfcc_scaling: bool,
    #[serde(default)]
    pub select_by: SelectBy,
    pub augment: AugmentConfig,
    /// Freeze the (randomly initialised) pitch conv encoder too and cache its output: the
    /// reference trains it, but on a CPU it is most of a training step's cost.
    #[serde(default)]
    pub freeze_pitch_encoder: bool,
    /// The full fused model or one of the paper's ablations.
    #[serde(default)]
    pub branches: Branches,
    /// Trim training and validation clips to a multiple of this many samples (0 = no trimming) and
    /// draw each batch from clips of one length, so batches run as true batches.
    #[serde(default)]
    pub length_grid: usize,
    /// Learning-rate schedule: linear warm-up over this many epochs, then cosine decay to 0 at
    /// the last epoch (0 and false: the constant rate of the reference).
    #[serde(default)]
    pub warmup_epochs: usize,
    #[serde(default)]
    pub cosine_decay: bool,
    /// Where the per-epoch checkpoint lives (`None`: no checkpoints).
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep prepared clips (frozen encoder outputs, features) here between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_cache: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir` when there is one.
    pub resume: bool,
}

impl Default for TrainOptions {
    /// The reference recipe (SPEC §5): AdamW lr 3e-5, batch 8, 30 epochs, dropout 0.5, BCE.
    fn default() -> Self {
        Self {
            epochs: 30,
            batch: 8,
            seed: 0,
            adamw: AdamWParams::default(),
            dropout: 0.5,
            loss: LossKind::Bce,
            class_weighting: true,
            speaker_balanced: false,
            mfcc_scaling: true,
            select_by: SelectBy::NegativeF1,
            augment: AugmentConfig::default(),
            freeze_pitch_encoder: false,
            branches: Branches::Fused,
            length_grid: 0,
            warmup_epochs: 0,
            cosine_decay: false,
            checkpoint_dir: None,
            feature_cache: None,
            resume: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub val: Option<BinaryMetrics>,
    /// Validation ROC AUC (non-negative class).
    #[serde(default)]
    pub val_auc: Option<f64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    Preparing { done: usize, total: usize },
    Resumed { epochs_done: usize },
    EpochStarted { epoch: usize, epochs: usize },
    Step { epoch: usize, step: usize, steps: usize, loss: f64 },
    EpochFinished(EpochRecord),
    CheckpointSaved { epoch: usize },
    Finished { best_epoch: Option<usize> },
    Cancelled { epochs_done: usize },
}

pub struct TrainOutcome {
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights are in `best_tensors` (highest validation negative-class F1; the
    /// last epoch without a validation set).
    pub best_epoch: Option<usize>,
    pub best_tensors: HashMap<String, Tensor>,
    /// Validation logits of the best epoch, in validation order (for the calibration).
    pub best_val_logits: Vec<f32>,
    /// False when cancelled before the last epoch.
    pub completed: bool,
}

pub struct Trainer {
    pub config: FusedConfig,
    pub options: TrainOptions,
    varmap: VarMap,
    net: TrainableNet,
    optimizer: AdamW,
    device: Device,
}

fn send(events: Option<&Sender<TrainEvent>>, event: TrainEvent) {
    if let Some(tx) = events {
        // A closed receiver only means nobody is listening any more.
        let _ = tx.send(event);
    }
}

impl Trainer {
    /// A model from `init` tensors (e.g. a bundle to fine-tune; missing variables are created)
    /// or, without them, freshly initialised from the seed.
    pub fn new(
        config: FusedConfig,
        init: Option<HashMap<String, Tensor>>,
        options: TrainOptions,
        device: &Device,
    ) -> Result<Self, TrainingError> {
        config.validate()?;
        // Zero epochs keeps the starting weights (e.g. to add a statistics head to a trained model).
        if options.batch == 0 || (options.epochs == 0 && init.is_none()) {
            return Err(TrainingError::Config("batch must be at least 1, and epochs too unless starting from a model".into()));
        }
        let varmap = VarMap::new();
        if let Some(init) = init {
            let mut data = varmap.data().lock().map_err(|_| TrainingError::Config("varmap lock poisoned".into()))?;
            for (name, t) in init {
                data.insert(name, candle_core::Var::from_tensor(&t.to_device(device)?)?);
            }
        }
        let mut net = TrainableNet::load(seeded_var_builder(&varmap, options.seed, device), &config)?;
        net.branches = options.branches;
        if options.branches == Branches::EncoderLinear {
            net.add_probe(seeded_var_builder(&varmap, options.seed ^ 0xB0BE, device))?;
        }
        let trainable: Vec<(String, candle_core::Var)> = {
            let data = varmap.data().lock().map_err(|_| TrainingError::Config("varmap lock poisoned".into()))?;
            data.iter()
                .filter(|(k, _)| !Self::is_frozen(&options, k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let optimizer = AdamW::new(trainable, options.adamw)?;
        Ok(Self { config, options, varmap, net, optimizer, device: device.clone() })
    }

    /// Whether the variable `name` stays fixed in training.
    pub fn is_frozen(options: &TrainOptions, name: &str) -> bool {
        name.starts_with(FROZEN_PREFIX)
            || name.starts_with(WHISPER_PREFIX)
            || name.starts_with(STATS_HEAD_PREFIX)
            || (options.freeze_pitch_encoder && name.starts_with(PITCH_ENCODER_PREFIX))
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Features and frozen-encoder outputs of `raw` clips (done once; epochs reuse them).
    pub fn prepare(&self, raw: Vec<RawExample>, events: Option<&Sender<TrainEvent>>) -> Result<Vec<PreparedExample>, TrainingError> {
        let frozen = match self.config.whisper_branch() {
            Some(_) => cache::FrozenAudio::Whisper(load_frozen_whisper(&self.varmap, &self.config)?),
            None => cache::FrozenAudio::Wav2Vec2(load_frozen_encoder(&self.varmap, FROZEN_PREFIX, &self.config, &self.device)?),
        };
        let frozen_pitch = if self.options.freeze_pitch_encoder {
            Some(load_frozen_encoder(&self.varmap, PITCH_ENCODER_PREFIX, &self.config, &self.device)?)
        } else {
            None
        };
        let min = self.config.min_samples();
        let feature_cache = self.options.feature_cache.as_deref().map(|dir| cache::FeatureCache { dir });
        cache::prepare(raw, &self.config, &frozen, frozen_pitch.as_ref(), min, self.options.length_grid, &self.device, feature_cache.as_ref(), &mut |done, total| {
            send(events, TrainEvent::Preparing { done, total })
        })
    }

    /// Names what [`Self::prepare`] computes from a clip: the frozen encoders' weights, the
    /// configs that shape their outputs, the clip trimming. Part of every feature-cache key.
    pub fn frozen_digest(&self) -> Result<String, TrainingError> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"emotrace prepared clip v1\0");
        // Only what shapes the cached states: the heads' switches (centring, statistics head)
        // act after the cache, so they are hashed at their off values (keeps older caches valid).
        let mut whisper = serde_json::to_value(&self.config.whisper).map_err(|e| TrainingError::Config(e.to_string()))?;
        if let Some(fields) = whisper.as_object_mut() {
            fields.insert("per_call_centring".into(), serde_json::Value::Bool(false));
            fields.insert("stats_head".into(), serde_json::Value::Bool(false));
            fields.remove("stats_centring");
        }
        let shape = serde_json::json!({
            "wav2vec2": &self.config.wav2vec2,
            "whisper": whisper,
            "backbone": self.config.backbone,
            "mfcc_frames": self.config.mfcc_frames,
            "freeze_pitch_encoder": self.options.freeze_pitch_encoder,
            "length_grid": self.options.length_grid,
            "min_samples": self.config.min_samples(),
        });
        hasher.update(shape.to_string().as_bytes());
        let data = self.varmap.data().lock().map_err(|_| TrainingError::Config("varmap lock poisoned".into()))?;
        // The statistics head is frozen too, but reads the cached states rather than making them.
        let mut names: Vec<&String> =
            data.keys().filter(|k| Self::is_frozen(&self.options, k) && !k.starts_with(super::net::STATS_HEAD_PREFIX)).collect();
        names.sort();
        for name in names {
            let values = data[name].as_tensor().flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
            hasher.update(name.as_bytes());
            hasher.update(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        }
        Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Deep copies of every model variable, by PyTorch name.
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>, TrainingError> {
        let data = self.varmap.data().lock().map_err(|_| TrainingError::Config("varmap lock poisoned".into()))?;
        Ok(data.iter().map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?))).collect::<Result<_, candle_core::Error>>()?)
    }

    /// Variables (training graph) for gradient checks.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    pub fn net(&self) -> &TrainableNet {
        &self.net
    }

    /// Per-call centring: the mean Whisper states of every group (speaker, or speaker and
    /// augmentation copy), subtracted from its examples' states before the layer mix.
    pub fn set_group_means(&mut self, means: Option<HashMap<String, Tensor>>) {
        self.net.group_means = means;
    }

    /// A per-call-centred statistics head: every group's offset over `examples` (training and
    /// validation together: a call's segments may fall in both), so each example's statistics
    /// logit is heard against its group, as a segment's is against its call in analysis.
    pub fn set_stats_offsets(&mut self, examples: &[&[super::cache::PreparedExample]]) -> candle_core::Result<()> {
        self.net.stats_offsets = self.net.stats_group_offsets(examples.iter().flat_map(|set| set.iter()))?;
        Ok(())
    }

    /// Standardise the MFCC input during training (folded into the weights on export).
    pub fn set_mfcc_scaling(&mut self, scaling: Option<super::net::MfccScaling>) {
        self.net.mfcc_scaling = scaling;
    }

    /// A tensor map from [`Self::tensors`] (or a best-epoch snapshot) made ready for a bundle:
    /// the MFCC standardisation is folded into the LSTM input weights.
    pub fn export(&self, mut tensors: HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>, TrainingError> {
        if let Some(s) = &self.net.mfcc_scaling {
            super::net::fold_mfcc_scaling(&mut tensors, s)?;
        }
        Ok(tensors)
    }

    /// `P(non-negative)` per example, inference mode (no dropout).
    pub fn predict(&self, examples: &[PreparedExample]) -> Result<Vec<f32>, TrainingError> {
        Ok(self.predict_logits(examples)?.into_iter().map(crate::model::scoring::sigmoid).collect())
    }

    /// Logits per example, inference mode (no dropout).
    pub fn predict_logits(&self, examples: &[PreparedExample]) -> Result<Vec<f32>, TrainingError> {
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.sort_by_key(|&i| examples[i].length_key());
        let mut out = vec![0f32; examples.len()];
        for chunk in order.chunks(32) {
            let refs: Vec<&PreparedExample> = chunk.iter().map(|&i| &examples[i]).collect();
            let logits = self.net.forward(&refs, None)?.detach().to_vec1::<f32>()?;
            for (&i, logit) in chunk.iter().zip(logits) {
                out[i] = logit;
            }
        }
        Ok(out)
    }

    fn class_weights(&self, train: &[PreparedExample]) -> (f32, f32) {
        if self.options.class_weighting {
            loss::balanced_class_weights(&train.iter().map(|e| e.label).collect::<Vec<_>>())
        } else {
            (1.0, 1.0)
        }
    }

    /// Each training example's loss weight (mean 1): by speaker and class with
    /// `speaker_balanced`, else by class.
    pub fn example_weights(&self, train: &[PreparedExample]) -> Vec<f32> {
        if self.options.speaker_balanced {
            let labels: Vec<u8> = train.iter().map(|e| e.label).collect();
            let speakers: Vec<&str> = train.iter().map(|e| e.speaker.as_str()).collect();
            let n = train.len() as f64;
            return super::stats_fit::group_class_weights(&labels, &speakers).into_iter().map(|w| (w * n) as f32).collect();
        }
        let (negative, non_negative) = self.class_weights(train);
        train.iter().map(|e| if e.label == 1 { non_negative } else { negative }).collect()
    }

    /// Weighted loss of a batch, `weights` one per example (training mode when `rng` is given).
    pub fn batch_loss(&self, batch: &[&PreparedExample], weights: &[f32], rng: Option<&mut Rng>) -> Result<Tensor, TrainingError> {
        if weights.len() != batch.len() {
            return Err(TrainingError::Config(format!("{} loss weights for a batch of {}", weights.len(), batch.len())));
        }
        let logits = self.net.forward(batch, rng.map(|r| (self.options.dropout, r)))?;
        let targets: Vec<f32> = batch.iter().map(|e| e.label as f32).collect();
        let targets = Tensor::from_vec(targets, batch.len(), &self.device)?;
        let w = Tensor::from_slice(weights, batch.len(), &self.device)?;
        Ok(loss::loss(self.options.loss, &logits, &targets, &w)?)
    }

    fn save_checkpoint(&self, state: &CheckpointState, best: &HashMap<String, Tensor>) -> Result<(), TrainingError> {
        let Some(dir) = &self.options.checkpoint_dir else { return Ok(()) };
        let mut tensors: HashMap<String, Tensor> =
            self.tensors()?.into_iter().map(|(k, v)| (format!("model.{k}"), v)).collect();
        tensors.extend(self.optimizer.state_tensors());
        tensors.extend(best.iter().map(|(k, v)| (format!("best.{k}"), v.clone())));
        checkpoint::save(dir, state, &tensors)
    }

    fn restore(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<HashMap<String, Tensor>, TrainingError> {
        let data = self.varmap.data().lock().map_err(|_| TrainingError::Config("varmap lock poisoned".into()))?;
        for (name, var) in data.iter() {
            let t = tensors
                .get(&format!("model.{name}"))
                .ok_or_else(|| TrainingError::Config(format!("checkpoint lacks model.{name}")))?;
            var.set(&t.to_device(&self.device)?)?;
        }
        drop(data);
        self.optimizer.load_state(tensors, step)?;
        Ok(tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("best.").map(|n| (n.to_string(), v.clone())))
            .collect())
    }

    /// Trains on `train`, validating on `val` after every epoch. `fingerprint` identifies the run
    /// (config, data, options): a checkpoint with another fingerprint is refused.
    pub fn run(
        &mut self,
        train: &[PreparedExample],
        val: &[PreparedExample],
        fingerprint: &str,
        events: Option<&Sender<TrainEvent>>,
        cancel: &AtomicBool,
    ) -> Result<TrainOutcome, TrainingError> {
        if train.is_empty() {
            return Err(TrainingError::Dataset("no training examples".into()));
        }
        let mut state = CheckpointState {
            epochs_done: 0,
            optimizer_step: 0,
            history: Vec::new(),
            best_epoch: None,
            best_score: f64::NEG_INFINITY,
            run_fingerprint: fingerprint.to_string(),
            best_val_logits: Vec::new(),
        };
        let mut best_tensors = HashMap::new();
        if let (true, Some(dir)) = (self.options.resume, self.options.checkpoint_dir.clone()) {
            if let Some((saved, tensors)) = checkpoint::load(&dir)? {
                if saved.run_fingerprint != fingerprint {
                    return Err(TrainingError::Checkpoint {
                        path: dir.display().to_string(),
                        message: "belongs to a different run (data, config or options differ); remove it or choose another checkpoint directory".into(),
                    });
                }
                best_tensors = self.restore(&tensors, saved.optimizer_step)?;
                state = saved;
                send(events, TrainEvent::Resumed { epochs_done: state.epochs_done });
            }
        }
        let example_weights = self.example_weights(train);
        // Validation clips are weighted by class only: their loss is a yardstick across runs.
        let (val_negative, val_non_negative) = self.class_weights(train);
        let epochs = self.options.epochs;
        if epochs == 0 {
            // The starting weights as they are; validation logits for the calibration.
            state.best_val_logits = self.predict_logits(val)?;
            send(events, TrainEvent::Finished { best_epoch: None });
            return Ok(self.outcome(state, self.tensors()?, true));
        }
        for epoch in state.epochs_done + 1..=epochs {
            if cancel.load(Ordering::Relaxed) {
                send(events, TrainEvent::Cancelled { epochs_done: state.epochs_done });
                return Ok(self.outcome(state, best_tensors, false));
            }
            send(events, TrainEvent::EpochStarted { epoch, epochs });
            let started = Instant::now();
            // Each epoch's randomness depends only on (seed, epoch): resuming needs no RNG state.
            let mut rng = Rng::new(self.options.seed.wrapping_mul(0x9E37_79B9).wrapping_add(epoch as u64 * 0x1000_0001));
            let batches = self.epoch_batches(train, &mut rng);
            let steps = batches.len();
            let mut loss_sum = 0.0;
            for (step, chunk) in batches.iter().enumerate() {
                self.optimizer.params.lr = self.learning_rate(epoch, step, steps);
                if cancel.load(Ordering::Relaxed) {
                    // The partial epoch is dropped; the last checkpoint stays the resume point.
                    send(events, TrainEvent::Cancelled { epochs_done: state.epochs_done });
                    return Ok(self.outcome(state, best_tensors, false));
                }
                let refs: Vec<&PreparedExample> = chunk.iter().map(|&i| &train[i]).collect();
                let weights: Vec<f32> = chunk.iter().map(|&i| example_weights[i]).collect();
                let loss = self.batch_loss(&refs, &weights, Some(&mut rng))?;
                let grads = loss.backward()?;
                self.optimizer.apply(&grads)?;
                let value = loss.to_scalar::<f32>()? as f64;
                loss_sum += value * chunk.len() as f64;
                send(events, TrainEvent::Step { epoch, step: step + 1, steps, loss: value });
            }
            let (val_metrics, val_loss, val_logits, val_auc) = if val.is_empty() {
                (None, None, Vec::new(), None)
            } else {
                let val_logits = self.predict_logits(val)?;
                let probs: Vec<f32> = val_logits.iter().map(|&l| crate::model::scoring::sigmoid(l)).collect();
                let labels: Vec<u8> = val.iter().map(|e| e.label).collect();
                let val_auc = super::calibration::roc_auc(&probs, &labels);
                let mut vl = 0.0;
                let mut by_length: Vec<&PreparedExample> = val.iter().collect();
                by_length.sort_by_key(|e| e.length_key());
                for chunk in by_length.chunks(32) {
                    let refs: Vec<&PreparedExample> = chunk.to_vec();
                    let weights: Vec<f32> = refs.iter().map(|e| if e.label == 1 { val_non_negative } else { val_negative }).collect();
                    vl += self.batch_loss(&refs, &weights, None)?.detach().to_scalar::<f32>()? as f64 * chunk.len() as f64;
                }
                (Some(binary_metrics(&probs, &labels)), Some(vl / val.len() as f64), val_logits, val_auc)
            };
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / train.len() as f64,
                val_loss,
                val: val_metrics.clone(),
                val_auc,
                seconds: started.elapsed().as_secs_f64(),
            };
            // Best epoch: validation negative-class F1 or macro-F1 (ties keep the earlier epoch); without a
            // validation set, the latest epoch.
            let score = val_metrics.as_ref().map_or(epoch as f64, |m| match self.options.select_by {
                SelectBy::NegativeF1 => m.negative.f1,
                SelectBy::MacroF1 => m.macro_f1,
                SelectBy::Auc => val_auc.unwrap_or(m.macro_f1),
                SelectBy::Last => epoch as f64,
            });
            if score > state.best_score {
                state.best_score = score;
                state.best_epoch = Some(epoch);
                state.best_val_logits = val_logits;
                best_tensors = self.tensors()?;
            }
            state.history.push(record.clone());
            state.epochs_done = epoch;
            state.optimizer_step = self.optimizer.step;
            send(events, TrainEvent::EpochFinished(record));
            self.save_checkpoint(&state, &best_tensors)?;
            if self.options.checkpoint_dir.is_some() {
                send(events, TrainEvent::CheckpointSaved { epoch });
            }
        }
        send(events, TrainEvent::Finished { best_epoch: state.best_epoch });
        Ok(self.outcome(state, best_tensors, true))
    }

    /// The epoch's batches: a seeded shuffle; with a length grid, each batch holds clips of one
    /// length (groups shuffled, cut into batches, batches shuffled).
    fn epoch_batches(&self, train: &[PreparedExample], rng: &mut Rng) -> Vec<Vec<usize>> {
        let batch = self.options.batch;
        let shuffle = |v: &mut Vec<usize>, rng: &mut Rng| {
            for i in (1..v.len()).rev() {
                v.swap(i, rng.below(i + 1));
            }
        };
        let mut order: Vec<usize> = (0..train.len()).collect();
        shuffle(&mut order, rng);
        if self.options.length_grid == 0 {
            return order.chunks(batch).map(|c| c.to_vec()).collect();
        }
        let mut groups: std::collections::BTreeMap<(usize, usize), Vec<usize>> = std::collections::BTreeMap::new();
        for i in order {
            groups.entry(train[i].length_key()).or_default().push(i);
        }
        let mut batches: Vec<Vec<usize>> = groups.values().flat_map(|g| g.chunks(batch).map(|c| c.to_vec())).collect();
        let mut idx: Vec<usize> = (0..batches.len()).collect();
        shuffle(&mut idx, rng);
        let mut shuffled = Vec::with_capacity(batches.len());
        for i in idx {
            shuffled.push(std::mem::take(&mut batches[i]));
        }
        shuffled
    }

    /// Learning rate of a step: warm-up, then cosine decay, around the configured rate.
    fn learning_rate(&self, epoch: usize, step: usize, steps: usize) -> f64 {
        let base = self.options.adamw.lr;
        let progress = (epoch - 1) as f64 + step as f64 / steps.max(1) as f64;
        let warmup = self.options.warmup_epochs as f64;
        if progress < warmup {
            return base * (progress + 1.0 / steps.max(1) as f64) / warmup;
        }
        if self.options.cosine_decay {
            let span = (self.options.epochs as f64 - warmup).max(1e-9);
            let t = ((progress - warmup) / span).clamp(0.0, 1.0);
            return base * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        }
        base
    }

    fn outcome(&self, state: CheckpointState, best_tensors: HashMap<String, Tensor>, completed: bool) -> TrainOutcome {
        TrainOutcome { history: state.history, best_epoch: state.best_epoch, best_tensors, best_val_logits: state.best_val_logits, completed }
    }
}
