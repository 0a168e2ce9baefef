//! Research probe, not part of the product (`docs/model-card.md`, "CAM++ speaker embeddings"):
//! for every clip of the manifests, the default model's statistics-head input (per-state mean and
//! standard deviation of the frozen Whisper states) and the built-in CAM++ speaker embedding,
//! written as little-endian f32 rows beside a CSV index, for `scripts/probe_speaker_embedding.py`.
//!
//! cargo run --release --example probe_clip_summaries -- OUT_PREFIX clean|telephony MANIFEST...
use std::io::Write;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use emotrace::features::FeatureExtractor;
use emotrace::model::whisper::stats_head::state_statistics;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || !matches!(args[1].as_str(), "clean" | "telephony") {
        bail!("usage: probe_clip_summaries OUT_PREFIX clean|telephony MANIFEST...");
    }
    let out = std::path::PathBuf::from(&args[0]);
    let telephony = args[1] == "telephony";
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
        let features = extractor.extract(&wav)?;
        let dims = model.audio_input_dims(features.whisper_mel.len());
        let mel = Tensor::from_vec(features.whisper_mel, (1, dims[0], dims[1]), &device)?;
        let summary = state_statistics(&model.audio_conv_features(&mel)?)?.flatten_all()?.to_vec1::<f32>()?;
        let embedding = speaker_encoder.embed_utterances(&[&wav])?.remove(0);
        summary.iter().try_for_each(|v| summaries.write_all(&v.to_le_bytes()))?;
        embedding.iter().try_for_each(|v| embeddings.write_all(&v.to_le_bytes()))?;
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
