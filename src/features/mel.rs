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

/// Frames processed together by [`MelFilterbank::apply_block`] (one float32 lane each).
pub const FRAME_LANES: usize = 8;

/// One band's nonzero weights: bins `first_bin..first_bin + weights.len()`.
struct BandRun {
    first_bin: usize,
    weights: Vec<f32>,
}

/// The mel filterbank as each band's run of nonzero weights, applied to eight frames at once
/// (bin-major power, one lane per frame): one vector multiply-add per nonzero weight, where a
/// per-frame product would spend most of its work on zeros. Each band sums its bins in order
/// in float32, like librosa's sgemm.
pub struct MelFilterbank {
    n_bins: usize,
    bands: Vec<BandRun>,
}

impl MelFilterbank {
    pub fn slaney(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let n_bins = n_fft / 2 + 1;
        let dense = slaney_mel_dense(sr, n_fft, n_mels, fmin, fmax);
        let bands = dense
            .chunks_exact(n_bins)
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
                BandRun { first_bin: first, weights: row[first..end].to_vec() }
            })
            .collect();
        MelFilterbank { n_bins, bands }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Mel power of eight frames: `power[bin]` holds the bin's power in each frame,
    /// `out[band]` receives each frame's band power.
    #[inline(always)]
    pub fn apply_block(&self, power: &[[f32; FRAME_LANES]], out: &mut [[f32; FRAME_LANES]]) {
        for (band, slot) in self.bands.iter().zip(out.iter_mut()) {
            let mut acc = [0.0f32; FRAME_LANES];
            for (&w, p) in band.weights.iter().zip(&power[band.first_bin..]) {
                for (a, &v) in acc.iter_mut().zip(p) {
                    *a += w * v;
                }
            }
            *slot = acc;
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
        assert!(fb.bands.iter().all(|b| b.first_bin + b.weights.len() <= 201));
    }
}
