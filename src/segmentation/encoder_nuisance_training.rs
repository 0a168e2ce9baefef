//! Learning the built-in speaker encoder's nuisance directions ([`super::encoder_nuisance`]).
//!
//! The same synthetic training calls as the voiceprints ([`super::voiceprint_training`]: two
//! speakers of one corpus, every emotion they recorded, noise, no line / the caller through
//! the line / both through it) are built, every truth utterance is cut into the diarizer's
//! <= 2-s pieces and embedded, and each piece's unit-length embedding minus the mean of its
//! (call, speaker) class is one sample of how a voice varies. The leading eigenvectors of their
//! scatter are the directions.

use rayon::prelude::*;
use serde_json::json;

use super::encoder_nuisance::{NuisanceDirections, NuisanceError};
use super::piece_embeddings::PieceEmbedder;
use super::utterances::TimeSpan;
use super::voiceprint_training::{plan_calls, symmetric_eigen, TrainingCall, VoiceprintTrainingSpec};
use crate::model::speaker_encoder_store::SpeakerEncoderNet;
use crate::synth::build_call;

/// The unit-length embeddings of one training call's pieces, grouped by speaker (first, second).
pub fn call_embeddings(
    call: &TrainingCall,
    spec: &VoiceprintTrainingSpec,
    encoder: &SpeakerEncoderNet,
) -> Result<[Vec<Vec<f32>>; 2], NuisanceError> {
    let training = |e: String| NuisanceError::Training(e);
    let built = build_call(&call.call_spec(spec)).map_err(|e| training(e.to_string()))?;
    let mut out = [Vec::new(), Vec::new()];
    let Some(audio) = built.channels.first() else { return Ok(out) };
    let spans: Vec<TimeSpan> = built.truth.iter().map(|r| TimeSpan { start_s: r.start_s, end_s: r.end_s }).collect();
    let mut embedder = PieceEmbedder::new(encoder, built.sample_rate, &spans);
    embedder.push(audio);
    for piece in embedder.finish().map_err(|e| training(e.to_string()))? {
        let mid = 0.5 * (piece.span.start_s + piece.span.end_s);
        // Without overlap (overlap_probability 0) every piece lies inside one utterance.
        if let Some(row) = built.truth.iter().find(|r| r.start_s <= mid && mid < r.end_s) {
            out[usize::from(row.speaker != "caller")].push(piece.embedding);
        }
    }
    Ok(out)
}

/// Builds and embeds the planned calls in parallel, then keeps the `keep` leading directions
/// of the within-(call, speaker) scatter. `progress` is called with (calls done, calls planned).
pub fn train(
    spec: &VoiceprintTrainingSpec,
    encoder: &SpeakerEncoderNet,
    keep: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<NuisanceDirections, NuisanceError> {
    let calls = plan_calls(spec).map_err(|e| NuisanceError::Training(e.to_string()))?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let embedded: Vec<[Vec<Vec<f32>>; 2]> = calls
        .par_iter()
        .map(|c| {
            let e = call_embeddings(c, spec, encoder);
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, calls.len());
            e
        })
        .collect::<Result<_, _>>()?;
    let classes: Vec<&Vec<Vec<f32>>> = embedded.iter().flatten().filter(|c| c.len() >= 2).collect();
    let mut directions = leading_within_directions(&classes, keep)?;
    directions.provenance = json!({
        "method": "nuisance attribute projection: leading eigenvectors of the within-(call, speaker) scatter of unit-length embeddings",
        "encoder": crate::model::builtin_speaker_encoder::BUILTIN_ENCODER_LABEL,
        "corpora": spec.corpora,
        "held_out": spec.held_out.iter().map(|(c, s)| format!("{c}:{s}")).collect::<Vec<_>>(),
        "calls": calls.len(),
        "calls_per_speaker": spec.calls_per_speaker,
        "minutes_per_call": spec.minutes,
        "pieces": classes.iter().map(|c| c.len()).sum::<usize>(),
        "seed": spec.seed,
    });
    Ok(directions)
}

/// The `keep` leading eigenvectors of the pooled scatter of each class around its own mean.
pub fn leading_within_directions(classes: &[&Vec<Vec<f32>>], keep: usize) -> Result<NuisanceDirections, NuisanceError> {
    let dim = classes.iter().flat_map(|c| c.iter()).map(Vec::len).next().ok_or_else(|| NuisanceError::Training("no pieces".into()))?;
    let mut scatter = vec![0.0f64; dim * dim];
    let mut n = 0usize;
    for class in classes {
        let mut mean = vec![0.0f64; dim];
        for v in class.iter() {
            if v.len() != dim {
                return Err(NuisanceError::Training("embeddings of different lengths".into()));
            }
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += *x as f64 / class.len() as f64);
        }
        for v in class.iter() {
            let d: Vec<f64> = v.iter().zip(&mean).map(|(x, m)| *x as f64 - m).collect();
            for a in 0..dim {
                for b in a..dim {
                    scatter[a * dim + b] += d[a] * d[b];
                }
            }
            n += 1;
        }
    }
    if n <= dim {
        return Err(NuisanceError::Training(format!("{n} pieces are too few for {dim} dimensions")));
    }
    for a in 0..dim {
        for b in a..dim {
            scatter[a * dim + b] /= n as f64;
            scatter[b * dim + a] = scatter[a * dim + b];
        }
    }
    let (values, vectors) = symmetric_eigen(&scatter, dim);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let directions = order
        .iter()
        .take(keep)
        .map(|&k| {
            let v: Vec<f64> = (0..dim).map(|r| vectors[r * dim + k]).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
            v.iter().map(|x| (x / norm) as f32).collect()
        })
        .collect();
    Ok(NuisanceDirections {
        dim,
        directions,
        variances: order.iter().take(keep).map(|&k| values[k].max(0.0)).collect(),
        total_variance: values.iter().sum(),
        provenance: serde_json::Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_direction_is_how_each_voice_varies_not_where_the_voices_lie() {
        // Two voices far apart along x; each varies widely along y and slightly along z.
        let voice = |x: f32| -> Vec<Vec<f32>> {
            (0..40).map(|i| vec![x, ((i % 8) as f32 - 3.5) * 0.5, ((i % 3) as f32 - 1.0) * 0.05]).collect()
        };
        let (a, b) = (voice(5.0), voice(-5.0));
        let found = leading_within_directions(&[&a, &b], 2).unwrap();
        assert!(found.directions[0][1].abs() > 0.999, "{:?}", found.directions);
        assert!(found.directions[1][2].abs() > 0.999, "{:?}", found.directions);
        assert!(found.variances[0] > found.variances[1]);
    }
}
