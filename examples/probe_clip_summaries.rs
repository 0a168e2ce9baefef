//! Research probe, not part of the product (`docs/model-card.md`, "CAM++ speaker embeddings"):
//! for every clip of the manifests, the default model's statistics-head input (per-state mean and
//! standard deviation of the frozen Whisper states) and the built-in CAM++ speaker embedding,
//! written as little-endian f32 rows beside a CSV index, for `scripts/probe_speaker_embedding.py`.
//!
//! cargo run --release --example probe_clip_summaries -- OUT_PREFIX MODE MANIFEST...
//!
//! MODE: `clean` or `telephony` (the clip through `src/synth`'s line model); `-level` appended
//! (`clean-level`, `telephony-level`) first scales each clip to an RMS of -20 dBFS, to measure
//! how much of a speaker's offset is its recording level (the CAM++ file is then not written).
use std::io::Write;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use emotrace::features::FeatureExtractor;
use emotrace::model::whisper::stats_head::state_statistics;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || !matches!(args[1].as_str(), "clean" | "telephony" | "clean-level" | "telephony-level") {
        bail!("usage: probe_clip_summaries OUT_PREFIX clean|telephony[-level] MANIFEST...");
    }
    let out = std::path::PathBuf::from(&args[0]);
    let telephony = args[1].starts_with("telephony");
    let level = args[1].ends_with("-level");
    let manifests: Vec<std::path::PathBuf> = args[2..].iter().map(Into::into).collect();
    let device = Device::Cpu;
    let (model, bundle) = emotrace::model::default_model::load_default(&device)?;
    let extractor = FeatureExtractor::for_model(&bundle.config);
    let speaker_encoder = emotrace::model::builtin_speaker_encoder::load(&device)?;
    let clips = emotrace::training::dataset::read_manifests(&manifests)?;
    let create = |ext: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        let path = out.with_extension(ext);
        Ok(std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?))
    };
    let (mut summaries, mut embeddings) = (create("stats.f32")?, create("campp.f32")?);
    let mut index = String::from("i,speaker,label,path\n");
    for (i, clip) in clips.iter().enumerate() {
        let mut wav = emotrace::training::dataset::load_clips(std::slice::from_ref(clip))?.remove(0);
        if telephony {
            wav = emotrace::training::augment::telephony(&wav)?;
        }
        if level {
            scale_to_rms(&mut wav, -20.0);
        }
        let features = extractor.extract(&wav)?;
        let dims = model.audio_input_dims(features.whisper_mel.len());
        let mel = Tensor::from_vec(features.whisper_mel, (1, dims[0], dims[1]), &device)?;
        let summary = state_statistics(&model.audio_conv_features(&mel)?)?.flatten_all()?.to_vec1::<f32>()?;
        summary.iter().try_for_each(|v| summaries.write_all(&v.to_le_bytes()))?;
        if !level {
            let embedding = speaker_encoder.embed_utterances(&[&wav])?.remove(0);
            embedding.iter().try_for_each(|v| embeddings.write_all(&v.to_le_bytes()))?;
        }
        index.push_str(&format!("{i},{},{},{}\n", clip.speaker, clip.label, clip.name));
        if i % 200 == 0 {
            eprintln!("{i}/{}", clips.len());
        }
    }
    summaries.flush()?;
    embeddings.flush()?;
    std::fs::write(out.with_extension("csv"), index)?;
    Ok(())
}

/// Scales the clip so that its RMS is `dbfs` (clipping at full scale).
fn scale_to_rms(wav: &mut [f32], dbfs: f64) {
    let rms = (wav.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / wav.len().max(1) as f64).sqrt();
    if rms > 1e-9 {
        let gain = (10f64.powf(dbfs / 20.0) / rms) as f32;
        wav.iter_mut().for_each(|v| *v = (*v * gain).clamp(-1.0, 1.0));
    }
}
