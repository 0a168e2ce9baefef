//! Whisper's 80-band log-Mel front end (SPEC §5b), numerically equal to HF transformers'
//! `WhisperFeatureExtractor` on its NumPy path (`_np_extract_fbank_features`, transformers 5.x)
//! for 16 kHz mono float input:
//!
//! - periodic Hann window of 400 samples (`window_function(400, "hann")` = `np.hanning(401)[:-1]`);
//! - centred frames every 160 samples with **reflect** padding of 200 samples on each side
//!   (`np.pad(mode="reflect")`, which reflects repeatedly when the clip is shorter than the
//!   padding, and repeats the sample of a one-sample clip);
//! - `np.fft.rfft` of the float64 frame, stored as complex64, then `|X|²` in float64;
//! - Slaney-scale, Slaney-normalised triangular filters, 80 bands from 0 to 8000 Hz, in float64
//!   (`mel_filter_bank(..., norm="slaney", mel_scale="slaney")`; librosa's float32
//!   `filters.mel(sr=16000, n_fft=400, n_mels=80)` is the same bank rounded to float32);
//! - `log10(max(mel, 1e-10))` in float64, rounded to float32;
//! - the last frame dropped (`log_spec[:, :-1]`), so a clip of `n` samples gives `n / 160`
//!   frames;
//! - `max(x, x.max() - 8)`, then `(x + 4) / 4`, in float32, the maximum taken over all frames
//!   that are returned.
//!
//! Two modes ([`WhisperMelPlan::compute`]'s `pad_to`):
//! - `None`, clip length: HF's `padding="longest"` on one clip. HF still truncates to its
//!   `n_samples` (30 s, `truncation=True` with `max_length` defaulting to 480 000), so clips
//!   longer than 30 s are cut to 30 s here too ([`WHISPER_CHUNK_SAMPLES`]).
//! - `Some(n)`: HF's `padding="max_length", max_length=n` (the default call is `n` = 480 000):
//!   the waveform is zero-padded or truncated to `n` samples first; the maximum of the clamp is
//!   then over the whole padded window.
//!
//! Where HF fails, this returns no frames: HF raises on clips shorter than 160 samples (no
//! frame is left after dropping the last one, and NumPy's `max` of an empty array raises). HF's
//! torch path (taken when torch is installed) computes in float32 and cannot reflect-pad clips
//! of 200 samples or fewer; this module follows the NumPy path.
//!
//! Arithmetic follows the reference: float64 transform, complex64 rounding of each bin, float64
//! power, mel sums and log10, float32 clamp and scaling. Frames lying wholly in the zero padding
//! are not transformed (their spectrum is exactly zero, so every band is `log10(1e-10)`).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::mel::{hz_to_mel, mel_to_hz, np_linspace};
use super::stft::hann_periodic;

/// Mel bands of Whisper's front end.
pub const WHISPER_N_MELS: usize = 80;
/// FFT size (25 ms at 16 kHz).
pub const WHISPER_N_FFT: usize = 400;
/// Hop between frames (10 ms at 16 kHz).
pub const WHISPER_HOP: usize = 160;
/// Sample rate the front end assumes.
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;
/// Whisper's window: 30 s at 16 kHz (HF's `n_samples`, the default padding and truncation length).
pub const WHISPER_CHUNK_SAMPLES: usize = 480_000;
/// Frames of a 30-s window (HF's `nb_max_frames`).
pub const WHISPER_CHUNK_FRAMES: usize = WHISPER_CHUNK_SAMPLES / WHISPER_HOP;

/// Frequency bins of one frame's spectrum.
const N_BINS: usize = WHISPER_N_FFT / 2 + 1;
/// Reflect padding on each side of the waveform (HF pads `frame_length // 2`).
const HALF: usize = WHISPER_N_FFT / 2;
/// HF's `mel_floor`.
const MEL_FLOOR: f64 = 1e-10;
/// HF's dynamic range: `max(x, x.max() - 8)` (80 dB).
const DYNAMIC_RANGE: f32 = 8.0;

/// One band's nonzero weights: bins `first_bin..first_bin + weights.len()`.
struct Band {
    first_bin: usize,
    weights: Vec<f64>,
}

/// Shared, read-only plan: window, mel filters and the real FFT. Build once and share
/// (it is `Sync`); per-worker buffers live in [`WhisperMelScratch`].
pub struct WhisperMelPlan {
    window: Vec<f64>,
    bands: Vec<Band>,
    fft: Arc<dyn RealToComplex<f64>>,
    /// The value of every band of an all-zero frame: `log10(1e-10)` as float32.
    silent_frame_value: f32,
}

/// Per-worker buffers of [`WhisperMelPlan::compute_with`] (a few kilobytes).
pub struct WhisperMelScratch {
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    /// One frame's mel band powers (floored) and their log10 as float32.
    mel: Vec<f64>,
    log_mel: Vec<f32>,
}

impl Default for WhisperMelPlan {
    fn default() -> Self {
        Self::new()
    }
}

impl WhisperMelPlan {
    pub fn new() -> Self {
        let bands = whisper_mel_filters()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(first, |last| last + 1);
                Band { first_bin: first, weights: row[first..end].to_vec() }
            })
            .collect();
        WhisperMelPlan {
            window: hann_periodic(WHISPER_N_FFT),
            bands,
            fft: RealFftPlanner::<f64>::new().plan_fft_forward(WHISPER_N_FFT),
            silent_frame_value: log10_to_f32(MEL_FLOOR),
        }
    }

    pub fn make_scratch(&self) -> WhisperMelScratch {
        WhisperMelScratch {
            frame: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft_scratch: self.fft.make_scratch_vec(),
            power: vec![0.0; N_BINS],
            mel: vec![0.0; WHISPER_N_MELS],
            log_mel: vec![0.0; WHISPER_N_MELS],
        }
    }

    /// Length of the waveform the spectrogram is taken of: the clip truncated to 30 s, or
    /// exactly `pad_to` samples.
    fn window_len(samples: usize, pad_to: Option<usize>) -> usize {
        pad_to.unwrap_or(samples.min(WHISPER_CHUNK_SAMPLES))
    }

    /// Frames [`Self::compute`] returns for a clip of `samples` samples: `len / 160`, where
    /// `len` is `pad_to` or the clip's length capped at 30 s (3000 frames for 30 s; none below
    /// 160 samples).
    pub fn frames_for(&self, samples: usize, pad_to: Option<usize>) -> usize {
        Self::window_len(samples, pad_to) / WHISPER_HOP
    }

    /// Log-Mel spectrogram of `samples` (16 kHz mono), row-major `(80, frames)` like HF's
    /// `input_features[0]`, into `out` (resized); returns `frames`. `pad_to`: `None` for the
    /// clip as it is (capped at 30 s), `Some(n)` to zero-pad or truncate to `n` samples first.
    /// Allocates its scratch buffers; see [`Self::compute_with`] to reuse them.
    pub fn compute(&self, samples: &[f32], pad_to: Option<usize>, out: &mut Vec<f32>) -> usize {
        self.compute_with(samples, pad_to, &mut self.make_scratch(), out)
    }

    /// [`Self::compute`] with caller-owned scratch buffers.
    pub fn compute_with(&self, samples: &[f32], pad_to: Option<usize>, s: &mut WhisperMelScratch, out: &mut Vec<f32>) -> usize {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { self.compute_avx2(samples, pad_to, s, out) };
        }
        self.compute_portable(samples, pad_to, s, out)
    }

    /// The same code compiled for AVX2 + FMA (four float64 lanes). Rust never fuses a*b+c on
    /// its own, so the results are bit-identical to the portable build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn compute_avx2(
        &self,
        samples: &[f32],
        pad_to: Option<usize>,
        s: &mut WhisperMelScratch,
        out: &mut Vec<f32>,
    ) -> usize {
        self.compute_portable(samples, pad_to, s, out)
    }

    #[inline(always)]
    fn compute_portable(&self, samples: &[f32], pad_to: Option<usize>, s: &mut WhisperMelScratch, out: &mut Vec<f32>) -> usize {
        let len = Self::window_len(samples.len(), pad_to);
        let frames = len / WHISPER_HOP;
        out.clear();
        if frames == 0 {
            return 0;
        }
        out.resize(WHISPER_N_MELS * frames, 0.0);
        // The part of the window that holds the clip; the rest (up to `len`) is zeros.
        let clip = &samples[..samples.len().min(len)];

        let mut max = f32::NEG_INFINITY;
        for t in 0..frames {
            // Frame t covers samples t·hop − 200 .. t·hop + 200 of the window.
            let start = (t * WHISPER_HOP) as isize - HALF as isize;
            let end = start + WHISPER_N_FFT as isize;
            if start >= clip.len() as isize && end <= len as isize {
                // Wholly in the zero padding: zero spectrum.
                for band in 0..WHISPER_N_MELS {
                    out[band * frames + t] = self.silent_frame_value;
                }
                max = if self.silent_frame_value > max { self.silent_frame_value } else { max };
                continue;
            }
            if start >= 0 && end <= clip.len() as isize {
                let src = &clip[start as usize..end as usize];
                for ((slot, &w), &v) in s.frame.iter_mut().zip(&self.window).zip(src) {
                    *slot = w * v as f64;
                }
            } else {
                for (j, (slot, &w)) in s.frame.iter_mut().zip(&self.window).enumerate() {
                    let i = reflect_index(start + j as isize, len);
                    let v = clip.get(i).copied().unwrap_or(0.0);
                    *slot = w * v as f64;
                }
            }
            self.frame_power(s);
            for (b, mel) in self.bands.iter().zip(s.mel.iter_mut()) {
                let mut acc = 0.0f64;
                for (&w, &p) in b.weights.iter().zip(&s.power[b.first_bin..]) {
                    acc += w * p;
                }
                // np.maximum(mel_floor, mel): NaN propagates.
                *mel = if acc.is_nan() || acc > MEL_FLOOR { acc } else { MEL_FLOOR };
            }
            log10_bands(&s.mel, &mut s.log_mel);
            for (band, &v) in s.log_mel.iter().enumerate() {
                out[band * frames + t] = v;
                max = if v > max { v } else { max };
            }
        }
        // float32, as NumPy computes `log_spec.max() - 8.0` and `(x + 4.0) / 4.0`.
        let floor = max - DYNAMIC_RANGE;
        for v in out.iter_mut() {
            let clamped = if *v >= floor || v.is_nan() { *v } else { floor };
            *v = (clamped + 4.0) / 4.0;
        }
        frames
    }

    /// `|rfft(frame)|²` of the windowed frame in `s.frame` (clobbered) into `s.power`: each
    /// bin rounded to complex64 (HF stores the spectrum as complex64), squared in float64.
    fn frame_power(&self, s: &mut WhisperMelScratch) {
        // The buffers come from this plan, so the lengths always match.
        if self.fft.process_with_scratch(&mut s.frame, &mut s.spectrum, &mut s.fft_scratch).is_err() {
            s.power.fill(0.0);
            return;
        }
        for (p, c) in s.power.iter_mut().zip(&s.spectrum) {
            let (re, im) = (c.re as f32 as f64, c.im as f32 as f64);
            *p = re * re + im * im;
        }
    }
}

/// Index into a signal of `len` samples of position `i` of its reflect-padded extension, as
/// `np.pad(mode="reflect")` builds it: the mirror image about the first and last samples (not
/// repeating them), repeated as often as needed (period `2(len − 1)`); a one-sample signal is
/// repeated. `len` must be at least 1.
fn reflect_index(i: isize, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let m = i.rem_euclid(period);
    if m < len as isize {
        m as usize
    } else {
        (period - m) as usize
    }
}

/// HF's `mel_filter_bank(201, 80, 0, 8000, 16000, norm="slaney", mel_scale="slaney")` in
/// float64, one row of 201 bin weights per band.
fn whisper_mel_filters() -> Vec<Vec<f64>> {
    let sr = WHISPER_SAMPLE_RATE as f64;
    let fft_freqs = np_linspace(0.0, sr / 2.0, N_BINS);
    let filter_freqs: Vec<f64> =
        np_linspace(hz_to_mel(0.0), hz_to_mel(8000.0), WHISPER_N_MELS + 2).into_iter().map(mel_to_hz).collect();
    (0..WHISPER_N_MELS)
        .map(|i| {
            let (lo, centre, hi) = (filter_freqs[i], filter_freqs[i + 1], filter_freqs[i + 2]);
            let enorm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|&f| {
                    let down = -(lo - f) / (centre - lo);
                    let up = (hi - f) / (hi - centre);
                    0.0f64.max(down.min(up)) * enorm
                })
                .collect()
        })
        .collect()
}

/// [`log10_to_f32`] of every value of `mel` (one frame's bands) into `out`, in a branch-free
/// loop that vectorises when all values are positive, finite and normal (always, unless the
/// input holds NaN or infinities).
#[inline(always)]
fn log10_bands(mel: &[f64], out: &mut [f32]) {
    if mel.iter().all(|&x| x.is_finite() && x >= f64::MIN_POSITIVE) {
        for (o, &x) in out.iter_mut().zip(mel) {
            *o = log10_normal_to_f32(x);
        }
    } else {
        for (o, &x) in out.iter_mut().zip(mel) {
            *o = log10_to_f32(x);
        }
    }
}

/// `np.log10(x)` in float64 rounded to float32, for any `x` (NaN and infinities, zero and
/// subnormals go to the library function).
#[inline(always)]
fn log10_to_f32(x: f64) -> f32 {
    if !(x.is_finite() && x >= f64::MIN_POSITIVE) {
        return x.log10() as f32;
    }
    log10_normal_to_f32(x)
}

/// `np.log10(x)` in float64 rounded to float32 for a positive, finite, normal `x`: exponent
/// plus an atanh series of the mantissa in float64 (relative error below 1e-15), so the float32
/// result is the correctly rounded one except within ~1e-15 of a rounding boundary. No
/// branches (it vectorises) and no libm call.
#[inline(always)]
fn log10_normal_to_f32(x: f64) -> f32 {
    const LOG10_2: f64 = std::f64::consts::LOG10_2;
    const LOG10_E: f64 = std::f64::consts::LOG10_E;
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let above = m > std::f64::consts::SQRT_2;
    let m = if above { m * 0.5 } else { m };
    let exponent = exponent + above as i32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    // 1 + t²/3 + t⁴/5 + … + t¹⁸/19 (|t| ≤ 0.172, so the next term is below 1e-15), as
    // Estrin's scheme in t⁴ to keep the dependency chain short.
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let p01 = 1.0 + t2 * (1.0 / 3.0);
    let p23 = 1.0 / 5.0 + t2 * (1.0 / 7.0);
    let p45 = 1.0 / 9.0 + t2 * (1.0 / 11.0);
    let p67 = 1.0 / 13.0 + t2 * (1.0 / 15.0);
    let p89 = 1.0 / 17.0 + t2 * (1.0 / 19.0);
    let low = p01 + t4 * p23;
    let high = p45 + t4 * p67 + t8 * p89;
    let series = low + t8 * high;
    let ln_m = 2.0 * t * series;
    (exponent as f64 * LOG10_2 + ln_m * LOG10_E) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_index_matches_numpy_pad() {
        // np.pad(np.arange(4), 7, mode="reflect")
        let want = [1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2];
        let got: Vec<usize> = (-7..11).map(|i| reflect_index(i, 4)).collect();
        assert_eq!(got, want);
        assert_eq!(reflect_index(-200, 1), 0);
        assert_eq!(reflect_index(-1, 161), 1);
        assert_eq!(reflect_index(-161, 161), 159);
        assert_eq!(reflect_index(161, 161), 159);
    }

    #[test]
    fn log10_is_float32_rounded_log10() {
        let mut x = 1e-10f64;
        let mut off = 0;
        while x < 1e8 {
            let (got, want) = (log10_to_f32(x), x.log10() as f32);
            assert!((got - want).abs() <= f32::EPSILON * want.abs().max(1.0), "{x}: {got} vs {want}");
            off += usize::from(got != want);
            x *= 1.000_123_4;
        }
        assert!(off <= 2, "{off} values off by one ulp");
        assert_eq!(log10_to_f32(1e-10), -10.0);
        assert_eq!(log10_to_f32(1.0), 0.0);
        assert!(log10_to_f32(f64::NAN).is_nan());
    }

    #[test]
    fn vector_log10_matches_scalar_log10() {
        let mel: Vec<f64> = (0..WHISPER_N_MELS).map(|i| 1e-10 * 1.37f64.powi(i as i32 * 3)).collect();
        let mut out = vec![0.0f32; WHISPER_N_MELS];
        log10_bands(&mel, &mut out);
        for (&x, &got) in mel.iter().zip(&out) {
            assert_eq!(got.to_bits(), log10_to_f32(x).to_bits(), "{x}");
        }
        let mut odd = mel.clone();
        odd[3] = f64::NAN;
        odd[5] = f64::INFINITY;
        log10_bands(&odd, &mut out);
        assert!(out[3].is_nan() && out[5] == f32::INFINITY && out[4] == log10_to_f32(mel[4]));
    }

    #[test]
    fn vector_build_matches_portable_build() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            let plan = WhisperMelPlan::new();
            let mut s = plan.make_scratch();
            let y: Vec<f32> = (0..20_000)
                .map(|i| ((i as f32 * 0.173).sin() + (i as f32 * 0.0311).cos() * 0.4) * 0.3 * (i % 7) as f32)
                .collect();
            for pad_to in [None, Some(25_000), Some(WHISPER_CHUNK_SAMPLES)] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                // SAFETY: AVX2 and FMA are available (checked above).
                let fa = unsafe { plan.compute_avx2(&y, pad_to, &mut s, &mut a) };
                let fb = plan.compute_portable(&y, pad_to, &mut s, &mut b);
                assert_eq!(fa, fb);
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "pad_to {pad_to:?}");
            }
        }
    }

    #[test]
    fn filters_equal_librosa_float32_bank() {
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) is HF's bank rounded to float32.
        let librosa = super::super::mel::slaney_mel_dense(16000.0, WHISPER_N_FFT, WHISPER_N_MELS, 0.0, 8000.0);
        let ours = whisper_mel_filters();
        let peak = librosa.iter().fold(0.0f32, |m, &v| m.max(v)) as f64;
        for (band, row) in ours.iter().enumerate() {
            for (k, &w) in row.iter().enumerate() {
                let l = librosa[band * N_BINS + k] as f64;
                assert!((w - l).abs() <= 1e-7 * peak, "band {band} bin {k}: {w} vs {l}");
            }
        }
    }

    #[test]
    fn frame_counts() {
        let plan = WhisperMelPlan::new();
        assert_eq!(plan.frames_for(0, None), 0);
        assert_eq!(plan.frames_for(159, None), 0);
        assert_eq!(plan.frames_for(160, None), 1);
        assert_eq!(plan.frames_for(160_000, None), 1000);
        assert_eq!(plan.frames_for(10_000_000, None), WHISPER_CHUNK_FRAMES);
        assert_eq!(plan.frames_for(1, Some(WHISPER_CHUNK_SAMPLES)), 3000);
        assert_eq!(plan.frames_for(1_000_000, Some(16_000)), 100);
    }
}
