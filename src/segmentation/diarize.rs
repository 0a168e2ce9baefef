//! Two-speaker diarization of a mono call.
//!
//! Utterances are cut into ~1-s chunks; each chunk is embedded by the mean and standard
//! deviation of 12 mel-cepstral coefficients (telephone band) plus its mean log pitch; the
//! embeddings are standardised and split into two clusters (first principal component as the
//! initial split, then 2-means). Chunk labels are smoothed within an utterance and an
//! utterance is cut where the speaker changes, at the quietest point near the change.
//! Self-contained and approximate by design: it only has to tell two voices apart.

use super::cepstra::{Cepstra, CepstraConfig};
use super::span_feeder::SpanFeeder;
use super::utterances::TimeSpan;
use super::vad::FrameTrack;

const N_MELS: usize = 24;
const N_CEPS: usize = 12;
const MEL_LOW_HZ: f32 = 250.0;
const MEL_HIGH_HZ: f32 = 3600.0;
/// Weight of the pitch dimension after standardisation (pitch separates voices well).
const PITCH_WEIGHT: f32 = 1.0;
/// Per-frame features: 12 cepstra + log ratio of sub-telephone-band (60-250 Hz) energy to the
/// 250-3600 Hz energy (a caller heard through a phone line has almost none; a local operator
/// microphone has some).
const FRAME_DIM: usize = N_CEPS + 1;
const EMBED_DIM: usize = 2 * FRAME_DIM + 1;
/// Weight of the low-band ratio mean after standardisation (two recording paths: caller through
/// the phone line, operator local). Tuned on synthetic calls (3 calls, casia/emodb/ravdess):
/// the cue dominates when present.
const LOW_BAND_WEIGHT: f32 = 8.0;

/// A span of speech attributed to one of two clusters (0 or 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelledSpan {
    pub span: TimeSpan,
    pub cluster: usize,
}

/// The chunk embedder's cepstral analysis: 24 mel bands over the telephone band, 12 cepstra,
/// 25-ms frames every 10 ms.
const CEPSTRA: CepstraConfig =
    CepstraConfig { n_mels: N_MELS, n_ceps: N_CEPS, low_hz: MEL_LOW_HZ, high_hz: MEL_HIGH_HZ, frame_s: 0.025, hop_s: 0.010 };

/// Cepstra (plus the low-band ratio) and log energy of every frame of `samples`.
fn cepstral_frames(cepstra: &mut Cepstra, samples: &[f32]) -> Vec<([f32; FRAME_DIM], f32)> {
    let mut out = Vec::new();
    cepstra.for_each_frame(samples, |f| {
        let mut v = [0.0f32; FRAME_DIM];
        v.copy_from_slice(f.features);
        out.push((v, f.log_energy));
    });
    out
}

/// Embedding of one chunk: mean and std of the cepstra over its louder frames, mean log pitch.
fn embed_chunk(frames: &[([f32; FRAME_DIM], f32)], log_pitch: Option<f32>) -> [f32; EMBED_DIM] {
    let mut emb = [0.0f32; EMBED_DIM];
    if frames.is_empty() {
        emb[EMBED_DIM - 1] = log_pitch.unwrap_or(f32::NAN);
        return emb;
    }
    // Keep frames within 25 dB (natural log units: 25/4.34) of the loudest: pauses carry noise.
    let max_e = frames.iter().map(|f| f.1).fold(f32::NEG_INFINITY, f32::max);
    let kept: Vec<&([f32; FRAME_DIM], f32)> = frames.iter().filter(|f| f.1 >= max_e - 25.0 / 4.343).collect();
    let n = kept.len() as f32;
    for q in 0..FRAME_DIM {
        let mean = kept.iter().map(|f| f.0[q]).sum::<f32>() / n;
        let var = kept.iter().map(|f| (f.0[q] - mean).powi(2)).sum::<f32>() / n;
        emb[q] = mean;
        emb[FRAME_DIM + q] = var.sqrt();
    }
    emb[EMBED_DIM - 1] = log_pitch.unwrap_or(f32::NAN);
    emb
}

/// One chunk of an utterance to embed.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSpec {
    pub utterance: usize,
    pub span: TimeSpan,
}

struct Chunk {
    utterance: usize,
    span: TimeSpan,
    emb: [f32; EMBED_DIM],
}

/// Cuts utterances into chunks of about `chunk_s` seconds (at least one per utterance).
pub fn plan_chunks(utterances: &[TimeSpan], chunk_s: f64) -> Vec<ChunkSpec> {
    let mut out = Vec::new();
    for (u, span) in utterances.iter().enumerate() {
        let n_chunks = ((span.duration() / chunk_s).round() as usize).max(1);
        let step = span.duration() / n_chunks as f64;
        for c in 0..n_chunks {
            let cs = TimeSpan { start_s: span.start_s + step * c as f64, end_s: span.start_s + step * (c + 1) as f64 };
            out.push(ChunkSpec { utterance: u, span: cs });
        }
    }
    out
}

/// Streaming embedder: fed the samples of the channel in order, it embeds each planned chunk
/// while holding only that chunk's samples.
pub struct ChunkEmbedder<'a> {
    chunks: &'a [ChunkSpec],
    feeder: SpanFeeder,
    embedding: Embedding<'a>,
}

/// Everything [`ChunkEmbedder`] needs and accumulates besides the stream position.
struct Embedding<'a> {
    embedder: Cepstra,
    sample_rate: f64,
    frames: Vec<([f32; FRAME_DIM], f32)>,
    out: Vec<[f32; EMBED_DIM]>,
    track: &'a FrameTrack,
    voicing_threshold: f32,
}

impl<'a> ChunkEmbedder<'a> {
    pub fn new(sample_rate: u32, chunks: &'a [ChunkSpec], track: &'a FrameTrack, voicing_threshold: f32) -> Self {
        Self {
            chunks,
            feeder: SpanFeeder::from_seconds(chunks.iter().map(|c| (c.span.start_s, c.span.end_s)), sample_rate as f64),
            embedding: Embedding {
                embedder: Cepstra::new(sample_rate, CEPSTRA),
                sample_rate: sample_rate as f64,
                frames: Vec::new(),
                out: Vec::with_capacity(chunks.len()),
                track,
                voicing_threshold,
            },
        }
    }

    /// Feeds the next samples of the channel.
    pub fn push(&mut self, samples: &[f32]) {
        let (chunks, embedding) = (self.chunks, &mut self.embedding);
        self.feeder.push(samples, |k, start, buffer| embedding.add_chunk(chunks[k], start, buffer));
    }

    /// Embeds the chunks the stream did not reach (cut-off audio) and returns all embeddings.
    fn finish(mut self) -> Vec<[f32; EMBED_DIM]> {
        let (chunks, embedding) = (self.chunks, &mut self.embedding);
        self.feeder.finish(|k, start, buffer| embedding.add_chunk(chunks[k], start, buffer));
        self.embedding.out
    }
}

impl Embedding<'_> {
    /// Embeds one chunk whose samples start at sample `start`.
    fn add_chunk(&mut self, spec: ChunkSpec, start: u64, samples: &[f32]) {
        self.frames = cepstral_frames(&mut self.embedder, samples);
        // Keep voiced frames only (vowels carry the voice; pauses carry the line noise), unless
        // the chunk has too few of them.
        let track = self.track;
        let voiced: Vec<bool> = (0..self.frames.len())
            .map(|j| {
                let centre = start as f64 + (j * self.embedder.hop()) as f64 + self.embedder.frame_len() as f64 / 2.0;
                let centre_track = centre * track.sample_rate as f64 / self.sample_rate;
                let i = ((centre_track - track.frame_len as f64 / 2.0) / track.hop as f64).round().max(0.0) as usize;
                track.periodicity.get(i).is_some_and(|p| *p >= self.voicing_threshold)
            })
            .collect();
        if voiced.iter().filter(|v| **v).count() >= 10 {
            let mut k = 0;
            self.frames.retain(|_| {
                k += 1;
                voiced[k - 1]
            });
        }
        let pitch = mean_log_pitch(self.track, spec.span, self.voicing_threshold);
        self.out.push(embed_chunk(&self.frames, pitch));
    }
}

/// Diarizes the utterances of a mono channel into two clusters, given the finished embedder
/// (fed the whole channel) and the channel's VAD track.
pub fn diarize_two_speakers(
    embedder: ChunkEmbedder<'_>,
    utterances: &[TimeSpan],
    chunk_s: f64,
) -> Vec<LabelledSpan> {
    let specs = embedder.chunks;
    let track = embedder.embedding.track;
    let embeddings = embedder.finish();
    if utterances.is_empty() {
        return Vec::new();
    }
    let mut chunks: Vec<Chunk> = specs
        .iter()
        .zip(embeddings)
        .map(|(s, emb)| Chunk { utterance: s.utterance, span: s.span, emb })
        .collect();

    let labels = cluster_two(&mut chunks);

    // Smooth isolated interior chunk labels within an utterance, then cut at speaker changes.
    let mut out = Vec::new();
    let mut k = 0;
    while k < chunks.len() {
        let u = chunks[k].utterance;
        let mut end = k;
        while end < chunks.len() && chunks[end].utterance == u {
            end += 1;
        }
        let mut lab: Vec<usize> = labels[k..end].to_vec();
        for i in 1..lab.len().saturating_sub(1) {
            if lab[i - 1] == lab[i + 1] && lab[i] != lab[i - 1] {
                lab[i] = lab[i - 1];
            }
        }
        let mut run_start = 0;
        let mut cut_start = utterances[u].start_s;
        for i in 1..=lab.len() {
            if i == lab.len() || lab[i] != lab[run_start] {
                let (end_s, next_start) = if i == lab.len() {
                    (utterances[u].end_s, utterances[u].end_s)
                } else {
                    refine_change(track, chunks[k + i].span.start_s, chunk_s / 2.0)
                };
                if end_s > cut_start {
                    out.push(LabelledSpan { span: TimeSpan { start_s: cut_start, end_s }, cluster: lab[run_start] });
                }
                cut_start = next_start;
                run_start = i;
            }
        }
        k = end;
    }
    out
}

/// Mean log2 pitch of the voiced frames inside `span`, if any.
fn mean_log_pitch(track: &FrameTrack, span: TimeSpan, voicing_threshold: f32) -> Option<f32> {
    let hop = track.hop_s();
    let a = (span.start_s / hop).floor() as usize;
    let b = ((span.end_s / hop).ceil() as usize).min(track.len());
    let mut sum = 0.0f32;
    let mut n = 0;
    for i in a..b {
        if track.periodicity[i] >= voicing_threshold && track.pitch_lag[i] > 0 {
            sum += (track.sample_rate as f32 / track.pitch_lag[i] as f32).log2();
            n += 1;
        }
    }
    (n >= 3).then(|| sum / n as f32)
}

/// Moves a speaker change near `t` to the quietest 50 ms within `±radius`; returns the end of
/// the first speaker and the start of the second (equal: the change is a single instant).
fn refine_change(track: &FrameTrack, t: f64, radius: f64) -> (f64, f64) {
    let hop = track.hop_s();
    if track.is_empty() {
        return (t, t);
    }
    let a = ((t - radius) / hop).max(0.0) as usize;
    let b = (((t + radius) / hop) as usize).min(track.len());
    let e = &track.energy_db;
    let mut best = None;
    let mut best_v = f32::INFINITY;
    for i in a..b {
        let lo = i.saturating_sub(2);
        let hi = (i + 3).min(e.len());
        let v = e[lo..hi].iter().sum::<f32>() / (hi - lo) as f32;
        if v < best_v {
            best_v = v;
            best = Some(i);
        }
    }
    match best {
        Some(i) => {
            let c = track.frame_centre_s(i);
            (c, c)
        }
        None => (t, t),
    }
}

/// Standardises the embeddings and splits them in two; returns one label per chunk.
fn cluster_two(chunks: &mut [Chunk]) -> Vec<usize> {
    let n = chunks.len();
    if n < 2 {
        return vec![0; n];
    }
    // Fill missing pitch with the mean pitch, then z-score every dimension.
    let pitches: Vec<f32> = chunks.iter().map(|c| c.emb[EMBED_DIM - 1]).filter(|p| p.is_finite()).collect();
    let mean_pitch = if pitches.is_empty() { 0.0 } else { pitches.iter().sum::<f32>() / pitches.len() as f32 };
    for c in chunks.iter_mut() {
        if !c.emb[EMBED_DIM - 1].is_finite() {
            c.emb[EMBED_DIM - 1] = mean_pitch;
        }
    }
    let mut x: Vec<[f32; EMBED_DIM]> = chunks.iter().map(|c| c.emb).collect();
    // Always weighted: Sarle's bimodality coefficient was tried as a gate (use the cue only
    // when its distribution is bimodal) and proved unreliable on unbalanced, skewed clusters.
    let low_band_weight = LOW_BAND_WEIGHT;
    for d in 0..EMBED_DIM {
        let mean = x.iter().map(|v| v[d]).sum::<f32>() / n as f32;
        let sd = (x.iter().map(|v| (v[d] - mean).powi(2)).sum::<f32>() / n as f32).sqrt().max(1e-6);
        let w = if d == EMBED_DIM - 1 {
            PITCH_WEIGHT
        } else if d == N_CEPS {
            low_band_weight
        } else {
            1.0
        };
        for v in x.iter_mut() {
            v[d] = (v[d] - mean) / sd * w;
        }
    }
    // Initial split: sign of the projection on the first principal component (power iteration).
    let mut pc = [1.0f32; EMBED_DIM];
    for _ in 0..50 {
        let mut next = [0.0f32; EMBED_DIM];
        for v in &x {
            let dot: f32 = v.iter().zip(&pc).map(|(a, b)| a * b).sum();
            for d in 0..EMBED_DIM {
                next[d] += dot * v[d];
            }
        }
        let norm = next.iter().map(|a| a * a).sum::<f32>().sqrt();
        if norm < 1e-12 {
            break;
        }
        for d in 0..EMBED_DIM {
            pc[d] = next[d] / norm;
        }
    }
    let mut labels: Vec<usize> =
        x.iter().map(|v| usize::from(v.iter().zip(&pc).map(|(a, b)| a * b).sum::<f32>() > 0.0)).collect();
    // Lloyd iterations of 2-means.
    for _ in 0..100 {
        let mut cent = [[0.0f32; EMBED_DIM]; 2];
        let mut count = [0usize; 2];
        for (v, &l) in x.iter().zip(&labels) {
            count[l] += 1;
            for d in 0..EMBED_DIM {
                cent[l][d] += v[d];
            }
        }
        if count.contains(&0) {
            break;
        }
        for l in 0..2 {
            for d in 0..EMBED_DIM {
                cent[l][d] /= count[l] as f32;
            }
        }
        let dist = |v: &[f32; EMBED_DIM], c: &[f32; EMBED_DIM]| v.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
        let new: Vec<usize> = x.iter().map(|v| usize::from(dist(v, &cent[1]) < dist(v, &cent[0]))).collect();
        if new == labels {
            break;
        }
        labels = new;
    }
    labels
}
