//! Collects the samples of ordered spans of a channel that arrives in chunks, holding one
//! span's samples at a time (streaming analysis of long calls in bounded memory).

/// Feeds chunks of a channel to consecutive spans `[start, end)` (sample indices, in order).
pub struct SpanFeeder {
    bounds: Vec<(u64, u64)>,
    next: usize,
    position: u64,
    buffer: Vec<f32>,
}

impl SpanFeeder {
    /// Spans given in seconds at `sample_rate`, truncated to whole samples.
    pub fn from_seconds(spans: impl Iterator<Item = (f64, f64)>, sample_rate: f64) -> Self {
        let bounds = spans.map(|(start, end)| ((start * sample_rate) as u64, (end * sample_rate) as u64)).collect();
        SpanFeeder { bounds, next: 0, position: 0, buffer: Vec::new() }
    }

    /// Feeds the next samples of the channel; calls `complete(k, start, samples)` for every
    /// span `k` that ends within them, in order (`start` is its first sample index).
    pub fn push(&mut self, samples: &[f32], mut complete: impl FnMut(usize, u64, &[f32])) {
        let chunk_start = self.position;
        let chunk_end = chunk_start + samples.len() as u64;
        while let Some(&(a, b)) = self.bounds.get(self.next) {
            let from = a.max(chunk_start);
            let to = b.min(chunk_end);
            if from < to {
                self.buffer.extend_from_slice(&samples[(from - chunk_start) as usize..(to - chunk_start) as usize]);
            }
            if b > chunk_end {
                break;
            }
            self.complete_next(&mut complete);
        }
        self.position = chunk_end;
    }

    /// Completes the spans the stream did not reach (cut-off audio) with what they received.
    pub fn finish(&mut self, mut complete: impl FnMut(usize, u64, &[f32])) {
        while self.next < self.bounds.len() {
            self.complete_next(&mut complete);
        }
    }

    fn complete_next(&mut self, complete: &mut impl FnMut(usize, u64, &[f32])) {
        complete(self.next, self.bounds[self.next].0, &self.buffer);
        self.buffer.clear();
        self.next += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_receive_their_samples_across_chunk_boundaries() {
        let signal: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let mut feeder = SpanFeeder::from_seconds([(0.1, 0.25), (0.25, 0.3), (0.5, 0.95), (0.99, 1.2)].into_iter(), 100.0);
        let mut got: Vec<(usize, u64, Vec<f32>)> = Vec::new();
        for chunk in signal.chunks(7) {
            feeder.push(chunk, |k, start, s| got.push((k, start, s.to_vec())));
        }
        assert_eq!(got.len(), 3, "the last span runs past the end of the stream");
        feeder.finish(|k, start, s| got.push((k, start, s.to_vec())));
        assert_eq!(got[0], (0, 10, (10..25).map(|i| i as f32).collect()));
        assert_eq!(got[1], (1, 25, (25..30).map(|i| i as f32).collect()));
        assert_eq!(got[2], (2, 50, (50..95).map(|i| i as f32).collect()));
        assert_eq!(got[3], (3, 99, vec![99.0]));
    }
}
