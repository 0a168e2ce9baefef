//! Telephone-channel simulation: 300-3400 Hz band-pass, 16 -> 8 kHz, G.711 μ-law round trip.

/// Second-order IIR section (RBJ audio-EQ cookbook), direct form I.
#[derive(Debug, Clone)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    x: [f64; 2],
    y: [f64; 2],
}

impl Biquad {
    fn new(kind: FilterKind, freq: f64, sample_rate: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * freq / sample_rate;
        let alpha = w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let cos = w0.cos();
        let (b0, b1, b2) = match kind {
            FilterKind::LowPass => ((1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0),
            FilterKind::HighPass => ((1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0),
        };
        let a0 = 1.0 + alpha;
        Self { b: [b0 / a0, b1 / a0, b2 / a0], a: [-2.0 * cos / a0, (1.0 - alpha) / a0], x: [0.0; 2], y: [0.0; 2] }
    }

    fn process(&mut self, input: f64) -> f64 {
        let out = self.b[0] * input + self.b[1] * self.x[0] + self.b[2] * self.x[1] - self.a[0] * self.y[0] - self.a[1] * self.y[1];
        self.x = [input, self.x[0]];
        self.y = [out, self.y[0]];
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum FilterKind {
    LowPass,
    HighPass,
}

/// 4th-order band-pass 300-3400 Hz (two Butterworth high-pass and two low-pass sections).
pub fn band_pass_telephone(samples: &mut [f32], sample_rate: u32) {
    let sr = sample_rate as f64;
    let mut chain = [
        Biquad::new(FilterKind::HighPass, 300.0, sr),
        Biquad::new(FilterKind::HighPass, 300.0, sr),
        Biquad::new(FilterKind::LowPass, 3400.0, sr),
        Biquad::new(FilterKind::LowPass, 3400.0, sr),
    ];
    for s in samples.iter_mut() {
        let mut v = *s as f64;
        for f in chain.iter_mut() {
            v = f.process(v);
        }
        *s = v as f32;
    }
}

/// Halves the sample rate with a windowed-sinc low-pass (cut-off 0.45 of the new Nyquist... of
/// the old rate's quarter band, 63 taps, Blackman window).
pub fn decimate_by_two(samples: &[f32]) -> Vec<f32> {
    const TAPS: usize = 63;
    let cutoff = 0.45 / 2.0; // cycles per input sample: 0.45 x the output Nyquist
    let mid = (TAPS / 2) as f64;
    let mut h: Vec<f64> = (0..TAPS)
        .map(|n| {
            let t = n as f64 - mid;
            let sinc = if t == 0.0 { 2.0 * cutoff } else { (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t) };
            let w = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / (TAPS - 1) as f64).cos()
                + 0.08 * (4.0 * std::f64::consts::PI * n as f64 / (TAPS - 1) as f64).cos();
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= sum);
    let half = TAPS / 2;
    (0..samples.len().div_ceil(2))
        .map(|o| {
            let centre = 2 * o;
            let mut acc = 0.0f64;
            for (k, hk) in h.iter().enumerate() {
                let idx = centre as isize + k as isize - half as isize;
                if idx >= 0 && (idx as usize) < samples.len() {
                    acc += hk * samples[idx as usize] as f64;
                }
            }
            acc as f32
        })
        .collect()
}

const MU: f32 = 255.0;

/// G.711-style μ-law companding round trip with 8-bit quantisation.
pub fn mu_law_round_trip(x: f32) -> f32 {
    let x = x.clamp(-1.0, 1.0);
    let y = x.signum() * (1.0 + MU * x.abs()).ln() / (1.0 + MU).ln();
    // 8 bits: 256 levels over [-1, 1].
    let q = (y * 127.5).round() / 127.5;
    q.signum() * ((1.0 + MU).powf(q.abs()) - 1.0) / MU
}

/// Full telephone simulation of one 16-kHz channel; returns 8-kHz samples.
pub fn telephone_channel(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let mut x = samples.to_vec();
    band_pass_telephone(&mut x, sample_rate);
    let mut y = if sample_rate == 16000 { decimate_by_two(&x) } else { x };
    y.iter_mut().for_each(|s| *s = mu_law_round_trip(*s));
    y
}

/// The recorder's side: 8 kHz μ-law (anti-alias low-pass only; the voice band-pass belongs to
/// the phone line and is applied per voice by the call builder).
pub fn recorder_channel(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let mut y = if sample_rate == 16000 { decimate_by_two(samples) } else { samples.to_vec() };
    y.iter_mut().for_each(|s| *s = mu_law_round_trip(*s));
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    fn sine(f: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| 0.5 * (2.0 * std::f32::consts::PI * f * i as f32 / 16000.0).sin()).collect()
    }

    #[test]
    fn band_pass_keeps_voice_band_and_removes_hum() {
        let mut voice = sine(1000.0, 16000);
        band_pass_telephone(&mut voice, 16000);
        assert!((rms(&voice[4000..]) / (0.5 / 2f32.sqrt()) - 1.0).abs() < 0.1);
        let mut hum = sine(50.0, 16000);
        band_pass_telephone(&mut hum, 16000);
        assert!(rms(&hum[8000..]) < 0.01);
    }

    #[test]
    fn mu_law_is_close_and_decimation_halves_length() {
        for &x in &[-0.9f32, -0.1, -0.001, 0.0, 0.02, 0.5] {
            assert!((mu_law_round_trip(x) - x).abs() <= 0.04 * x.abs() + 1e-4, "{x}");
        }
        assert_eq!(decimate_by_two(&vec![0.0; 101]).len(), 51);
    }
}
