//! Mono calls: utterances diarized into speakers A and B, one of them the caller.

use super::diarize;
use super::encoder_nuisance::NuisanceDirections;
use super::mono_overlap::mark_overlaps;
use super::piece_embeddings::PieceEmbedder;
use super::resegment::{self, ResegmentSettings, SpeakerRun};
use super::speech_frames::SpeechFrameCollector;
use super::utterances::{self, TimeSpan};
use super::params::EncoderSource;
use super::voiceprint::VoiceprintModel;
use super::{vad, AudioSource, AutoCallerChoice, CallSegmentation, CallerChoice, EncoderUse, Segment, SegmentationError, SegmentationParams};
use crate::model::builtin_speaker_encoder::BUILTIN_ENCODER_LABEL;
use crate::model::speaker_encoder_store::SpeakerEncoderNet;

/// Cepstral frames kept for resegmentation at most (500k × 17 values × 2 bytes ≈ 17 MB): about
/// 83 minutes of speech at a 10-ms hop; longer calls are analysed at a coarser hop.
const MAX_STORED_FRAMES: usize = 500_000;

pub(crate) fn segment_mono(
    source: &dyn AudioSource,
    track: &vad::FrameTrack,
    params: &SegmentationParams,
    caller: CallerChoice,
) -> Result<CallSegmentation, SegmentationError> {
    if matches!(caller, CallerChoice::Left | CallerChoice::Right) {
        return Err(SegmentationError::CallerChoiceMismatch {
            choice: caller,
            layout: "mono",
            allowed: "auto, a, b or all",
        });
    }
    let (frame_spans, offset_threshold) = utterances::detect_spans_and_threshold(track, params);
    let spans = utterances::spans_to_times(&frame_spans, track, params);
    if caller == CallerChoice::All {
        // No speaker separation wanted: every utterance is the caller's, none is cut.
        let segments = spans
            .iter()
            .map(|s| Segment {
                start_s: s.start_s,
                end_s: s.end_s,
                channel: 0,
                speaker: "A".to_string(),
                is_caller: true,
                overlap: false,
            })
            .collect();
        return Ok(CallSegmentation { segments, layout: "mono", caller: "all".to_string(), encoder: EncoderUse::NotNeeded, auto_choice: None });
    }
    let (runs, encoder) = diarize_spans(source, track, &spans, params)?;
    let runs = mark_overlaps(&runs, track, &offset_threshold, params.diarize_overlap_pause_db);

    // The speaker of the first run is A.
    let first = runs.first().map_or(0, |r| r.speaker);
    let name = |speaker: usize| if speaker == first { "A" } else { "B" };
    let mut speech = [0.0f64; 2];
    for r in &runs {
        speech[usize::from(name(r.speaker) == "B")] += r.span.duration();
    }
    let caller_name: Option<&str> = match caller {
        CallerChoice::A => Some("A"),
        CallerChoice::B => Some("B"),
        CallerChoice::All => None,
        _ => Some(if speech[1] > speech[0] { "B" } else { "A" }),
    };
    let mut segments: Vec<Segment> = runs
        .iter()
        .filter(|r| r.span.duration() * 1000.0 >= params.min_segment_ms as f64 / 2.0)
        .map(|r| Segment {
            start_s: r.span.start_s,
            end_s: r.span.end_s,
            channel: 0,
            speaker: name(r.speaker).to_string(),
            is_caller: caller_name.is_none_or(|c| c == name(r.speaker)),
            overlap: r.overlap,
        })
        .collect();
    super::sort_segments(&mut segments);
    let auto_choice = match (caller, caller_name) {
        (CallerChoice::Auto, Some(chosen)) => {
            let chosen = usize::from(chosen == "B");
            AutoCallerChoice::from_speech(speech[chosen], speech[1 - chosen], params.caller_uncertain_share)
        }
        _ => None,
    };
    Ok(CallSegmentation { segments, layout: "mono", caller: caller_name.unwrap_or("all").to_string(), encoder, auto_choice })
}

/// Speaker runs of the utterances: GMM resegmentation ([`resegment`]), or the chunk clustering
/// of [`diarize`] when there is too little speech for the mixtures. Reads the audio once more.
/// Also says whether a speaker encoder was used.
fn diarize_spans(
    source: &dyn AudioSource,
    track: &vad::FrameTrack,
    spans: &[TimeSpan],
    params: &SegmentationParams,
) -> Result<(Vec<SpeakerRun>, EncoderUse), SegmentationError> {
    if spans.is_empty() {
        return Ok((Vec::new(), EncoderUse::NotNeeded));
    }
    let chunk_s = params.diarize_chunk_s as f64;
    let plan = diarize::plan_chunks(spans, chunk_s);
    let mut embedder = diarize::ChunkEmbedder::new(source.sample_rate(), &plan, track, params.voicing_threshold);
    let mut collector = SpeechFrameCollector::new(source.sample_rate(), spans, MAX_STORED_FRAMES);
    let source_of_encoder = params.speaker_encoder_source();
    let encoder_error = |e: crate::model::ModelError| SegmentationError::SpeakerEncoder {
        path: match source_of_encoder.as_ref().and_then(EncoderSource::dir) {
            Some(dir) => dir.display().to_string(),
            None => BUILTIN_ENCODER_LABEL.to_string(),
        },
        message: e.to_string(),
    };
    let device = candle_core::Device::Cpu;
    // A broken imported encoder must not stop every mono analysis: the built-in one stands in,
    // and the result says so ([`EncoderSource`]).
    let (encoder, encoder_use) = match &source_of_encoder {
        Some(source) => match source.load(&device) {
            Ok(encoder) => (Some(encoder), if *source == EncoderSource::BuiltIn { EncoderUse::BuiltIn } else { EncoderUse::Imported }),
            Err(e) if matches!(source, EncoderSource::Imported(_)) => {
                let why = format!("{}: {e}", source.dir().map(|d| d.display().to_string()).unwrap_or_default());
                (Some(EncoderSource::BuiltIn.load(&device).map_err(encoder_error)?), EncoderUse::Unusable(why))
            }
            Err(e) => return Err(encoder_error(e)),
        },
        None => (None, EncoderUse::Absent),
    };
    let mut piece_embedder = encoder.as_ref().map(|e| PieceEmbedder::new(e, source.sample_rate(), spans));
    source.stream(&mut |chunk: &[&[f32]]| {
        if let Some(first) = chunk.first() {
            embedder.push(first);
            collector.push(first);
            if let Some(p) = piece_embedder.as_mut() {
                p.push(first);
            }
        }
    })?;
    let frames = collector.finish();
    let mut embeddings = match piece_embedder {
        Some(p) => Some(p.finish().map_err(encoder_error)?),
        None => None,
    };
    // The built-in encoder's nuisance directions (how one voice varies) go before clustering;
    // they mean nothing in an imported encoder's space.
    let dims = params.diarize_nuisance_dims as usize;
    if let Some(embedded) = embeddings.as_mut().filter(|_| dims > 0 && encoder_use.built_in_network()) {
        let nuisance = NuisanceDirections::shipped().map_err(|e| SegmentationError::SpeakerEncoder {
            path: BUILTIN_ENCODER_LABEL.to_string(),
            message: e.to_string(),
        })?;
        for piece in embedded.iter_mut() {
            nuisance.remove(dims, &mut piece.embedding);
        }
    }
    // The voiceprints only matter without an encoder. Without the model (never the case for the
    // shipped binary) the other guesses remain.
    let voiceprint = if embeddings.is_none() { VoiceprintModel::shipped().ok() } else { None };
    let settings = ResegmentSettings {
        iterations: params.diarize_iterations as usize,
        encoder_iterations: params
            .diarize_encoder_iterations
            .map_or_else(|| encoder.as_ref().map_or(0, SpeakerEncoderNet::refinement_rounds), |n| n as usize),
        min_run_ms: params.diarize_min_run_ms,
        switch_penalty: params.diarize_switch_penalty,
    };
    // The chunk clustering weighs the recording path (phone line or not) heavily: a good first
    // guess when the parties come through different paths, and the answer when there is too
    // little speech for the mixtures.
    let chunk_runs: Vec<SpeakerRun> = diarize::diarize_two_speakers(embedder, spans, chunk_s)
        .into_iter()
        .map(|l| SpeakerRun {
            utterance: spans.partition_point(|s| s.end_s <= l.span.start_s),
            span: l.span,
            speaker: l.cluster,
        })
        .collect();
    if source.cancelled() {
        return Err(SegmentationError::Cancelled);
    }
    let stop = || source.cancelled();
    let runs = resegment::diarize(&frames, &settings, Some(&chunk_runs), voiceprint.as_ref(), embeddings.as_deref(), &stop)
        .unwrap_or(chunk_runs);
    // The resegmentation gives up early once asked to stop; what it has is then not the answer.
    if source.cancelled() {
        return Err(SegmentationError::Cancelled);
    }
    Ok((runs, encoder_use))
}
