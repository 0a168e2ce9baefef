//! Cohort statistics as in the paper's Table VII: per group the mean of a call metric with a 95%
//! percentile-bootstrap confidence interval, and between two groups Welch's t-test.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Resamples the paper used.
pub const DEFAULT_BOOTSTRAP_RESAMPLES: usize = 5000;

/// The call metrics a cohort table reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CohortMetric {
    Nss,
    EcrBinary,
    EcrProb,
}

impl CohortMetric {
    pub const ALL: [CohortMetric; 3] = [CohortMetric::Nss, CohortMetric::EcrBinary, CohortMetric::EcrProb];

    /// The column name in `summary.csv` / `calls.csv` and in `table.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nss => "nss",
            Self::EcrBinary => "ecr_binary",
            Self::EcrProb => "ecr_prob",
        }
    }
}

/// Arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample variance (n - 1 denominator); `None` below two values.
pub fn sample_variance(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    (values.len() >= 2)
        .then(|| values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64)
}

/// The q-th percentile (0..=100) with linear interpolation between order statistics, as numpy's
/// default `np.percentile` computes it. `sorted` must be ascending and non-empty.
pub fn percentile_linear(sorted: &[f64], q: f64) -> f64 {
    let position = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// 95% percentile-bootstrap interval of the mean: `resamples` means of samples drawn with
/// replacement, their 2.5th and 97.5th percentiles. `None` for no values.
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, rng: &mut impl Rng) -> Option<(f64, f64)> {
    if values.is_empty() || resamples == 0 {
        return None;
    }
    let n = values.len();
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Some((percentile_linear(&means, 2.5), percentile_linear(&means, 97.5)))
}

/// Two-sided p-value of Welch's unequal-variance t-test (scipy's `ttest_ind(equal_var=False)`).
/// `None` when either group has fewer than two values or both have zero variance.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<f64> {
    let (mean_a, mean_b) = (mean(a)?, mean(b)?);
    let (var_a, var_b) = (sample_variance(a)?, sample_variance(b)?);
    let (se_a, se_b) = (var_a / a.len() as f64, var_b / b.len() as f64);
    let se = se_a + se_b;
    if se <= 0.0 {
        return None;
    }
    let t = (mean_a - mean_b) / se.sqrt();
    let df = se * se / (se_a * se_a / (a.len() - 1) as f64 + se_b * se_b / (b.len() - 1) as f64);
    let distribution = StudentsT::new(0.0, 1.0, df).ok()?;
    // The survival function keeps precision for very small p.
    Some((2.0 * distribution.sf(t.abs())).min(1.0))
}

/// One row of `table.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortRow {
    pub group: String,
    pub stage: String,
    pub metric: CohortMetric,
    pub n: usize,
    pub mean: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Welch's p between the two groups for this stage and metric (only with exactly two groups).
    pub p_welch: Option<f64>,
}

/// A group's values of one metric at one stage (undefined values, e.g. ECR of a call with a
/// single segment, already left out).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupValues {
    pub group: String,
    pub stage: String,
    pub metric: CohortMetric,
    pub values: Vec<f64>,
}

/// Builds the table: for every (group, stage, metric) the mean and bootstrap CI; with exactly two
/// groups, Welch's p for each (stage, metric) on both groups' rows. Each cell's bootstrap uses its
/// own random stream derived from `seed`, so a row does not change when other groups are added.
pub fn cohort_table(cells: &[GroupValues], resamples: usize, seed: u64) -> Vec<CohortRow> {
    let groups: Vec<&str> = {
        let mut names: Vec<&str> = Vec::new();
        for cell in cells {
            if !names.contains(&cell.group.as_str()) {
                names.push(&cell.group);
            }
        }
        names
    };
    cells
        .iter()
        .map(|cell| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream_id(&cell.group, &cell.stage, cell.metric));
            let ci = bootstrap_mean_ci(&cell.values, resamples, &mut rng);
            let p_welch = if groups.len() == 2 {
                let other = cells.iter().find(|o| {
                    o.group != cell.group && o.stage == cell.stage && o.metric == cell.metric
                });
                other.and_then(|o| welch_t_test(&cell.values, &o.values))
            } else {
                None
            };
            CohortRow {
                group: cell.group.clone(),
                stage: cell.stage.clone(),
                metric: cell.metric,
                n: cell.values.len(),
                mean: mean(&cell.values),
                ci_low: ci.map(|c| c.0),
                ci_high: ci.map(|c| c.1),
                p_welch,
            }
        })
        .collect()
}

/// A stable 64-bit FNV-1a hash of the cell's identity (std's hasher may change between releases).
fn stream_id(group: &str, stage: &str, metric: CohortMetric) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in group.bytes().chain([0]).chain(stage.bytes()).chain([0]).chain(metric.as_str().bytes()) {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        // np.percentile([1,2,4,8], [0, 2.5, 50, 97.5, 100]) -> 1.0, 1.075, 3.0, 7.7, 8.0
        for (q, expected) in [(0.0, 1.0), (2.5, 1.075), (50.0, 3.0), (97.5, 7.7), (100.0, 8.0)] {
            assert!((percentile_linear(&sorted, q) - expected).abs() < 1e-12, "q={q}");
        }
    }

    #[test]
    fn bootstrap_is_reproducible_and_brackets_the_mean() {
        let values: Vec<f64> = (0..30).map(|i| (i * 7 % 13) as f64).collect();
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        let ci = bootstrap_mean_ci(&values, 2000, &mut a).unwrap();
        assert_eq!(Some(ci), bootstrap_mean_ci(&values, 2000, &mut b));
        let m = mean(&values).unwrap();
        assert!(ci.0 < m && m < ci.1, "{ci:?} around {m}");
    }

    #[test]
    fn welch_needs_two_values_and_some_variance() {
        assert_eq!(welch_t_test(&[1.0], &[2.0, 3.0]), None);
        assert_eq!(welch_t_test(&[1.0, 1.0], &[2.0, 2.0]), None);
        let p = welch_t_test(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((p - 1.0).abs() < 1e-12);
    }

    #[test]
    fn two_groups_share_their_p_value() {
        let cell = |group: &str, values: Vec<f64>| GroupValues {
            group: group.into(),
            stage: "full".into(),
            metric: CohortMetric::Nss,
            values,
        };
        let rows = cohort_table(
            &[cell("suicide", vec![30.0, 41.0, 25.0, 38.0]), cell("non-suicide", vec![20.0, 33.0, 28.0, 19.0])],
            500,
            1,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].p_welch, rows[1].p_welch);
        assert!(rows[0].p_welch.is_some());
        assert_eq!(rows[0].n, 4);
    }
}
