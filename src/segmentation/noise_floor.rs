//! Adaptive noise floor: a low percentile of band energy over a centred sliding window.
//!
//! A sliding histogram (0.25-dB bins) keeps the cost at O(bins) per frame and memory at one
//! value per frame, whatever the window length.

use super::vad::SILENCE_DB;

const BIN_DB: f32 = 0.25;
const MIN_DB: f32 = SILENCE_DB;
const MAX_DB: f32 = 20.0;

fn bin_of(db: f32) -> usize {
    let n_bins = ((MAX_DB - MIN_DB) / BIN_DB) as usize + 1;
    (((db.clamp(MIN_DB, MAX_DB) - MIN_DB) / BIN_DB) as usize).min(n_bins - 1)
}

/// Noise floor (dB) per frame: the `percentile` (0-100) of `energy_db` within
/// `window_frames` centred on each frame (clipped at the ends of the call).
pub fn noise_floor(energy_db: &[f32], window_frames: usize, percentile: f32) -> Vec<f32> {
    noise_floor_and_spread(energy_db, window_frames, percentile).0
}

/// Noise floor and the noise's frame-to-frame spread (a standard deviation in dB estimated from
/// the 5th-20th percentile distance, which stays inside the noise while speech fills less than
/// 80% of the window). Narrow-band noise (rumble, hum) fluctuates far more than white noise.
pub fn noise_floor_and_spread(energy_db: &[f32], window_frames: usize, percentile: f32) -> (Vec<f32>, Vec<f32>) {
    let n = energy_db.len();
    let mut spread = Vec::with_capacity(n);
    let n_bins = ((MAX_DB - MIN_DB) / BIN_DB) as usize + 1;
    let mut hist = vec![0u32; n_bins];
    let half = window_frames.max(1) / 2;
    let q = (percentile / 100.0).clamp(0.0, 1.0);
    let mut floor = Vec::with_capacity(n);
    // Window for frame i is [i - half, i + half] ∩ [0, n).
    let mut lo = 0usize;
    let mut hi = 0usize; // exclusive
    for i in 0..n {
        let want_hi = (i + half + 1).min(n);
        while hi < want_hi {
            hist[bin_of(energy_db[hi])] += 1;
            hi += 1;
        }
        let want_lo = i.saturating_sub(half);
        while lo < want_lo {
            hist[bin_of(energy_db[lo])] -= 1;
            lo += 1;
        }
        let count = (hi - lo) as f32;
        let targets = [q, 0.05, 0.20].map(|p| ((p * count).ceil() as u32).max(1));
        let mut values = [MIN_DB; 3];
        let mut found = 0;
        let mut cum = 0u32;
        for (b, c) in hist.iter().enumerate() {
            cum += c;
            for (t, v) in targets.iter().zip(values.iter_mut()) {
                if cum >= *t && *v == MIN_DB && found < 3 {
                    *v = MIN_DB + b as f32 * BIN_DB;
                    found += 1;
                }
            }
            if found == 3 {
                break;
            }
        }
        floor.push(values[0]);
        // p20 - p5 of a normal distribution is 0.80 standard deviations.
        spread.push(((values[2] - values[1]) / 0.80).max(0.0));
    }
    (floor, spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_tracks_low_percentile_and_adapts() {
        // 60 frames at -50 dB with every third frame loud, then 60 frames at -30 dB.
        let mut e: Vec<f32> = (0..60).map(|i| if i % 3 == 0 { -10.0 } else { -50.0 }).collect();
        e.extend(std::iter::repeat_n(-30.0, 60));
        let f = noise_floor(&e, 21, 10.0);
        assert!((f[20] + 50.0).abs() < 0.5);
        assert!((f[110] + 30.0).abs() < 0.5);
    }
}
