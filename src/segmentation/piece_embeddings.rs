//! Speaker embeddings of the diarizer's pieces (every utterance cut into equal parts of at most
//! [`PIECE_S`]), computed while the call streams past: only the piece being read and a batch of
//! finished ones are held, so a 4-hour call stays in bounded memory.

use crate::audio::resample::resample;
use crate::model::speaker_encoder_store::SpeakerEncoderNet;
use crate::model::ModelError;

use super::resegment::PIECE_S;
use super::utterances::TimeSpan;

/// Pieces embedded together (the encoder batches their partials).
const PIECES_PER_BATCH: usize = 48;

/// The pieces of `spans`: each utterance cut into `ceil(duration / PIECE_S)` equal parts.
pub fn plan_piece_spans(spans: &[TimeSpan]) -> Vec<TimeSpan> {
    let mut out = Vec::new();
    for s in spans {
        let n = ((s.duration() / PIECE_S).ceil() as usize).max(1);
        let step = s.duration() / n as f64;
        out.extend((0..n).map(|k| TimeSpan {
            start_s: s.start_s + step * k as f64,
            end_s: if k + 1 == n { s.end_s } else { s.start_s + step * (k + 1) as f64 },
        }));
    }
    out
}

/// A piece and its unit-length speaker embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceEmbedding {
    pub span: TimeSpan,
    pub embedding: Vec<f32>,
}

/// Feeds on the call's samples (one channel, in order) and embeds every planned piece.
pub struct PieceEmbedder<'a> {
    encoder: &'a SpeakerEncoderNet,
    sample_rate: u32,
    pieces: Vec<TimeSpan>,
    /// Sample ranges of the pieces at the source rate.
    ranges: Vec<(usize, usize)>,
    next: usize,
    /// Samples seen so far.
    position: usize,
    /// The current piece's samples (source rate).
    current: Vec<f32>,
    /// Finished pieces at the encoder's rate, not yet embedded.
    pending: Vec<(usize, Vec<f32>)>,
    embeddings: Vec<Option<Vec<f32>>>,
    error: Option<ModelError>,
}

impl<'a> PieceEmbedder<'a> {
    pub fn new(encoder: &'a SpeakerEncoderNet, sample_rate: u32, spans: &[TimeSpan]) -> Self {
        let pieces = plan_piece_spans(spans);
        let at = |t: f64| (t * sample_rate as f64).round().max(0.0) as usize;
        let ranges = pieces.iter().map(|p| (at(p.start_s), at(p.end_s))).collect();
        let n = pieces.len();
        Self {
            encoder,
            sample_rate,
            pieces,
            ranges,
            next: 0,
            position: 0,
            current: Vec::new(),
            pending: Vec::new(),
            embeddings: vec![None; n],
            error: None,
        }
    }

    pub fn push(&mut self, samples: &[f32]) {
        let chunk_start = self.position;
        let chunk_end = chunk_start + samples.len();
        self.position = chunk_end;
        while let Some(&(start, end)) = self.ranges.get(self.next) {
            if start >= chunk_end {
                break;
            }
            let (from, to) = (start.max(chunk_start), end.min(chunk_end));
            if from < to {
                self.current.extend_from_slice(&samples[from - chunk_start..to - chunk_start]);
            }
            if end > chunk_end {
                break;
            }
            self.finish_piece();
        }
    }

    fn finish_piece(&mut self) {
        let samples = std::mem::take(&mut self.current);
        let index = self.next;
        self.next += 1;
        if samples.is_empty() || self.error.is_some() {
            return;
        }
        let target = self.encoder.sample_rate();
        match resample(&[samples], self.sample_rate, target) {
            Ok(mut channels) => self.pending.push((index, channels.swap_remove(0))),
            Err(e) => self.error = Some(ModelError::Input(e.to_string())),
        }
        if self.pending.len() >= PIECES_PER_BATCH {
            self.embed_pending();
        }
    }

    fn embed_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() || self.error.is_some() {
            return;
        }
        let wavs: Vec<&[f32]> = pending.iter().map(|(_, w)| w.as_slice()).collect();
        match self.encoder.embed_utterances(&wavs) {
            Ok(embeddings) => {
                for ((index, _), e) in pending.iter().zip(embeddings) {
                    self.embeddings[*index] = Some(e);
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The embedded pieces in time order (pieces the audio ended before are left out).
    pub fn finish(mut self) -> Result<Vec<PieceEmbedding>, ModelError> {
        if self.next < self.pieces.len() && !self.current.is_empty() {
            self.finish_piece();
        }
        self.embed_pending();
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(self
            .pieces
            .into_iter()
            .zip(self.embeddings)
            .filter_map(|(span, e)| e.map(|embedding| PieceEmbedding { span, embedding }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(a: f64, b: f64) -> TimeSpan {
        TimeSpan { start_s: a, end_s: b }
    }

    #[test]
    fn pieces_cut_each_utterance_into_equal_parts_of_at_most_two_seconds() {
        let pieces = plan_piece_spans(&[span(0.0, 1.5), span(3.0, 7.2)]);
        assert_eq!(pieces.len(), 1 + 3);
        assert_eq!(pieces[0], span(0.0, 1.5));
        assert!((pieces[1].duration() - 1.4).abs() < 1e-9 && pieces[3].end_s == 7.2);
        assert!(pieces.iter().all(|p| p.duration() <= PIECE_S + 1e-9));
    }
}
