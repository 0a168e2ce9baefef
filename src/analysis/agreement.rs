//! Agreement between annotators who labelled the same call's segments (negative / non-negative):
//! Cohen's κ for two annotators, Fleiss' κ and Krippendorff's α (nominal) for any number, the
//! percent agreement and the confusion matrix, each statistic with a seeded percentile-bootstrap
//! 95% interval over items, and the list of items the annotators disagree on.
//!
//! Labels files are training manifests (`path,label_binary,speaker,start_s,end_s,channel`, see
//! [`crate::training::call_labels`]), possibly with `annotator,labelled_at` columns appended. One
//! annotator's file for a call sits beside the recording as `<stem>.labels.<annotator>.csv`; the
//! adjudicated (training) file `<stem>.labels.csv` is no annotator's.
//!
//! Items are matched across files by (channel, party, start ms, end ms), else by the unmatched
//! segment on the same channel sharing most of its span (intersection over union above
//! [`CARRY_OVER_IOU`], the rule a saved label follows into a new segmentation).
//!
//! Which items each statistic uses (the references do the same):
//! - Cohen's κ and a pair's percent agreement: the items both annotators labelled.
//! - Fleiss' κ: the items every annotator labelled (it needs the same number of ratings per item).
//! - Krippendorff's α and the overall percent agreement: every item with at least two labels
//!   (α is built for missing labels; an item with one label carries no agreement information).
//!
//! Undefined values: κ and α are 0/0 when the expected agreement is 1 (every label given is the
//! same category), as in scikit-learn, statsmodels and `krippendorff` (which return NaN). They are
//! NaN here too, printed "undefined" and written `null` in JSON; bootstrap resamples whose statistic
//! is undefined are left out of the percentile interval and counted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::cohort::percentile_linear;
use crate::segmentation::eval::span_iou;
use crate::segmentation::segments_csv::CsvTable;
use crate::training::call_labels::{self, party_of, CARRY_OVER_IOU};
use crate::training::dataset::{read_manifest, NEGATIVE, NON_NEGATIVE};

/// Bootstrap resamples by default (enough for the 2.5th/97.5th percentiles to settle to about
/// 0.06 bootstrap standard deviations).
pub const DEFAULT_AGREEMENT_RESAMPLES: usize = 2000;

/// The label names in the order of the confusion matrix's rows and columns.
pub const CATEGORY_NAMES: [&str; 2] = ["negative", "non-negative"];

#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Labels(#[from] crate::training::TrainingError),
    #[error("{0}")]
    Input(String),
}

fn io_error(path: &Path, source: std::io::Error) -> AgreementError {
    AgreementError::Io { path: path.display().to_string(), source }
}

/// One segment as annotators name it: channel, party and span to the millisecond.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ItemKey {
    pub channel: usize,
    pub party: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl ItemKey {
    pub fn new(channel: usize, party: &str, start_s: f64, end_s: f64) -> Self {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        Self { channel, party: party.to_string(), start_ms: ms(start_s), end_ms: ms(end_s) }
    }

    pub fn start_s(&self) -> f64 {
        self.start_ms as f64 / 1000.0
    }

    pub fn end_s(&self) -> f64 {
        self.end_ms as f64 / 1000.0
    }

    fn span_ms(&self) -> (f64, f64) {
        (self.start_ms as f64, self.end_ms as f64)
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}-{:.3} s {} ch{}", self.start_s(), self.end_s(), self.party, self.channel)
    }
}

/// One annotator's labels (1 = non-negative, 0 = negative) for one call's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotatorLabels {
    pub annotator: String,
    pub source: PathBuf,
    pub labels: Vec<(ItemKey, u8)>,
}

/// The annotator part of `<stem>.labels.<annotator>.csv`, when the file is named that way.
fn annotator_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let without_csv = name.strip_suffix(".csv")?;
    let (_, annotator) = without_csv.rsplit_once(".labels.")?;
    (!annotator.is_empty()).then(|| annotator.to_string())
}


/// Reads one annotator's labels file. The annotator is the file's `annotator` column when it has
/// one, else the `<annotator>` of `<stem>.labels.<annotator>.csv`, else the file name.
pub fn read_labels_file(path: &Path) -> Result<AnnotatorLabels, AgreementError> {
    let clips = read_manifest(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let table = CsvTable::parse(&text).map_err(|e| AgreementError::Input(format!("{}: {e}", path.display())))?;
    let named_in_file: BTreeSet<&str> = match table.column("annotator") {
        Ok(column) => (0..table.rows.len()).map(|row| table.get(row, column)).filter(|name| !name.is_empty()).collect(),
        Err(_) => BTreeSet::new(),
    };
    if named_in_file.len() > 1 {
        let names: Vec<&str> = named_in_file.into_iter().collect();
        return Err(AgreementError::Input(format!(
            "{}: one labels file must be one annotator's, this one names {}",
            path.display(),
            names.join(", ")
        )));
    }
    let annotator = named_in_file
        .first()
        .map(|name| name.to_string())
        .or_else(|| annotator_from_file_name(path))
        .unwrap_or_else(|| path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()));
    let mut labels = Vec::with_capacity(clips.len());
    for clip in clips {
        let (Some(start_s), Some(end_s)) = (clip.start_s, clip.end_s) else {
            return Err(AgreementError::Input(format!("{}: a label without start_s and end_s", path.display())));
        };
        labels.push((ItemKey::new(clip.channel.unwrap_or(0), party_of(&clip.speaker), start_s, end_s), clip.label));
    }
    Ok(AnnotatorLabels { annotator, source: path.to_path_buf(), labels })
}

/// Reads the inputs of `emotrace agreement`: labels files (`.csv`), or recordings whose
/// per-annotator files are read. Two files naming the same annotator are an error.
pub fn load_inputs(inputs: &[PathBuf]) -> Result<Vec<AnnotatorLabels>, AgreementError> {
    let mut files = Vec::new();
    for input in inputs {
        let is_csv = input.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if is_csv {
            files.push(input.clone());
        } else {
            let found = call_labels::annotator_files(input)?;
            if found.is_empty() {
                return Err(AgreementError::Input(format!(
                    "no per-annotator labels files ({}) beside {}",
                    call_labels::annotator_labels_path(input, "<annotator>").display(),
                    input.display()
                )));
            }
            files.extend(found);
        }
    }
    let mut annotators: Vec<AnnotatorLabels> = Vec::with_capacity(files.len());
    for file in &files {
        let labels = read_labels_file(file)?;
        if let Some(other) = annotators.iter().find(|a| a.annotator == labels.annotator) {
            return Err(AgreementError::Input(format!(
                "{} and {} are both annotator '{}'",
                other.source.display(),
                file.display(),
                labels.annotator
            )));
        }
        annotators.push(labels);
    }
    if annotators.len() < 2 {
        return Err(AgreementError::Input(format!(
            "agreement needs at least two annotators' labels, found {}",
            annotators.len()
        )));
    }
    Ok(annotators)
}

/// Every annotator's label per item: rows are items (segments), columns annotators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMatrix {
    pub annotators: Vec<String>,
    /// Each item as the first annotator who labelled it names it.
    pub items: Vec<ItemKey>,
    /// `labels[item][annotator]`: 1 = non-negative, 0 = negative, `None` = not labelled.
    pub labels: Vec<Vec<Option<u8>>>,
}

/// Matches the annotators' items: the same key, else the not yet matched item on the same channel
/// with the largest span IoU above [`CARRY_OVER_IOU`]; an item matching none is a new item.
pub fn align(annotators: &[AnnotatorLabels]) -> LabelMatrix {
    let count = annotators.len();
    let mut items: Vec<ItemKey> = Vec::new();
    let mut labels: Vec<Vec<Option<u8>>> = Vec::new();
    for (column, annotator) in annotators.iter().enumerate() {
        // Exact keys first, so an IoU match never takes an item another segment names exactly.
        let mut pending = Vec::new();
        for (key, label) in &annotator.labels {
            match items.iter().position(|item| item == key).filter(|&row| labels[row][column].is_none()) {
                Some(row) => labels[row][column] = Some(*label),
                None => pending.push((key, *label)),
            }
        }
        for (key, label) in pending {
            let best = items
                .iter()
                .enumerate()
                .filter(|(row, item)| item.channel == key.channel && labels[*row][column].is_none())
                .map(|(row, item)| (span_iou(item.span_ms(), key.span_ms()), row))
                .filter(|(overlap, _)| *overlap > CARRY_OVER_IOU)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, row)) => labels[row][column] = Some(label),
                None => {
                    items.push(key.clone());
                    let mut row = vec![None; count];
                    row[column] = Some(label);
                    labels.push(row);
                }
            }
        }
    }
    // In call order, for listing.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].start_ms.cmp(&items[b].start_ms).then_with(|| items[a].cmp(&items[b])));
    LabelMatrix {
        annotators: annotators.iter().map(|a| a.annotator.clone()).collect(),
        items: order.iter().map(|&i| items[i].clone()).collect(),
        labels: order.iter().map(|&i| labels[i].clone()).collect(),
    }
}

/// An item the annotators labelled differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub item: ItemKey,
    /// Each annotator's label, in the matrix's annotator order (`None`: not labelled).
    pub labels: Vec<Option<u8>>,
}

/// The items with at least two labels that are not all the same, in call order.
pub fn disagreements(matrix: &LabelMatrix) -> Vec<Disagreement> {
    matrix
        .items
        .iter()
        .zip(&matrix.labels)
        .filter(|(_, row)| {
            let [negative, non_negative] = category_counts(row);
            negative > 0 && non_negative > 0
        })
        .map(|(item, row)| Disagreement { item: item.clone(), labels: row.clone() })
        .collect()
}

/// Label name for printing and files.
pub fn label_name(label: Option<u8>) -> &'static str {
    match label {
        Some(NEGATIVE) => CATEGORY_NAMES[0],
        Some(NON_NEGATIVE) => CATEGORY_NAMES[1],
        Some(_) => "?",
        None => "",
    }
}

/// (negative count, non-negative count) of one item's labels.
fn category_counts(row: &[Option<u8>]) -> [usize; 2] {
    let mut counts = [0usize; 2];
    for label in row.iter().flatten() {
        counts[usize::from(*label == NON_NEGATIVE)] += 1;
    }
    counts
}

/// Cohen's κ of paired labels (a, b); NaN without items or when the expected agreement is 1.
pub fn cohen_kappa(pairs: &[(u8, u8)]) -> f64 {
    let confusion = confusion_matrix(pairs);
    kappa_from_confusion(&confusion)
}

fn kappa_from_confusion(confusion: &[[usize; 2]; 2]) -> f64 {
    let n = confusion.iter().flatten().sum::<usize>() as f64;
    if n == 0.0 {
        return f64::NAN;
    }
    let observed = (confusion[0][0] + confusion[1][1]) as f64 / n;
    let row = |i: usize| (confusion[i][0] + confusion[i][1]) as f64 / n;
    let column = |j: usize| (confusion[0][j] + confusion[1][j]) as f64 / n;
    let expected = row(0) * column(0) + row(1) * column(1);
    if expected >= 1.0 { f64::NAN } else { (observed - expected) / (1.0 - expected) }
}

/// Counts of (a's label, b's label), rows and columns negative then non-negative.
pub fn confusion_matrix(pairs: &[(u8, u8)]) -> [[usize; 2]; 2] {
    let mut confusion = [[0usize; 2]; 2];
    for &(a, b) in pairs {
        confusion[usize::from(a == NON_NEGATIVE)][usize::from(b == NON_NEGATIVE)] += 1;
    }
    confusion
}

/// Fleiss' κ of items each labelled by the same number (≥ 2) of annotators, given as
/// (negative, non-negative) counts; NaN without items or when the expected agreement is 1.
pub fn fleiss_kappa(counts: &[[usize; 2]]) -> f64 {
    let Some(raters) = counts.first().map(|c| c[0] + c[1]) else { return f64::NAN };
    if raters < 2 || counts.iter().any(|c| c[0] + c[1] != raters) {
        return f64::NAN;
    }
    let (items, m) = (counts.len() as f64, raters as f64);
    let per_item_agreement: f64 =
        counts.iter().map(|c| ((c[0] * c[0] + c[1] * c[1]) as f64 - m) / (m * (m - 1.0))).sum::<f64>() / items;
    let share = |j: usize| counts.iter().map(|c| c[j]).sum::<usize>() as f64 / (items * m);
    let expected = share(0).powi(2) + share(1).powi(2);
    if expected >= 1.0 { f64::NAN } else { (per_item_agreement - expected) / (1.0 - expected) }
}

/// Krippendorff's α (nominal) of items given as (negative, non-negative) counts; items with
/// fewer than two labels add nothing. NaN when no disagreement is possible by chance.
pub fn krippendorff_alpha(counts: &[[usize; 2]]) -> f64 {
    let pairable: Vec<&[usize; 2]> = counts.iter().filter(|c| c[0] + c[1] >= 2).collect();
    // Off-diagonal coincidences (both orders) and the pairable values per category.
    let observed_off: f64 =
        pairable.iter().map(|c| 2.0 * (c[0] * c[1]) as f64 / (c[0] + c[1] - 1) as f64).sum();
    let n0: f64 = pairable.iter().map(|c| c[0] as f64).sum();
    let n1: f64 = pairable.iter().map(|c| c[1] as f64).sum();
    let n = n0 + n1;
    let expected_off = if n > 1.0 { 2.0 * n0 * n1 / (n - 1.0) } else { 0.0 };
    if expected_off <= 0.0 { f64::NAN } else { 1.0 - observed_off / expected_off }
}

/// Mean over items with at least two labels of the share of annotator pairs that agree (for two
/// annotators: the share of items they label alike). NaN without such items.
pub fn percent_agreement(counts: &[[usize; 2]]) -> f64 {
    let pairs = |k: usize| (k * k.saturating_sub(1)) as f64 / 2.0;
    let shares: Vec<f64> = counts
        .iter()
        .filter(|c| c[0] + c[1] >= 2)
        .map(|c| (pairs(c[0]) + pairs(c[1])) / pairs(c[0] + c[1]))
        .collect();
    if shares.is_empty() { f64::NAN } else { shares.iter().sum::<f64>() / shares.len() as f64 }
}

/// A statistic with its percentile-bootstrap 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// NaN (JSON `null`) when undefined.
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Items the statistic is computed on.
    pub n_items: usize,
    /// Resamples whose statistic was undefined (left out of the interval).
    pub undefined_resamples: usize,
}

/// The statistic on `items` and its interval: `resamples` samples of the items drawn with
/// replacement, the 2.5th and 97.5th percentiles (numpy's linear interpolation) of the defined
/// resampled statistics.
pub fn bootstrap<T: Clone>(items: &[T], statistic: impl Fn(&[T]) -> f64, resamples: usize, seed: u64) -> Estimate {
    let value = statistic(items);
    let mut estimate = Estimate { value, ci_low: f64::NAN, ci_high: f64::NAN, n_items: items.len(), undefined_resamples: 0 };
    if items.is_empty() || resamples == 0 {
        return estimate;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sample = Vec::with_capacity(items.len());
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        sample.clear();
        sample.extend((0..items.len()).map(|_| items[rng.random_range(0..items.len())].clone()));
        let resampled = statistic(&sample);
        if resampled.is_finite() {
            values.push(resampled);
        } else {
            estimate.undefined_resamples += 1;
        }
    }
    if !values.is_empty() {
        values.sort_by(f64::total_cmp);
        estimate.ci_low = percentile_linear(&values, 2.5);
        estimate.ci_high = percentile_linear(&values, 97.5);
    }
    estimate
}

/// Two annotators compared on the items both labelled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairAgreement {
    pub annotator_a: String,
    pub annotator_b: String,
    pub percent_agreement: Estimate,
    pub cohen_kappa: Estimate,
    /// Rows: annotator_a's label, columns: annotator_b's ([`CATEGORY_NAMES`] order).
    pub confusion: [[usize; 2]; 2],
}

/// Everything `emotrace agreement` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementReport {
    pub annotators: Vec<String>,
    /// Labels per annotator.
    pub labels_per_annotator: Vec<usize>,
    /// Aligned items (labelled by at least one annotator).
    pub n_items: usize,
    pub resamples: usize,
    pub seed: u64,
    /// Over items with at least two labels.
    pub percent_agreement: Estimate,
    /// Two annotators only.
    pub cohen_kappa: Option<Estimate>,
    /// Over the items every annotator labelled.
    pub fleiss_kappa: Estimate,
    /// Over items with at least two labels (missing labels allowed).
    pub krippendorff_alpha: Estimate,
    pub category_names: [&'static str; 2],
    /// Two annotators only: rows the first annotator's label, columns the second's.
    pub confusion: Option<[[usize; 2]; 2]>,
    pub pairs: Vec<PairAgreement>,
    pub disagreements: Vec<Disagreement>,
}

/// Seeds of the statistics' bootstraps: independent streams, so adding a statistic leaves the
/// others' intervals as they were.
fn stream_seed(seed: u64, stream: u64) -> u64 {
    seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// All statistics of the matrix with `resamples` bootstrap resamples drawn from `seed`.
pub fn agreement_report(matrix: &LabelMatrix, resamples: usize, seed: u64) -> AgreementReport {
    let annotator_count = matrix.annotators.len();
    let counts: Vec<[usize; 2]> = matrix.labels.iter().map(|row| category_counts(row)).collect();
    let pairable: Vec<[usize; 2]> = counts.iter().copied().filter(|c| c[0] + c[1] >= 2).collect();
    let complete: Vec<[usize; 2]> = counts.iter().copied().filter(|c| c[0] + c[1] == annotator_count).collect();

    let mut pairs = Vec::new();
    for a in 0..annotator_count {
        for b in a + 1..annotator_count {
            let both: Vec<(u8, u8)> =
                matrix.labels.iter().filter_map(|row| Some((row[a]?, row[b]?))).collect();
            let stream = 100 + 2 * pairs.len() as u64;
            pairs.push(PairAgreement {
                annotator_a: matrix.annotators[a].clone(),
                annotator_b: matrix.annotators[b].clone(),
                percent_agreement: bootstrap(
                    &both,
                    |s: &[(u8, u8)]| if s.is_empty() { f64::NAN } else { s.iter().filter(|(x, y)| x == y).count() as f64 / s.len() as f64 },
                    resamples,
                    stream_seed(seed, stream),
                ),
                cohen_kappa: bootstrap(&both, cohen_kappa, resamples, stream_seed(seed, stream + 1)),
                confusion: confusion_matrix(&both),
            });
        }
    }
    let two = annotator_count == 2;
    AgreementReport {
        annotators: matrix.annotators.clone(),
        labels_per_annotator: (0..annotator_count).map(|a| matrix.labels.iter().filter(|row| row[a].is_some()).count()).collect(),
        n_items: matrix.items.len(),
        resamples,
        seed,
        percent_agreement: bootstrap(&pairable, percent_agreement, resamples, stream_seed(seed, 1)),
        cohen_kappa: two.then(|| pairs[0].cohen_kappa),
        fleiss_kappa: bootstrap(&complete, fleiss_kappa, resamples, stream_seed(seed, 2)),
        krippendorff_alpha: bootstrap(&pairable, krippendorff_alpha, resamples, stream_seed(seed, 3)),
        category_names: CATEGORY_NAMES,
        confusion: two.then(|| pairs[0].confusion),
        pairs,
        disagreements: disagreements(matrix),
    }
}

/// A value for people: three decimals, or "undefined".
pub fn format_value(value: f64) -> String {
    if value.is_finite() { format!("{value:.3}") } else { "undefined".to_string() }
}

/// The report as CSV: `scope,statistic,value,ci_low,ci_high,n_items` (scope `all` or `A|B` for a
/// pair; undefined values are `NaN`), then the confusion counts as `confusion[<a label>,<b label>]`
/// rows without an interval.
pub fn report_csv(report: &AgreementReport) -> String {
    use crate::segmentation::segments_csv::csv_field;
    let number = |v: f64| if v.is_finite() { format!("{v}") } else { "NaN".to_string() };
    let mut text = String::from("scope,statistic,value,ci_low,ci_high,n_items\n");
    let mut row = |scope: &str, statistic: &str, e: &Estimate| {
        text += &format!(
            "{},{statistic},{},{},{},{}\n",
            csv_field(scope),
            number(e.value),
            number(e.ci_low),
            number(e.ci_high),
            e.n_items
        );
    };
    row("all", "percent_agreement", &report.percent_agreement);
    if let Some(kappa) = &report.cohen_kappa {
        row("all", "cohen_kappa", kappa);
    }
    row("all", "fleiss_kappa", &report.fleiss_kappa);
    row("all", "krippendorff_alpha", &report.krippendorff_alpha);
    for pair in &report.pairs {
        let scope = format!("{}|{}", pair.annotator_a, pair.annotator_b);
        row(&scope, "percent_agreement", &pair.percent_agreement);
        row(&scope, "cohen_kappa", &pair.cohen_kappa);
    }
    for pair in &report.pairs {
        let scope = csv_field(&format!("{}|{}", pair.annotator_a, pair.annotator_b));
        for (i, a) in CATEGORY_NAMES.iter().enumerate() {
            for (j, b) in CATEGORY_NAMES.iter().enumerate() {
                text += &format!("{scope},\"confusion[{a},{b}]\",{},,,\n", pair.confusion[i][j]);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(start_s: f64, end_s: f64) -> ItemKey {
        ItemKey::new(0, "left", start_s, end_s)
    }

    #[test]
    fn items_match_exactly_or_by_most_shared_span() {
        let alice = AnnotatorLabels {
            annotator: "alice".into(),
            source: "a.csv".into(),
            labels: vec![(key(1.0, 3.0), 0), (key(5.0, 8.0), 1), (key(10.0, 12.0), 1)],
        };
        let bob = AnnotatorLabels {
            annotator: "bob".into(),
            source: "b.csv".into(),
            // 5.2-8.1 shares most of 5-8; 10-11 shares half of 10-12 (not enough); 20-21 is new.
            labels: vec![(key(5.2, 8.1), 0), (key(1.0, 3.0), 0), (key(10.0, 11.0), 1), (key(20.0, 21.0), 1)],
        };
        let matrix = align(&[alice, bob]);
        assert_eq!(matrix.items.len(), 5);
        assert_eq!(matrix.labels[0], vec![Some(0), Some(0)]);
        assert_eq!(matrix.labels[1], vec![Some(1), Some(0)]);
        let listed = disagreements(&matrix);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].item, key(5.0, 8.0));
    }

    #[test]
    fn undefined_when_everyone_gives_the_same_label() {
        assert!(cohen_kappa(&[(1, 1), (1, 1)]).is_nan());
        assert!(fleiss_kappa(&[[0, 3], [0, 3]]).is_nan());
        assert!(krippendorff_alpha(&[[0, 3], [0, 2]]).is_nan());
        assert_eq!(percent_agreement(&[[0, 3], [0, 2]]), 1.0);
        // One annotator constant, the other not: defined, and no better than chance.
        assert_eq!(cohen_kappa(&[(0, 0), (0, 1), (0, 1)]), 0.0);
        assert_eq!(format_value(f64::NAN), "undefined");
    }

    #[test]
    fn annotator_name_from_file_name() {
        assert_eq!(annotator_from_file_name(Path::new("/x/call.v2.labels.li.csv")).as_deref(), Some("li"));
        assert_eq!(annotator_from_file_name(Path::new("/x/call.labels.csv")), None);
    }
}
