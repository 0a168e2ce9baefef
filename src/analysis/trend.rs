//! The caller's emotional trend over the call, as the smooth curve of the paper's Fig. 2: a
//! centred moving average of the segments' p(non-negative) over a window of minutes, evaluated on
//! a regular time grid, with a 95% band for the window's mean.
//!
//! Each segment counts once, at its centre (as its point is drawn and as NSS counts it). The band
//! is mean ± 1.96·SE with SE = s/√n, s the sample standard deviation of p among the window's n
//! segments, clipped to [0, 1]: it says how well the window's segments pin down their average,
//! costs nothing to recompute when the window width changes in the GUI and needs no random
//! numbers, unlike a bootstrap band (which for a mean of n independent values gives the same width
//! up to sampling error). Neighbouring segments of one call are not independent, so the band is a
//! guide to how much a local rise or dip rests on, not a test. Grid points with no segment in
//! their window have no value (NaN; `null` in JSON, empty in CSV): the line breaks there; with a
//! single segment the band is that point.

use serde::Serialize;

use super::ScoredSegment;

/// Window width by default: wide enough to average a few minutes of talk (several segments),
/// narrow against the 30-minute assessment stage.
pub const DEFAULT_TREND_WINDOW_MINUTES: f64 = 3.0;
/// Spacing of the grid the trend is evaluated on.
pub const DEFAULT_TREND_GRID_SECONDS: f64 = 10.0;
/// The normal quantile of a two-sided 95% band.
const Z_95: f64 = 1.959_963_984_540_054;

/// The trend series, column-wise (as report.json stores it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub method: &'static str,
    pub band: &'static str,
    pub window_minutes: f64,
    pub grid_step_s: f64,
    /// Grid times (s from the call's start).
    pub grid_s: Vec<f64>,
    /// Mean p of the segments whose centre lies within ± window/2 of the grid time.
    pub mean: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// Segments in each grid point's window.
    pub n_segments: Vec<usize>,
}

/// A usable window width: positive and finite, else the default.
pub fn sanitise_window_minutes(minutes: f64) -> f64 {
    if minutes.is_finite() && minutes > 0.0 { minutes } else { DEFAULT_TREND_WINDOW_MINUTES }
}

/// The trend of `segments`' p over `[0, span_s]` (at least up to the last segment's end), on a
/// grid every `grid_step_s` seconds, averaging over `window_minutes`.
pub fn caller_trend(segments: &[ScoredSegment], span_s: f64, window_minutes: f64, grid_step_s: f64) -> Trend {
    let window_minutes = sanitise_window_minutes(window_minutes);
    let grid_step_s = if grid_step_s.is_finite() && grid_step_s > 0.0 { grid_step_s } else { DEFAULT_TREND_GRID_SECONDS };
    let half_window_s = window_minutes * 60.0 / 2.0;

    let mut centres: Vec<(f64, f64)> = segments
        .iter()
        .filter(|s| s.p_nonnegative.is_finite())
        .map(|s| ((s.start_s + s.end_s) / 2.0, s.p_nonnegative))
        .collect();
    centres.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Prefix sums of p and p² (p lies in [0, 1], so the variance from them stays accurate).
    let mut sum = vec![0.0; centres.len() + 1];
    let mut sum_squares = vec![0.0; centres.len() + 1];
    for (i, (_, p)) in centres.iter().enumerate() {
        sum[i + 1] = sum[i] + p;
        sum_squares[i + 1] = sum_squares[i] + p * p;
    }

    let last_end = segments.iter().map(|s| s.end_s).filter(|e| e.is_finite()).fold(0.0, f64::max);
    let span_s = if span_s.is_finite() { span_s.max(last_end) } else { last_end };
    let steps = (span_s / grid_step_s).floor() as usize;
    let mut trend = Trend {
        method: "centred moving average",
        band: "mean ± 1.96·SE of the window's mean (SE = sample SD / √n), clipped to [0, 1]",
        window_minutes,
        grid_step_s,
        grid_s: Vec::with_capacity(steps + 1),
        mean: Vec::with_capacity(steps + 1),
        lower: Vec::with_capacity(steps + 1),
        upper: Vec::with_capacity(steps + 1),
        n_segments: Vec::with_capacity(steps + 1),
    };
    for step in 0..=steps {
        let t = step as f64 * grid_step_s;
        let first = centres.partition_point(|(c, _)| *c < t - half_window_s);
        let end = centres.partition_point(|(c, _)| *c <= t + half_window_s);
        let n = end.saturating_sub(first);
        let (mean, lower, upper) = match n {
            0 => (f64::NAN, f64::NAN, f64::NAN),
            1 => {
                let p = centres[first].1;
                (p, p, p)
            }
            _ => {
                let count = n as f64;
                let mean = (sum[end] - sum[first]) / count;
                let variance = ((sum_squares[end] - sum_squares[first]) - count * mean * mean).max(0.0) / (count - 1.0);
                let half_band = Z_95 * (variance / count).sqrt();
                (mean, (mean - half_band).max(0.0), (mean + half_band).min(1.0))
            }
        };
        trend.grid_s.push(t);
        trend.mean.push(mean);
        trend.lower.push(lower);
        trend.upper.push(upper);
        trend.n_segments.push(n);
    }
    trend
}

impl Trend {
    /// Runs of consecutive grid points with a value, as index ranges (the line breaks between).
    pub fn defined_runs(&self) -> Vec<std::ops::Range<usize>> {
        let mut runs = Vec::new();
        let mut start = None;
        for (i, mean) in self.mean.iter().enumerate() {
            match (mean.is_finite(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    runs.push(s..i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push(s..self.mean.len());
        }
        runs
    }

    /// `trend.csv`: `time_s,time_min,mean,lower,upper,n_segments` (empty where undefined).
    pub fn to_csv(&self) -> String {
        let value = |v: f64| if v.is_finite() { format!("{v:.6}") } else { String::new() };
        let mut text = String::from("time_s,time_min,mean,lower,upper,n_segments\n");
        for i in 0..self.grid_s.len() {
            text += &format!(
                "{},{:.4},{},{},{},{}\n",
                self.grid_s[i],
                self.grid_s[i] / 60.0,
                value(self.mean[i]),
                value(self.lower[i]),
                value(self.upper[i]),
                self.n_segments[i]
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(index: usize, start_s: f64, p: f64) -> ScoredSegment {
        ScoredSegment { index, start_s, end_s: start_s + 4.0, channel: 0, speaker: "caller".into(), p_nonnegative: p }
    }

    #[test]
    fn empty_windows_have_no_value_and_a_single_segment_is_its_own_band() {
        let segments = [segment(0, 0.0, 0.8), segment(1, 600.0, 0.2)];
        let trend = caller_trend(&segments, 700.0, 1.0, 10.0);
        assert_eq!(trend.grid_s.len(), 71);
        assert_eq!((trend.mean[0], trend.lower[0], trend.upper[0]), (0.8, 0.8, 0.8));
        assert!(trend.mean[30].is_nan());
        assert_eq!(trend.defined_runs().len(), 2);
        assert!(trend.to_csv().lines().nth(31).unwrap().starts_with("300,5.0000,,,,0"));
    }

    #[test]
    fn a_bad_window_falls_back_to_the_default() {
        assert_eq!(caller_trend(&[], 60.0, f64::NAN, 10.0).window_minutes, DEFAULT_TREND_WINDOW_MINUTES);
        assert_eq!(sanitise_window_minutes(-2.0), DEFAULT_TREND_WINDOW_MINUTES);
    }
}
