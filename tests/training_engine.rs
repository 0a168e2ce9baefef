//! Training engine behaviour on a tiny model and a few synthetic clips (fast, no data files):
//! the loss falls on a separable set, every trainable variable gets a gradient through the
//! training loss, the trained variables load into the inference model unchanged, a run resumed
//! from its epoch-k checkpoint ends identical to an uninterrupted run, cancellation stops
//! cleanly, and a failed checkpoint write leaves the previous checkpoint intact.
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use emotrace::model::FusedModel;
use emotrace::training::cache::{PreparedExample, RawExample};
use emotrace::training::checkpoint;
use emotrace::training::net::{MfccScaling, FROZEN_PREFIX};
use emotrace::training::presets::preset;
use emotrace::training::{TrainOptions, Trainer};

/// Negative clips: a low hum; non-negative: a bright chirp. 0.3-0.5 s, 3 "speakers".
fn separable_clips(n: usize) -> Vec<RawExample> {
    (0..n)
        .map(|i| {
            let label = (i % 2) as u8;
            let len = 4800 + 800 * (i % 3);
            let f = if label == 0 { 180.0 } else { 2500.0 };
            let samples = (0..len)
                .map(|t| {
                    let t = t as f32 / 16000.0;
                    0.3 * (2.0 * std::f32::consts::PI * (f + 40.0 * i as f32) * t).sin() + 0.01 * ((t * 7919.0).sin())
                })
                .collect();
            let speaker = format!("s{}", i % 3);
            RawExample { samples, label, group: speaker.clone(), speaker, source: i, cache_key: None }
        })
        .collect()
}

fn options(epochs: usize, dir: Option<std::path::PathBuf>) -> TrainOptions {
    let mut o = TrainOptions { epochs, batch: 4, seed: 11, dropout: 0.1, checkpoint_dir: dir, ..Default::default() };
    o.adamw.lr = 3e-3;
    o
}

fn setup(epochs: usize, dir: Option<std::path::PathBuf>, n: usize) -> (Trainer, Vec<PreparedExample>) {
    let trainer = Trainer::new(preset("tiny").unwrap(), None, options(epochs, dir), &Device::Cpu).unwrap();
    let mut prepared = trainer.prepare(separable_clips(n), None).unwrap();
    // The MFCC branch always sees 1001 frames (10 s) in the product; 60 keep these tests fast
    // and exercise the same code.
    for ex in prepared.iter_mut() {
        ex.mfcc = ex.mfcc.narrow(0, 0, 60).unwrap();
    }
    (trainer, prepared)
}

fn max_abs_diff(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .map(|(k, x)| {
            let y = &b[k];
            (x - y).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
        })
        .fold(0.0, f32::max)
}

#[test]
fn loss_decreases_on_a_separable_set() {
    let (mut trainer, data) = setup(15, None, 8);
    let out = trainer.run(&data, &data, "t", None, &AtomicBool::new(false)).unwrap();
    let first = out.history.first().unwrap().train_loss;
    let last = out.history.last().unwrap().train_loss;
    assert!(out.completed);
    assert!(last < 0.8 * first, "training loss did not fall: {first} -> {last}");
    let best = out.history[out.best_epoch.unwrap() - 1].val.clone().unwrap();
    assert!(best.accuracy >= 0.75, "best-epoch accuracy {}", best.accuracy);
}

#[test]
fn every_trainable_variable_gets_a_finite_nonzero_gradient() {
    let (trainer, data) = setup(1, None, 4);
    let refs: Vec<&PreparedExample> = data.iter().collect();
    let mut rng = emotrace::synth::rng::Rng::new(1);
    let loss = trainer.batch_loss(&refs, &vec![1.0; refs.len()], Some(&mut rng)).unwrap();
    let grads = loss.backward().unwrap();
    let vars = trainer.varmap().data().lock().unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, var) in vars.iter() {
        if name.starts_with(FROZEN_PREFIX) {
            assert!(grads.get(var.as_tensor()).is_none(), "{name} is frozen but got a gradient");
            continue;
        }
        checked += 1;
        match grads.get(var.as_tensor()) {
            None => problems.push(format!("{name}: no gradient")),
            Some(g) => {
                let s = g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
                if !s.is_finite() || s == 0.0 {
                    problems.push(format!("{name}: gradient sum {s}"));
                }
            }
        }
    }
    assert!(checked > 50);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn trained_variables_load_into_the_inference_model_with_equal_outputs() {
    let mut trainer = Trainer::new(preset("tiny").unwrap(), None, options(1, None), &Device::Cpu).unwrap();
    let data = trainer.prepare(separable_clips(3), None).unwrap();
    // Training standardises the MFCC input; the exported weights absorb it.
    trainer.set_mfcc_scaling(Some(MfccScaling::fit(&data).unwrap()));
    let probs = trainer.predict(&data).unwrap();
    let cfg = preset("tiny").unwrap();
    let exported = trainer.export(trainer.tensors().unwrap()).unwrap();
    let model = FusedModel::load(VarBuilder::from_tensors(exported, DType::F32, &Device::Cpu), &cfg).unwrap();
    let extractor = emotrace::features::FeatureExtractor::new();
    for (i, raw) in separable_clips(3).iter().enumerate() {
        let f = extractor.extract(&raw.samples).unwrap();
        let n = f.audio_norm.len();
        let audio = Tensor::from_vec(f.audio_norm, (1, n), &Device::Cpu).unwrap();
        let pitch = Tensor::from_vec(f.pitch_track, (1, n), &Device::Cpu).unwrap();
        let mfcc = Tensor::from_vec(f.mfcc39, (1, f.mfcc_frames, 39), &Device::Cpu).unwrap();
        let logit = model.forward(&audio, &pitch, &mfcc).unwrap().to_vec1::<f32>().unwrap()[0];
        let p = emotrace::model::scoring::sigmoid(logit);
        assert!((p - probs[i]).abs() < 1e-4, "clip {i}: inference {p} vs training net {}", probs[i]);
    }
}

#[test]
fn resume_from_epoch_checkpoint_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut full, data) = setup(3, Some(dir.path().join("full")), 6);
    let uninterrupted = full.run(&data, &data, "run", None, &AtomicBool::new(false)).unwrap();

    // "Killed" after epoch 1: only its checkpoint survives; a fresh process resumes from it.
    let ckpt = dir.path().join("resumed");
    let (mut first, data1) = setup(1, Some(ckpt.clone()), 6);
    first.run(&data1, &data1, "run", None, &AtomicBool::new(false)).unwrap();
    drop(first);
    let (mut second, data2) = setup(3, Some(ckpt.clone()), 6);
    let (tx, rx) = std::sync::mpsc::channel();
    let resumed = second.run(&data2, &data2, "run", Some(&tx), &AtomicBool::new(false)).unwrap();
    let events: Vec<_> = rx.try_iter().collect();
    assert!(events.contains(&emotrace::training::TrainEvent::Resumed { epochs_done: 1 }));
    assert!(!events.contains(&emotrace::training::TrainEvent::EpochStarted { epoch: 1, epochs: 3 }));

    // Timings differ; earlier epochs' losses come back from state.json, whose float parsing may
    // differ in the last bit (serde_json without float_roundtrip), so they are compared at 1e-9.
    let round = |x: f64| (x * 1e9).round() / 1e9;
    let strip = |h: &[emotrace::training::trainer::EpochRecord]| {
        h.iter()
            .map(|r| emotrace::training::trainer::EpochRecord {
                seconds: 0.0,
                train_loss: round(r.train_loss),
                val_loss: r.val_loss.map(round),
                val_auc: r.val_auc.map(round),
                ..r.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&resumed.history), strip(&uninterrupted.history));
    assert_eq!(resumed.best_epoch, uninterrupted.best_epoch);
    assert_eq!(max_abs_diff(&second.tensors().unwrap(), &full.tensors().unwrap()), 0.0);
    assert_eq!(max_abs_diff(&resumed.best_tensors, &uninterrupted.best_tensors), 0.0);

    // A checkpoint of another run is refused rather than silently mixed in.
    let (mut other, data3) = setup(3, Some(ckpt), 6);
    assert!(other.run(&data3, &data3, "another-run", None, &AtomicBool::new(false)).is_err());
}

#[test]
fn cancellation_stops_before_the_next_step_without_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, data) = setup(2, Some(dir.path().join("ck")), 4);
    let out = trainer.run(&data, &data, "c", None, &AtomicBool::new(true)).unwrap();
    assert!(!out.completed);
    assert!(out.history.is_empty());
    assert!(checkpoint::load(&dir.path().join("ck")).unwrap().is_none());
}

#[test]
fn interrupted_or_failed_checkpoint_writes_never_replace_a_complete_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let state = checkpoint::CheckpointState {
        epochs_done: 1,
        optimizer_step: 3,
        history: Vec::new(),
        best_epoch: Some(1),
        best_score: 0.5,
        run_fingerprint: "w".into(),
        best_val_logits: vec![0.25, -1.5],
    };
    let tensors: HashMap<String, Tensor> =
        [("model.a".to_string(), Tensor::arange(0f32, 6.0, &Device::Cpu).unwrap())].into_iter().collect();
    checkpoint::save(&ck, &state, &tensors).unwrap();

    // A writer killed mid-write leaves its temporary directory with a partial file: loading
    // ignores it and still returns the complete checkpoint.
    let temp = dir.path().join(format!(".ck.tmp-{}", std::process::id()));
    std::fs::create_dir(&temp).unwrap();
    std::fs::write(temp.join(checkpoint::TENSORS_FILE), b"half a safetensors header").unwrap();
    let (loaded, loaded_tensors) = checkpoint::load(&ck).unwrap().unwrap();
    assert_eq!(loaded, state);
    assert_eq!(loaded_tensors["model.a"].to_vec1::<f32>().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);

    // A write that fails (its temporary path is blocked by a file) reports the error and leaves
    // the previous checkpoint whole.
    std::fs::remove_dir_all(&temp).unwrap();
    std::fs::write(&temp, b"in the way").unwrap();
    let mut later = state.clone();
    later.epochs_done = 2;
    assert!(checkpoint::save(&ck, &later, &tensors).is_err());
    assert_eq!(checkpoint::load(&ck).unwrap().unwrap().0, state);

    // Once the path is free again, the next write replaces the checkpoint completely.
    std::fs::remove_file(&temp).unwrap();
    checkpoint::save(&ck, &later, &tensors).unwrap();
    assert_eq!(checkpoint::load(&ck).unwrap().unwrap().0.epochs_done, 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("ck")]);
}

/// The CPU recipe of the default model: frozen (cached) pitch conv encoder, clips trimmed to a
/// length grid and batched by length. Batching equal lengths must not change any logit, the
/// frozen encoders get no gradient while everything else does, and the weights still load into
/// the inference model with equal outputs.
#[test]
fn cpu_recipe_batches_by_length_without_changing_logits_and_freezes_the_pitch_encoder() {
    let mut opts = options(1, None);
    opts.freeze_pitch_encoder = true;
    opts.length_grid = 1600;
    let trainer = Trainer::new(preset("tiny").unwrap(), None, opts.clone(), &Device::Cpu).unwrap();
    let data = trainer.prepare(separable_clips(6), None).unwrap();
    for ex in &data {
        assert!(matches!(ex.pitch, emotrace::training::cache::PitchInput::Encoded(_)));
    }
    // Clips of 4800/5600/6400 samples on a 1600 grid: 4800, 4800, 6400 -> two lengths.
    let keys: std::collections::BTreeSet<_> = data.iter().map(|e| e.length_key()).collect();
    assert_eq!(keys.len(), 2, "trimmed lengths {keys:?}");
    let together = trainer.predict(&data).unwrap();
    for (i, ex) in data.iter().enumerate() {
        let alone = trainer.predict(std::slice::from_ref(ex)).unwrap()[0];
        assert!((alone - together[i]).abs() < 1e-5, "clip {i}: alone {alone} vs batched {}", together[i]);
    }
    let refs: Vec<&PreparedExample> = data.iter().collect();
    let mut rng = emotrace::synth::rng::Rng::new(3);
    let grads = trainer.batch_loss(&refs, &vec![1.0; refs.len()], Some(&mut rng)).unwrap().backward().unwrap();
    let vars = trainer.varmap().data().lock().unwrap();
    for (name, var) in vars.iter() {
        let g = grads.get(var.as_tensor()).map(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap());
        if Trainer::is_frozen(&opts, name) {
            assert!(g.is_none(), "{name} is frozen but got a gradient");
        } else {
            assert!(g.is_some_and(|s| s.is_finite() && s > 0.0), "{name}: gradient {g:?}");
        }
    }
    assert!(vars.keys().any(|k| k.starts_with("pitch_encoder.")));
}

/// Ablations zero the missing branches: the MFCC-only model ignores the audio, the audio-only
/// model ignores the MFCC input, and each trains its own branch.
#[test]
fn ablations_use_only_their_branch() {
    use emotrace::training::net::Branches;
    let logits_with = |branches: Branches, tweak: &dyn Fn(&mut PreparedExample)| -> Vec<f32> {
        let mut opts = options(1, None);
        opts.branches = branches;
        let trainer = Trainer::new(preset("tiny").unwrap(), None, opts, &Device::Cpu).unwrap();
        let mut data = trainer.prepare(separable_clips(2), None).unwrap();
        for ex in data.iter_mut() {
            tweak(ex);
        }
        trainer.predict(&data).unwrap()
    };
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    let noisy_audio = |ex: &mut PreparedExample| ex.audio_conv = (&ex.audio_conv * 3.0).unwrap();
    let noisy_mfcc = |ex: &mut PreparedExample| ex.mfcc = (&ex.mfcc + 5.0).unwrap();
    let keep = |_: &mut PreparedExample| {};
    assert!(same(&logits_with(Branches::MfccOnly, &keep), &logits_with(Branches::MfccOnly, &noisy_audio)));
    assert!(!same(&logits_with(Branches::MfccOnly, &keep), &logits_with(Branches::MfccOnly, &noisy_mfcc)));
    assert!(same(&logits_with(Branches::AudioOnly, &keep), &logits_with(Branches::AudioOnly, &noisy_mfcc)));
    assert!(!same(&logits_with(Branches::AudioOnly, &keep), &logits_with(Branches::AudioOnly, &noisy_audio)));
    assert!(!same(&logits_with(Branches::Fused, &keep), &logits_with(Branches::Fused, &noisy_mfcc)));
}

#[test]
fn speaker_balanced_weights_give_every_speaker_and_each_class_within_it_the_same_share() {
    // Uneven speakers: s0 has 4 clips, s1 and s2 three each, classes mixed unevenly within them.
    let mut opts = options(1, None);
    opts.speaker_balanced = true;
    let trainer = Trainer::new(preset("tiny").unwrap(), None, opts, &Device::Cpu).unwrap();
    let mut clips = separable_clips(10);
    for (i, clip) in clips.iter_mut().enumerate() {
        clip.label = u8::from(matches!(i, 0 | 4 | 5 | 9));
    }
    let data = trainer.prepare(clips, None).unwrap();
    let weights = trainer.example_weights(&data);
    let mean = weights.iter().sum::<f32>() / weights.len() as f32;
    assert!((mean - 1.0).abs() < 1e-5, "mean weight {mean}");
    let mut cells: HashMap<(String, u8), f32> = HashMap::new();
    for (e, w) in data.iter().zip(&weights) {
        *cells.entry((e.speaker.clone(), e.label)).or_default() += w;
    }
    assert_eq!(cells.len(), 6, "every speaker has both classes here: {cells:?}");
    let first = *cells.values().next().unwrap();
    for (cell, share) in &cells {
        assert!((share - first).abs() < 1e-4, "{cell:?} weighs {share}, another cell {first}");
    }
    // Without the option the weights are the class weights, whatever the speaker.
    let plain = Trainer::new(preset("tiny").unwrap(), None, options(1, None), &Device::Cpu).unwrap();
    let class = plain.example_weights(&data);
    for (e, w) in data.iter().zip(&class) {
        let same = data.iter().zip(&class).find(|(f, _)| f.label == e.label).map(|(_, v)| *v).unwrap();
        assert_eq!(*w, same);
    }
    assert_ne!(class, weights);
}
