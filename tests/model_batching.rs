//! A segment's score must not depend on which other segments are scored with it
//! (the model has no padding mask; SPEC §4).
use std::path::Path;

use candle_core::Device;
use emotrace::model::bundle::{load_bundle, write_bundle, BundleMeta};
use emotrace::model::import::{import_checkpoint, HeadOptions};
use emotrace::model::scoring::{score_segments, SegmentInput};

fn segment(samples: usize, seed: u32) -> SegmentInput {
    let wave = |phase: f32| -> Vec<f32> {
        (0..samples).map(|i| ((i as f32 * 0.013 * (seed as f32 + 1.0)) + phase).sin()).collect()
    };
    SegmentInput {
        audio: wave(0.0),
        pitch: wave(1.0),
        mfcc: (0..1001 * 39).map(|i| ((i as f32 * 0.7 + seed as f32).sin()) * 5.0).collect(),
    }
}

#[test]
fn scores_do_not_depend_on_batch_mates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_group_postnorm");
    let imported = import_checkpoint(&dir.join("model.pth"), &dir.join("hf_wav2vec2/config.json"), &HeadOptions {
        cross_heads: 4,
        self_heads: 8,
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    write_bundle(&out, &imported.config, &imported.tensors, BundleMeta::new("t", "test", "test", false), false).unwrap();
    let (model, _) = load_bundle(&out, &Device::Cpu).unwrap();

    let target = segment(6000, 0);
    let alone = score_segments(&model, &Device::Cpu, std::slice::from_ref(&target), 8).unwrap()[0];
    // Batch-mates of other lengths and of the same length, before and after it.
    let mates = vec![segment(9000, 1), target.clone(), segment(6000, 2), segment(4000, 3), segment(6000, 4)];
    let together = score_segments(&model, &Device::Cpu, &mates, 8).unwrap();
    assert!((together[1] - alone).abs() <= 1e-5, "alone {alone}, in a batch {}", together[1]);
    // The same segment twice in one batch scores the same both times.
    let twice = score_segments(&model, &Device::Cpu, &[target.clone(), segment(6000, 5), target], 8).unwrap();
    assert!((twice[0] - twice[2]).abs() <= 1e-6);
    assert!((twice[0] - alone).abs() <= 1e-5);
    // Different segments get different scores (the test would be vacuous otherwise).
    assert!((together[0] - together[1]).abs() > 1e-6);
    // Batches run concurrently on the CPU: every score still comes back at its segment's place.
    for (i, mate) in mates.iter().enumerate() {
        let own = score_segments(&model, &Device::Cpu, std::slice::from_ref(mate), 8).unwrap()[0];
        assert!((together[i] - own).abs() <= 1e-5, "segment {i}: alone {own}, among others {}", together[i]);
    }
    let many: Vec<SegmentInput> = (0..12).map(|k| segment(4000 + 400 * (k % 5), 10 + k as u32)).collect();
    let all = score_segments(&model, &Device::Cpu, &many, 2).unwrap();
    for (k, one) in many.iter().enumerate() {
        let own = score_segments(&model, &Device::Cpu, std::slice::from_ref(one), 1).unwrap()[0];
        assert!((all[k] - own).abs() <= 1e-5, "segment {k}: alone {own}, among twelve {}", all[k]);
    }
}

#[test]
fn inference_models_do_not_record_autograd_graphs() {
    // A model built for inference must take the fast, graph-free paths.
    let cfg: emotrace::model::FusedConfig = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_group_postnorm/config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let model = emotrace::model::bench::random_model(&cfg, &Device::Cpu).unwrap();
    let audio = candle_core::Tensor::randn(0f32, 1.0, (1, 4000), &Device::Cpu).unwrap();
    let mfcc = candle_core::Tensor::randn(0f32, 1.0, (1, 20, 39), &Device::Cpu).unwrap();
    let logit = model.forward(&audio, &audio, &mfcc).unwrap();
    assert!(!logit.track_op());
}
