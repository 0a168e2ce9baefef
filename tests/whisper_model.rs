//! The Whisper audio branch against PyTorch/transformers: the encoder's hidden states on a
//! clip-length log-Mel input (the positional embedding narrowed), and the whole fused model with a
//! Whisper backbone, stage by stage, through the differentiable modules and the CPU inference path.
//!
//! Fixtures: scripts/gen_whisper_model_fixtures.py (torch + transformers; reference statement of the
//! model in scripts/reference_model.py). Tolerance 1e-4 max |diff| against PyTorch (tiny random
//! weights, values up to ~10); the inference path within 5e-6 x max(1, |value|) of the
//! differentiable one, as tests/model_fast_path.rs holds the wav2vec2 path.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use emotrace::model::weights::{build_checked, read_safetensors};
use emotrace::model::whisper::hf_import::read_whisper_dir;
use emotrace::model::whisper::WhisperEncoder;
use emotrace::model::{FusedConfig, FusedModel};

const PYTORCH_TOLERANCE: f32 = 1e-4;
const STAGE_TOLERANCE: f32 = 5e-6;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn io(path: &Path) -> HashMap<String, Tensor> {
    read_safetensors(path).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn largest(t: &Tensor) -> f32 {
    t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn tiny_encoder() -> WhisperEncoder {
    let imported = read_whisper_dir(&fixtures().join("whisper_import/hf")).unwrap();
    let tensors = imported.tensors.into_iter().map(|(k, v)| (k, v.to_dtype(DType::F32).unwrap())).collect();
    build_checked(tensors, &Device::Cpu, |vb| WhisperEncoder::load(vb, &imported.config)).unwrap()
}

#[test]
fn encoder_hidden_states_match_transformers_on_clip_length_input() {
    let encoder = tiny_encoder();
    let io = io(&fixtures().join("whisper_model/encoder_io.safetensors"));
    for (input, prefix) in [("mel", "hidden_"), ("full_mel", "full_hidden_")] {
        let states = encoder.hidden_states(&io[input]).unwrap();
        assert_eq!(states.len(), encoder.config().encoder_layers + 1);
        for (i, got) in states.iter().enumerate() {
            let want = &io[&format!("{prefix}{i}")];
            let diff = max_abs_diff(got, want);
            println!("{input} hidden state {i}: max |candle - transformers| = {diff:.2e} (largest {:.2})", largest(want));
            assert!(diff <= PYTORCH_TOLERANCE, "{input} state {i}: {diff}");
        }
    }
}

#[test]
fn the_encoder_refuses_more_frames_than_its_positions() {
    let encoder = tiny_encoder();
    let positions = encoder.config().max_source_positions;
    let mel = Tensor::zeros((1, 80, 2 * positions + 2), DType::F32, &Device::Cpu).unwrap();
    let err = encoder.hidden_states(&mel).unwrap_err().to_string();
    assert!(err.contains("positions"), "{err}");
}

fn fused(name: &str) -> (FusedModel, HashMap<String, Tensor>) {
    let dir = fixtures().join("whisper_model").join(name);
    let cfg: FusedConfig = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let model = build_checked(read_safetensors(&dir.join("model.safetensors")).unwrap(), &Device::Cpu, |vb| FusedModel::load(vb, &cfg)).unwrap();
    (model, io(&dir.join("io.safetensors")))
}

#[test]
fn the_whisper_fused_model_matches_pytorch_on_both_paths() {
    for name in ["tiny_all_layers_norm_pool2", "tiny_first_layer_pool1"] {
        let (model, io) = fused(name);
        assert!(model.fast_model().unwrap().is_some(), "{name}: the inference path must apply");
        let fast = model.forward_stages(&io["mel"], &io["pitch"], &io["mfcc"]).unwrap();
        let slow = model.differentiable_forward_stages(&io["mel"], &io["pitch"], &io["mfcc"]).unwrap();
        for (stage, f, s) in [
            ("audio_hidden", &fast.audio_hidden, &slow.audio_hidden),
            ("pitch_hidden", &fast.pitch_hidden, &slow.pitch_hidden),
            ("lstm_mean", &fast.lstm_mean, &slow.lstm_mean),
            ("logit", &fast.logit, &slow.logit),
        ] {
            let want = &io[stage];
            let (d_fast, d_slow, d_paths) = (max_abs_diff(f, want), max_abs_diff(s, want), max_abs_diff(f, s));
            println!("{name} {stage}: vs PyTorch fast {d_fast:.2e}, differentiable {d_slow:.2e}; between paths {d_paths:.2e}");
            assert!(d_fast <= PYTORCH_TOLERANCE && d_slow <= PYTORCH_TOLERANCE, "{name} {stage}");
            assert!(d_paths <= STAGE_TOLERANCE * largest(want).max(1.0), "{name} {stage}: paths differ by {d_paths}");
        }
    }
}

#[test]
fn a_truncated_encoder_stores_only_the_layers_it_runs() {
    let (model, _) = fused("tiny_first_layer_pool1");
    let dir = fixtures().join("whisper_model/tiny_first_layer_pool1");
    let tensors = read_safetensors(&dir.join("model.safetensors")).unwrap();
    assert!(tensors.keys().all(|k| !k.starts_with("whisper.layers.1.") && !k.starts_with("whisper.layer_norm.")));
    assert_eq!(model.config().whisper.as_ref().unwrap().layers, 1);
    // The full encoder's weights are refused by name for this config.
    let mut extra = tensors.clone();
    extra.insert("whisper.layer_norm.weight".into(), Tensor::ones(32, DType::F32, &Device::Cpu).unwrap());
    let cfg = model.config().clone();
    let err = build_checked(extra, &Device::Cpu, |vb: VarBuilder| FusedModel::load(vb, &cfg)).unwrap_err().to_string();
    assert!(err.contains("whisper.layer_norm.weight"), "{err}");
}

/// The shipped default model's encoder is OpenAI's Whisper base as transformers runs it: its
/// hidden states on 1.5 s of speech at clip length against `base_io.safetensors`
/// (scripts/gen_whisper_base_fixture.py: the CTranslate2 weights of scripts/fetch_whisper.sh,
/// float16 upcast, loaded strictly into `WhisperEncoder`). Tolerance: max |diff| <= 1e-3 x
/// max(1, largest |value| / 10): 1e-3 on states of order 1-10; the residual stream of layers 4-5
/// reaches ~70 (Whisper's outlier dimensions), where f32 summation order alone moves it by ~1e-3.
#[test]
fn the_default_models_encoder_is_whisper_base_as_transformers_runs_it() {
    let (model, bundle) = emotrace::model::default_model::load_default(&Device::Cpu).unwrap();
    let emotrace::model::AudioBranch::Whisper(branch) = model.audio_branch() else {
        panic!("the default model {} has no Whisper backbone", bundle.meta.name);
    };
    let io = io(&fixtures().join("whisper_model/base_io.safetensors"));
    let states = branch.encoder().hidden_states(&io["mel"]).unwrap();
    let kept = model.config().whisper.as_ref().unwrap().layers;
    assert_eq!(states.len(), kept + 1, "the embedding and each of the {kept} layers kept");
    for (i, got) in states.iter().enumerate() {
        let want = &io[&format!("hidden_{i}")];
        let diff = max_abs_diff(got, want);
        println!("default model's hidden state {i}: max |candle - transformers| = {diff:.2e} (largest {:.1})", largest(want));
        let tolerance = 1e-3 * (largest(want) / 10.0).max(1.0);
        assert!(diff <= tolerance, "hidden state {i}: {diff} > {tolerance}");
    }
}

/// The tiny Whisper fused model with all layers, normalised states and 2-frame pooling: its
/// config and weights (scripts/gen_whisper_model_fixtures.py).
fn tiny_pool2_model() -> (FusedConfig, HashMap<String, Tensor>) {
    let dir = fixtures().join("whisper_model/tiny_all_layers_norm_pool2");
    let cfg = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    (cfg, read_safetensors(&dir.join("model.safetensors")).unwrap())
}

/// Clips of a few seconds from the committed speech fixtures, cut into `n` pieces.
fn speech_clips(n: usize) -> Vec<Vec<f32>> {
    let dir = fixtures().join("features");
    let mut clips = Vec::new();
    for name in ["speech", "speech_zh", "chirp", "tones"] {
        let raw = emotrace::features::npy::read(&dir.join(name).join("input_i16.npy")).unwrap();
        let x: Vec<f32> = raw.data.iter().map(|&v| v as f32 / 32768.0).collect();
        for (k, piece) in x.chunks(9_000 + 1_300 * (clips.len() % 3)).enumerate().take(2) {
            if piece.len() >= 4_000 {
                clips.push(piece.iter().map(|v| v * (0.6 + 0.2 * k as f32)).collect());
            }
        }
    }
    clips.truncate(n);
    clips
}

/// Per-call centring as trained (each group's mean states subtracted before the layer mix, on the
/// cached float16 states) and as scored (each call's mean projected state, less the projection's
/// bias, subtracted before the head) give the same logits; so do the two without centring.
#[test]
fn per_call_centring_in_training_equals_centring_at_scoring() {
    use emotrace::model::scoring::{centring_offset, logits_from_parts, score_segments, segment_parts, SegmentInput};
    use emotrace::training::cache::{group_state_means, RawExample};
    use emotrace::training::{TrainOptions, Trainer};
    let (mut cfg, init) = tiny_pool2_model();
    cfg.whisper.as_mut().unwrap().per_call_centring = true;
    let options = TrainOptions { freeze_pitch_encoder: true, mfcc_scaling: false, ..Default::default() };
    let mut trainer = Trainer::new(cfg.clone(), Some(init), options, &Device::Cpu).unwrap();
    let clips = speech_clips(6);
    assert!(clips.len() >= 6);
    let raw: Vec<RawExample> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| RawExample {
            samples: c.clone(),
            label: (i % 2) as u8,
            speaker: format!("s{}", i % 2),
            group: format!("s{}", i % 2),
            source: i,
            cache_key: None,
        })
        .collect();
    let prepared = trainer.prepare(raw, None).unwrap();
    trainer.set_group_means(Some(group_state_means(&prepared).unwrap()));
    let trained = trainer.predict_logits(&prepared).unwrap();

    let model = build_checked(trainer.tensors().unwrap(), &Device::Cpu, |vb| FusedModel::load(vb, &cfg)).unwrap();
    let extractor = emotrace::features::FeatureExtractor::for_model(&cfg);
    let inputs: Vec<SegmentInput> =
        clips.iter().map(|c| SegmentInput::from_features(extractor.extract(c).unwrap(), model.backbone())).collect();
    let parts = segment_parts(&model, &Device::Cpu, &inputs, 4).unwrap();
    for speaker in 0..2 {
        let members: Vec<usize> = (0..clips.len()).filter(|i| i % 2 == speaker).collect();
        let call: Vec<_> = members.iter().map(|&i| parts[i].clone()).collect();
        let offset = centring_offset(&model, &call).unwrap();
        assert!(offset.states.is_some(), "a centring model has an offset");
        let scored = logits_from_parts(&model, &Device::Cpu, &call, &offset).unwrap();
        for (&i, logit) in members.iter().zip(scored) {
            println!("clip {i}: trained {:.5} scored {logit:.5}", trained[i]);
            assert!((trained[i] - logit).abs() < 5e-3, "clip {i}: {} vs {logit}", trained[i]);
        }
        // score_segments takes its input as one call.
        let call_inputs: Vec<SegmentInput> = members.iter().map(|&i| inputs[i].clone()).collect();
        let direct = score_segments(&model, &Device::Cpu, &call_inputs, 4).unwrap();
        for (&i, logit) in members.iter().zip(direct) {
            assert!((trained[i] - logit).abs() < 5e-3, "score_segments, clip {i}");
        }
    }
    // Centring changes the scores (it is not a no-op on these clips).
    let mut plain_cfg = cfg.clone();
    plain_cfg.whisper.as_mut().unwrap().per_call_centring = false;
    let plain = build_checked(trainer.tensors().unwrap(), &Device::Cpu, |vb| FusedModel::load(vb, &plain_cfg)).unwrap();
    let uncentred = score_segments(&plain, &Device::Cpu, &inputs, 4).unwrap();
    assert!(uncentred.iter().zip(&trained).any(|(a, b)| (a - b).abs() > 1e-2));
}

/// The statistics head: the logit fitted in training (on the cached float16 states) is what the
/// training network adds to the fused head's, and what both inference paths add; a trained model
/// with the head frozen keeps it.
#[test]
fn a_statistics_head_scores_as_fitted_in_training_and_on_both_inference_paths() {
    use emotrace::model::scoring::{score_segments, SegmentInput};
    use emotrace::training::cache::RawExample;
    use emotrace::training::stats_fit::{clip_statistics, fit_logistic};
    use emotrace::training::{TrainOptions, Trainer};
    let (cfg, init) = tiny_pool2_model();
    let options = TrainOptions { freeze_pitch_encoder: true, mfcc_scaling: false, ..Default::default() };
    let plain = Trainer::new(cfg.clone(), Some(init.clone()), options.clone(), &Device::Cpu).unwrap();
    let clips = speech_clips(8);
    assert!(clips.len() >= 6);
    let raw: Vec<RawExample> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| RawExample { samples: c.clone(), label: (i % 2) as u8, speaker: format!("s{i}"), group: format!("s{i}"), source: i, cache_key: None })
        .collect();
    let prepared = plain.prepare(raw, None).unwrap();
    let fused_only = plain.predict_logits(&prepared).unwrap();
    let labels: Vec<u8> = prepared.iter().map(|e| e.label).collect();
    let summaries = clip_statistics(&prepared).unwrap();
    let fit = fit_logistic(summaries.clone(), &labels, 0.05, true, 3000).unwrap();
    let stats: Vec<f32> = summaries.iter().map(|x| fit.logit(x)).collect();
    assert!(stats.iter().any(|s| s.abs() > 1e-2), "the head must contribute: {stats:?}");

    let mut tensors = init.clone();
    tensors.extend(fit.tensors(1.0).unwrap());
    let mut stats_cfg = cfg.clone();
    stats_cfg.whisper.as_mut().unwrap().stats_head = true;
    let with_head = Trainer::new(stats_cfg.clone(), Some(tensors.clone()), options.clone(), &Device::Cpu).unwrap();
    assert!(Trainer::is_frozen(&options, "stats_head.weight"), "SGD must not move the fitted head");
    let trained = with_head.predict_logits(&prepared).unwrap();
    for i in 0..prepared.len() {
        assert!((trained[i] - (fused_only[i] + stats[i])).abs() < 1e-4, "clip {i}: {} vs {} + {}", trained[i], fused_only[i], stats[i]);
    }

    let model = build_checked(tensors, &Device::Cpu, |vb| FusedModel::load(vb, &stats_cfg)).unwrap();
    assert!(model.has_stats_head() && model.fast_model().unwrap().is_some());
    let extractor = emotrace::features::FeatureExtractor::for_model(&stats_cfg);
    let features: Vec<_> = clips.iter().map(|c| extractor.extract(c).unwrap()).collect();
    let inputs: Vec<SegmentInput> = features.iter().cloned().map(|f| SegmentInput::from_features(f, model.backbone())).collect();
    let scored = score_segments(&model, &Device::Cpu, &inputs, 4).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        // The cache holds float16 states; the scoring paths run float32 throughout.
        assert!((scored[i] - trained[i]).abs() < 5e-3, "clip {i}: scored {} trained {}", scored[i], trained[i]);
        let mels = stats_cfg.whisper.as_ref().unwrap().encoder.num_mel_bins;
        let mel = Tensor::from_slice(&input.audio, (1, mels, input.audio.len() / mels), &Device::Cpu).unwrap();
        let pitch = Tensor::from_slice(&input.pitch, (1, input.pitch.len()), &Device::Cpu).unwrap();
        let mfcc = Tensor::from_slice(&input.mfcc, (1, input.mfcc.len() / stats_cfg.mfcc_dim, stats_cfg.mfcc_dim), &Device::Cpu).unwrap();
        let slow = model.differentiable_forward_stages(&mel, &pitch, &mfcc).unwrap().logit.to_vec1::<f32>().unwrap()[0];
        assert!((slow - scored[i]).abs() <= STAGE_TOLERANCE * scored[i].abs().max(1.0) * 10.0, "clip {i}: paths {slow} vs {}", scored[i]);
    }
}

/// A per-call-centred statistics head: fitted on summaries centred on each speaker's mean, it adds
/// `w·(x - mean_call(x)) + b` to the fused head's logit. Training (with each group's offset) and
/// scoring (each call's offset) agree, the candle path gives the same, and centring changes the
/// scores; the call's composition matters, the order of its segments does not.
#[test]
fn a_per_call_centred_statistics_head_scores_as_fitted_in_training_and_at_scoring() {
    use emotrace::model::scoring::{centring_offset, score_segments, segment_parts, SegmentInput};
    use emotrace::training::cache::RawExample;
    use emotrace::training::stats_fit::{centre_by_group, clip_statistics, fit_logistic};
    use emotrace::training::{TrainOptions, Trainer};
    let (cfg, init) = tiny_pool2_model();
    let options = TrainOptions { freeze_pitch_encoder: true, mfcc_scaling: false, ..Default::default() };
    let plain = Trainer::new(cfg.clone(), Some(init.clone()), options.clone(), &Device::Cpu).unwrap();
    let clips = speech_clips(8);
    assert!(clips.len() >= 6);
    let group = |i: usize| format!("s{}", i % 2);
    let raw: Vec<RawExample> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| RawExample { samples: c.clone(), label: ((i / 2) % 2) as u8, speaker: group(i), group: group(i), source: i, cache_key: None })
        .collect();
    let prepared = plain.prepare(raw, None).unwrap();
    let fused_only = plain.predict_logits(&prepared).unwrap();
    let labels: Vec<u8> = prepared.iter().map(|e| e.label).collect();
    let mut summaries = clip_statistics(&prepared).unwrap();
    let groups: Vec<String> = (0..prepared.len()).map(group).collect();
    let group_refs: Vec<&str> = groups.iter().map(|g| g.as_str()).collect();
    centre_by_group(&mut summaries, &group_refs);
    let fit = fit_logistic(summaries.clone(), &labels, 0.05, true, 3000).unwrap();
    let centred: Vec<f32> = summaries.iter().map(|x| fit.logit(x)).collect();

    let mut tensors = init.clone();
    tensors.extend(fit.tensors(1.0).unwrap());
    let mut centred_cfg = cfg.clone();
    let w = centred_cfg.whisper.as_mut().unwrap();
    w.stats_head = true;
    w.stats_centring = true;
    centred_cfg.validate().unwrap();
    let mut trainer = Trainer::new(centred_cfg.clone(), Some(tensors.clone()), options.clone(), &Device::Cpu).unwrap();
    trainer.set_stats_offsets(&[&prepared]).unwrap();
    let trained = trainer.predict_logits(&prepared).unwrap();
    for i in 0..prepared.len() {
        assert!((trained[i] - (fused_only[i] + centred[i])).abs() < 1e-4, "clip {i}: {} vs {} + {}", trained[i], fused_only[i], centred[i]);
    }

    let model = build_checked(tensors.clone(), &Device::Cpu, |vb| FusedModel::load(vb, &centred_cfg)).unwrap();
    assert!(model.centres_per_call() && model.centres_stats_per_call() && !model.centres_states_per_call());
    let extractor = emotrace::features::FeatureExtractor::for_model(&centred_cfg);
    let inputs: Vec<SegmentInput> =
        clips.iter().map(|c| SegmentInput::from_features(extractor.extract(c).unwrap(), model.backbone())).collect();
    let mut uncentred_cfg = centred_cfg.clone();
    uncentred_cfg.whisper.as_mut().unwrap().stats_centring = false;
    let uncentred_model = build_checked(tensors, &Device::Cpu, |vb| FusedModel::load(vb, &uncentred_cfg)).unwrap();
    let bias = model.stats_head_bias().unwrap().unwrap();
    let mels = centred_cfg.whisper.as_ref().unwrap().encoder.num_mel_bins;
    for speaker in 0..2 {
        let members: Vec<usize> = (0..clips.len()).filter(|i| i % 2 == speaker).collect();
        let call: Vec<SegmentInput> = members.iter().map(|&i| inputs[i].clone()).collect();
        // score_segments takes its input as one call.
        let scored = score_segments(&model, &Device::Cpu, &call, 4).unwrap();
        for (&i, logit) in members.iter().zip(&scored) {
            // The cache holds float16 states; the scoring paths run float32 throughout.
            assert!((trained[i] - logit).abs() < 5e-3, "clip {i}: trained {} scored {logit}", trained[i]);
        }
        // The order of a call's segments does not matter.
        let reversed: Vec<SegmentInput> = call.iter().rev().cloned().collect();
        let mut again = score_segments(&model, &Device::Cpu, &reversed, 3).unwrap();
        again.reverse();
        assert!(again.iter().zip(&scored).all(|(a, b)| (a - b).abs() < 1e-5), "{again:?} vs {scored:?}");
        // The offset is the head on the call's mean summary: the mean logit less the bias.
        let parts = segment_parts(&model, &Device::Cpu, &call, 4).unwrap();
        let offset = centring_offset(&model, &parts).unwrap();
        assert!(offset.states.is_none());
        let stats: Vec<f32> = parts.iter().map(|p| p.stats_logit.unwrap()).collect();
        let expected = stats.iter().sum::<f32>() / stats.len() as f32 - bias;
        assert!((offset.stats - expected).abs() < 1e-5 && offset.stats.abs() > 1e-3, "offset {} vs {expected}", offset.stats);
        // The candle path: the uncentred logit less the same offset.
        for (k, &i) in members.iter().enumerate() {
            let input = &inputs[i];
            let mel = Tensor::from_slice(&input.audio, (1, mels, input.audio.len() / mels), &Device::Cpu).unwrap();
            let pitch = Tensor::from_slice(&input.pitch, (1, input.pitch.len()), &Device::Cpu).unwrap();
            let mfcc = Tensor::from_slice(&input.mfcc, (1, input.mfcc.len() / centred_cfg.mfcc_dim, centred_cfg.mfcc_dim), &Device::Cpu).unwrap();
            let slow = model.differentiable_forward_stages(&mel, &pitch, &mfcc).unwrap().logit.to_vec1::<f32>().unwrap()[0];
            let conv = model.audio_conv_features(&mel).unwrap();
            let slow_stats = model.stats_logits(&conv).unwrap().unwrap().to_vec1::<f32>().unwrap()[0];
            assert!((slow_stats - stats[k]).abs() < 1e-3 * slow_stats.abs().max(1.0), "clip {i}: stats {slow_stats} vs {}", stats[k]);
            assert!((slow - offset.stats - scored[k]).abs() < 1e-3 * scored[k].abs().max(1.0), "clip {i}: {} vs {}", slow - offset.stats, scored[k]);
        }
        // Without centring each segment keeps its own level.
        let plain_scores = score_segments(&uncentred_model, &Device::Cpu, &call, 4).unwrap();
        for (a, b) in plain_scores.iter().zip(&scored) {
            assert!((a - b - offset.stats).abs() < 1e-4, "{a} vs {b} + {}", offset.stats);
        }
    }
    // A statistics-centring config without a statistics head is refused.
    let mut bad = cfg.clone();
    bad.whisper.as_mut().unwrap().stats_centring = true;
    assert!(bad.validate().is_err());
}

/// The feature cache's key hashes what shapes the cached states, not the heads' switches: turning
/// on a statistics head or centring keeps every cached clip valid; running fewer layers does not.
#[test]
fn the_cache_digest_ignores_the_heads_switches() {
    use emotrace::training::{TrainOptions, Trainer};
    let (cfg, init) = tiny_pool2_model();
    let options = TrainOptions { freeze_pitch_encoder: true, mfcc_scaling: false, ..Default::default() };
    let digest = |cfg: &FusedConfig| Trainer::new(cfg.clone(), Some(init.clone()), options.clone(), &Device::Cpu).unwrap().frozen_digest().unwrap();
    let base = digest(&cfg);
    let mut switched = cfg.clone();
    let w = switched.whisper.as_mut().unwrap();
    w.per_call_centring = true;
    assert_eq!(digest(&switched), base);
    let w = switched.whisper.as_mut().unwrap();
    w.per_call_centring = false;
    w.stats_head = true;
    w.stats_centring = true;
    let mut with_head = init.clone();
    let width = emotrace::model::whisper::stats_head::statistics_width(w.mixed_states(), w.encoder.d_model);
    with_head.insert("stats_head.weight".into(), Tensor::zeros((1, width), candle_core::DType::F32, &Device::Cpu).unwrap());
    with_head.insert("stats_head.bias".into(), Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap());
    let head_digest = Trainer::new(switched.clone(), Some(with_head), options.clone(), &Device::Cpu).unwrap().frozen_digest().unwrap();
    assert_eq!(head_digest, base, "the statistics head is frozen but acts after the cache");
    let mut fewer = cfg.clone();
    let w = fewer.whisper.as_mut().unwrap();
    assert!(w.layers > 1);
    w.layers -= 1;
    // The layer weighting (trainable, not hashed) has one weight per mixed state.
    let mut fewer_init = init.clone();
    fewer_init.remove("layer_weights");
    let fewer_digest = Trainer::new(fewer, Some(fewer_init), options.clone(), &Device::Cpu).unwrap().frozen_digest().unwrap();
    assert_ne!(fewer_digest, base);
}

/// A whole call through the pipeline with a per-call-centred statistics head: every caller segment
/// is scored against the call — its logit is the uncentred model's less one offset, the call's mean
/// statistics-head logit less the head's bias — report.json says the scores are centred, and
/// scoring edited segments one by one is refused rather than centred on themselves (with the
/// analysis' offsets they get their analysed scores). A caller baseline (`--centre-on`) replaces
/// the call's offsets by an earlier call's, in the library and on the command line.
#[test]
fn a_call_analysed_with_a_centred_statistics_head_is_centred_on_that_call() {
    use emotrace::model::bundle::{write_bundle, BundleMeta};
    use emotrace::model::DeviceChoice;
    use emotrace::pipeline::{analyze_call, score_spans, AnalysisSettings, ScoringModel};
    use emotrace::training::stats_fit::LogisticFit;
    let (cfg, init) = tiny_pool2_model();
    let w = cfg.whisper.as_ref().unwrap();
    let width = emotrace::model::whisper::stats_head::statistics_width(w.mixed_states(), w.encoder.d_model);
    // A fixed head that reads the states' means and spreads (values vary by feature).
    let head = LogisticFit {
        weight: (0..width).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.4).collect(),
        bias: 0.3,
        iterations: 0,
        gradient_norm: 0.0,
    };
    let mut with_head = init.clone();
    with_head.extend(head.tensors(1.0).unwrap());
    let work = tempfile::tempdir().unwrap();
    let bundle = |name: &str, stats_head: bool, centring: bool, tensors: &HashMap<String, Tensor>| {
        let mut c = cfg.clone();
        let w = c.whisper.as_mut().unwrap();
        w.stats_head = stats_head;
        w.stats_centring = centring;
        let out = work.path().join(name);
        write_bundle(&out, &c, tensors, BundleMeta::new(name, "test", "test", false), false).unwrap();
        ScoringModel::load(&out, DeviceChoice::Cpu).unwrap()
    };
    let centred = bundle("centred", true, true, &with_head);
    let absolute = bundle("absolute", true, false, &with_head);
    let fused_only = bundle("fused", false, false, &init);

    let call = emotrace::assets::install_demo_call_in(work.path()).unwrap();
    // The tiny encoder has 64 positions (1.28 s): segments are cut to fit.
    let mut settings = AnalysisSettings::default();
    settings.segmentation.max_segment_s = 1.2;
    settings.segmentation.split_search_s = 0.4;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let analysis = analyze_call(&call, &settings, &centred, &mut |_| {}, &cancel).unwrap();
    assert!(analysis.model.per_call_centring);
    let n = analysis.segments.len();
    assert!(n >= 20, "{n} caller segments");
    let spans: Vec<(usize, f64, f64)> = analysis.segments.iter().map(|s| (s.channel, s.start_s, s.end_s)).collect();
    // Edited segments alone would be centred on themselves: without the call's offsets, refused.
    let refused = score_spans(&centred, &emotrace::audio::load_16k(&call).unwrap(), &spans[..2], 8, None);
    assert!(refused.is_err_and(|e| e.to_string().contains("analyse the call again")));

    let audio = emotrace::audio::load_16k(&call).unwrap();
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let plain: Vec<f64> = score_spans(&absolute, &audio, &spans, 8, None).unwrap().into_iter().map(|p| logit(p.unwrap())).collect();
    let fused: Vec<f64> = score_spans(&fused_only, &audio, &spans, 8, None).unwrap().into_iter().map(|p| logit(p.unwrap())).collect();
    let offset = plain.iter().zip(&fused).map(|(p, f)| p - f).sum::<f64>() / n as f64 - head.bias as f64;
    assert!(offset.abs() > 0.05, "the call's offset {offset} must matter for the test to mean anything");
    for (k, segment) in analysis.segments.iter().enumerate() {
        let expected = plain[k] - offset;
        assert!((logit(segment.p_nonnegative) - expected).abs() < 2e-3, "segment {k}: {} vs {expected}", logit(segment.p_nonnegative));
    }
    // With the analysis' offsets, any two segments scored again (as the window does after an
    // edit) get exactly the analysis' scores: heard against the whole call, not each other.
    let offsets = analysis.call_offsets.as_ref().expect("a centring model's analysis keeps its call offsets");
    assert!((offsets.stats as f64 - offset).abs() < 2e-3, "{} vs {offset}", offsets.stats);
    for pair in [[0, n - 1], [n / 2, n / 3]] {
        let chosen: Vec<(usize, f64, f64)> = pair.iter().map(|&k| spans[k]).collect();
        let again = score_spans(&centred, &audio, &chosen, 8, Some(offsets)).unwrap();
        for (&k, p) in pair.iter().zip(again) {
            assert!((p.unwrap() - analysis.segments[k].p_nonnegative).abs() < 1e-5, "segment {k}: {p:?} vs {}", analysis.segments[k].p_nonnegative);
        }
    }
    // A shortened segment is scored (not refused) against the same call mean.
    let (channel, start, end) = spans[n / 2];
    let shortened = score_spans(&centred, &audio, &[(channel, start, start + (end - start) * 0.7)], 8, Some(offsets)).unwrap();
    assert!(shortened[0].is_some_and(|p| p > 0.0 && p < 1.0 && (p - analysis.segments[n / 2].p_nonnegative).abs() > 1e-6));
    let report = work.path().join("report");
    emotrace::report::call_report::write_call_report(&analysis, 0.0, &report, Default::default()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["model_scores_centred_on_call"], true);
    assert!(json.get("model_scores_centred_on_baseline").is_none());

    // A caller baseline: this report's offsets, read back, then used for another analysis.
    use emotrace::pipeline::CallBaseline;
    let baseline = CallBaseline::from_report(&report).unwrap();
    assert_eq!(&baseline.offsets, offsets);
    assert_eq!(baseline.source, call.display().to_string());
    assert_eq!(baseline.model_weights_sha256, centred.info().weights_sha256);
    // Shifted by 0.5 on purpose: every score must move by exactly that, i.e. the baseline's
    // offsets are used, not the call's own.
    let mut shifted = baseline.clone();
    shifted.offsets.stats += 0.5;
    let on_baseline = AnalysisSettings { baseline: Some(shifted.clone()), ..settings.clone() };
    let relative = analyze_call(&call, &on_baseline, &centred, &mut |_| {}, &cancel).unwrap();
    assert_eq!(relative.segments.len(), n);
    for (k, (a, b)) in analysis.segments.iter().zip(&relative.segments).enumerate() {
        let moved = logit(a.p_nonnegative) - logit(b.p_nonnegative);
        assert!((moved - 0.5).abs() < 1e-3, "segment {k}: moved by {moved}");
    }
    assert_eq!(relative.call_offsets.as_ref(), Some(&shifted.offsets));
    let relative_report = work.path().join("relative");
    emotrace::report::call_report::write_call_report(&relative, 0.0, &relative_report, Default::default()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(relative_report.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["model_scores_centred_on_call"], false);
    assert_eq!(json["model_scores_centred_on_baseline"], call.display().to_string());
    // A report centred on a baseline hands that baseline on.
    assert_eq!(CallBaseline::from_report(&relative_report).unwrap(), shifted);
    // Refused: a model that does not centre, and another centring model's offsets.
    let refused = |model: &ScoringModel, baseline: &CallBaseline| {
        let settings = AnalysisSettings { baseline: Some(baseline.clone()), ..settings.clone() };
        analyze_call(&call, &settings, model, &mut |_| {}, &cancel).unwrap_err().to_string()
    };
    assert!(refused(&absolute, &baseline).contains("does not centre"), "{}", refused(&absolute, &baseline));
    let other = CallBaseline { model_weights_sha256: "0".repeat(64), ..baseline.clone() };
    assert!(refused(&centred, &other).contains("another model"), "{}", refused(&centred, &other));
    assert!(CallBaseline::from_report(&work.path().join("nowhere")).is_err());

    // The same through the command line: `analyze --centre-on REPORT_DIR`.
    let cli_out = work.path().join("cli");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .args(["analyze", &call.display().to_string(), "--quiet", "--max-segment-s", "1.2", "--split-search-s", "0.4"])
        .arg("--model").arg(work.path().join("centred"))
        .arg("--centre-on").arg(&relative_report)
        .arg("--out").arg(&cli_out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("baseline call"));
    let cli = std::fs::read_to_string(cli_out.join("segments.csv")).unwrap();
    let ps: Vec<f64> = cli.lines().skip(1).map(|l| l.split(',').nth(5).unwrap().parse().unwrap()).collect();
    assert_eq!(ps.len(), n);
    for (p, b) in ps.iter().zip(&relative.segments) {
        assert!((p - b.p_nonnegative).abs() < 1e-5, "{p} vs {}", b.p_nonnegative);
    }
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_emotrace"))
        .args(["analyze", &call.display().to_string(), "--quiet"])
        .arg("--model").arg(work.path().join("absolute"))
        .arg("--centre-on").arg(&report)
        .arg("--out").arg(work.path().join("cli-refused"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not centre"), "{}", String::from_utf8_lossy(&refused.stderr));
}

/// `train --init B --epochs 0 --stats-head [--stats-centring] [--stats-alone]` end to end on a
/// tiny Whisper bundle: the bundle gets the head, its switches and the stacking; "alone" weights
/// the fused head's logit 0 (its classifier becomes a constant), otherwise the fused head keeps
/// a weight; the feature cache written by the first run serves the second.
#[test]
fn train_fits_a_statistics_head_on_a_bundle_centred_and_alone() {
    use emotrace::model::bundle::{load_bundle, write_bundle, BundleMeta};
    use emotrace::training::job::{run_train_job, StatsHeadFit, TrainJob};
    use emotrace::training::{TrainOptions, ValSpeakers};
    let (cfg, init) = tiny_pool2_model();
    let work = tempfile::tempdir().unwrap();
    let start = work.path().join("start");
    write_bundle(&start, &cfg, &init, BundleMeta::new("start", "test", "test", false), false).unwrap();
    // Three speakers, both classes each; clips under the tiny encoder's 1.28 s.
    let mut manifest = String::from("path,label_binary,speaker\n");
    let clips = speech_clips(8);
    for speaker in 0..3 {
        for (k, clip) in clips.iter().enumerate() {
            let gain = 0.5 + 0.2 * speaker as f32;
            let samples: Vec<f32> = clip.iter().take(19_000).map(|v| v * gain).collect();
            let name = format!("s{speaker}_{k}.wav");
            emotrace::audio::wav::write_wav_f32(&work.path().join(&name), 16_000, &[samples]).unwrap();
            let label = if (k + speaker) % 2 == 0 { "negative" } else { "non-negative" };
            manifest.push_str(&format!("{name},{label},s{speaker}\n"));
        }
    }
    let manifest_path = work.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let cache = work.path().join("cache");
    let job = |out: &str, fit: StatsHeadFit| TrainJob {
        manifests: vec![manifest_path.clone()],
        out: work.path().join(out),
        init: Some(start.clone()),
        config: cfg.clone(),
        config_name: "test".into(),
        options: TrainOptions {
            epochs: 0,
            freeze_pitch_encoder: true,
            mfcc_scaling: false,
            feature_cache: Some(cache.clone()),
            checkpoint_dir: Some(work.path().join(format!("{out}.checkpoint"))),
            ..Default::default()
        },
        val: ValSpeakers::Named(vec!["s2".into()]),
        exclude_speakers: Vec::new(),
        calibrate: true,
        per_call_centring: false,
        stats_head: Some(fit),
        licences: Vec::new(),
        name: None,
        max_clips: None,
        overwrite: false,
        command: "test".into(),
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let classifier = |out: &str| {
        let tensors = read_safetensors(&work.path().join(out).join("model.safetensors")).unwrap();
        tensors["classifier.weight"].flatten_all().unwrap().to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap()
    };
    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).map(|p| if p.is_dir() { files(&p) } else { 1 }).sum()
    }
    run_train_job(&job("stacked", StatsHeadFit { l2: 0.5, centring: false, nuisance_dims: 0, alone: false, corpus_centred_fit: false, speaker_balanced: false }), None, &cancel).unwrap();
    let cached = files(&cache);
    assert!(cached > 0, "the first run fills the feature cache");
    run_train_job(&job("alone", StatsHeadFit { l2: 0.5, centring: true, nuisance_dims: 0, alone: true, corpus_centred_fit: false, speaker_balanced: false }), None, &cancel).unwrap();
    assert_eq!(files(&cache), cached, "the centred head reuses every cached clip");

    let (_, stacked) = load_bundle(&work.path().join("stacked"), &Device::Cpu).unwrap();
    let w = stacked.config.whisper.as_ref().unwrap();
    assert!(w.stats_head && !w.stats_centring);
    assert!(classifier("stacked").iter().any(|v| v.abs() > 1e-6));
    let (alone_model, alone) = load_bundle(&work.path().join("alone"), &Device::Cpu).unwrap();
    let w = alone.config.whisper.as_ref().unwrap();
    assert!(w.stats_head && w.stats_centring && alone_model.centres_stats_per_call());
    assert!(classifier("alone").iter().all(|v| *v == 0.0), "the fused head's logit weighs 0");
    let record = &alone.meta.metrics["stats_head"];
    assert_eq!(record["alone"], true);
    assert_eq!(record["centring"], true);
    assert_eq!(record["stacking"]["fused"], 0.0);
}

/// `export-model default-centred` writes the built-in centred model as a bundle that `analyze`
/// takes; each channel of the demo call (two voices) is then centred on itself: the mean logit of
/// its caller segments is the same for both, where the default model's means differ.
#[test]
fn the_built_in_centred_model_exports_and_centres_each_call_on_itself() {
    let work = tempfile::tempdir().unwrap();
    let call = emotrace::assets::install_demo_call_in(work.path()).unwrap();
    let exe = env!("CARGO_BIN_EXE_emotrace");
    let bundle = work.path().join("centred");
    let export = std::process::Command::new(exe).args(["export-model", "default-centred"]).arg(&bundle).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let again = std::process::Command::new(exe).args(["export-model", "default-centred"]).arg(&bundle).output().unwrap();
    assert!(!again.status.success(), "an existing folder is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"), "{}", String::from_utf8_lossy(&again.stderr));

    let mean_logit = |model: Option<&Path>, caller: &str| -> (f64, usize, serde_json::Value) {
        let out = work.path().join(format!("out-{caller}-{}", model.is_some()));
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["analyze", &call.display().to_string(), "--quiet", "--caller", caller]).arg("--out").arg(&out);
        if let Some(model) = model {
            cmd.arg("--model").arg(model);
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let csv = std::fs::read_to_string(out.join("segments.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = header.iter().position(|h| *h == "p_nonnegative").unwrap();
        let ps: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(column).unwrap().parse().unwrap()).collect();
        let logits: Vec<f64> = ps.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
        (logits.iter().sum::<f64>() / logits.len() as f64, logits.len(), report)
    };
    let (left, n_left, report) = mean_logit(Some(&bundle), "left");
    let (right, n_right, _) = mean_logit(Some(&bundle), "right");
    assert!(n_left >= 10 && n_right >= 10, "{n_left} / {n_right} caller segments");
    assert_eq!(report["model_scores_centred_on_call"], true);
    assert!((left - right).abs() < 0.02, "centred means {left} / {right}");
    let (plain_left, _, plain_report) = mean_logit(None, "left");
    let (plain_right, _, _) = mean_logit(None, "right");
    assert_eq!(plain_report["model_scores_centred_on_call"], false);
    assert!((plain_left - plain_right).abs() > 0.2, "the default's means {plain_left} / {plain_right} must differ for the test to mean anything");
}
