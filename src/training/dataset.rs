//! Labelled clips from manifests and the speaker-grouped train/validation split.
//!
//! Manifest: CSV with a header and at least `path,label_binary`; optional `speaker`, `corpus`,
//! `start_s`, `end_s`, `channel` (0-based: that channel of a multi-channel file instead of the
//! mix, e.g. the caller's side of a stereo call; other columns are ignored). `path` is relative to the manifest's folder.
//! When a `corpus` column exists, speakers are keyed `corpus/speaker` so that corpora cannot share
//! a speaker id by accident.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::TrainingError;
use crate::segmentation::segments_csv::CsvTable;
use crate::synth::rng::Rng;

/// Label of a non-negative clip (`p = P(non-negative)`, SPEC §2).
pub const NON_NEGATIVE: u8 = 1;
/// Label of a negative clip.
pub const NEGATIVE: u8 = 0;

#[derive(Debug, Clone, PartialEq)]
pub struct LabelledClip {
    pub path: PathBuf,
    /// 1 = non-negative, 0 = negative.
    pub label: u8,
    /// Speaker key (`corpus/speaker` when the manifest names corpora).
    pub speaker: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// The channel to take (0-based); `None`: all channels mixed to mono.
    pub channel: Option<usize>,
    /// The clip as its manifest names it (speaker and path as written): the same wherever the
    /// data lie or the command runs from, so seeds drawn from it (augmentation) repeat.
    pub name: String,
}

/// "non-negative" / "positive" / "1" -> 1, "negative" / "0" -> 0.
pub fn parse_label(text: &str) -> Option<u8> {
    match text.trim().to_ascii_lowercase().as_str() {
        "non-negative" | "nonnegative" | "non_negative" | "positive" | "1" => Some(NON_NEGATIVE),
        "negative" | "0" => Some(NEGATIVE),
        _ => None,
    }
}

/// Reads one manifest.
pub fn read_manifest(path: &Path) -> Result<Vec<LabelledClip>, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::io(path, e))?;
    let where_ = |msg: String| TrainingError::Dataset(format!("{}: {msg}", path.display()));
    let table = CsvTable::parse(&text).map_err(|e| where_(e.to_string()))?;
    let col = |name: &str| table.column(name).map_err(|e| where_(e.to_string()));
    let optional = |name: &str| table.column(name).ok();
    let (c_path, c_label) = (col("path")?, col("label_binary")?);
    let (c_speaker, c_corpus) = (optional("speaker"), optional("corpus"));
    let (c_start, c_end, c_channel) = (optional("start_s"), optional("end_s"), optional("channel"));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut clips = Vec::with_capacity(table.rows.len());
    for row in 0..table.rows.len() {
        let rel = table.get(row, c_path);
        if rel.is_empty() {
            continue;
        }
        let label_text = table.get(row, c_label);
        let label = parse_label(label_text)
            .ok_or_else(|| where_(format!("row {}: label_binary {label_text:?} is neither negative nor non-negative", row + 2)))?;
        let speaker = match c_speaker.map(|c| table.get(row, c)).filter(|s| !s.is_empty()) {
            Some(s) => match c_corpus.map(|c| table.get(row, c)).filter(|c| !c.is_empty()) {
                Some(corpus) => format!("{corpus}/{s}"),
                None => s.to_string(),
            },
            // Without speakers every file is its own group (a file-level split: say so in reports).
            None => rel.to_string(),
        };
        let number = |c: Option<usize>| -> Result<Option<f64>, TrainingError> {
            match c.map(|c| table.get(row, c)).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .map(Some)
                    .ok_or_else(|| where_(format!("row {}: {v:?} is not a time in seconds", row + 2))),
            }
        };
        let (start_s, end_s) = (number(c_start)?, number(c_end)?);
        if let (Some(s), Some(e)) = (start_s, end_s) {
            if e <= s {
                return Err(where_(format!("row {}: end_s {e} is not after start_s {s}", row + 2)));
            }
        }
        let channel = match c_channel.map(|c| table.get(row, c)).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<usize>().map_err(|_| where_(format!("row {}: channel {v:?} is not a channel number", row + 2)))?),
        };
        let rel_path = Path::new(rel);
        let full = if rel_path.is_absolute() { rel_path.to_path_buf() } else { base.join(rel_path) };
        let name = format!("{speaker}|{rel}");
        clips.push(LabelledClip { path: full, label, speaker, start_s, end_s, channel, name });
    }
    Ok(clips)
}

/// Reads and concatenates several manifests.
pub fn read_manifests(paths: &[PathBuf]) -> Result<Vec<LabelledClip>, TrainingError> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(read_manifest(p)?);
    }
    if all.is_empty() {
        return Err(TrainingError::Dataset("the manifests list no clips".into()));
    }
    Ok(all)
}

/// Which speakers validate.
#[derive(Debug, Clone, PartialEq)]
pub enum ValSpeakers {
    /// These speaker keys (exact match, or match of the part after `corpus/`).
    Named(Vec<String>),
    /// This fraction of each corpus's speakers (at least one per corpus that has two or more),
    /// drawn with the seed.
    Fraction(f64),
    /// Like `Fraction`; when no corpus has two speakers (one call's caller, say) this fraction of
    /// the clips instead, drawn with the seed within each label so both classes are held out
    /// (at least one clip of a class that has two or more).
    SpeakersOrSegments(f64),
    /// No validation set.
    None,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeakerSplit {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub val_speakers: Vec<String>,
    /// The validation clips are a fraction of the segments (one speaker only), not whole
    /// speakers: [`ValSpeakers::SpeakersOrSegments`].
    #[serde(default)]
    pub held_out_segments: bool,
}

/// The corpus of a speaker key (`corpus/speaker`; "" for keys that name no corpus).
pub(crate) fn corpus_of(speaker: &str) -> &str {
    speaker.split_once('/').map_or("", |(c, _)| c)
}

/// Splits clip indices by speaker: no speaker is in both sets. Deterministic for a seed.
pub fn split_by_speaker(clips: &[LabelledClip], val: &ValSpeakers, seed: u64) -> Result<SpeakerSplit, TrainingError> {
    let speakers: BTreeSet<&str> = clips.iter().map(|c| c.speaker.as_str()).collect();
    let chosen: BTreeSet<String> = match val {
        ValSpeakers::None => BTreeSet::new(),
        ValSpeakers::Named(names) => {
            let mut chosen = BTreeSet::new();
            for name in names {
                let hits: Vec<&&str> =
                    speakers.iter().filter(|s| **s == name || s.split_once('/').is_some_and(|(_, id)| id == name)).collect();
                if hits.is_empty() {
                    return Err(TrainingError::Dataset(format!("validation speaker {name:?} is not in the data")));
                }
                chosen.extend(hits.into_iter().map(|s| s.to_string()));
            }
            chosen
        }
        ValSpeakers::Fraction(f) | ValSpeakers::SpeakersOrSegments(f) => {
            if !(0.0..1.0).contains(f) {
                return Err(TrainingError::Config(format!("validation fraction {f} must be in [0, 1)")));
            }
            let mut by_corpus: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for s in &speakers {
                by_corpus.entry(corpus_of(s)).or_default().push(s);
            }
            let mut rng = Rng::new(seed ^ 0x5EED_5B17);
            let mut chosen = BTreeSet::new();
            for (_, mut group) in by_corpus {
                if group.len() < 2 || *f == 0.0 {
                    continue;
                }
                // Fisher-Yates with the seeded generator.
                for i in (1..group.len()).rev() {
                    group.swap(i, rng.below(i + 1));
                }
                let take = ((group.len() as f64 * f).round() as usize).clamp(1, group.len() - 1);
                chosen.extend(group[..take].iter().map(|s| s.to_string()));
            }
            chosen
        }
    };
    if let ValSpeakers::SpeakersOrSegments(f) = val {
        if chosen.is_empty() && *f > 0.0 {
            return Ok(split_segments(clips, *f, seed));
        }
    }
    let (mut train, mut val_idx) = (Vec::new(), Vec::new());
    for (i, c) in clips.iter().enumerate() {
        if chosen.contains(&c.speaker) {
            val_idx.push(i);
        } else {
            train.push(i);
        }
    }
    if train.is_empty() {
        return Err(TrainingError::Dataset("no training clips left after holding out validation speakers".into()));
    }
    Ok(SpeakerSplit { train, val: val_idx, val_speakers: chosen.into_iter().collect(), held_out_segments: false })
}

/// Holds out `fraction` of each label's clips (seeded shuffle), at least one of a label that
/// has two or more and never a label's last clip, so training keeps every class it saw.
fn split_segments(clips: &[LabelledClip], fraction: f64, seed: u64) -> SpeakerSplit {
    let mut rng = Rng::new(seed ^ 0x5E6_4E27);
    let mut held = vec![false; clips.len()];
    let labels: BTreeSet<u8> = clips.iter().map(|c| c.label).collect();
    for label in labels {
        let mut members: Vec<usize> = (0..clips.len()).filter(|&i| clips[i].label == label).collect();
        if members.len() < 2 {
            continue;
        }
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        let take = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len() - 1);
        for &i in &members[..take] {
            held[i] = true;
        }
    }
    let (val, train): (Vec<usize>, Vec<usize>) = (0..clips.len()).partition(|&i| held[i]);
    SpeakerSplit { train, val, val_speakers: Vec::new(), held_out_segments: true }
}

/// Keeps at most `max` clips, drawn with the seed but spread over speakers and labels
/// (for short experiments); order of the kept clips is the input order.
pub fn subsample(clips: Vec<LabelledClip>, max: usize, seed: u64) -> Vec<LabelledClip> {
    if clips.len() <= max {
        return clips;
    }
    let mut order: Vec<usize> = (0..clips.len()).collect();
    let mut rng = Rng::new(seed ^ 0x5AB5_A3F1);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut keep: Vec<usize> = order.into_iter().take(max).collect();
    keep.sort_unstable();
    let keep: BTreeSet<usize> = keep.into_iter().collect();
    clips.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, c)| c).collect()
}

/// The clip's span of its channel, or of the mono mix (only the span is mixed: a call file
/// holds many clips).
fn cut_clip(audio: &crate::audio::Audio16k, clip: &LabelledClip) -> Result<Vec<f32>, TrainingError> {
    let channels: &[Vec<f32>] = match clip.channel {
        Some(c) => std::slice::from_ref(audio.channels.get(c).ok_or_else(|| {
            TrainingError::Dataset(format!("{}: no channel {c} (the file has {})", clip.path.display(), audio.channels.len()))
        })?),
        None => &audio.channels,
    };
    let len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let rate = crate::features::SAMPLE_RATE as f64;
    let start = clip.start_s.map_or(0, |s| (s * rate).round() as usize).min(len);
    let end = clip.end_s.map_or(len, |e| (e * rate).round() as usize).min(len);
    if end <= start {
        return Err(TrainingError::Dataset(format!("{}: the selected span is empty", clip.path.display())));
    }
    let spans: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
    Ok(crate::audio::mix_to_mono(&spans))
}

/// Decodes many clips, in input order: each file once (a labelled call holds many segments),
/// files in parallel.
pub fn load_clips(clips: &[LabelledClip]) -> Result<Vec<Vec<f32>>, TrainingError> {
    let mut by_file: BTreeMap<&Path, Vec<usize>> = BTreeMap::new();
    for (i, clip) in clips.iter().enumerate() {
        by_file.entry(clip.path.as_path()).or_default().push(i);
    }
    let files: Vec<(&Path, Vec<usize>)> = by_file.into_iter().collect();
    let cut: Vec<Vec<(usize, Vec<f32>)>> = files
        .par_iter()
        .map(|(path, members)| {
            let audio = crate::audio::load_16k(path)
                .map_err(|source| TrainingError::Audio { path: path.display().to_string(), source })?;
            members.iter().map(|&i| cut_clip(&audio, &clips[i]).map(|samples| (i, samples))).collect()
        })
        .collect::<Result<_, TrainingError>>()?;
    let mut out = vec![Vec::new(); clips.len()];
    for (i, samples) in cut.into_iter().flatten() {
        out[i] = samples;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(speaker: &str, label: u8) -> LabelledClip {
        LabelledClip { path: PathBuf::from("x.wav"), label, speaker: speaker.into(), start_s: None, end_s: None, channel: None, name: "x.wav".into() }
    }

    #[test]
    fn one_speaker_holds_out_a_seeded_stratified_fraction_of_segments() {
        let clips: Vec<LabelledClip> = (0..20).map(|i| clip("call/left", if i < 5 { NEGATIVE } else { NON_NEGATIVE })).collect();
        let split = split_by_speaker(&clips, &ValSpeakers::SpeakersOrSegments(0.2), 3).unwrap();
        assert!(split.held_out_segments && split.val_speakers.is_empty());
        let negatives = split.val.iter().filter(|&&i| clips[i].label == NEGATIVE).count();
        assert_eq!((negatives, split.val.len()), (1, 4), "a fifth of each class");
        assert_eq!(split.train.len() + split.val.len(), 20);
        assert!(split.val.iter().all(|i| !split.train.contains(i)));
        assert_eq!(split, split_by_speaker(&clips, &ValSpeakers::SpeakersOrSegments(0.2), 3).unwrap());
        // Two speakers: whole speakers, as with `Fraction`.
        let mut two = clips.clone();
        two.push(clip("call/right", NEGATIVE));
        let by_speaker = split_by_speaker(&two, &ValSpeakers::SpeakersOrSegments(0.2), 3).unwrap();
        assert!(!by_speaker.held_out_segments && by_speaker.val_speakers.len() == 1);
    }

    #[test]
    fn clips_come_from_their_channel_and_each_file_is_decoded_for_all_its_clips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo.wav");
        let left: Vec<f32> = (0..16_000 * 3).map(|t| 0.3 * (2.0 * std::f32::consts::PI * 200.0 * t as f32 / 16_000.0).sin()).collect();
        crate::audio::wav::write_wav_f32(&path, 16_000, &[left, vec![0.0; 16_000 * 3]]).unwrap();
        let at = |channel: Option<usize>, start: f64| LabelledClip {
            path: path.clone(),
            label: NEGATIVE,
            speaker: "call/left".into(),
            start_s: Some(start),
            end_s: Some(start + 1.0),
            channel,
            name: "stereo.wav".into(),
        };
        let clips = vec![at(Some(0), 0.5), at(Some(1), 0.5), at(None, 1.5), at(Some(0), 2.0)];
        let loaded = load_clips(&clips).unwrap();
        let one_by_one: Vec<Vec<f32>> = clips.iter().map(|c| load_clips(std::slice::from_ref(c)).unwrap().remove(0)).collect();
        assert_eq!(loaded, one_by_one);
        // The mix of a span is the span of the mix.
        let audio = crate::audio::load_16k(&path).unwrap();
        assert_eq!(loaded[2], audio.mono()[24_000..40_000].to_vec());
        let peak = |x: &[f32]| x.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak(&loaded[0]) - 0.3).abs() < 0.02, "the caller's channel: {}", peak(&loaded[0]));
        assert_eq!(peak(&loaded[1]), 0.0, "the silent channel");
        assert!((peak(&loaded[2]) - 0.15).abs() < 0.02, "the mix: {}", peak(&loaded[2]));
        assert!(loaded.iter().all(|c| c.len() == 16_000));
        let message = load_clips(&[at(Some(2), 0.0)]).unwrap_err().to_string();
        assert!(message.contains("no channel 2"), "{message}");
    }

    #[test]
    fn labels_keep_their_meaning() {
        assert_eq!(parse_label("non-negative"), Some(1));
        assert_eq!(parse_label("Negative"), Some(0));
        assert_eq!(parse_label("happy"), None);
    }

    #[test]
    fn split_never_shares_a_speaker_and_is_deterministic() {
        let clips: Vec<LabelledClip> =
            (0..40).map(|i| clip(&format!("{}/s{}", if i % 2 == 0 { "a" } else { "b" }, i % 10), (i % 3 == 0) as u8)).collect();
        let split = split_by_speaker(&clips, &ValSpeakers::Fraction(0.3), 7).unwrap();
        assert_eq!(split, split_by_speaker(&clips, &ValSpeakers::Fraction(0.3), 7).unwrap());
        let train_speakers: BTreeSet<&str> = split.train.iter().map(|&i| clips[i].speaker.as_str()).collect();
        for &i in &split.val {
            assert!(!train_speakers.contains(clips[i].speaker.as_str()));
        }
        assert!(split.val_speakers.iter().any(|s| s.starts_with("a/")) && split.val_speakers.iter().any(|s| s.starts_with("b/")));
        let named = split_by_speaker(&clips, &ValSpeakers::Named(vec!["s1".into()]), 0).unwrap();
        assert_eq!(named.val_speakers, vec!["b/s1".to_string()]);
    }

    #[test]
    fn manifest_reads_optional_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "path,corpus,speaker,label_binary,start_s,end_s,extra\na.wav,c,1,negative,0.5,1.5,x\nb.wav,c,2,non-negative,,,y\n").unwrap();
        let clips = read_manifest(&path).unwrap();
        assert_eq!(clips.len(), 2);
        assert_eq!(clips[0].label, 0);
        assert_eq!(clips[0].speaker, "c/1");
        assert_eq!(clips[0].start_s, Some(0.5));
        assert_eq!(clips[1].end_s, None);
        assert_eq!(clips[1].path, dir.path().join("b.wav"));
    }
}
