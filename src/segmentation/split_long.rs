//! Splitting of utterances longer than the model's 10-s window at the quietest point near the
//! limit (a natural pause when there is one), instead of blindly every 10 s.

use super::utterances::FrameSpan;

/// Frames averaged when looking for the quietest point (a single quiet frame inside a word
/// is not a pause).
const SMOOTH_FRAMES: usize = 5;

/// Splits every span longer than `max_frames`. For each cut, the quietest (smoothed) frame is
/// searched in the `search_frames` before the limit, keeping at least `min_frames` on both
/// sides; the frames around the cut that are below `low_threshold` (the pause) are dropped.
pub fn split_long_spans(
    spans: &[FrameSpan],
    energy_db: &[f32],
    low_threshold: &[f32],
    max_frames: usize,
    search_frames: usize,
    min_frames: usize,
) -> Vec<FrameSpan> {
    let mut out = Vec::with_capacity(spans.len());
    for &span in spans {
        let mut rest = span;
        while rest.len() > max_frames {
            let hi = (rest.start + max_frames).min(rest.end.saturating_sub(min_frames));
            let lo = (rest.start + max_frames).saturating_sub(search_frames).max(rest.start + min_frames);
            if hi <= lo {
                // Too short to leave min_frames on both sides: cut at the limit.
                let cut = rest.start + max_frames;
                out.push(FrameSpan { start: rest.start, end: cut });
                rest = FrameSpan { start: cut, end: rest.end };
                continue;
            }
            let cut = quietest_frame(energy_db, lo, hi);
            // Widen the cut over the pause around it, if any.
            let mut gap_start = cut;
            while gap_start > lo && energy_db[gap_start - 1] <= low_threshold[gap_start - 1] {
                gap_start -= 1;
            }
            let mut gap_end = cut;
            if energy_db[cut] <= low_threshold[cut] {
                gap_end = cut + 1;
                while gap_end < hi && energy_db[gap_end] <= low_threshold[gap_end] {
                    gap_end += 1;
                }
            } else {
                gap_start = cut;
            }
            out.push(FrameSpan { start: rest.start, end: gap_start.max(rest.start + 1) });
            rest = FrameSpan { start: gap_end.max(gap_start), end: rest.end };
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// Index in `[lo, hi)` of the minimum of the centred moving average of `energy_db`.
fn quietest_frame(energy_db: &[f32], lo: usize, hi: usize) -> usize {
    let half = SMOOTH_FRAMES / 2;
    let mut best = lo;
    let mut best_value = f32::INFINITY;
    for i in lo..hi {
        let a = i.saturating_sub(half);
        let b = (i + half + 1).min(energy_db.len());
        let mean = energy_db[a..b].iter().sum::<f32>() / (b - a) as f32;
        if mean < best_value {
            best_value = mean;
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_quiet_dip_before_the_limit() {
        // 2500 frames of "speech" at -20 dB with dips at 800 and 1700.
        let mut e = vec![-20.0f32; 2500];
        for k in 795..805 {
            e[k] = -60.0;
        }
        for k in 1690..1700 {
            e[k] = -60.0;
        }
        let low = vec![-45.0f32; 2500];
        let out = split_long_spans(&[FrameSpan { start: 0, end: 2500 }], &e, &low, 990, 300, 25);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], FrameSpan { start: 0, end: 795 });
        assert_eq!(out[1], FrameSpan { start: 805, end: 1690 });
        assert_eq!(out[2], FrameSpan { start: 1700, end: 2500 });
        assert!(out.iter().all(|s| s.len() <= 990));
    }

    #[test]
    fn flat_speech_is_still_cut_within_the_limit() {
        let e = vec![-20.0f32; 3000];
        let low = vec![-45.0f32; 3000];
        let out = split_long_spans(&[FrameSpan { start: 0, end: 3000 }], &e, &low, 990, 300, 25);
        assert!(out.iter().all(|s| s.len() <= 990 && s.len() >= 25), "{out:?}");
        assert_eq!(out.first().unwrap().start, 0);
        assert_eq!(out.last().unwrap().end, 3000);
    }
}
