//! An annotator's labels for one call's segments, kept beside the recording as
//! `<stem>.labels.csv` in training-manifest form (`path,label_binary,speaker,start_s,end_s,
//! channel`), so `emotrace train --data <stem>.labels.csv` trains on them as they are, each clip
//! cut from the channel the segment was scored on (the caller's side of a stereo call, not the
//! mix). A segment is identified by its times (to the millisecond) and its party; the file is
//! rewritten atomically on every change, so an annotation is never half saved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dataset::{read_manifest, NEGATIVE, NON_NEGATIVE};
use super::TrainingError;
use crate::segmentation::segments_csv::csv_field;

/// Columns of a labels file (a training manifest).
pub const LABEL_COLUMNS: [&str; 6] = ["path", "label_binary", "speaker", "start_s", "end_s", "channel"];

/// (start ms, end ms, party) of a labelled segment.
type SegmentKey = (i64, i64, String);

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

    /// The label of a segment (1 = non-negative, 0 = negative), if it has one.
    pub fn get(&self, start_s: f64, end_s: f64, party: &str) -> Option<u8> {
        self.labels.get(&key(start_s, end_s, party)).map(|(label, _)| *label)
    }

    /// Labels a segment scored on `channel` (`None` clears its label) and saves the file; on a
    /// failed save the labels stay as they were.
    pub fn set(&mut self, start_s: f64, end_s: f64, party: &str, channel: usize, label: Option<u8>) -> Result<(), TrainingError> {
        let mut changed = self.labels.clone();
        match label {
            Some(label) => changed.insert(key(start_s, end_s, party), (label, channel)),
            None => changed.remove(&key(start_s, end_s, party)),
        };
        let path = self.path();
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
        assert_eq!(back.get(12.3456, 15.0, "left"), Some(NEGATIVE));
        assert_eq!(back.get(20.0, 22.5, "left"), Some(NEGATIVE), "relabelled");
        assert_eq!(back.get(30.0, 31.0, "B"), None, "cleared");
        assert_eq!(back.get(12.3456, 15.0, "right"), None, "the party is part of the segment");

        let clips = read_manifest(&labels_path(&recording)).unwrap();
        assert_eq!(clips.len(), 2);
        assert!(clips.iter().all(|c| c.path == recording && c.label == NEGATIVE && c.speaker == "来电, 第二通/left" && c.channel == Some(0)));
        assert_eq!((clips[0].start_s, clips[0].end_s), (Some(12.346), Some(15.0)));
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
