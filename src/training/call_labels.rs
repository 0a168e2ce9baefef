//! Annotators' labels for one call's segments, kept beside the recording in training-manifest
//! form (`path,label_binary,speaker,start_s,end_s,channel`, then `annotator,labelled_at`):
//!
//! * `<stem>.labels.<annotator>.csv`: one file per annotator (the name slugified for file
//!   systems, [`annotator_slug`]), who labelled what and when;
//! * `<stem>.labels.csv`: the adjudicated labels training uses (`emotrace train --data
//!   <stem>.labels.csv`): a segment's label where every annotator who labelled it agrees, or the
//!   label it was settled to (annotator `adjudicated:<name>`). With one annotator it equals
//!   theirs. Disagreements nobody settled are left out, so training never sees a contested label.
//!
//! Each clip is cut from the channel the segment was scored on (the caller's side of a stereo
//! call, not the mix). A segment is identified by its times (to the millisecond) and its party;
//! every change rewrites the files atomically (only the files whose rows changed), so an
//! annotation is never half saved.
//!
//! Segmenting the call again with other settings (or with a speaker encoder) moves boundaries a
//! little and may rename the mono parties, so a saved label also applies to the segment on the
//! same channel that shares most of its span ([`CARRY_OVER_IOU`]); relabelling that segment
//! replaces the old entry instead of adding a second one for the same speech. Edits of the
//! segmentation in the window move the labels with their speech ([`CallLabels::transfer`]), so
//! the files always hold the edited spans, which are the clips training cuts.
//!
//! A labels file written before annotators were named (no `annotator` column, and no
//! per-annotator file beside it) is read as the current annotator's labels.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::dataset::{read_manifest, NEGATIVE, NON_NEGATIVE};
use super::TrainingError;
use crate::segmentation::eval::span_iou;
use crate::segmentation::segments_csv::csv_field;
use crate::segmentation::segments_csv::CsvTable;

/// Columns of a labels file: a training manifest, then who labelled and when.
pub const LABEL_COLUMNS: [&str; 8] = ["path", "label_binary", "speaker", "start_s", "end_s", "channel", "annotator", "labelled_at"];

/// The annotator of rows settled by adjudication starts with this (`adjudicated:<name>`).
pub const ADJUDICATED_PREFIX: &str = "adjudicated:";

/// The name used when nobody gave one (the labels file of an older version, tests).
pub const DEFAULT_ANNOTATOR: &str = "annotator";

/// (start ms, end ms, party) of a labelled segment.
type SegmentKey = (i64, i64, String);

/// A saved label applies to a segment of another segmentation when their spans' intersection
/// over union exceeds this: more than half of the speech is shared, so of a channel's segments
/// that do not overlap one another at most one can take it over (halves of a split segment reach
/// 0.5 and take none).
pub const CARRY_OVER_IOU: f64 = 0.5;

/// A segment's annotation as found in the labels file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Annotation {
    /// 1 = non-negative, 0 = negative.
    pub label: u8,
    /// The span (s) of the earlier segment the label was saved for, when it is not this one.
    pub carried_from: Option<(f64, f64)>,
}

/// One saved label.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    label: u8,
    channel: usize,
    /// Who labelled it (for adjudicated rows: `adjudicated:<name>`, or the agreeing annotators).
    annotator: String,
    /// RFC 3339 UTC.
    labelled_at: String,
}

type LabelMap = BTreeMap<SegmentKey, Entry>;

/// A segment as the labels see it: its span, party and the channel it was scored on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelledSpan {
    pub start_s: f64,
    pub end_s: f64,
    pub party: String,
    pub channel: usize,
}

/// The labels of one recording's segments, by annotator.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLabels {
    recording: PathBuf,
    /// Who labels in this session: [`CallLabels::set`] writes their labels.
    annotator: String,
    /// Every annotator's labels (the current one's included, possibly empty).
    by_annotator: BTreeMap<String, LabelMap>,
    /// Disagreements settled into an adjudicated label.
    settled: LabelMap,
}

/// `<dir>/<stem>.labels.csv` beside `recording`: the adjudicated labels training uses.
pub fn labels_path(recording: &Path) -> PathBuf {
    crate::fsutil::beside(recording, ".labels.csv")
}

/// `<dir>/<stem>.labels.<slug>.csv`: one annotator's labels.
pub fn annotator_labels_path(recording: &Path, annotator: &str) -> PathBuf {
    crate::fsutil::beside(recording, &format!(".labels.{}.csv", annotator_slug(annotator)))
}

/// A file-name-safe form of an annotator's name: letters and digits of any script (Chinese names
/// stay readable), `-` and `_` kept, everything else `_`, at most 48 characters; an empty or
/// all-punctuation name becomes [`DEFAULT_ANNOTATOR`].
pub fn annotator_slug(name: &str) -> String {
    let slug: String = name
        .trim()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(48)
        .collect();
    let slug = slug.trim_matches('_').to_string();
    if slug.is_empty() { DEFAULT_ANNOTATOR.to_string() } else { slug }
}

fn key(start_s: f64, end_s: f64, party: &str) -> SegmentKey {
    ((start_s * 1000.0).round() as i64, (end_s * 1000.0).round() as i64, party.to_string())
}

/// The saved entry of `map` a segment takes its label from: its own, else the one on the same
/// channel sharing most of its span (intersection over union above [`CARRY_OVER_IOU`]).
fn matching_key(map: &LabelMap, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<SegmentKey> {
    let own = key(start_s, end_s, party);
    if map.contains_key(&own) {
        return Some(own);
    }
    let ms = |k: &SegmentKey| (k.0 as f64, k.1 as f64);
    map.iter()
        .filter(|(_, entry)| entry.channel == channel)
        .map(|(k, _)| (span_iou(ms(&own), ms(k)), k))
        .filter(|(overlap, _)| *overlap > CARRY_OVER_IOU)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

/// Reads one labels file: its rows by segment. `fallback_annotator` names rows without one.
fn read_labels_file(path: &Path, fallback_annotator: &str) -> Result<LabelMap, TrainingError> {
    let mut map = LabelMap::new();
    // As the training manifest it is, so what loads here trains.
    let clips = read_manifest(path)?;
    // Who and when are not part of the manifest: read them from the same rows.
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::io(path, e))?;
    let table = CsvTable::parse(&text).map_err(|e| TrainingError::Dataset(format!("{}: {e}", path.display())))?;
    let (c_annotator, c_when) = (table.column("annotator").ok(), table.column("labelled_at").ok());
    let c_path = table.column("path").map_err(|e| TrainingError::Dataset(format!("{}: {e}", path.display())))?;
    // read_manifest skips rows without a path: so do these, to stay row for row with it.
    let rows = (0..table.rows.len()).filter(|&row| !table.get(row, c_path).is_empty());
    for (clip, row) in clips.into_iter().zip(rows) {
        let (Some(start_s), Some(end_s)) = (clip.start_s, clip.end_s) else {
            return Err(TrainingError::Dataset(format!("{}: a label without start_s and end_s", path.display())));
        };
        let annotator = c_annotator.map(|c| table.get(row, c)).filter(|a| !a.is_empty()).unwrap_or(fallback_annotator).to_string();
        let labelled_at = c_when.map(|c| table.get(row, c).to_string()).unwrap_or_default();
        let entry = Entry { label: clip.label, channel: clip.channel.unwrap_or(0), annotator, labelled_at };
        map.insert(key(start_s, end_s, party_of(&clip.speaker)), entry);
    }
    Ok(map)
}

/// The party of a saved speaker key `<stem>/<party>`.
pub fn party_of(speaker: &str) -> &str {
    speaker.rsplit_once('/').map_or(speaker, |(_, party)| party)
}

/// The per-annotator labels files beside `recording` (not the adjudicated one), sorted by name.
pub fn annotator_files(recording: &Path) -> Result<Vec<PathBuf>, TrainingError> {
    let adjudicated = labels_path(recording);
    let Some(name) = adjudicated.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Ok(Vec::new()) };
    let prefix = name.trim_end_matches("csv").to_string(); // `<stem>.labels.`
    let dir = adjudicated.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainingError::io(&dir, e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            file.len() > prefix.len() + 4 && file.starts_with(&prefix) && file.ends_with(".csv") && !file.starts_with('.')
        })
        .collect();
    files.sort();
    Ok(files)
}

impl CallLabels {
    /// The labels saved beside `recording`, read for the default annotator (see
    /// [`CallLabels::load_as`]).
    pub fn load(recording: &Path) -> Result<Self, TrainingError> {
        Self::load_as(recording, DEFAULT_ANNOTATOR)
    }

    /// Every annotator's labels saved beside `recording` (none when there is no labels file
    /// yet), with `annotator` as the one who labels in this session.
    pub fn load_as(recording: &Path, annotator: &str) -> Result<Self, TrainingError> {
        let annotator = if annotator.trim().is_empty() { DEFAULT_ANNOTATOR } else { annotator.trim() }.to_string();
        let mut by_annotator: BTreeMap<String, LabelMap> = BTreeMap::new();
        for file in annotator_files(recording)? {
            for (segment, entry) in read_labels_file(&file, &annotator)? {
                by_annotator.entry(entry.annotator.clone()).or_default().insert(segment, entry);
            }
        }
        let mut settled = LabelMap::new();
        let adjudicated = labels_path(recording);
        if adjudicated.exists() {
            let older_version = by_annotator.is_empty();
            for (segment, entry) in read_labels_file(&adjudicated, &annotator)? {
                if entry.annotator.starts_with(ADJUDICATED_PREFIX) {
                    settled.insert(segment, entry);
                } else if older_version {
                    // Written before annotators had files of their own: these are someone's labels.
                    by_annotator.entry(entry.annotator.clone()).or_default().insert(segment, entry);
                }
            }
        }
        by_annotator.entry(annotator.clone()).or_default();
        Ok(Self { recording: recording.to_path_buf(), annotator, by_annotator, settled })
    }

    /// The adjudicated labels file (beside the recording), which training uses.
    pub fn path(&self) -> PathBuf {
        labels_path(&self.recording)
    }

    /// The current annotator's own labels file.
    pub fn annotator_path(&self) -> PathBuf {
        annotator_labels_path(&self.recording, &self.annotator)
    }

    /// Who labels in this session.
    pub fn annotator(&self) -> &str {
        &self.annotator
    }

    /// Everyone who has labels for this call (and the current annotator).
    pub fn annotators(&self) -> Vec<String> {
        self.by_annotator.keys().cloned().collect()
    }

    fn mine(&self) -> &LabelMap {
        static EMPTY: LabelMap = BTreeMap::new();
        self.by_annotator.get(&self.annotator).unwrap_or(&EMPTY)
    }

    /// The current annotator's label of a segment (1 = non-negative, 0 = negative), if it has
    /// one: its own, or one carried over from an earlier segmentation.
    pub fn get(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<u8> {
        self.annotation(start_s, end_s, party, channel).map(|a| a.label)
    }

    /// The current annotator's annotation of the segment and whether it was saved for this very
    /// segment.
    pub fn annotation(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<Annotation> {
        annotation_in(self.mine(), start_s, end_s, party, channel)
    }

    /// Every annotator's label of the segment, by annotator name (in name order).
    pub fn labels_of(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Vec<(String, u8)> {
        self.by_annotator
            .iter()
            .filter_map(|(name, map)| annotation_in(map, start_s, end_s, party, channel).map(|a| (name.clone(), a.label)))
            .collect()
    }

    /// The adjudicated label settled for the segment, if any.
    pub fn settled(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<u8> {
        annotation_in(&self.settled, start_s, end_s, party, channel).map(|a| a.label)
    }

    /// Labels a segment scored on `channel` for the current annotator (`None` clears its label)
    /// and saves; on a failed save the labels stay as they were. A label carried over from an
    /// earlier segmentation is replaced (or cleared) with it.
    pub fn set(&mut self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> Result<(), TrainingError> {
        let changed = self.with_label(start_s, end_s, party, channel, label);
        self.commit(changed)
    }

    /// These labels with the current annotator's label of one segment changed, not saved (see
    /// [`CallLabels::commit`]).
    pub fn with_label(&self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> CallLabels {
        let mut changed = self.clone();
        let annotator = self.annotator.clone();
        let map = changed.by_annotator.entry(annotator.clone()).or_default();
        put(map, start_s, end_s, party, channel, label, &annotator);
        changed
    }

    /// Settles a segment's label for training (`None` withdraws the settlement), recorded as
    /// `adjudicated:<current annotator>`, and saves.
    pub fn settle(&mut self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> Result<(), TrainingError> {
        let changed = self.with_settled(start_s, end_s, party, channel, label);
        self.commit(changed)
    }

    /// These labels with one segment settled, not saved.
    pub fn with_settled(&self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> CallLabels {
        let mut changed = self.clone();
        let who = format!("{ADJUDICATED_PREFIX}{}", self.annotator);
        put(&mut changed.settled, start_s, end_s, party, channel, label, &who);
        changed
    }

    /// Moves every annotator's labels (and settled ones) with their speech after an edit of the
    /// segmentation, without saving (pass the result to [`CallLabels::commit`]): each `(old,
    /// new)` pair hands the label of `old` to every span in `new` (a split gives both halves the
    /// label; a merge keeps a label only where the merged parts agree); labels of `removed` spans
    /// go. Labelled times and names are kept.
    pub fn transfer(&self, moves: &[(LabelledSpan, Vec<LabelledSpan>)], removed: &[LabelledSpan]) -> CallLabels {
        let mut changed = self.clone();
        for map in changed.by_annotator.values_mut().chain(std::iter::once(&mut changed.settled)) {
            let original = map.clone();
            let mut taken: Vec<(SegmentKey, Entry)> = Vec::new();
            for span in moves.iter().map(|(old, _)| old).chain(removed) {
                if let Some(found) = matching_key(&original, span.start_s, span.end_s, &span.party, span.channel) {
                    if let Some(entry) = map.remove(&found) {
                        taken.push((found, entry));
                    }
                }
            }
            // The label each new span receives from each of its old spans.
            let mut received: BTreeMap<SegmentKey, Vec<Entry>> = BTreeMap::new();
            for (old, news) in moves {
                let Some(found) = matching_key(&original, old.start_s, old.end_s, &old.party, old.channel) else { continue };
                let Some((_, entry)) = taken.iter().find(|(k, _)| *k == found) else { continue };
                for new in news {
                    let mut entry = entry.clone();
                    entry.channel = new.channel;
                    received.entry(key(new.start_s, new.end_s, &new.party)).or_default().push(entry);
                }
            }
            // Merged parts that disagree leave the merged span unlabelled; one labelled part
            // labels the whole.
            for (segment, entries) in received {
                if entries.iter().all(|e| e.label == entries[0].label) {
                    map.insert(segment, entries[0].clone());
                }
            }
        }
        changed
    }

    /// Replaces these labels by `changed` and saves every file whose rows differ (the
    /// annotators' files, then the adjudicated one); on a failed save the labels stay as they
    /// were. Undo and redo restore an earlier state through this too.
    ///
    /// Another window may have saved labels for this call since this one loaded them: under the
    /// labels file's lock, what changed between `self` and `changed` is applied to the files as
    /// they are now (merge on save), so neither window silently drops the other's labels.
    pub fn commit(&mut self, changed: CallLabels) -> Result<(), TrainingError> {
        let lock_path = self.path();
        let _lock = crate::fsutil::lock_exclusive(&lock_path).map_err(|e| TrainingError::io(&lock_path, e))?;
        let on_disk = Self::load_as(&self.recording, &self.annotator)?;
        let mut merged = on_disk.clone();
        let names: BTreeSet<&String> = self.by_annotator.keys().chain(changed.by_annotator.keys()).collect();
        for name in names {
            let (before, after) = (self.by_annotator.get(name), changed.by_annotator.get(name));
            if before != after {
                let base = on_disk.by_annotator.get(name).cloned().unwrap_or_default();
                merged.by_annotator.insert(name.clone(), apply_change(base, before, after));
            }
        }
        merged.settled = apply_change(on_disk.settled.clone(), Some(&self.settled), Some(&changed.settled));

        let mut writes: Vec<(PathBuf, String)> = Vec::new();
        let names: BTreeSet<&String> = on_disk.by_annotator.keys().chain(merged.by_annotator.keys()).collect();
        for name in names {
            let before = on_disk.by_annotator.get(name);
            let after = merged.by_annotator.get(name);
            let differs = before != after && !(before.is_none_or(BTreeMap::is_empty) && after.is_none_or(BTreeMap::is_empty));
            if differs {
                let rows = after.cloned().unwrap_or_default();
                writes.push((annotator_labels_path(&self.recording, name), merged.render(&rows)));
            }
        }
        let adjudicated = merged.adjudicated();
        if !writes.is_empty() || adjudicated != on_disk.adjudicated() || !self.path().exists() {
            writes.push((merged.path(), merged.render(&adjudicated)));
        }
        for (path, text) in &writes {
            crate::fsutil::atomic_write(path, text.as_bytes()).map_err(|e| TrainingError::io(path, e))?;
        }
        *self = merged;
        Ok(())
    }

    /// The labels training uses: each segment's settled label, else the label every annotator
    /// who labelled it gave (their names joined by `+`); disagreements nobody settled are left out.
    fn adjudicated(&self) -> LabelMap {
        let mut votes: BTreeMap<SegmentKey, Vec<&Entry>> = BTreeMap::new();
        for map in self.by_annotator.values() {
            for (segment, entry) in map {
                votes.entry(segment.clone()).or_default().push(entry);
            }
        }
        let mut result = LabelMap::new();
        for (segment, entries) in votes {
            if entries.iter().all(|e| e.label == entries[0].label) {
                let names: Vec<&str> = entries.iter().map(|e| e.annotator.as_str()).collect();
                let latest = entries.iter().map(|e| e.labelled_at.as_str()).max().unwrap_or_default();
                let entry = Entry { annotator: names.join("+"), labelled_at: latest.to_string(), ..entries[0].clone() };
                result.insert(segment, entry);
            }
        }
        for (segment, entry) in &self.settled {
            result.insert(segment.clone(), entry.clone());
        }
        result
    }

    /// How many labels the current annotator has given.
    pub fn len(&self) -> usize {
        self.mine().len()
    }

    pub fn is_empty(&self) -> bool {
        self.mine().is_empty()
    }

    /// A file's text: the recording by file name (the labels file sits beside it), the
    /// speaker keyed by recording and party (a caller is one speaker for the speaker split).
    fn render(&self, labels: &LabelMap) -> String {
        let file_name = self.recording.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let stem = self.recording.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut text = LABEL_COLUMNS.join(",") + "\n";
        for ((start_ms, end_ms, party), entry) in labels {
            let label = if entry.label == NON_NEGATIVE { "non-negative" } else { debug_assert_eq!(entry.label, NEGATIVE); "negative" };
            text += &format!(
                "{},{label},{},{:.3},{:.3},{},{},{}\n",
                csv_field(&file_name),
                csv_field(&format!("{stem}/{party}")),
                *start_ms as f64 / 1000.0,
                *end_ms as f64 / 1000.0,
                entry.channel,
                csv_field(&entry.annotator),
                csv_field(&entry.labelled_at),
            );
        }
        text
    }
}

/// `<dir>/<stem>.review.json` beside `recording`: the edited segmentation and the notes.
pub fn review_path(recording: &Path) -> PathBuf {
    crate::fsutil::beside(recording, ".review.json")
}

/// A note on one segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentNote {
    pub segment: LabelledSpan,
    pub note: String,
}

/// What a reviewer changed about a call besides labels, kept beside the recording as
/// `<stem>.review.json` (written atomically): the caller segmentation as edited in the window
/// (`None` while it is the analysis's own), a note on the call and notes on segments.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CallReview {
    /// The caller segments after editing, in time order; `None`: not edited.
    pub edited_segments: Option<Vec<LabelledSpan>>,
    pub call_note: String,
    pub segment_notes: Vec<SegmentNote>,
}

impl CallReview {
    /// The review saved beside `recording`, or an empty one when there is none yet.
    pub fn load(recording: &Path) -> Result<Self, TrainingError> {
        let path = review_path(recording);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TrainingError::Dataset(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(TrainingError::io(&path, e)),
        }
    }

    /// Writes the review beside `recording` atomically.
    pub fn save(&self, recording: &Path) -> Result<(), TrainingError> {
        let path = review_path(recording);
        let json = serde_json::to_vec_pretty(self).map_err(|e| TrainingError::Dataset(e.to_string()))?;
        crate::fsutil::atomic_write(&path, &json).map_err(|e| TrainingError::io(&path, e))
    }

    /// The note on a segment (exact span), if any.
    pub fn note(&self, span: &LabelledSpan) -> Option<&str> {
        self.segment_notes.iter().find(|n| same_span(&n.segment, span)).map(|n| n.note.as_str())
    }

    /// Sets a segment's note (an empty one removes it).
    pub fn set_note(&mut self, span: &LabelledSpan, note: &str) {
        self.segment_notes.retain(|n| !same_span(&n.segment, span));
        if !note.trim().is_empty() {
            self.segment_notes.push(SegmentNote { segment: span.clone(), note: note.to_string() });
        }
    }

    /// Moves notes with their speech after a segmentation edit (see [`CallLabels::transfer`]);
    /// merged parts' notes are joined.
    pub fn transfer_notes(&mut self, moves: &[(LabelledSpan, Vec<LabelledSpan>)], removed: &[LabelledSpan]) {
        let notes = std::mem::take(&mut self.segment_notes);
        let mut kept: Vec<SegmentNote> = Vec::new();
        let mut received: Vec<(LabelledSpan, Vec<String>)> = Vec::new();
        for note in notes {
            let moved_to: Vec<&LabelledSpan> = moves.iter().filter(|(old, _)| same_span(old, &note.segment)).flat_map(|(_, news)| news).collect();
            if removed.iter().any(|r| same_span(r, &note.segment)) {
                continue;
            }
            if moved_to.is_empty() {
                kept.push(note);
                continue;
            }
            for new in moved_to {
                match received.iter_mut().find(|(span, _)| same_span(span, new)) {
                    Some((_, texts)) => texts.push(note.note.clone()),
                    None => received.push((new.clone(), vec![note.note.clone()])),
                }
            }
        }
        kept.extend(received.into_iter().map(|(segment, texts)| SegmentNote { segment, note: texts.join(" / ") }));
        self.segment_notes = kept;
    }
}

fn same_span(a: &LabelledSpan, b: &LabelledSpan) -> bool {
    key(a.start_s, a.end_s, &a.party) == key(b.start_s, b.end_s, &b.party) && a.channel == b.channel
}

fn annotation_in(map: &LabelMap, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<Annotation> {
    let found = matching_key(map, start_s, end_s, party, channel)?;
    let label = map[&found].label;
    let exact = found == key(start_s, end_s, party);
    Some(Annotation { label, carried_from: (!exact).then(|| (found.0 as f64 / 1000.0, found.1 as f64 / 1000.0)) })
}

/// Sets (or clears) a segment's label in `map`, replacing a label carried over to it.
/// `base` with the change from `before` to `after` applied: rows `after` dropped are removed,
/// rows it added or altered are set; rows neither touched stay as `base` has them.
fn apply_change(mut base: LabelMap, before: Option<&LabelMap>, after: Option<&LabelMap>) -> LabelMap {
    static EMPTY: LabelMap = BTreeMap::new();
    let (before, after) = (before.unwrap_or(&EMPTY), after.unwrap_or(&EMPTY));
    for segment in before.keys().filter(|segment| !after.contains_key(*segment)) {
        base.remove(segment);
    }
    for (segment, entry) in after.iter().filter(|(segment, entry)| before.get(*segment) != Some(*entry)) {
        base.insert(segment.clone(), entry.clone());
    }
    base
}

fn put(map: &mut LabelMap, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>, who: &str) {
    if let Some(previous) = matching_key(map, start_s, end_s, party, channel) {
        map.remove(&previous);
    }
    match label {
        Some(label) => {
            let entry = Entry { label, channel, annotator: who.to_string(), labelled_at: crate::model::bundle::now_rfc3339() };
            map.insert(key(start_s, end_s, party), entry);
        }
        None => {
            map.remove(&key(start_s, end_s, party));
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_read_as_a_training_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("来电, 第二通.wav");
        std::fs::write(&recording, b"").unwrap();
        let mut labels = CallLabels::load(&recording).unwrap();
        assert!(labels.is_empty());
        labels.set(12.3456, 15.0, "left", 0, Some(NEGATIVE)).unwrap();
        labels.set(20.0, 22.5, "left", 0, Some(NON_NEGATIVE)).unwrap();
        labels.set(30.0, 31.0, "B", 0, Some(NEGATIVE)).unwrap();
        labels.set(30.0, 31.0, "B", 0, None).unwrap();
        labels.set(20.0, 22.5, "left", 0, Some(NEGATIVE)).unwrap();

        let back = CallLabels::load(&recording).unwrap();
        assert_eq!(back, labels);
        assert_eq!(back.get(12.3456, 15.0, "left", 0), Some(NEGATIVE));
        assert_eq!(back.get(20.0, 22.5, "left", 0), Some(NEGATIVE), "relabelled");
        assert_eq!(back.get(30.0, 31.0, "B", 0), None, "cleared");
        assert_eq!(back.get(12.3456, 15.0, "right", 1), None, "the other channel's segment");

        let clips = read_manifest(&labels_path(&recording)).unwrap();
        assert_eq!(clips.len(), 2);
        assert!(clips.iter().all(|c| c.path == recording && c.label == NEGATIVE && c.speaker == "来电, 第二通/left" && c.channel == Some(0)));
        assert_eq!((clips[0].start_s, clips[0].end_s), (Some(12.346), Some(15.0)));
    }

    #[test]
    fn labels_follow_their_speech_into_another_segmentation() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        let mut labels = CallLabels::load(&recording).unwrap();
        labels.set(10.0, 14.0, "A", 0, Some(NEGATIVE)).unwrap();
        labels.set(20.0, 24.0, "A", 0, Some(NON_NEGATIVE)).unwrap();
        labels.set(40.0, 44.0, "right", 1, Some(NEGATIVE)).unwrap();

        // Boundaries moved by 0.3 s and the mono parties renamed: the same speech, the same label.
        let moved = labels.annotation(10.3, 14.2, "B", 0).unwrap();
        assert_eq!(moved, Annotation { label: NEGATIVE, carried_from: Some((10.0, 14.0)) });
        assert_eq!(labels.annotation(20.0, 24.0, "A", 0).unwrap().carried_from, None, "its own label");
        // Half or less of the speech shared, or another channel: not the same segment.
        assert_eq!(labels.get(10.0, 12.0, "A", 0), None, "half of a split segment");
        assert_eq!(labels.get(12.0, 18.0, "A", 0), None);
        assert_eq!(labels.get(40.1, 44.0, "left", 0), None, "the other channel");

        // Relabelling the moved segment replaces the old entry; clearing it removes it.
        labels.set(10.3, 14.2, "B", 0, Some(NON_NEGATIVE)).unwrap();
        assert_eq!(labels.len(), 3);
        assert_eq!(labels.annotation(10.3, 14.2, "B", 0), Some(Annotation { label: NON_NEGATIVE, carried_from: None }));
        assert_eq!(labels.get(10.0, 14.0, "A", 0), Some(NON_NEGATIVE), "the old span now reads the new entry");
        labels.set(20.2, 23.9, "A", 0, None).unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(CallLabels::load(&recording).unwrap(), labels);
    }

    #[test]
    fn a_damaged_labels_file_is_an_error_not_an_empty_set() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        std::fs::write(labels_path(&recording), "path,label_binary,speaker,start_s,end_s\ncall.wav,maybe,call/A,1,2\n").unwrap();
        let message = CallLabels::load(&recording).unwrap_err().to_string();
        assert!(message.contains("call.labels.csv") && message.contains("row 2"), "{message}");
    }

    #[test]
    fn each_annotator_has_a_file_and_the_adjudicated_file_keeps_agreement_and_settlements() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        let mut alice = CallLabels::load_as(&recording, "Alice Smith").unwrap();
        alice.set(1.0, 2.0, "left", 0, Some(NEGATIVE)).unwrap();
        alice.set(3.0, 4.0, "left", 0, Some(NEGATIVE)).unwrap();
        // Only Alice so far: the adjudicated file equals hers.
        assert_eq!(read_manifest(&labels_path(&recording)).unwrap().len(), 2);
        let mut wang = CallLabels::load_as(&recording, "王 医生").unwrap();
        assert!(wang.is_empty(), "Wang has no labels of his own yet");
        wang.set(1.0, 2.0, "left", 0, Some(NEGATIVE)).unwrap();
        wang.set(3.0, 4.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        assert!(annotator_labels_path(&recording, "王 医生").ends_with("call.labels.王_医生.csv"));
        assert!(annotator_labels_path(&recording, "Alice Smith").ends_with("call.labels.Alice_Smith.csv"));

        let both = CallLabels::load_as(&recording, "王 医生").unwrap();
        assert_eq!(both.annotators(), vec!["Alice Smith".to_string(), "王 医生".to_string()]);
        assert_eq!(both.labels_of(3.0, 4.0, "left", 0), vec![("Alice Smith".into(), NEGATIVE), ("王 医生".into(), NON_NEGATIVE)]);
        let training = read_manifest(&labels_path(&recording)).unwrap();
        assert_eq!(training.len(), 1, "the disagreement is left out until settled");
        let text = std::fs::read_to_string(labels_path(&recording)).unwrap();
        assert!(text.starts_with("path,label_binary,speaker,start_s,end_s,channel,annotator,labelled_at\n"), "{text}");
        assert!(text.contains("Alice Smith+王 医生"), "{text}");

        wang.settle(3.0, 4.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        let training = read_manifest(&labels_path(&recording)).unwrap();
        assert_eq!(training.len(), 2);
        let reloaded = CallLabels::load_as(&recording, "Alice Smith").unwrap();
        assert_eq!(reloaded.settled(3.0, 4.0, "left", 0), Some(NON_NEGATIVE));
        assert_eq!(reloaded.get(3.0, 4.0, "left", 0), Some(NEGATIVE), "Alice's own label stays hers");
    }

    #[test]
    fn two_windows_on_one_call_keep_each_others_labels() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        // Both windows open the call before either saves: each holds an empty copy.
        let mut first = CallLabels::load_as(&recording, "Alice").unwrap();
        let mut second = CallLabels::load_as(&recording, "Alice").unwrap();
        let mut other_annotator = CallLabels::load_as(&recording, "Bo").unwrap();
        first.set(1.0, 2.0, "left", 0, Some(NEGATIVE)).unwrap();
        second.set(3.0, 4.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        other_annotator.set(5.0, 6.0, "left", 0, Some(NEGATIVE)).unwrap();
        first.settle(5.0, 6.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        // Its saves merged the second window's label in, so the first window can clear it.
        first.set(3.0, 4.0, "left", 0, None).unwrap();

        let reloaded = CallLabels::load_as(&recording, "Alice").unwrap();
        assert_eq!(reloaded.get(1.0, 2.0, "left", 0), Some(NEGATIVE), "the first window's label");
        assert_eq!(reloaded.get(3.0, 4.0, "left", 0), None, "cleared by the later save");
        assert_eq!(reloaded.labels_of(5.0, 6.0, "left", 0), vec![("Bo".into(), NEGATIVE)]);
        assert_eq!(reloaded.settled(5.0, 6.0, "left", 0), Some(NON_NEGATIVE));
        assert_eq!(first, reloaded, "a window holds what is on disk after it saves");
        let training: Vec<(Option<f64>, u8)> = read_manifest(&labels_path(&recording)).unwrap().iter().map(|c| (c.start_s, c.label)).collect();
        assert_eq!(training, vec![(Some(1.0), NEGATIVE), (Some(5.0), NON_NEGATIVE)]);
    }

    #[test]
    fn an_older_labels_file_reads_as_the_current_annotators() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        std::fs::write(labels_path(&recording), "path,label_binary,speaker,start_s,end_s,channel\ncall.wav,negative,call/A,1,2,0\n").unwrap();
        let mut labels = CallLabels::load_as(&recording, "bo").unwrap();
        assert_eq!(labels.get(1.0, 2.0, "A", 0), Some(NEGATIVE));
        labels.set(5.0, 6.0, "A", 0, Some(NON_NEGATIVE)).unwrap();
        assert_eq!(read_manifest(&annotator_labels_path(&recording, "bo")).unwrap().len(), 2);
        assert_eq!(CallLabels::load_as(&recording, "bo").unwrap(), labels);
    }

    #[test]
    fn labels_move_with_edited_segments() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        let mut labels = CallLabels::load(&recording).unwrap();
        labels.set(0.0, 4.0, "left", 0, Some(NEGATIVE)).unwrap();
        labels.set(5.0, 6.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        labels.set(7.0, 8.0, "left", 0, Some(NEGATIVE)).unwrap();
        let span = |a: f64, b: f64| LabelledSpan { start_s: a, end_s: b, party: "left".into(), channel: 0 };
        // Split 0–4 at 2; merge 5–6 with 7–8 (they disagree); drop nothing.
        let moved = labels.transfer(&[(span(0.0, 4.0), vec![span(0.0, 2.0), span(2.0, 4.0)]), (span(5.0, 6.0), vec![span(5.0, 8.0)]), (span(7.0, 8.0), vec![span(5.0, 8.0)])], &[]);
        assert_eq!(moved.get(0.0, 2.0, "left", 0), Some(NEGATIVE));
        assert_eq!(moved.get(2.0, 4.0, "left", 0), Some(NEGATIVE));
        assert_eq!(moved.get(5.0, 8.0, "left", 0), None, "merged parts disagreed");
        let deleted = moved.transfer(&[], &[span(0.0, 2.0)]);
        assert_eq!(deleted.len(), 1);
        labels.commit(deleted.clone()).unwrap();
        let clips = read_manifest(&labels_path(&recording)).unwrap();
        assert_eq!(clips.iter().map(|c| (c.start_s, c.end_s)).collect::<Vec<_>>(), vec![(Some(2.0), Some(4.0))], "training cuts the edited span");
    }

    #[test]
    fn annotator_names_become_safe_file_names() {
        assert_eq!(annotator_slug("Dr. O'Neil / night"), "Dr__O_Neil___night");
        assert_eq!(annotator_slug("李 华"), "李_华");
        assert_eq!(annotator_slug("../.."), DEFAULT_ANNOTATOR);
        assert_eq!(annotator_slug(""), DEFAULT_ANNOTATOR);
    }

    #[test]
    fn the_review_keeps_the_edited_segmentation_and_notes_and_notes_follow_edits() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        assert_eq!(CallReview::load(&recording).unwrap(), CallReview::default());
        let span = |a: f64, b: f64| LabelledSpan { start_s: a, end_s: b, party: "A".into(), channel: 0 };
        let mut review = CallReview { edited_segments: Some(vec![span(0.0, 2.0), span(3.0, 4.0)]), call_note: "caller calmer at the end".into(), ..Default::default() };
        review.set_note(&span(0.0, 2.0), "crying, \"hard to hear\"");
        review.set_note(&span(3.0, 4.0), "laughs");
        review.transfer_notes(&[(span(0.0, 2.0), vec![span(0.0, 4.0)]), (span(3.0, 4.0), vec![span(0.0, 4.0)])], &[]);
        assert_eq!(review.note(&span(0.0, 4.0)), Some("crying, \"hard to hear\" / laughs"));
        review.save(&recording).unwrap();
        assert_eq!(CallReview::load(&recording).unwrap(), review);
        review.set_note(&span(0.0, 4.0), " ");
        assert!(review.segment_notes.is_empty());
    }
}
