//! Slaney-style mel filterbank exactly as `librosa.filters.mel` (htk=False, norm='slaney',
//! dtype float32) builds it, stored as dense blocks of eight neighbouring bands.

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// `librosa.hz_to_mel(f, htk=False)`.
pub fn hz_to_mel(hz: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

/// `librosa.mel_to_hz(m, htk=False)`.
pub fn mel_to_hz(mel: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep() * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// `np.linspace(start, stop, num)` with NumPy's arithmetic (last point set to `stop`).
pub fn np_linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `np.fft.rfftfreq(n_fft, 1/sr)`.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    let val = 1.0 / (n_fft as f64 * (1.0 / sr));
    (0..=n_fft / 2).map(|k| k as f64 * val).collect()
}

/// Dense `n_mels × (n_fft/2+1)` float32 weights, identical to librosa's.
pub fn slaney_mel_dense(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let fftfreqs = fft_frequencies(sr, n_fft);
    let mel_f: Vec<f64> =
        np_linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2).into_iter().map(mel_to_hz).collect();
    let mut weights = vec![0.0f32; n_mels * n_bins];
    for i in 0..n_mels {
        let fdiff_lo = mel_f[i + 1] - mel_f[i];
        let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            // librosa stores the triangle in float32 first, then scales it in place.
            let w32 = 0.0f64.max(lower.min(upper)) as f32;
            weights[i * n_bins + k] = (w32 as f64 * enorm) as f32;
        }
    }
    weights
}

/// Mel bands computed together (one vector register of float32 lanes).
const BAND_LANES: usize = 8;

/// Eight neighbouring mel bands over the contiguous run of FFT bins any of them touches.
struct BandGroup {
    first_bin: usize,
    /// One row per bin of the run: that bin's weight in each of the eight bands.
    weights: Vec<[f32; BAND_LANES]>,
}

/// The filterbank grouped eight bands at a time: each group is a short dense block (the
/// triangles of neighbouring bands overlap), so a frame costs one broadcast and one 8-lane
/// multiply-add per (group, bin) pair instead of a scalar loop per band.
pub struct MelFilterbank {
    n_bins: usize,
    n_mels: usize,
    groups: Vec<BandGroup>,
}

impl MelFilterbank {
    pub fn slaney(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let dense = slaney_mel_dense(sr, n_fft, n_mels, fmin, fmax);
        let groups = (0..n_mels.div_ceil(BAND_LANES))
            .map(|g| {
                let bands = g * BAND_LANES..((g + 1) * BAND_LANES).min(n_mels);
                let rows = || bands.clone().map(|b| &dense[b * n_bins..(b + 1) * n_bins]);
                let first = rows().filter_map(|r| r.iter().position(|&w| w != 0.0)).min().unwrap_or(0);
                let end = rows().filter_map(|r| r.iter().rposition(|&w| w != 0.0)).max().map_or(first, |l| l + 1);
                let weights = (first..end)
                    .map(|k| {
                        let mut lanes = [0.0f32; BAND_LANES];
                        for (lane, row) in lanes.iter_mut().zip(rows()) {
                            *lane = row[k];
                        }
                        lanes
                    })
                    .collect();
                BandGroup { first_bin: first, weights }
            })
            .collect();
        MelFilterbank { n_bins, n_mels, groups }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Mel energies of one power-spectrum frame, accumulated in float32 as librosa's sgemm
    /// does (the rounding differs by a few float32 ulps: ~1e-6 dB).
    #[inline(always)]
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (g, group) in self.groups.iter().enumerate() {
            let mut acc = [0.0f32; BAND_LANES];
            let run = &power[group.first_bin..group.first_bin + group.weights.len()];
            for (&p, w) in run.iter().zip(&group.weights) {
                for (a, &wl) in acc.iter_mut().zip(w) {
                    *a += p * wl;
                }
            }
            let bands = g * BAND_LANES..((g + 1) * BAND_LANES).min(self.n_mels);
            out[bands.clone()].copy_from_slice(&acc[..bands.len()]);
        }
    }

    /// [`Self::apply`] on two frames at once (identical results): each frame's sum is a
    /// chain of dependent additions, so running two side by side keeps the adder busy.
    #[inline(always)]
    pub fn apply_pair(&self, power_a: &[f32], power_b: &[f32], out_a: &mut [f32], out_b: &mut [f32]) {
        for (g, group) in self.groups.iter().enumerate() {
            let mut acc_a = [0.0f32; BAND_LANES];
            let mut acc_b = [0.0f32; BAND_LANES];
            let span = group.first_bin..group.first_bin + group.weights.len();
            for ((&pa, &pb), w) in power_a[span.clone()].iter().zip(&power_b[span]).zip(&group.weights) {
                for ((a, b), &wl) in acc_a.iter_mut().zip(acc_b.iter_mut()).zip(w) {
                    *a += pa * wl;
                    *b += pb * wl;
                }
            }
            let bands = g * BAND_LANES..((g + 1) * BAND_LANES).min(self.n_mels);
            out_a[bands.clone()].copy_from_slice(&acc_a[..bands.len()]);
            out_b[bands.clone()].copy_from_slice(&acc_b[..bands.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 440.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn filterbank_shape_and_sparsity() {
        let fb = MelFilterbank::slaney(16000.0, 400, 128, 0.0, 8000.0);
        assert_eq!(fb.n_mels(), 128);
        assert_eq!(fb.n_bins(), 201);
        assert!(fb.groups.iter().all(|g| g.first_bin + g.weights.len() <= 201));
    }
}
