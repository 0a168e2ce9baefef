//! The GE2E speaker encoder against Resemblyzer's own code (`VoiceEncoder.embed_utterance`, with
//! librosa's mel spectrogram) on a small random-weight network: fixture written by
//! `scripts/gen_speaker_encoder_fixtures.py`. Tolerances: mel power |Δ| ≤ 1e-6 + 1e-5·|ref|
//! (float32 STFT and mel sums in a different order); embeddings |Δ| ≤ 2e-5 (float32 LSTM).
//! Also: both checkpoint formats read the same tensors, and import/load round-trips.
mod mono_calls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use mono_calls::{voice, write_two_voice_call};
use emotrace::model::speaker_encoder::{SpeakerEncoder, SpeakerEncoderConfig};
use emotrace::model::speaker_encoder_store::{build_encoder, import, load, read_checkpoint, EncoderConfig, SpeakerEncoderNet};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/speaker_encoder")
}

fn fixture_config() -> SpeakerEncoderConfig {
    serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("config.json")).unwrap()).unwrap()
}

fn io(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("io.safetensors"), &Device::Cpu).unwrap()
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn max_excess(ours: &[f32], reference: &[f32], abs: f32, rel: f32) -> f32 {
    assert_eq!(ours.len(), reference.len());
    ours.iter().zip(reference).map(|(a, b)| (a - b).abs() - (abs + rel * b.abs())).fold(f32::MIN, f32::max)
}

/// Mel, partial and utterance embeddings of every fixture clip against the reference.
fn check_against(encoder: &SpeakerEncoder, io: &HashMap<String, Tensor>, mel_tolerance: (f32, f32), embedding_tolerance: f32) {
    let clips = (0..).take_while(|k| io.contains_key(&format!("wav_{k}"))).count();
    assert!(clips >= 4, "fixture has {clips} clips");
    let wavs: Vec<Vec<f32>> = (0..clips).map(|k| vec1(&io[&format!("wav_{k}")])).collect();
    let refs: Vec<&[f32]> = wavs.iter().map(Vec::as_slice).collect();
    let partials = encoder.embed_partials(&refs).unwrap();
    let embeddings = encoder.embed_utterances(&refs).unwrap();
    for k in 0..clips {
        let mel_ref = vec1(&io[&format!("mel_{k}")]);
        let mel = encoder.mel_spectrogram(&wavs[k]);
        let excess = max_excess(&mel, &mel_ref, mel_tolerance.0, mel_tolerance.1);
        assert!(excess <= 0.0, "clip {k}: mel differs beyond tolerance by {excess}");

        let p_ref = &io[&format!("partials_{k}")];
        assert_eq!(partials[k].len(), p_ref.dim(0).unwrap(), "clip {k}: number of partials");
        let flat: Vec<f32> = partials[k].iter().flatten().copied().collect();
        let excess = max_excess(&flat, &vec1(p_ref), embedding_tolerance, 0.0);
        eprintln!("clip {k}: largest partial-embedding difference {:.1e}", excess + embedding_tolerance);
        assert!(excess <= 0.0, "clip {k}: partial embeddings differ beyond tolerance by {excess}");
        let excess = max_excess(&embeddings[k], &vec1(&io[&format!("embedding_{k}")]), embedding_tolerance, 0.0);
        assert!(excess <= 0.0, "clip {k}: utterance embedding differs beyond tolerance by {excess}");
    }
    // The embeddings tell the clips apart (the fixture is not degenerate).
    let distance = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
    assert!(distance(&embeddings[0], &embeddings[1]) > 0.01);
}

#[test]
fn legacy_and_zip_checkpoints_hold_the_same_encoder_tensors() {
    let legacy = read_checkpoint(&fixture_dir().join("encoder_legacy.pt")).unwrap();
    let zip = read_checkpoint(&fixture_dir().join("encoder_zip.pt")).unwrap();
    // 3 layers x 4 LSTM tensors + linear weight and bias; the GE2E loss's two tensors dropped.
    assert_eq!(legacy.len(), 14);
    let mut names: Vec<&String> = legacy.keys().collect();
    names.sort();
    assert_eq!(names, { let mut z: Vec<&String> = zip.keys().collect(); z.sort(); z });
    for (name, t) in &legacy {
        assert_eq!(t.dims(), zip[name].dims(), "{name}");
        assert_eq!(vec1(t), vec1(&zip[name]), "{name}");
    }
}

#[test]
fn embeddings_match_resemblyzer_on_a_random_network() {
    let tensors = read_checkpoint(&fixture_dir().join("encoder_legacy.pt")).unwrap();
    let encoder = build_encoder(tensors, &fixture_config(), &Device::Cpu).unwrap();
    check_against(&encoder, &io(&fixture_dir()), (1e-6, 1e-5), 2e-5);
}

#[test]
fn import_installs_an_encoder_that_loads_and_refuses_a_mismatched_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("speaker-encoder");
    let config = EncoderConfig::Ge2e(fixture_config());
    let (written, _) = import(&fixture_dir().join("encoder_zip.pt"), Some(&config), &dest, false).unwrap();
    assert_eq!(written, 14);
    match load(&dest, &Device::Cpu).unwrap() {
        SpeakerEncoderNet::Ge2e(encoder) => check_against(&encoder, &io(&fixture_dir()), (1e-6, 1e-5), 2e-5),
        SpeakerEncoderNet::CamPlus(_) => panic!("a GE2E checkpoint loaded as CAM++"),
    }
    // An existing installation is kept unless replacing is asked for.
    let again = import(&fixture_dir().join("encoder_zip.pt"), Some(&config), &dest, false).unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    assert!(import(&fixture_dir().join("encoder_legacy.pt"), Some(&config), &dest, true).is_ok());

    // The default (Resemblyzer-sized) network, which the tensor names point to, does not fit
    // these weights: every problem is named.
    let other = tmp.path().join("other");
    let err = import(&fixture_dir().join("encoder_zip.pt"), None, &other, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lstm.weight_hh_l0") && err.contains("linear.weight"), "{err}");
    assert!(!other.exists(), "nothing is installed from a refused checkpoint");

    // A file that is no checkpoint gives a message, not a panic.
    let junk = tmp.path().join("junk.pt");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    assert!(import(&junk, Some(&config), &other, false).is_err());
}

/// With the real weights (not in the repository): EMOTRACE_SPEAKER_ENCODER_REAL=DIR, where DIR holds
/// `io.safetensors` from `gen_speaker_encoder_fixtures.py --checkpoint pretrained.pt --out DIR`
/// and a copy of that `pretrained.pt`.
#[test]
fn embeddings_match_resemblyzer_with_its_pretrained_weights_when_given() {
    let Some(dir) = std::env::var_os("EMOTRACE_SPEAKER_ENCODER_REAL").map(PathBuf::from) else {
        eprintln!("skipped: set EMOTRACE_SPEAKER_ENCODER_REAL to check the pretrained weights");
        return;
    };
    let tensors = read_checkpoint(&dir.join("pretrained.pt")).unwrap();
    let encoder = build_encoder(tensors, &SpeakerEncoderConfig::default(), &Device::Cpu).unwrap();
    check_against(&encoder, &io(&dir), (1e-6, 1e-5), 1e-4);
}

#[test]
fn piece_embedder_streams_the_pieces_it_would_embed_whole() {
    use emotrace::segmentation::piece_embeddings::{plan_piece_spans, PieceEmbedder};
    use emotrace::segmentation::utterances::TimeSpan;

    let encoder = SpeakerEncoderNet::Ge2e(
        build_encoder(read_checkpoint(&fixture_dir().join("encoder_zip.pt")).unwrap(), &fixture_config(), &Device::Cpu).unwrap(),
    );
    let rate = 8000;
    let signal = voice(7.0, 140.0, rate);
    let spans = [TimeSpan { start_s: 0.2, end_s: 2.9 }, TimeSpan { start_s: 3.5, end_s: 6.1 }, TimeSpan { start_s: 6.5, end_s: 7.4 }];
    let mut embedder = PieceEmbedder::new(&encoder, rate, &spans);
    // Odd chunk sizes, so pieces start and end inside chunks.
    for chunk in signal.chunks(999) {
        embedder.push(chunk);
    }
    let streamed = embedder.finish().unwrap();
    let planned = plan_piece_spans(&spans);
    assert_eq!(planned.len(), 2 + 2 + 1);
    // The last piece runs past the end of the audio and is embedded from what there is.
    assert_eq!(streamed.len(), planned.len());
    for (piece, got) in planned.iter().zip(&streamed) {
        assert_eq!(got.span, *piece);
        let a = (piece.start_s * rate as f64).round() as usize;
        let b = ((piece.end_s * rate as f64).round() as usize).min(signal.len());
        let wide = emotrace::audio::resample(&[signal[a..b].to_vec()], rate, 16_000).unwrap();
        let whole = encoder.embed_utterances(&[wide[0].as_slice()]).unwrap();
        assert_eq!(got.embedding, whole[0], "piece {piece:?}");
        let norm: f32 = got.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}

/// Runs the binary with `data` as its user data directory (where an import installs).
fn run_with_data_dir(data: &std::path::Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_emotrace")).args(args).env("EMOTRACE_DATA_DIR", data).output().unwrap()
}

#[test]
fn segment_uses_an_imported_encoder_and_refuses_a_broken_one_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = write_two_voice_call(tmp.path());
    let encoder_dir = tmp.path().join("encoder");
    let data = tmp.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| run_with_data_dir(&data, args);
    let out = run(&["import-speaker-encoder".as_ref(), fixture_dir().join("encoder_legacy.pt").as_os_str(), "--out".as_ref(), encoder_dir.as_os_str(), "--config".as_ref(), fixture_dir().join("config.json").as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let csv = tmp.path().join("segments.csv");
    let out = run(&["segment".as_ref(), wav.as_os_str(), "--out".as_ref(), csv.as_os_str(), "--speaker-encoder".as_ref(), encoder_dir.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let segments = emotrace::segmentation::segments_csv::read_segments(&csv).unwrap();
    assert!(segments.len() >= 10, "{segments:?}");

    // A folder that holds no encoder: one clear line, no partial output, no panic.
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let csv2 = tmp.path().join("segments2.csv");
    let out = run(&["segment".as_ref(), wav.as_os_str(), "--out".as_ref(), csv2.as_os_str(), "--speaker-encoder".as_ref(), broken.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("speaker encoder") && !stderr.contains("panicked"), "{stderr}");
    assert!(!csv2.exists());
}

/// A broken imported encoder (`auto`) must not stop mono analyses (the window has no flag to
/// get round it): the built-in encoder stands in, with a warning, and report.json says so.
#[test]
fn a_broken_imported_encoder_gives_way_to_the_built_in_one() {
    let tmp = tempfile::tempdir().unwrap();
    let wav = write_two_voice_call(tmp.path());
    let data = tmp.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| run_with_data_dir(&data, args);
    let out = run(&["import-speaker-encoder".as_ref(), fixture_dir().join("encoder_legacy.pt").as_os_str(), "--config".as_ref(), fixture_dir().join("config.json").as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let weights = data.join("speaker-encoder").join("model.safetensors");
    assert!(weights.is_file(), "imported into the data dir");
    std::fs::write(&weights, b"not safetensors").unwrap();

    let (auto_csv, builtin_csv) = (tmp.path().join("auto.csv"), tmp.path().join("builtin.csv"));
    let out = run(&["segment".as_ref(), wav.as_os_str(), "--out".as_ref(), auto_csv.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: the imported speaker encoder could not be loaded"), "{stderr}");
    let out = run(&["segment".as_ref(), wav.as_os_str(), "--out".as_ref(), builtin_csv.as_os_str(), "--speaker-encoder".as_ref(), "builtin".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!std::fs::read_to_string(&builtin_csv).unwrap().is_empty());
    assert_eq!(std::fs::read_to_string(&auto_csv).unwrap(), std::fs::read_to_string(&builtin_csv).unwrap());

    let report_dir = tmp.path().join("report");
    let out = run(&["analyze".as_ref(), wav.as_os_str(), "--out".as_ref(), report_dir.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: the imported speaker encoder could not be loaded"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap()).unwrap();
    let used = report["caller_assignment"]["speaker_encoder"].as_str().unwrap_or_default().to_string();
    assert!(used.starts_with("imported one unusable, built-in CAM++ used") && used.contains("model.safetensors"), "{used}");
}
