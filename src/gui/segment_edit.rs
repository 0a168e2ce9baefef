//! Editing the caller's segmentation, as pure functions over the list of segments: move a start
//! or end, split at a time, merge with the party's next segment, delete, add over unsegmented
//! audio. Every result keeps the rules the pipeline's segmentation keeps: times to the
//! millisecond, no segment longer than [`MAX_SEGMENT_S`] (a longer one is cut into equal parts),
//! none shorter than [`MIN_SEGMENT_S`], and no overlap between two segments of one party.
//!
//! Each edit also says which old segments became which new ones ([`EditOutcome::moves`]), so
//! labels and notes follow their speech, and which segments are new (to be scored again).

use crate::training::call_labels::LabelledSpan;

/// The longest segment (s), as the segmentation's utterances.
pub const MAX_SEGMENT_S: f64 = 10.0;
/// The shortest segment an edit may leave (s): shorter clips carry too little speech to score.
pub const MIN_SEGMENT_S: f64 = 0.3;

/// One caller segment: its span, its channel and its party.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EditSpan {
    pub start_s: f64,
    pub end_s: f64,
    pub channel: usize,
    pub speaker: String,
}

impl EditSpan {
    pub fn new(start_s: f64, end_s: f64, channel: usize, speaker: &str) -> Self {
        Self { start_s: round_ms(start_s), end_s: round_ms(end_s), channel, speaker: speaker.to_string() }
    }

    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }

    fn same_party(&self, other: &EditSpan) -> bool {
        self.channel == other.channel && self.speaker == other.speaker
    }

    /// As the labels file keys it.
    pub fn labelled(&self) -> LabelledSpan {
        LabelledSpan { start_s: self.start_s, end_s: self.end_s, party: self.speaker.clone(), channel: self.channel }
    }
}

/// Which end of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Start,
    End,
}

/// Why an edit was refused (the segmentation stays as it was).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("no such segment")]
    NoSuchSegment,
    #[error("the segment would be shorter than {MIN_SEGMENT_S} s")]
    TooShort,
    #[error("the time is not inside the segment, at least {MIN_SEGMENT_S} s from its ends")]
    NotInside,
    #[error("the party has no later segment to merge with")]
    NothingToMerge,
    #[error("that audio already belongs to a segment of this party")]
    AlreadySegmented,
}

impl EditError {
    /// The reason in the window's language (`{min}` in the text is [`MIN_SEGMENT_S`]).
    pub fn localized(&self, lang: super::i18n::Lang) -> String {
        use super::i18n::Key;
        let key = match self {
            EditError::NoSuchSegment => Key::EditNoSuchSegment,
            EditError::TooShort => Key::EditTooShort,
            EditError::NotInside => Key::EditNotInside,
            EditError::NothingToMerge => Key::EditNothingToMerge,
            EditError::AlreadySegmented => Key::EditAlreadySegmented,
        };
        lang.text(key).replace("{min}", &MIN_SEGMENT_S.to_string())
    }
}

/// An edit's result.
#[derive(Debug, Clone, PartialEq)]
pub struct EditOutcome {
    /// The whole segmentation after the edit, in time order.
    pub spans: Vec<EditSpan>,
    /// Old segment → the segments its speech is in now.
    pub moves: Vec<(EditSpan, Vec<EditSpan>)>,
    /// Old segments whose speech is no longer a segment.
    pub removed: Vec<EditSpan>,
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// `span` as parts no longer than [`MAX_SEGMENT_S`] (equal parts, as the segmentation cuts a
/// long utterance).
pub fn within_max_length(span: &EditSpan) -> Vec<EditSpan> {
    let parts = (span.duration_s() / MAX_SEGMENT_S - 1e-9).ceil().max(1.0) as usize;
    let step = span.duration_s() / parts as f64;
    (0..parts)
        .map(|k| {
            let start = if k == 0 { span.start_s } else { span.start_s + step * k as f64 };
            let end = if k + 1 == parts { span.end_s } else { span.start_s + step * (k + 1) as f64 };
            EditSpan::new(start, end, span.channel, &span.speaker)
        })
        .collect()
}

fn sorted(mut spans: Vec<EditSpan>) -> Vec<EditSpan> {
    spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.channel.cmp(&b.channel)).then(a.speaker.cmp(&b.speaker)));
    spans
}

/// Replaces `spans[row]` by `new` (kept within the length limit) and reports the move.
fn replace(spans: &[EditSpan], row: usize, new: Vec<EditSpan>) -> EditOutcome {
    let old = spans[row].clone();
    let new: Vec<EditSpan> = new.iter().flat_map(within_max_length).collect();
    let mut all: Vec<EditSpan> = spans.iter().enumerate().filter(|(i, _)| *i != row).map(|(_, s)| s.clone()).collect();
    all.extend(new.iter().cloned());
    EditOutcome { spans: sorted(all), moves: vec![(old, new)], removed: Vec::new() }
}

/// Moves one end of segment `row` to `to_s`, stopping at the party's neighbouring segments and
/// the call's ends (`duration_s`).
pub fn move_edge(spans: &[EditSpan], row: usize, edge: Edge, to_s: f64, duration_s: f64) -> Result<EditOutcome, EditError> {
    let span = spans.get(row).ok_or(EditError::NoSuchSegment)?;
    let previous_end = spans.iter().filter(|s| s.same_party(span) && s.end_s <= span.start_s + 1e-9 && *s != span).map(|s| s.end_s).fold(0.0, f64::max);
    let next_start = spans
        .iter()
        .filter(|s| s.same_party(span) && s.start_s >= span.end_s - 1e-9 && *s != span)
        .map(|s| s.start_s)
        .fold(duration_s.max(span.end_s), f64::min);
    let (start, end) = match edge {
        Edge::Start => (to_s.clamp(previous_end, span.end_s), span.end_s),
        Edge::End => (span.start_s, to_s.clamp(span.start_s, next_start)),
    };
    if end - start < MIN_SEGMENT_S {
        return Err(EditError::TooShort);
    }
    Ok(replace(spans, row, vec![EditSpan::new(start, end, span.channel, &span.speaker)]))
}

/// Splits segment `row` at `at_s` into two.
pub fn split_at(spans: &[EditSpan], row: usize, at_s: f64) -> Result<EditOutcome, EditError> {
    let span = spans.get(row).ok_or(EditError::NoSuchSegment)?;
    let at = round_ms(at_s);
    if at - span.start_s < MIN_SEGMENT_S || span.end_s - at < MIN_SEGMENT_S {
        return Err(EditError::NotInside);
    }
    let halves = vec![EditSpan::new(span.start_s, at, span.channel, &span.speaker), EditSpan::new(at, span.end_s, span.channel, &span.speaker)];
    Ok(replace(spans, row, halves))
}

/// Merges segment `row` with the party's next segment (the gap between them joins the
/// segment; a result longer than [`MAX_SEGMENT_S`] is cut into equal parts).
pub fn merge_with_next(spans: &[EditSpan], row: usize) -> Result<EditOutcome, EditError> {
    let span = spans.get(row).ok_or(EditError::NoSuchSegment)?;
    let (next_row, next) = spans
        .iter()
        .enumerate()
        .filter(|(i, s)| *i != row && s.same_party(span) && s.start_s >= span.end_s - 1e-9)
        .min_by(|a, b| a.1.start_s.total_cmp(&b.1.start_s))
        .ok_or(EditError::NothingToMerge)?;
    let merged = within_max_length(&EditSpan::new(span.start_s, next.end_s, span.channel, &span.speaker));
    let mut all: Vec<EditSpan> = spans.iter().enumerate().filter(|(i, _)| *i != row && *i != next_row).map(|(_, s)| s.clone()).collect();
    all.extend(merged.iter().cloned());
    Ok(EditOutcome { spans: sorted(all), moves: vec![(span.clone(), merged.clone()), (next.clone(), merged)], removed: Vec::new() })
}

/// Deletes segment `row` (not speech, or not the caller).
pub fn delete(spans: &[EditSpan], row: usize) -> Result<EditOutcome, EditError> {
    let span = spans.get(row).ok_or(EditError::NoSuchSegment)?;
    let all = spans.iter().enumerate().filter(|(i, _)| *i != row).map(|(_, s)| s.clone()).collect();
    Ok(EditOutcome { spans: all, moves: Vec::new(), removed: vec![span.clone()] })
}

/// Adds a segment of a party over `from_s`..`to_s` (either order), trimmed to the unsegmented
/// audio around `from_s` (where the drag began) and to the call.
pub fn add(spans: &[EditSpan], channel: usize, speaker: &str, from_s: f64, to_s: f64, duration_s: f64) -> Result<EditOutcome, EditError> {
    let anchor = from_s.clamp(0.0, duration_s);
    let party = EditSpan::new(anchor, anchor, channel, speaker);
    let mine: Vec<&EditSpan> = spans.iter().filter(|s| s.same_party(&party)).collect();
    if mine.iter().any(|s| s.start_s < anchor && anchor < s.end_s) {
        return Err(EditError::AlreadySegmented);
    }
    let gap_start = mine.iter().filter(|s| s.end_s <= anchor).map(|s| s.end_s).fold(0.0, f64::max);
    let gap_end = mine.iter().filter(|s| s.start_s >= anchor).map(|s| s.start_s).fold(duration_s, f64::min);
    let (a, b) = (from_s.min(to_s).max(gap_start), from_s.max(to_s).min(gap_end));
    if b - a < MIN_SEGMENT_S {
        return Err(EditError::TooShort);
    }
    let new = within_max_length(&EditSpan::new(a, b, channel, speaker));
    let mut all: Vec<EditSpan> = spans.to_vec();
    all.extend(new);
    Ok(EditOutcome { spans: sorted(all), moves: Vec::new(), removed: Vec::new() })
}

/// Whether no two segments of one party overlap and each respects the length limits.
pub fn is_valid(spans: &[EditSpan]) -> bool {
    let lengths_ok = spans.iter().all(|s| s.duration_s() >= MIN_SEGMENT_S - 1e-9 && s.duration_s() <= MAX_SEGMENT_S + 1e-9);
    let overlaps = spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.same_party(b) && a.start_s < b.end_s - 1e-9 && b.start_s < a.end_s - 1e-9));
    lengths_ok && !overlaps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused edit is explained in the window's language: the English text is the error's own,
    /// the Chinese one is Chinese and names the same minimum length.
    #[test]
    fn refusals_are_explained_in_both_languages() {
        use super::super::i18n::Lang;
        let all = [EditError::NoSuchSegment, EditError::TooShort, EditError::NotInside, EditError::NothingToMerge, EditError::AlreadySegmented];
        for error in all {
            assert_eq!(error.localized(Lang::En), error.to_string());
            let zh = error.localized(Lang::Zh);
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{error:?}: {zh}");
            assert!(!zh.contains("{min}"), "{zh}");
        }
        assert!(EditError::TooShort.localized(Lang::Zh).contains(&MIN_SEGMENT_S.to_string()));
    }

    fn call() -> Vec<EditSpan> {
        vec![EditSpan::new(1.0, 4.0, 0, "left"), EditSpan::new(5.0, 9.0, 0, "left"), EditSpan::new(6.0, 8.0, 1, "right"), EditSpan::new(12.0, 14.0, 0, "left")]
    }

    fn times(spans: &[EditSpan]) -> Vec<(f64, f64, usize)> {
        spans.iter().map(|s| (s.start_s, s.end_s, s.channel)).collect()
    }

    #[test]
    fn moving_an_edge_stops_at_the_partys_neighbours_not_the_other_partys() {
        let spans = call();
        let moved = move_edge(&spans, 0, Edge::End, 7.0, 60.0).unwrap();
        assert_eq!(moved.spans[0], EditSpan::new(1.0, 5.0, 0, "left"), "stops at the next left segment");
        let moved = move_edge(&spans, 1, Edge::Start, 0.0, 60.0).unwrap();
        assert_eq!(moved.spans[1], EditSpan::new(4.0, 9.0, 0, "left"));
        assert_eq!(moved.moves, vec![(spans[1].clone(), vec![EditSpan::new(4.0, 9.0, 0, "left")])]);
        let moved = move_edge(&spans, 2, Edge::End, 13.0, 60.0).unwrap();
        assert!(moved.spans.contains(&EditSpan::new(6.0, 13.0, 1, "right")), "the other party's segments do not stop it");
        assert_eq!(move_edge(&spans, 0, Edge::End, 1.1, 60.0), Err(EditError::TooShort));
        assert!(is_valid(&moved.spans));
    }

    #[test]
    fn an_edge_moved_past_ten_seconds_cuts_the_segment_into_equal_parts() {
        let spans = vec![EditSpan::new(0.0, 4.0, 0, "A")];
        let moved = move_edge(&spans, 0, Edge::End, 15.0, 60.0).unwrap();
        assert_eq!(times(&moved.spans), vec![(0.0, 7.5, 0), (7.5, 15.0, 0)]);
        assert!(is_valid(&moved.spans));
        assert_eq!(moved.moves[0].1.len(), 2);
    }

    #[test]
    fn split_merge_delete_add() {
        let spans = call();
        let split = split_at(&spans, 1, 7.25).unwrap();
        assert_eq!(times(&split.spans), vec![(1.0, 4.0, 0), (5.0, 7.25, 0), (6.0, 8.0, 1), (7.25, 9.0, 0), (12.0, 14.0, 0)]);
        assert_eq!(split_at(&spans, 1, 5.1), Err(EditError::NotInside));

        let merged = merge_with_next(&spans, 1).unwrap();
        assert_eq!(times(&merged.spans), vec![(1.0, 4.0, 0), (5.0, 14.0, 0), (6.0, 8.0, 1)], "merged over the gap with the next left segment");
        assert_eq!(merged.moves.len(), 2);
        assert_eq!(merge_with_next(&spans, 3), Err(EditError::NothingToMerge));
        let long = merge_with_next(&spans, 0).unwrap();
        assert!(is_valid(&long.spans));

        let deleted = delete(&spans, 2).unwrap();
        assert_eq!(deleted.spans.len(), 3);
        assert_eq!(deleted.removed, vec![spans[2].clone()]);

        let added = add(&spans, 0, "left", 9.5, 20.0, 60.0).unwrap();
        assert!(added.spans.contains(&EditSpan::new(9.5, 12.0, 0, "left")), "trimmed to the gap: {:?}", added.spans);
        let added = add(&spans, 0, "left", 11.5, 9.0, 60.0).unwrap();
        assert!(added.spans.contains(&EditSpan::new(9.0, 11.5, 0, "left")), "dragged leftwards");
        assert_eq!(add(&spans, 0, "left", 2.0, 3.0, 60.0), Err(EditError::AlreadySegmented));
        assert_eq!(add(&spans, 0, "left", 4.1, 4.2, 60.0), Err(EditError::TooShort));
        let long = add(&[], 0, "left", 0.0, 25.0, 60.0).unwrap();
        assert_eq!(long.spans.len(), 3);
        assert!(is_valid(&long.spans));
    }
}
