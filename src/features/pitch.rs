//! The reference "pitch" track (SPEC §4): librosa 0.11 `piptrack(y, sr=16000)` defaults,
//! maximum over frequency bins per frame, then `np.interp` onto one value per sample.
//! This is the highest qualifying spectral peak in 150–4000 Hz, not F0; it must match the
//! reference bit for bit wherever possible because the model was trained on it.

use super::mel::{fft_frequencies, np_linspace};
use super::stft::{max_non_negative, numpy_cabs_f32, StftPlan, StftScratch};
use super::stft_f32::{StftPlanF32, StftScratchF32};
use super::FeatureError;

pub const N_FFT: usize = 2048;
pub const HOP: usize = 512;
pub const FMIN: f64 = 150.0;
pub const FMAX: f64 = 4000.0;
pub const THRESHOLD: f32 = 0.1;

/// Shared, read-only piptrack plan.
pub struct PitchPlan {
    /// The reference-precision transform, for frames the float32 one cannot decide.
    stft: StftPlan,
    stft_f32: StftPlanF32,
    /// Bins `lo..hi` satisfy `fmin <= freq < fmax` (librosa's feasible range).
    lo: usize,
    hi: usize,
    hz_per_bin: f64,
}

/// Per-worker buffers for [`PitchPlan`].
pub struct PitchScratch {
    stft: StftScratch,
    stft_f32: StftScratchF32,
    power: Vec<f32>,
    /// Frames decided by the float32 transform / redone in f64 (checked by the tests).
    frames_f32: usize,
    frames_f64: usize,
}

/// One frame's float32 `re² + im²` per bin, and its complex64 bins on demand (only a few
/// are ever needed, so the spectrum itself is not stored).
struct FrameSpectrum<'a> {
    stft: &'a StftPlan,
    scratch: &'a StftScratch,
    power: &'a [f32],
}

impl FrameSpectrum<'_> {
    /// NumPy's float32 `abs` of bin `k`, exactly.
    #[inline(always)]
    fn magnitude(&self, k: usize) -> f32 {
        let (re, im) = self.stft.last_frame_bin(self.scratch, k);
        numpy_cabs_f32(re, im)
    }
}

impl PitchPlan {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate as f64;
        let stft = StftPlan::new(N_FFT, HOP);
        let freqs = fft_frequencies(sr, N_FFT);
        let fmax = FMAX.min(sr / 2.0);
        let fmin = FMIN.max(0.0);
        let lo = freqs.iter().position(|&f| fmin <= f).unwrap_or(freqs.len());
        let hi = freqs.iter().rposition(|&f| f < fmax).map_or(lo, |i| i + 1).max(lo);
        PitchPlan { stft, stft_f32: StftPlanF32::new(N_FFT, HOP), lo, hi, hz_per_bin: sr / N_FFT as f64 }
    }

    pub fn n_frames(&self, len: usize) -> usize {
        self.stft.n_frames(len)
    }

    pub fn make_scratch(&self) -> PitchScratch {
        let n = self.stft.n_bins();
        PitchScratch {
            stft: self.stft.make_scratch(),
            stft_f32: self.stft_f32.make_scratch(),
            power: vec![0.0; n],
            frames_f32: 0,
            frames_f64: 0,
        }
    }

    /// Per-frame maximum of piptrack's `pitches` for the whole clip `y`, into `out`.
    pub fn pitch_frames(&self, y: &[f32], s: &mut PitchScratch, out: &mut Vec<f32>) -> Result<(), FeatureError> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { self.pitch_frames_avx2(y, s, out) };
            return Ok(());
        }
        self.pitch_frames_portable(y, s, out);
        Ok(())
    }

    /// The same code compiled for AVX2 + FMA (bit-identical results, wider vectors).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pitch_frames_avx2(&self, y: &[f32], s: &mut PitchScratch, out: &mut Vec<f32>) {
        self.pitch_frames_portable(y, s, out)
    }

    /// Each frame is first decided on the float32 spectrum; a frame where any decision lies
    /// within the float32 error margin is redone on the reference f64 spectrum.
    #[inline(always)]
    fn pitch_frames_portable(&self, y: &[f32], s: &mut PitchScratch, out: &mut Vec<f32>) {
        out.clear();
        for t in 0..self.n_frames(y.len()) {
            self.stft_f32.power_frame(y, t, &mut s.stft_f32, &mut s.power);
            if let Some(pitch) = self.frame_pitch_f32(&s.power) {
                s.frames_f32 += 1;
                out.push(pitch);
                continue;
            }
            s.frames_f64 += 1;
            out.push(self.frame_pitch_f64(y, t, s));
        }
    }

    /// One frame on the reference-precision spectrum.
    #[inline(always)]
    fn frame_pitch_f64(&self, y: &[f32], t: usize, s: &mut PitchScratch) -> f32 {
        self.stft.power_frame(y, t, &mut s.stft, &mut s.power);
        let spectrum = FrameSpectrum { stft: &self.stft, scratch: &s.stft, power: &s.power };
        self.frame_pitch(&spectrum)
    }

    /// piptrack + max over bins on the float32 power spectrum, or `None` when a threshold,
    /// local-maximum or parabolic-shift decision is too close to call within the float32
    /// error ([`F32_MAGNITUDE_ERROR`] of the frame's largest magnitude per bin).
    #[inline(always)]
    fn frame_pitch_f32(&self, power: &[f32]) -> Option<f32> {
        let power_max = max_non_negative(power);
        if !(power_max >= MIN_F32_POWER) {
            return None; // silence or near-silence: let the exact path decide
        }
        let magnitude_max = power_max.sqrt();
        // Both sides of a comparison carry the error (the threshold a tenth of it).
        let margin = 2.2 * F32_MAGNITUDE_ERROR * magnitude_max;
        let reference = THRESHOLD * magnitude_max;
        let clearly_below = if reference > margin { (reference - margin) * (reference - margin) } else { 0.0 };
        let level = |k: usize| -> Level {
            let p = power[k];
            if p < clearly_below {
                return Level::Below;
            }
            let m = p.sqrt();
            if m <= reference - margin {
                Level::Below
            } else if m > reference + margin {
                Level::Above(m)
            } else {
                Level::Unsure(m)
            }
        };
        // `x[k] > x[j]` (or `>=`) of thresholded magnitudes, with x[k] clearly above the
        // threshold: certain unless the two magnitudes are within the margin.
        let exceeds = |m: f32, other: Level| -> Option<bool> {
            match other {
                Level::Below => Some(true),
                Level::Above(o) | Level::Unsure(o) => {
                    if m - o > margin {
                        Some(true)
                    } else if o - m > margin {
                        Some(false)
                    } else {
                        None
                    }
                }
            }
        };
        let mut end = self.hi;
        while let Some(k) = highest_at_least(power, self.lo, end, clearly_below) {
            end = k;
            let m = match level(k) {
                Level::Below => continue,
                Level::Unsure(_) => return None,
                Level::Above(m) => m,
            };
            // Bins 1..n-1 only (lo >= 1, hi <= n - 1), so both neighbours exist.
            if !(exceeds(m, level(k - 1))? && exceeds(m, level(k + 1))?) {
                continue;
            }
            let (left, right) = (power[k - 1].sqrt(), power[k + 1].sqrt());
            let a = (right + left) as f64 - 2.0 * m as f64;
            let b = (right - left) as f64 / 2.0;
            let error = F32_MAGNITUDE_ERROR as f64 * magnitude_max as f64;
            // |Δb| <= error, |Δa| <= 4·error: the shift -b/a moves by at most this (in bins).
            let shift_error = (error + 4.0 * error * (b / a).abs()) / (a.abs() - 4.0 * error);
            if (b.abs() - a.abs()).abs() <= 5.0 * error || !(shift_error >= 0.0 && shift_error <= MAX_SHIFT_ERROR_BINS) {
                return None;
            }
            let shift = parabolic_shift(left, m, right);
            return Some(((k as f64 + shift as f64) * self.hz_per_bin) as f32);
        }
        Some(0.0)
    }

    /// One frame of piptrack + max over bins, on NumPy's float32 magnitudes of the complex64
    /// spectrum. Magnitudes are computed exactly only where they can matter; elsewhere the
    /// float32 `re² + im²` (within ~1e-7 of |z|² relative) decides with a wide safety margin:
    /// - the column maximum can only be at bins whose power is within 1e-4 of the largest;
    /// - a bin whose power is below `ref² · (1 − 1e-5)` has a magnitude below `ref`, so it
    ///   is thresholded to zero.
    #[inline(always)]
    fn frame_pitch(&self, spectrum: &FrameSpectrum) -> f32 {
        let n = spectrum.power.len();
        let power_max = max_non_negative(spectrum.power);
        if power_max < MIN_FAST_POWER {
            // Silence (all zeros gives 0 below) or so quiet that float32 squares could
            // underflow: use exact magnitudes everywhere.
            return self.frame_pitch_exact(spectrum);
        }
        let cutoff = power_max * (1.0 - 1e-4);
        let mut column_max = 0.0f32;
        // Eight bins at a time: a vector compare rejects almost every block.
        let mut blocks = spectrum.power.chunks_exact(8);
        let mut first = 0;
        for powers in &mut blocks {
            if powers.iter().fold(false, |hit, &p| hit | (p >= cutoff)) {
                for (i, &p) in powers.iter().enumerate() {
                    if p >= cutoff {
                        let m = spectrum.magnitude(first + i);
                        column_max = if m > column_max { m } else { column_max };
                    }
                }
            }
            first += 8;
        }
        for (i, &p) in blocks.remainder().iter().enumerate() {
            if p >= cutoff {
                let m = spectrum.magnitude(first + i);
                column_max = if m > column_max { m } else { column_max };
            }
        }
        // ref = threshold * max over all bins of the column (float32 product as NumPy does).
        let reference = THRESHOLD * column_max;
        let low_cut = reference * reference * (1.0 - 1e-5);
        let thresholded = |k: usize| {
            if spectrum.power[k] < low_cut {
                return 0.0;
            }
            let m = spectrum.magnitude(k);
            if m > reference {
                m
            } else {
                0.0
            }
        };
        self.highest_peak(n, thresholded, |k| spectrum.magnitude(k))
    }

    /// [`Self::frame_pitch`] with every magnitude computed exactly.
    fn frame_pitch_exact(&self, spectrum: &FrameSpectrum) -> f32 {
        let n = spectrum.power.len();
        let column_max = (0..n).map(|k| spectrum.magnitude(k)).fold(0.0f32, |a, m| if m > a { m } else { a });
        if column_max == 0.0 {
            return 0.0;
        }
        let reference = THRESHOLD * column_max;
        let thresholded = |k: usize| {
            let m = spectrum.magnitude(k);
            if m > reference {
                m
            } else {
                0.0
            }
        };
        self.highest_peak(n, thresholded, |k| spectrum.magnitude(k))
    }

    /// The frequency of the highest-bin local maximum of the thresholded magnitudes in the
    /// feasible range, with librosa's parabolic shift, or 0 when there is none.
    #[inline(always)]
    fn highest_peak(&self, n: usize, thresholded: impl Fn(usize) -> f32, magnitude: impl Fn(usize) -> f32) -> f32 {
        // Local maxima are at least two bins apart and |shift| < 1, so the highest-bin maximum
        // has the highest frequency: scan from the top and stop at the first one.
        for k in (self.lo..self.hi).rev() {
            // util.localmax along frequency: x[k] > x[k-1] and x[k] >= x[k+1]; the first bin is
            // never a maximum, the last is one when it exceeds its left neighbour.
            let x = thresholded(k);
            if x == 0.0 {
                continue; // zero can never be a strict local maximum of non-negative values
            }
            let is_max = if k == 0 {
                false
            } else if k == n - 1 {
                x > thresholded(k - 1)
            } else {
                x > thresholded(k - 1) && x >= thresholded(k + 1)
            };
            if !is_max {
                continue;
            }
            let shift = if k == 0 || k == n - 1 {
                0.0
            } else {
                parabolic_shift(magnitude(k - 1), x, magnitude(k + 1))
            };
            return ((k as f64 + shift as f64) * self.hz_per_bin) as f32;
        }
        0.0
    }
}

/// Bound on |float32 magnitude − reference magnitude| of any bin, relative to the frame's
/// largest magnitude. The float32 transform's error stays below 4e-7 of it: at most 3.9e-7 over
/// 104 000 frames of synthetic and real (CASIA, EmoDB, telephony-simulated) speech, 3.4e-7 on
/// noise, tones and clipping (tests below); the bound leaves a factor of 5.
const F32_MAGNITUDE_ERROR: f32 = 2e-6;

/// Largest parabolic-shift error accepted from float32 magnitudes (under the bound above):
/// 1.1e-3 bins = 0.0086 Hz, inside the 0.01 Hz pitch tolerance. Flat peaks (mostly in noise)
/// fail it and are redone in f64: ~1.4% of the frames of `emotrace bench features`' signal.
const MAX_SHIFT_ERROR_BINS: f64 = 1.1e-3;

/// Below this largest float32 power the float32 path defers to the exact one.
const MIN_F32_POWER: f32 = 1e-20;

/// A bin's float32 magnitude against the piptrack threshold.
#[derive(Clone, Copy)]
enum Level {
    Below,
    Above(f32),
    /// Within the error margin of the threshold.
    Unsure(f32),
}

/// Below this largest float32 `re² + im²` in a frame (magnitudes below ~1e-15), the power
/// shortcuts of [`PitchPlan::frame_pitch`] are not trusted (squares may underflow).
const MIN_FAST_POWER: f32 = 1e-30;

/// The highest `k` in `lo..end` with `values[k] >= cut`, eight values per compare.
#[inline(always)]
fn highest_at_least(values: &[f32], lo: usize, end: usize, cut: f32) -> Option<usize> {
    let mut top = end;
    while top >= lo + 8 {
        let block = &values[top - 8..top];
        if block.iter().fold(false, |hit, &v| hit | (v >= cut)) {
            return (top - 8..top).rev().find(|&k| values[k] >= cut);
        }
        top -= 8;
    }
    (lo..top).rev().find(|&k| values[k] >= cut)
}

/// librosa's `_pi_stencil` as numba compiles it for float32 input: `x[1] + x[-1]` and
/// `x[1] - x[-1]` in float32, the rest promoted to float64 by the integer literals, result
/// stored back to float32.
#[inline(always)]
fn parabolic_shift(left: f32, centre: f32, right: f32) -> f32 {
    let a = (right + left) as f64 - 2.0 * centre as f64;
    let b = (right - left) as f64 / 2.0;
    if b.abs() >= a.abs() {
        0.0
    } else {
        (-b / a) as f32
    }
}

/// The first `keep` values of `np.interp(np.linspace(0, P, N), np.linspace(0, P, P), pitch)`
/// with `N = n_samples`, rounded to float32 (the feature extractor casts it), into `out`.
/// Slopes are precomputed per interval exactly as NumPy does when `N > P`.
pub fn interpolate_to_samples(pitch: &[f32], n_samples: usize, keep: usize, out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { interpolate_avx2(pitch, n_samples, keep, out) };
    }
    interpolate_portable(pitch, n_samples, keep, out)
}

/// [`interpolate_to_samples`] compiled for AVX2 (identical results, wider vectors).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn interpolate_avx2(pitch: &[f32], n_samples: usize, keep: usize, out: &mut Vec<f32>) {
    interpolate_portable(pitch, n_samples, keep, out)
}

#[inline(always)]
fn interpolate_portable(pitch: &[f32], n_samples: usize, keep: usize, out: &mut Vec<f32>) {
    out.clear();
    let keep = keep.min(n_samples);
    let p = pitch.len();
    if p == 0 {
        out.resize(keep, 0.0);
        return;
    }
    let last = p - 1;
    if p == 1 || n_samples == 1 {
        // np.interp with one knot returns it everywhere; a single sample sits at x = 0.
        out.resize(keep, pitch[0]);
        return;
    }
    // i32 -> f64 converts in vector registers (usize -> f64 does not); the branch is
    // loop-invariant and the i32 path is always taken for 10-s features.
    let small = keep <= i32::MAX as usize;
    let index = |k: usize| if small { (k as i32) as f64 } else { k as f64 };
    let xp = np_linspace(0.0, p as f64, p);
    let step = p as f64 / (n_samples - 1) as f64;
    let mut i = 0usize;
    for j in 0..last {
        let (x0, x1) = (xp[j], xp[j + 1]);
        let y0 = pitch[j] as f64;
        let slope = (pitch[j + 1] as f64 - y0) / (x1 - x0);
        // Samples with x in [xp[j], xp[j+1]); the last sample (x = P exactly) is handled below.
        let limit = keep.min(n_samples - 1);
        let mut end = ((x1 / step).ceil() as usize).clamp(i, limit);
        while end > i && ((end - 1) as f64 * step) >= x1 {
            end -= 1;
        }
        while end < limit && (end as f64 * step) < x1 {
            end += 1;
        }
        out.extend((i..end).map(|k| (slope * (index(k) * step - x0) + y0) as f32));
        i = end;
    }
    // x >= xp[last] (only the final sample, x = P): the last knot's value.
    out.resize(keep, pitch[last]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_bins_are_150_to_4000_hz() {
        let plan = PitchPlan::new(16000);
        assert_eq!(plan.lo, 20); // 156.25 Hz
        assert_eq!(plan.hi, 512); // 3992.19 Hz is the last bin below 4000
    }

    #[test]
    fn interpolation_hits_endpoints() {
        let mut out = Vec::new();
        interpolate_to_samples(&[1.0, 3.0, 5.0], 7, 7, &mut out);
        assert_eq!(out.len(), 7);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[6], 5.0);
        // x = 1.5 lies in [0, 1.5) of the grid [0, 1.5, 3]: the second knot exactly.
        assert_eq!(out[3], 3.0);
        interpolate_to_samples(&[1.0, 3.0, 5.0], 7, 3, &mut out);
        assert_eq!(out.len(), 3);
        interpolate_to_samples(&[2.0], 4, 4, &mut out);
        assert_eq!(out, vec![2.0; 4]);
    }

    /// Every frame on the f64 spectrum (the pre-float32 behaviour).
    fn reference_frames(plan: &PitchPlan, y: &[f32]) -> Vec<f32> {
        let mut s = plan.make_scratch();
        (0..plan.n_frames(y.len())).map(|t| plan.frame_pitch_f64(y, t, &mut s)).collect()
    }

    /// Speech-like, noisy, tonal, clipped and very quiet test signals (deterministic).
    fn test_signals() -> Vec<(&'static str, Vec<f32>)> {
        let n = 48_000;
        let mut state = 0x2545_f491u32;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 - 0.5
        };
        let voiced = |i: usize| {
            let t = i as f32 / 16000.0;
            let f0 = 140.0 + 40.0 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
            (1..=12).map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.3
        };
        let speech: Vec<f32> = (0..n).map(|i| voiced(i) * (1.0 + (i as f32 / 4000.0).sin()) + 0.01 * noise()).collect();
        let white: Vec<f32> = (0..n).map(|_| noise()).collect();
        let clipped: Vec<f32> = (0..n).map(|i| (voiced(i) * 4.0).clamp(-0.5, 0.5)).collect();
        let chords: Vec<f32> = (0..n)
            .map(|i| [220.0f32, 277.2, 329.6, 1760.0].iter().map(|f| (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin()).sum::<f32>() * 0.2)
            .collect();
        let quiet: Vec<f32> = (0..n).map(|i| voiced(i) * 1e-4 + 1e-6 * noise()).collect();
        vec![("speech", speech), ("white noise", white), ("clipped", clipped), ("chords", chords), ("quiet", quiet)]
    }

    #[test]
    fn float32_magnitudes_stay_well_inside_the_error_bound() {
        let plan = PitchPlan::new(16000);
        let mut s = plan.make_scratch();
        let mut p32 = vec![0.0f32; plan.stft.n_bins()];
        for (name, y) in test_signals() {
            let mut worst = 0.0f32;
            for t in 0..plan.n_frames(y.len()) {
                plan.stft_f32.power_frame(&y, t, &mut s.stft_f32, &mut p32);
                plan.stft.power_frame(&y, t, &mut s.stft, &mut s.power);
                let exact: Vec<f32> = (0..p32.len())
                    .map(|k| {
                        let (re, im) = plan.stft.last_frame_bin(&s.stft, k);
                        numpy_cabs_f32(re, im)
                    })
                    .collect();
                let peak = exact.iter().cloned().fold(0.0f32, f32::max);
                if peak > 0.0 {
                    for (&p, &e) in p32.iter().zip(&exact) {
                        worst = worst.max((p.sqrt() - e).abs() / peak);
                    }
                }
            }
            eprintln!("{name}: worst float32 magnitude error {worst:.2e} of the frame peak");
            assert!(worst * 4.0 <= F32_MAGNITUDE_ERROR, "{name}: {worst}");
        }
    }

    #[test]
    fn float32_frames_agree_with_the_reference_path() {
        let plan = PitchPlan::new(16000);
        for (name, y) in test_signals() {
            let want = reference_frames(&plan, &y);
            let (mut s, mut got) = (plan.make_scratch(), Vec::new());
            plan.pitch_frames(&y, &mut s, &mut got).unwrap();
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            eprintln!("{name}: {} float32 frames, {} redone in f64, worst |Δ| {worst:.2e} Hz", s.frames_f32, s.frames_f64);
            assert!(worst <= 0.0086, "{name}: worst {worst} Hz");
            assert_eq!(s.frames_f32 + s.frames_f64, want.len());
        }
    }

    #[test]
    fn tone_is_found_near_its_frequency() {
        let plan = PitchPlan::new(16000);
        let y: Vec<f32> = (0..16000).map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16000.0).sin()).collect();
        let (mut s, mut out) = (plan.make_scratch(), Vec::new());
        plan.pitch_frames(&y, &mut s, &mut out).unwrap();
        assert_eq!(out.len(), 32);
        assert!((out[10] - 440.0).abs() < 5.0, "{}", out[10]);
    }
}
