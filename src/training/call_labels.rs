//! An annotator's labels for one call's segments, kept beside the recording as
//! `<stem>.labels.csv` in training-manifest form (`path,label_binary,speaker,start_s,end_s,
//! channel`), so `emotrace train --data <stem>.labels.csv` trains on them as they are, each clip
//! cut from the channel the segment was scored on (the caller's side of a stereo call, not the
//! mix). A segment is identified by its times (to the millisecond) and its party; the file is
//! rewritten atomically on every change, so an annotation is never half saved.
//!
//! Segmenting the call again with other settings (or with a speaker encoder) moves boundaries a
//! little and may rename the mono parties, so a saved label also applies to the segment on the
//! same channel that shares most of its span ([`CARRY_OVER_IOU`]); relabelling that segment
//! replaces the old entry instead of adding a second one for the same speech.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dataset::{read_manifest, NEGATIVE, NON_NEGATIVE};
use super::TrainingError;
use crate::segmentation::eval::span_iou;
use crate::segmentation::segments_csv::csv_field;

/// Columns of a labels file (a training manifest).
pub const LABEL_COLUMNS: [&str; 6] = ["path", "label_binary", "speaker", "start_s", "end_s", "channel"];

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

/// The labels of one recording's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLabels {
    recording: PathBuf,
    /// Label (1 = non-negative) and channel per segment.
    labels: BTreeMap<SegmentKey, (u8, usize)>,
}

/// `<dir>/<stem>.labels.csv` beside `recording`.
pub fn labels_path(recording: &Path) -> PathBuf {
    crate::fsutil::beside(recording, ".labels.csv")
}

fn key(start_s: f64, end_s: f64, party: &str) -> SegmentKey {
    ((start_s * 1000.0).round() as i64, (end_s * 1000.0).round() as i64, party.to_string())
}

impl CallLabels {
    /// The labels saved beside `recording`, or none when there is no labels file yet. The file
    /// is read as the training manifest it is ([`read_manifest`]), so what loads here trains.
    pub fn load(recording: &Path) -> Result<Self, TrainingError> {
        let path = labels_path(recording);
        let mut labels = BTreeMap::new();
        if path.exists() {
            for clip in read_manifest(&path)? {
                let (Some(start_s), Some(end_s)) = (clip.start_s, clip.end_s) else {
                    return Err(TrainingError::Dataset(format!("{}: a label without start_s and end_s", path.display())));
                };
                labels.insert(key(start_s, end_s, party_of(&clip.speaker)), (clip.label, clip.channel.unwrap_or(0)));
            }
        }
        Ok(Self { recording: recording.to_path_buf(), labels })
    }

    /// The labels file (beside the recording).
    pub fn path(&self) -> PathBuf {
        labels_path(&self.recording)
    }

    /// The label of a segment (1 = non-negative, 0 = negative), if it has one: its own, or one
    /// carried over from an earlier segmentation.
    pub fn get(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<u8> {
        self.annotation(start_s, end_s, party, channel).map(|a| a.label)
    }

    /// The segment's annotation and whether it was saved for this very segment.
    pub fn annotation(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<Annotation> {
        let found = self.matching_key(start_s, end_s, party, channel)?;
        let (label, _) = self.labels[&found];
        let exact = found == key(start_s, end_s, party);
        Some(Annotation { label, carried_from: (!exact).then(|| (found.0 as f64 / 1000.0, found.1 as f64 / 1000.0)) })
    }

    /// The saved entry a segment takes its label from: its own, else the one on the same channel
    /// sharing most of its span (intersection over union above [`CARRY_OVER_IOU`]).
    fn matching_key(&self, start_s: f64, end_s: f64, party: &str, channel: usize) -> Option<SegmentKey> {
        let own = key(start_s, end_s, party);
        if self.labels.contains_key(&own) {
            return Some(own);
        }
        let ms = |k: &SegmentKey| (k.0 as f64, k.1 as f64);
        self.labels
            .iter()
            .filter(|(_, (_, ch))| *ch == channel)
            .map(|(k, _)| (span_iou(ms(&own), ms(k)), k))
            .filter(|(overlap, _)| *overlap > CARRY_OVER_IOU)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.clone())
    }

    /// Labels a segment scored on `channel` (`None` clears its label) and saves the file; on a
    /// failed save the labels stay as they were. A label carried over from an earlier
    /// segmentation is replaced (or cleared) with it.
    pub fn set(&mut self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> Result<(), TrainingError> {
        let path = self.path();
        // Another window may have saved labels since this one loaded: under the file's lock,
        // apply this change to the file as it is now (merge on save), not to our older copy.
        let _lock = crate::fsutil::lock_exclusive(&path).map_err(|e| TrainingError::io(&path, e))?;
        let on_disk = Self::load(&self.recording)?;
        let mut changed = on_disk.labels.clone();
        if let Some(previous) = on_disk.matching_key(start_s, end_s, party, channel) {
            changed.remove(&previous);
        }
        match label {
            Some(label) => changed.insert(key(start_s, end_s, party), (label, channel)),
            None => changed.remove(&key(start_s, end_s, party)),
        };
        crate::fsutil::atomic_write(&path, self.render(&changed).as_bytes()).map_err(|e| TrainingError::io(&path, e))?;
        self.labels = changed;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The file's text: the recording by file name (the labels file sits beside it), the
    /// speaker keyed by recording and party (a caller is one speaker for the speaker split).
    fn render(&self, labels: &BTreeMap<SegmentKey, (u8, usize)>) -> String {
        let file_name = self.recording.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let stem = self.recording.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut text = LABEL_COLUMNS.join(",") + "\n";
        for ((start_ms, end_ms, party), (label, channel)) in labels {
            let label = if *label == NON_NEGATIVE { "non-negative" } else { debug_assert_eq!(*label, NEGATIVE); "negative" };
            text += &format!(
                "{},{label},{},{:.3},{:.3},{channel}\n",
                csv_field(&file_name),
                csv_field(&format!("{stem}/{party}")),
                *start_ms as f64 / 1000.0,
                *end_ms as f64 / 1000.0
            );
        }
        text
    }
}

/// The party of a saved speaker key `<stem>/<party>`.
fn party_of(speaker: &str) -> &str {
    speaker.rsplit_once('/').map_or(speaker, |(_, party)| party)
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
}
