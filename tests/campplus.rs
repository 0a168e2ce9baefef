//! The CAM++ speaker encoder against the reference: 3D-Speaker's network definition run in
//! PyTorch on torchaudio's Kaldi fbank, with small random weights and random batch-norm
//! statistics (fixture written by `scripts/gen_campplus_fixtures.py`). Tolerances: log-mel
//! |Δ| ≤ 2e-3 + 1e-4·|ref| (float32 FFTs in a different order; the log magnifies the difference
//! only where a band's energy is tiny); embeddings |Δ| ≤ 1e-4 · max|ref| (float32 convolutions).
//! Also: import detects CAM++ by its tensor names, and import/load round-trips.
mod mono_calls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use emotrace::features::kaldi_fbank::KaldiFbank;
use emotrace::gui::encoder_import::install;
use emotrace::model::campplus::{CamPlus, CamPlusConfig};
use emotrace::model::speaker_encoder_store::{build_campplus, import, load, read_checkpoint, EncoderConfig, SpeakerEncoderNet};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/campplus")
}

fn config_in(dir: &Path) -> CamPlusConfig {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

fn io(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("io.safetensors"), &Device::Cpu).unwrap()
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn largest_difference(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len());
    ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

fn clips(io: &HashMap<String, Tensor>) -> Vec<Vec<f32>> {
    let n = (0..).take_while(|k| io.contains_key(&format!("wav_{k}"))).count();
    assert!(n >= 4, "fixture has {n} clips");
    (0..n).map(|k| vec1(&io[&format!("wav_{k}")])).collect()
}

fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// Filterbank and embedding of every clip against the reference.
fn check_against(encoder: &CamPlus, io: &HashMap<String, Tensor>) {
    let fbank = KaldiFbank::new(16_000, encoder.config().feat_dim);
    let wavs = clips(io);
    let refs: Vec<&[f32]> = wavs.iter().map(Vec::as_slice).collect();
    let embeddings = encoder.embed_utterances(&refs).unwrap();
    for (k, wav) in wavs.iter().enumerate() {
        let reference = vec1(&io[&format!("fbank_{k}")]);
        let ours = fbank.compute(wav);
        assert_eq!(ours.len(), reference.len(), "clip {k}: frames");
        let excess = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs() - (2e-3 + 1e-4 * b.abs())).fold(f32::MIN, f32::max);
        eprintln!("clip {k}: largest log-mel difference {:.1e}", largest_difference(&ours, &reference));
        assert!(excess <= 0.0, "clip {k}: log-mel differs beyond tolerance by {excess}");

        let reference = vec1(&io[&format!("embedding_{k}")]);
        let frames = ours.len() / encoder.config().feat_dim;
        let input = Tensor::from_vec(encoder.features(wav), (1, frames, encoder.config().feat_dim), &Device::Cpu).unwrap();
        let raw = vec1(&encoder.forward(&input).unwrap());
        let scale = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let difference = largest_difference(&raw, &reference);
        eprintln!("clip {k}: largest embedding difference {difference:.1e} (largest value {scale:.2})");
        assert!(difference <= 1e-4 * scale, "clip {k}: embedding differs by {difference}");
        // What the diarizer uses (the CPU path): the same embedding at unit length.
        let difference = largest_difference(&embeddings[k], &unit(&reference));
        eprintln!("clip {k}: largest unit-embedding difference (CPU path) {difference:.1e}");
        assert!(difference <= 1e-4, "clip {k}: unit embedding differs by {difference}");
    }
    // The embeddings tell the clips apart (the fixture is not degenerate).
    let distance = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
    assert!(distance(&embeddings[0], &embeddings[1]) > 0.01);
}

#[test]
fn embeddings_match_the_reference_network_on_random_weights() {
    let dir = fixture_dir();
    let encoder = build_campplus(read_checkpoint(&dir.join("campplus_zip.pt")).unwrap(), &config_in(&dir), &Device::Cpu).unwrap();
    check_against(&encoder, &io(&dir));
}

#[test]
fn import_recognises_campplus_and_the_installed_folder_loads_as_campplus() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture_dir();
    let config = EncoderConfig::CamPlus(config_in(&dir));
    let dest = tmp.path().join("speaker-encoder");
    let (written, installed) = import(&dir.join("campplus_zip.pt"), Some(&config), &dest, false).unwrap();
    assert_eq!(installed, config);
    // Every weight and batch-norm statistic; the batch counters are left out.
    let tensors = read_checkpoint(&dir.join("campplus_zip.pt")).unwrap();
    assert_eq!(written, tensors.len());
    assert!(tensors.keys().all(|name| !name.ends_with("num_batches_tracked")));
    let wavs = clips(&io(&dir));
    match load(&dest, &Device::Cpu).unwrap() {
        SpeakerEncoderNet::CamPlus(encoder) => {
            let reference = build_campplus(tensors.clone(), &config_in(&dir), &Device::Cpu).unwrap();
            let refs: Vec<&[f32]> = wavs.iter().map(Vec::as_slice).collect();
            assert_eq!(encoder.embed_utterances(&refs).unwrap(), reference.embed_utterances(&refs).unwrap());
        }
        SpeakerEncoderNet::Ge2e(_) => panic!("a CAM++ folder loaded as GE2E"),
    }

    // Without a config the tensor names say CAM++, and the published network's shape is
    // assumed: it does not fit this small one, and every problem is named.
    assert!(matches!(EncoderConfig::for_tensors(&tensors), EncoderConfig::CamPlus(c) if c == CamPlusConfig::default()));
    let other = tmp.path().join("other");
    let err = import(&dir.join("campplus_zip.pt"), None, &other, false).unwrap_err().to_string();
    assert!(err.contains("head.conv1.weight") && err.contains("xvector.dense.linear.weight"), "{err}");
    assert!(!other.exists(), "nothing is installed from a refused checkpoint");
}

/// The window's import (Model → Import speaker encoder…): it replaces an encoder installed
/// earlier (the user picked the file), and a checkpoint that does not fit leaves the installed
/// encoder as it was.
#[test]
fn the_windows_import_replaces_an_installed_encoder_and_a_refused_one_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture_dir();
    let config = EncoderConfig::CamPlus(config_in(&dir));
    let dest = tmp.path().join("speaker-encoder");
    let checkpoint = dir.join("campplus_zip.pt");
    for _ in 0..2 {
        let network = install(&checkpoint, Some(&config), &dest).unwrap();
        assert!(network.starts_with("CAM++"), "{network}");
    }
    let before = std::fs::read(dest.join("model.safetensors")).unwrap();
    // Without the small network's config the published shape is assumed, which does not fit.
    let refused = install(&checkpoint, None, &dest).unwrap_err();
    assert!(refused.contains("campplus_zip.pt") && refused.contains("head.conv1.weight"), "{refused}");
    assert_eq!(std::fs::read(dest.join("model.safetensors")).unwrap(), before);
    assert!(matches!(load(&dest, &Device::Cpu).unwrap(), SpeakerEncoderNet::CamPlus(_)));
}

#[test]
fn too_short_audio_gets_a_zero_embedding_not_an_error() {
    let dir = fixture_dir();
    let encoder = build_campplus(read_checkpoint(&dir.join("campplus_zip.pt")).unwrap(), &config_in(&dir), &Device::Cpu).unwrap();
    let silence = vec![0.0f32; 100];
    let out = encoder.embed_utterances(&[&silence, &[]]).unwrap();
    assert!(out.iter().all(|e| e.len() == encoder.config().embedding_size && e.iter().all(|x| *x == 0.0)));
}

/// With the real weights (not in the repository): EMOTRACE_CAMPLUS_REAL=DIR, where DIR holds
/// `io.safetensors` and `config.json` from `gen_campplus_fixtures.py --checkpoint PT --out DIR`
/// and a copy of that checkpoint as `campplus.pt`.
#[test]
fn embeddings_match_the_reference_with_the_published_weights_when_given() {
    let Some(dir) = std::env::var_os("EMOTRACE_CAMPLUS_REAL").map(PathBuf::from) else {
        eprintln!("skipped: set EMOTRACE_CAMPLUS_REAL to check the published CAM++ weights");
        return;
    };
    let tensors = read_checkpoint(&dir.join("campplus.pt")).unwrap();
    assert!(matches!(EncoderConfig::for_tensors(&tensors), EncoderConfig::CamPlus(_)));
    let encoder = build_campplus(tensors, &CamPlusConfig::default(), &Device::Cpu).unwrap();
    check_against(&encoder, &io(&dir));
}

/// The built-in encoder is the published network: its embeddings of four clips match the ones
/// PyTorch computes with the published float32 checkpoint (`published_io.safetensors`, from
/// `gen_campplus_fixtures.py --checkpoint campplus_cn_en_common.pt`). The built-in copy stores
/// its matrices as float16, so the tolerance is that rounding's, not the float32 parity's above.
#[test]
fn the_built_in_encoder_reproduces_the_published_embeddings() {
    let io = candle_core::safetensors::load(fixture_dir().join("published_io.safetensors"), &Device::Cpu).unwrap();
    let SpeakerEncoderNet::CamPlus(encoder) = emotrace::model::builtin_speaker_encoder::load(&Device::Cpu).unwrap() else {
        panic!("the built-in encoder is CAM++");
    };
    let wavs = clips(&io);
    let refs: Vec<&[f32]> = wavs.iter().map(Vec::as_slice).collect();
    let embeddings = encoder.embed_utterances(&refs).unwrap();
    for (k, ours) in embeddings.iter().enumerate() {
        let reference = unit(&vec1(&io[&format!("embedding_{k}")]));
        let cosine: f32 = ours.iter().zip(&reference).map(|(a, b)| a * b).sum();
        let difference = largest_difference(ours, &reference);
        eprintln!("clip {k}: cosine to the published network {cosine:.6}, largest unit-embedding difference {difference:.1e}");
        assert!(cosine >= 0.9999, "clip {k}: cosine {cosine}");
        assert!(difference <= 3e-3, "clip {k}: unit embedding differs by {difference}");
    }
}

/// The whole route a user takes: import a CAM++ checkpoint with the binary, then segment a mono
/// call with it; the report says a speaker encoder was used.
#[test]
fn segment_and_analyze_use_an_imported_campplus_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = mono_calls::write_two_voice_call(tmp.path());
    let data = tmp.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_emotrace")).args(args).env("EMOTRACE_DATA_DIR", &data).output().unwrap()
    };
    let dir = fixture_dir();
    let out = run(&["import-speaker-encoder".as_ref(), dir.join("campplus_zip.pt").as_os_str(), "--config".as_ref(), dir.join("config.json").as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("CAM++"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));

    let csv = tmp.path().join("segments.csv");
    let out = run(&["segment".as_ref(), wav.as_os_str(), "--out".as_ref(), csv.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let segments = emotrace::segmentation::segments_csv::read_segments(&csv).unwrap();
    assert!(segments.len() >= 10, "{segments:?}");

    let report_dir = tmp.path().join("report");
    let out = run(&["analyze".as_ref(), wav.as_os_str(), "--out".as_ref(), report_dir.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["caller_assignment"]["speaker_encoder"], "imported", "{report}");
}
