//! Whisper encoder import from CTranslate2 (`model.bin`) and HF folders. Fixtures:
//! `scripts/gen_whisper_import_fixtures.py` (a tiny random `WhisperForConditionalGeneration`, its
//! encoder as a float16 `pytorch_model.bin`, and CTranslate2 conversions in float32, float16, int8).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use emotrace::model::whisper::ct2::{Ct2DType, Ct2Header, Ct2Index};
use emotrace::model::whisper::hf_import::{read_whisper_dir, ImportedWhisperEncoder};
use emotrace::model::{ModelError, TensorProblem};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whisper_import").join(name)
}

fn read(name: &str) -> ImportedWhisperEncoder {
    read_whisper_dir(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn sorted_names(m: &ImportedWhisperEncoder) -> Vec<&String> {
    let mut v: Vec<_> = m.tensors.keys().collect();
    v.sort();
    v
}

fn assert_same_tensors(a: &ImportedWhisperEncoder, b: &ImportedWhisperEncoder, what: &str) {
    assert_eq!(sorted_names(a), sorted_names(b), "{what}: names");
    for (name, ta) in &a.tensors {
        let tb = &b.tensors[name];
        assert_eq!(ta.dims(), tb.dims(), "{what}: shape of {name}");
        assert_eq!(ta.dtype(), tb.dtype(), "{what}: dtype of {name}");
        let (va, vb) = (values(ta), values(tb));
        assert!(va.iter().zip(&vb).all(|(x, y)| x.to_bits() == y.to_bits()), "{what}: values of {name}");
    }
}

fn err_of(r: Result<ImportedWhisperEncoder, ModelError>) -> ModelError {
    match r {
        Ok(m) => panic!("expected an error, got an import ({})", m.source),
        Err(e) => e,
    }
}

fn assert_msg(e: &ModelError, needles: &[&str]) {
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "message lacks {n:?}: {msg}");
    }
}

/// A folder holding `bytes` as its model.bin.
fn ct2_dir_with(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bin"), bytes).unwrap();
    dir
}

fn model_bin(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name).join("model.bin")).unwrap()
}

fn index_of(bytes: &[u8]) -> Ct2Index {
    Ct2Index::parse(bytes, Path::new("model.bin")).unwrap()
}

#[test]
fn ct2_float32_equals_hf_exactly() {
    let hf = read("hf");
    let ct2 = read("ct2_float32");
    assert!(hf.source.contains("model.safetensors") && hf.source.contains("float32"), "{}", hf.source);
    assert_eq!(ct2.source, "CTranslate2 model.bin v6, WhisperSpec rev 3, float32; decoder skipped");
    assert_eq!(hf.tensors.len(), 7 + 2 * 15);
    assert!(hf.tensors.values().all(|t| t.dtype() == DType::F32));
    assert_same_tensors(&hf, &ct2, "float32 CTranslate2 vs HF");
}

/// Float CTranslate2 conversions equal the HF weights rounded to their dtype (round to nearest
/// even on both sides), and keep that dtype.
fn assert_rounded(fixture_name: &str, dtype: DType, source: &str) {
    let hf = read("hf");
    let ct2 = read(fixture_name);
    assert_eq!(ct2.source, source);
    assert_eq!(sorted_names(&hf), sorted_names(&ct2));
    for (name, t) in &ct2.tensors {
        assert_eq!(t.dtype(), dtype, "{name} keeps the stored dtype");
        let want = hf.tensors[name].to_dtype(dtype).unwrap();
        assert_eq!(t.dims(), want.dims(), "{name}");
        // f16/bf16 -> f32 is exact, so equal f32 values mean equal stored values.
        assert_eq!(values(t), values(&want), "{name}");
    }
}

#[test]
fn ct2_float16_equals_hf_rounded_to_f16() {
    assert_rounded("ct2_float16", DType::F16, "CTranslate2 model.bin v6, WhisperSpec rev 3, float16; decoder skipped");
}

#[test]
fn ct2_bfloat16_equals_hf_rounded_to_bf16() {
    assert_rounded("ct2_bfloat16", DType::BF16, "CTranslate2 model.bin v6, WhisperSpec rev 3, bfloat16; decoder skipped");
}

/// Weights CTranslate2 quantises (linear and conv weights); everything else stays float32 in an
/// int8 or int16 conversion.
fn is_quantised(hf_name: &str) -> bool {
    hf_name.ends_with("_proj.weight")
        || hf_name.ends_with("fc1.weight")
        || hf_name.ends_with("fc2.weight")
        || (hf_name.starts_with("conv") && hf_name.ends_with(".weight"))
}

/// Compares a quantised conversion with the HF weights: quantised weights within
/// `bound(row, max |w| over the stored CTranslate2 variable)`, everything else exact.
fn assert_quantised(fixture_name: &str, code: Ct2DType, bound: impl Fn(&[f32], f32) -> f32) {
    let hf = read("hf");
    let ct2 = read(fixture_name);
    let want_source = format!("{} weights (dequantised to float32), float32 others", code.name());
    assert!(ct2.source.contains(&want_source), "{}", ct2.source);
    let index = index_of(&model_bin(fixture_name));
    for w in ["encoder/conv1/weight", "encoder/layer_0/self_attention/linear_0/weight", "decoder/layer_0/ffn/linear_0/weight"] {
        assert_eq!(index.resolve(w).unwrap().dtype, code, "{w}");
    }
    assert_eq!(sorted_names(&hf), sorted_names(&ct2));
    let mut quantised = 0;
    for (name, t) in &ct2.tensors {
        assert_eq!(t.dtype(), DType::F32, "{name}");
        let (got, want) = (values(t), values(&hf.tensors[name]));
        if !is_quantised(name) {
            assert_eq!(got, want, "{name} is not quantised and must be exact");
            continue;
        }
        // q, k and v are one fused CTranslate2 variable (one int16 scale for the three).
        let stored_amax = match name.rsplit_once(".self_attn.") {
            Some((layer, p)) if p != "out_proj.weight" => ["q", "k", "v"]
                .iter()
                .map(|x| amax(&values(&hf.tensors[&format!("{layer}.self_attn.{x}_proj.weight")])))
                .fold(0f32, f32::max),
            _ => amax(&want),
        };
        let rows = t.dims()[0];
        let row_len = got.len() / rows;
        let mut any_diff = false;
        for r in 0..rows {
            let (g, w) = (&got[r * row_len..(r + 1) * row_len], &want[r * row_len..(r + 1) * row_len]);
            let bound = bound(w, stored_amax);
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() <= bound, "{name} row {r}: |{a} - {b}| > {bound}");
                any_diff |= a != b;
            }
        }
        assert!(any_diff, "{name} should really be quantised");
        quantised += 1;
    }
    assert_eq!(quantised, 2 + 2 * 6, "conv1, conv2 and six weights per layer");
}

fn amax(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

#[test]
fn ct2_int8_within_quantisation_step() {
    // CTranslate2: scale = 127 / max|row| (per output row; a conv weight [out, in, k] per `out`),
    // q = rint(w * scale), read back as q * (1 / scale). So |w - w'| <= 0.5 / scale =
    // 0.5 * max|row| / 127, plus float32 rounding of the scale, the product and the reciprocal (a
    // few ulps of max|row|; 1e-6 * max|row| covers it).
    assert_quantised("ct2_int8", Ct2DType::I8, |row, _| amax(row) * (0.5 / 127.0 + 1e-6));
}

#[test]
fn ct2_int16_within_quantisation_step() {
    // int16: one scale per stored tensor (the fused q/k/v counts as one), 2^10 / max|w|; same
    // argument with 1024 steps.
    assert_quantised("ct2_int16", Ct2DType::I16, |_, stored_amax| stored_amax * (0.5 / 1024.0 + 1e-6));
}

#[test]
fn derived_config_equals_hf_encoder_config() {
    let hf = read("hf");
    for q in ["ct2_float32", "ct2_float16", "ct2_bfloat16", "ct2_int8", "ct2_int16"] {
        let c = read(q).config;
        let h = &hf.config;
        assert_eq!(
            (c.d_model, c.encoder_layers, c.encoder_attention_heads, c.encoder_ffn_dim, c.num_mel_bins, c.max_source_positions),
            (h.d_model, h.encoder_layers, h.encoder_attention_heads, h.encoder_ffn_dim, h.num_mel_bins, h.max_source_positions),
            "{q}"
        );
        assert_eq!(c.activation_function, h.activation_function, "{q}");
    }
    assert_eq!((hf.config.d_model, hf.config.encoder_layers, hf.config.encoder_attention_heads), (32, 2, 4));
}

#[test]
fn ct2_aliases_into_the_decoder_are_followed() {
    for q in ["ct2_float32", "ct2_float16", "ct2_int8"] {
        let index = index_of(&model_bin(q));
        assert_eq!(index.alias_target("encoder/layer_norm/gamma"), Some("decoder/layer_norm/gamma"), "{q}");
        assert_eq!(
            index.alias_target("encoder/layer_1/ffn/linear_0/weight"),
            Some("decoder/layer_0/ffn/linear_0/weight"),
            "{q}"
        );
        assert!(index.variable("encoder/layer_norm/gamma").is_none());
        let m = read(q);
        assert!(m.notes.iter().any(|n| n.contains("aliases")), "{q}: {:?}", m.notes);
    }
    // In the int8 file the aliased weight is quantised: its scale is the target's.
    let index = index_of(&model_bin("ct2_int8"));
    assert!(index.resolve("encoder/layer_1/ffn/linear_0/weight_scale").is_none());
    assert!(index.variable("decoder/layer_0/ffn/linear_0/weight_scale").is_some());
}

fn save_dir(tensors: &HashMap<String, Tensor>, config_from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(config_from.join("config.json"), dir.path().join("config.json")).unwrap();
    candle_core::safetensors::save(tensors, dir.path().join("model.safetensors")).unwrap();
    dir
}

fn hf_raw() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("hf").join("model.safetensors"), &Device::Cpu).unwrap()
}

#[test]
fn hf_naming_variants_and_shards_read_the_same() {
    let reference = read("hf");
    let raw = hf_raw();
    // WhisperModel names: `encoder.` / `decoder.`.
    let whisper_model: HashMap<String, Tensor> =
        raw.iter().map(|(k, v)| (k.strip_prefix("model.").unwrap_or(k).to_string(), v.clone())).collect();
    let dir = save_dir(&whisper_model, &fixture("hf"));
    let m = read_whisper_dir(dir.path()).unwrap();
    assert!(m.source.contains("WhisperModel names"), "{}", m.source);
    assert_same_tensors(&reference, &m, "encoder. prefix");
    // Bare WhisperEncoder names.
    let bare: HashMap<String, Tensor> = raw
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("model.encoder.").map(|s| (s.to_string(), v.clone())))
        .collect();
    let dir = save_dir(&bare, &fixture("hf"));
    let m = read_whisper_dir(dir.path()).unwrap();
    assert!(m.source.contains("bare WhisperEncoder names") && m.notes.is_empty(), "{} {:?}", m.source, m.notes);
    assert_same_tensors(&reference, &m, "bare names");
    // Two shards + model.safetensors.index.json.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("hf").join("config.json"), dir.path().join("config.json")).unwrap();
    let mut names: Vec<&String> = raw.keys().collect();
    names.sort();
    let mut weight_map = serde_json::Map::new();
    for (s, shard) in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"].iter().enumerate() {
        let part: HashMap<String, Tensor> =
            names.iter().enumerate().filter(|(i, _)| i % 2 == s).map(|(_, n)| ((*n).clone(), raw[*n].clone())).collect();
        for n in part.keys() {
            weight_map.insert(n.clone(), serde_json::Value::from(*shard));
        }
        candle_core::safetensors::save(&part, dir.path().join(shard)).unwrap();
    }
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).unwrap();
    let m = read_whisper_dir(dir.path()).unwrap();
    assert!(m.source.contains("model.safetensors.index.json"), "{}", m.source);
    assert_same_tensors(&reference, &m, "sharded");
}

#[test]
fn hf_pytorch_bin_keeps_float16() {
    let reference = read("hf");
    let m = read("hf_encoder_bin");
    assert!(m.source.contains("pytorch_model.bin") && m.source.contains("float16"), "{}", m.source);
    assert_eq!(sorted_names(&reference), sorted_names(&m));
    for (name, t) in &m.tensors {
        assert_eq!(t.dtype(), DType::F16, "{name}");
        assert_eq!(values(t), values(&reference.tensors[name].to_dtype(DType::F16).unwrap()), "{name}");
    }
}

#[test]
fn hf_missing_wrong_and_extra_tensors_are_all_reported() {
    let mut raw = hf_raw();
    raw.remove("model.encoder.layers.1.fc2.bias").unwrap();
    raw.insert("model.encoder.conv2.weight".into(), Tensor::zeros((32, 32, 5), DType::F32, &Device::Cpu).unwrap());
    raw.insert("model.encoder.layers.0.self_attn.k_proj.bias".into(), Tensor::zeros(32, DType::F32, &Device::Cpu).unwrap());
    let dir = save_dir(&raw, &fixture("hf"));
    let e = err_of(read_whisper_dir(dir.path()));
    let ModelError::Weights(problems) = &e else { panic!("expected a weights report, got {e}") };
    assert_eq!(
        problems,
        &vec![
            TensorProblem::Shape { name: "conv2.weight".into(), expected: vec![32, 32, 3], found: vec![32, 32, 5] },
            TensorProblem::Missing { name: "layers.1.fc2.bias".into(), expected: vec![32] },
            TensorProblem::Unexpected { name: "layers.0.self_attn.k_proj.bias".into(), shape: vec![32] },
        ]
    );
    assert_msg(&e, &["conv2.weight", "layers.1.fc2.bias", "k_proj.bias"]);

    // A config that is not Whisper's, and a folder without weights.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "wav2vec2"}"#).unwrap();
    assert_msg(&err_of(read_whisper_dir(dir.path())), &["config.json", "wav2vec2", "not \"whisper\""]);
    std::fs::copy(fixture("hf").join("config.json"), dir.path().join("config.json")).unwrap();
    assert_msg(&err_of(read_whisper_dir(dir.path())), &["no weights", "model.safetensors"]);
}

#[test]
fn missing_and_unrecognised_folders_are_refused() {
    let e = err_of(read_whisper_dir(Path::new("/nonexistent/whisper-folder")));
    assert_msg(&e, &["/nonexistent/whisper-folder", "no such folder", "model.bin", "config.json"]);
    let dir = tempfile::tempdir().unwrap();
    assert_msg(&err_of(read_whisper_dir(dir.path())), &["neither model.bin nor config.json"]);
}

#[test]
fn truncated_model_bin_is_refused_with_its_offset() {
    let bytes = model_bin("ct2_float32");
    let index = index_of(&bytes);
    let conv2 = index.variable("encoder/conv2/weight").unwrap();
    let name_at = bytes.windows(21).position(|w| w == b"encoder/conv2/weight\0").unwrap();
    let cuts = [
        (2, "the binary version"),
        (9, "the spec name"),
        (19, "the spec revision"),
        (name_at + 5, "the name of variable"),
        (conv2.data.start + 10, "data bytes of `encoder/conv2/weight`"),
        (bytes.len() - 5, "alias"),
    ];
    for (cut, what) in cuts {
        let dir = ct2_dir_with(&bytes[..cut]);
        let e = err_of(read_whisper_dir(dir.path()));
        assert_msg(&e, &["model.bin", "byte offset", "the file ends while reading", what, "truncated"]);
    }
    let dir = ct2_dir_with(&[]);
    assert_msg(&err_of(read_whisper_dir(dir.path())), &["byte offset 0", "binary version"]);
}

fn with_header(bytes: &[u8], version: u32, spec: &str, revision: u32) -> Vec<u8> {
    let (_, pos) = Ct2Header::parse(bytes, Path::new("model.bin")).unwrap();
    let mut out = version.to_le_bytes().to_vec();
    out.extend(((spec.len() + 1) as u16).to_le_bytes());
    out.extend(spec.as_bytes());
    out.push(0);
    out.extend(revision.to_le_bytes());
    out.extend(&bytes[pos..]);
    out
}

#[test]
fn wrong_versions_and_specs_are_refused() {
    let bytes = model_bin("ct2_float16");
    let cases: [(Vec<u8>, &[&str]); 6] = [
        (with_header(&bytes, 7, "WhisperSpec", 3), &["binary version 7", "4 to 6", "later CTranslate2"]),
        (with_header(&bytes, 3, "WhisperSpec", 3), &["binary version 3", "dtype code"]),
        (with_header(&bytes, 6, "TransformerSpec", 1), &["`TransformerSpec`", "not Whisper", "WhisperSpec"]),
        (with_header(&bytes, 6, "WhisperSpec", 4), &["WhisperSpec revision 4", "not supported"]),
        (b"PK\x03\x04 this is a zip, not a model".to_vec(), &["binary version", "not a model.bin"]),
        // Versions 4 and 5 share version 6's layout.
        (with_header(&bytes, 5, "WhisperSpec", 3), &[]),
    ];
    for (bin, needles) in cases {
        let dir = ct2_dir_with(&bin);
        let r = read_whisper_dir(dir.path());
        if needles.is_empty() {
            assert_eq!(r.unwrap().source, "CTranslate2 model.bin v5, WhisperSpec rev 3, float16; decoder skipped");
        } else {
            assert_msg(&err_of(r), needles);
        }
    }
}

#[test]
fn corrupt_fields_are_refused_without_allocating() {
    let bytes = model_bin("ct2_float32");
    let index = index_of(&bytes);
    let (_, body) = Ct2Header::parse(&bytes, Path::new("model.bin")).unwrap();
    let conv1 = index.variable("encoder/conv1/weight").unwrap().clone();
    // nbytes sits right before the data, the dtype byte right before nbytes.
    let nbytes_at = conv1.data.start - 4;
    let dtype_at = nbytes_at - 1;
    let patch = |at: usize, with: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + with.len()].copy_from_slice(with);
        b
    };
    let mut trailing = bytes.clone();
    trailing.extend(b"junk");
    let renamed = {
        let at = bytes.windows(33).position(|w| w == b"encoder/layer_1/ffn/linear_1/bias").unwrap();
        patch(at + 29, b"bixs")
    };
    let cases: Vec<(Vec<u8>, Vec<&str>)> = vec![
        (patch(nbytes_at, &u32::MAX.to_le_bytes()), vec!["`encoder/conv1/weight` declares 4294967295 bytes", "[32, 80, 3]"]),
        (patch(dtype_at, &[9]), vec!["unknown dtype code 9", "encoder/conv1/weight"]),
        (patch(dtype_at, &[4]), vec!["`encoder/conv1/weight` declares 30720 bytes", "float16"]),
        (patch(body, &u32::MAX.to_le_bytes()), vec!["4294967295 variables cannot fit"]),
        (trailing, vec!["4 unexpected byte(s) after the alias table"]),
        (
            renamed,
            vec![
                "missing tensor `encoder/layer_1/ffn/linear_1/bias`",
                "unexpected tensor `encoder/layer_1/ffn/linear_1/bixs`",
                "2 layers",
            ],
        ),
    ];
    for (bin, needles) in cases {
        let dir = ct2_dir_with(&bin);
        let e = err_of(read_whisper_dir(dir.path()));
        let mut all = vec!["model.bin"];
        all.extend(needles);
        assert_msg(&e, &all);
    }
}

#[test]
fn nonzero_key_bias_is_noted_and_dropped() {
    let mut bytes = model_bin("ct2_float32");
    let index = index_of(&bytes);
    let bias = index.variable("encoder/layer_0/self_attention/linear_0/bias").unwrap();
    let k_first = bias.data.start + 4 * 32;
    bytes[k_first..k_first + 4].copy_from_slice(&0.25f32.to_le_bytes());
    let dir = ct2_dir_with(&bytes);
    let m = read_whisper_dir(dir.path()).unwrap();
    assert!(m.notes.iter().any(|n| n.contains("layer 0: max |b| = 2.5e-1") && n.contains("softmax")), "{:?}", m.notes);
    assert!(!m.tensors.contains_key("layers.0.self_attn.k_proj.bias"));
    assert!(read("ct2_float32").notes.iter().all(|n| !n.contains("key third")));
}

/// Reads a real CTranslate2 Whisper folder when present (never in CI), with its reading time.
fn real_model(dir: &str, want: (usize, usize, usize, usize, usize)) {
    let path = Path::new(dir);
    if !path.join("model.bin").is_file() {
        eprintln!("skipped: {dir}/model.bin not present");
        return;
    }
    let t0 = std::time::Instant::now();
    let m = read_whisper_dir(path).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!("{dir}: read in {secs:.3} s; {}; notes {:?}", m.source, m.notes);
    let c = &m.config;
    assert_eq!((c.d_model, c.encoder_layers, c.encoder_attention_heads, c.encoder_ffn_dim, c.max_source_positions), want);
    assert_eq!(c.num_mel_bins, 80);
    assert_eq!(m.tensors.len(), 7 + 15 * c.encoder_layers);
    assert!(m.tensors.values().all(|t| t.dtype() == DType::F16));
    assert_eq!(m.tensors["embed_positions.weight"].dims(), &[want.4, want.0]);
}

#[test]
fn real_whisper_base_and_tiny_en_when_present() {
    real_model("/work/whisper-base", (512, 6, 8, 2048, 1500));
    real_model("/work/whisper-tiny-en", (384, 4, 6, 1536, 1500));
}
