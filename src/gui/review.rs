//! What a reviewer changes about the open call, and how it is saved and undone: labels (every
//! annotator's, [`CallLabels`]), the edited segmentation and notes ([`CallReview`]). Every change
//! is one [`ReviewCommand`] in the session's [`History`](super::history::History): the state
//! before and after, both saved beside the recording when applied, so undo and redo restore the
//! files as well as the window.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::history::{Command, History};
use super::i18n::{Key, Lang};
use super::segment_edit::{self, Edge, EditError, EditOutcome, EditSpan};
use super::state::CallView;
use crate::segmentation::segments_csv::{csv_field, CsvTable};
use crate::training::call_labels::{CallLabels, CallReview, LabelledSpan};
use crate::training::TrainingError;

/// The reviewer's saved state of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewState {
    pub labels: CallLabels,
    pub review: CallReview,
}

/// The open call's labels and review, as saved beside `recording`.
#[derive(Debug)]
pub struct Reviewed {
    pub recording: PathBuf,
    pub state: ReviewState,
}

impl Reviewed {
    /// Reads what was saved beside `recording`, with `annotator` labelling in this session.
    pub fn load(recording: &Path, annotator: &str) -> Result<Self, TrainingError> {
        let labels = CallLabels::load_as(recording, annotator)?;
        let review = CallReview::load(recording)?;
        Ok(Self { recording: recording.to_path_buf(), state: ReviewState { labels, review } })
    }

    pub fn labels(&self) -> &CallLabels {
        &self.state.labels
    }

    pub fn review(&self) -> &CallReview {
        &self.state.review
    }

    /// Saves `target` (only what differs) and makes it the current state. The review goes
    /// first: a label file that fails afterwards leaves the review restored as it was.
    fn restore(&mut self, target: &ReviewState) -> Result<(), TrainingError> {
        let review_changed = self.state.review != target.review;
        if review_changed {
            target.review.save(&self.recording)?;
        }
        if let Err(error) = self.state.labels.commit(target.labels.clone()) {
            if review_changed {
                let _ = self.state.review.save(&self.recording);
            }
            return Err(error);
        }
        self.state.review = target.review.clone();
        Ok(())
    }
}

/// One undoable change: the state before and after it.
#[derive(Debug)]
pub struct ReviewCommand {
    pub before: ReviewState,
    pub after: ReviewState,
    pub what: Key,
}

impl Command<Reviewed> for ReviewCommand {
    type Error = TrainingError;
    fn apply(&self, target: &mut Reviewed) -> Result<(), TrainingError> {
        target.restore(&self.after)
    }
    fn revert(&self, target: &mut Reviewed) -> Result<(), TrainingError> {
        target.restore(&self.before)
    }
    fn describe(&self) -> String {
        Lang::En.text(self.what).to_string()
    }
}

pub type ReviewHistory = History<ReviewCommand>;

/// An edit of the caller segmentation, as the waveform, the keys or the menus ask for it.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentEdit {
    MoveEdge { row: usize, edge: Edge, to_s: f64 },
    Split { row: usize, at_s: f64 },
    Merge { row: usize },
    Delete { row: usize },
    Add { channel: usize, from_s: f64, to_s: f64 },
}

impl SegmentEdit {
    pub fn what(&self) -> Key {
        match self {
            SegmentEdit::MoveEdge { .. } => Key::DoMoveEdge,
            SegmentEdit::Split { .. } => Key::DoSplit,
            SegmentEdit::Merge { .. } => Key::DoMerge,
            SegmentEdit::Delete { .. } => Key::DoDelete,
            SegmentEdit::Add { .. } => Key::DoAdd,
        }
    }
}

/// The state after `edit` of the shown segmentation: the new segments, with labels and notes
/// moved along with their speech.
pub fn plan_edit(view: &CallView, current: &ReviewState, edit: &SegmentEdit) -> Result<ReviewState, EditError> {
    let spans = view.caller_spans();
    let duration = view.duration_s();
    let outcome: EditOutcome = match *edit {
        SegmentEdit::MoveEdge { row, edge, to_s } => segment_edit::move_edge(&spans, row, edge, to_s, duration)?,
        SegmentEdit::Split { row, at_s } => segment_edit::split_at(&spans, row, at_s)?,
        SegmentEdit::Merge { row } => segment_edit::merge_with_next(&spans, row)?,
        SegmentEdit::Delete { row } => segment_edit::delete(&spans, row)?,
        SegmentEdit::Add { channel, from_s, to_s } => {
            // The new segment belongs to the caller party heard on that channel.
            let speaker = spans
                .iter()
                .find(|s| s.channel == channel)
                .map(|s| s.speaker.clone())
                .or_else(|| view.spans.iter().find(|s| s.is_caller && s.channel == channel).map(|s| s.speaker.clone()))
                .ok_or(EditError::NoSuchSegment)?;
            segment_edit::add(&spans, channel, &speaker, from_s, to_s, duration)?
        }
    };
    let moves: Vec<(LabelledSpan, Vec<LabelledSpan>)> =
        outcome.moves.iter().map(|(old, news)| (old.labelled(), news.iter().map(EditSpan::labelled).collect())).collect();
    let removed: Vec<LabelledSpan> = outcome.removed.iter().map(EditSpan::labelled).collect();
    let labels = current.labels.transfer(&moves, &removed);
    let mut review = current.review.clone();
    review.transfer_notes(&moves, &removed);
    review.edited_segments = Some(outcome.spans.iter().map(EditSpan::labelled).collect());
    Ok(ReviewState { labels, review })
}

/// The edited segmentation to show for `view`, if the review has one for its caller: the
/// saved segments of the parties scored as the caller in this analysis (another caller choice
/// shows the pipeline's segments).
pub fn edited_spans_for(view: &CallView, review: &CallReview) -> Option<Vec<EditSpan>> {
    let saved = review.edited_segments.as_ref()?;
    let base = view.unedited.as_ref()?;
    let is_caller_party = |s: &LabelledSpan| base.spans.iter().any(|b| b.is_caller && b.channel == s.channel && b.speaker == s.party);
    let spans: Vec<EditSpan> =
        saved.iter().filter(|s| is_caller_party(s)).map(|s| EditSpan::new(s.start_s, s.end_s, s.channel, &s.party)).collect();
    (!spans.is_empty() || saved.is_empty()).then_some(spans)
}

/// What the Edit menu asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditMenuAction {
    Undo,
    Redo,
    Split,
    Merge,
    Delete,
    Notes,
    Annotators,
}

/// The Edit menu: undo/redo (with what they undo), the segment edits on the segment at the
/// playhead, notes and the Annotators view.
pub fn edit_menu(ui: &mut egui::Ui, lang: Lang, history: &ReviewHistory, can_edit: bool) -> Option<EditMenuAction> {
    let mut chosen = None;
    ui.menu_button(lang.text(Key::MenuEdit), |ui| {
        let undo = match history.next_undo() {
            Some(command) => format!("{} {}", lang.text(Key::EditUndo), lang.text(command.what)),
            None => lang.text(Key::EditUndo).to_string(),
        };
        let redo = match history.next_redo() {
            Some(command) => format!("{} {}", lang.text(Key::EditRedo), lang.text(command.what)),
            None => lang.text(Key::EditRedo).to_string(),
        };
        let items = [
            (undo, "Ctrl+Z", history.can_undo(), EditMenuAction::Undo),
            (redo, "Ctrl+Shift+Z", history.can_redo(), EditMenuAction::Redo),
            (lang.text(Key::EditSplit).to_string(), "S", can_edit, EditMenuAction::Split),
            (lang.text(Key::EditMerge).to_string(), "M", can_edit, EditMenuAction::Merge),
            (lang.text(Key::EditDelete).to_string(), "Delete", can_edit, EditMenuAction::Delete),
        ];
        for (index, (text, shortcut, enabled, action)) in items.into_iter().enumerate() {
            if index == 2 {
                ui.separator();
            }
            if ui.add_enabled(enabled, egui::Button::new(text).shortcut_text(shortcut)).clicked() {
                chosen = Some(action);
                ui.close();
            }
        }
        ui.weak(lang.text(Key::EditDragHint));
        ui.weak(lang.text(Key::EditAddHint));
        ui.separator();
        if ui.add_enabled(can_edit, egui::Button::new(lang.text(Key::MenuNotes))).clicked() {
            chosen = Some(EditMenuAction::Notes);
            ui.close();
        }
        if ui.add_enabled(can_edit, egui::Button::new(lang.text(Key::MenuAnnotators))).clicked() {
            chosen = Some(EditMenuAction::Annotators);
            ui.close();
        }
    });
    chosen
}

/// The Notes window's fields while it is open.
#[derive(Debug, Default)]
pub struct NotesWindow {
    pub open: bool,
    call_note: String,
    /// The segment the note is on (row, span) and its text.
    segment: Option<(usize, LabelledSpan)>,
    segment_note: String,
}

impl NotesWindow {
    /// Opens with the saved notes of the call and of the segment at `row`.
    pub fn open_for(&mut self, review: &CallReview, row: Option<(usize, LabelledSpan)>) {
        self.open = true;
        self.call_note = review.call_note.clone();
        self.segment_note = row.as_ref().and_then(|(_, span)| review.note(span)).unwrap_or_default().to_string();
        self.segment = row;
    }

    /// Draws the window; returns the review with the notes changed when the user saves.
    pub fn show(&mut self, ctx: &egui::Context, lang: Lang, review: &CallReview) -> Option<CallReview> {
        let mut open = self.open;
        let mut saved = None;
        egui::Window::new(lang.text(Key::NotesTitle)).open(&mut open).resizable(true).default_width(420.0).show(ctx, |ui| {
            ui.label(lang.text(Key::CallNote));
            ui.add(egui::TextEdit::multiline(&mut self.call_note).desired_rows(3).desired_width(f32::INFINITY));
            match &self.segment {
                Some((row, _)) => {
                    ui.label(lang.text(Key::SegmentNote).replacen("{}", &(row + 1).to_string(), 1));
                    ui.add(egui::TextEdit::multiline(&mut self.segment_note).desired_rows(3).desired_width(f32::INFINITY));
                }
                None => {
                    ui.weak(lang.text(Key::NoSegmentForNote));
                }
            }
            if ui.button(lang.text(Key::SaveNotes)).clicked() {
                let mut changed = review.clone();
                changed.call_note = self.call_note.clone();
                if let Some((_, span)) = &self.segment {
                    changed.set_note(span, &self.segment_note);
                }
                saved = Some(changed);
            }
        });
        self.open = open && saved.is_none();
        saved
    }
}

/// Adds the notes to an export in `dir`: a `note` column in segments.csv (matched by span and
/// channel) and `call_note` / `segment_notes` in report.json; both rewritten atomically.
pub fn add_notes_to_export(dir: &Path, review: &CallReview) -> std::io::Result<()> {
    let segments = dir.join(crate::report::call_report::SEGMENTS_FILE);
    if let Ok(text) = std::fs::read_to_string(&segments) {
        let table = CsvTable::parse(&text).map_err(std::io::Error::other)?;
        let column = |name: &str| table.column(name).map_err(std::io::Error::other);
        let (c_start, c_end, c_channel, c_speaker) = (column("start_s")?, column("end_s")?, column("channel")?, column("speaker")?);
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let mut out = format!("{},note\n", lines.next().unwrap_or_default());
        for (row, line) in lines.enumerate() {
            let number = |c: usize| table.get(row, c).parse::<f64>().unwrap_or(f64::NAN);
            let span = LabelledSpan {
                start_s: number(c_start),
                end_s: number(c_end),
                party: table.get(row, c_speaker).to_string(),
                channel: table.get(row, c_channel).parse().unwrap_or(0),
            };
            out += &format!("{line},{}\n", csv_field(review.note(&span).unwrap_or_default()));
        }
        crate::fsutil::atomic_write(&segments, out.as_bytes())?;
    }
    let report = dir.join(crate::report::call_report::REPORT_JSON);
    if let Ok(bytes) = std::fs::read(&report) {
        let mut json: serde_json::Value = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
        if let Some(object) = json.as_object_mut() {
            object.insert("call_note".into(), serde_json::Value::String(review.call_note.clone()));
            object.insert("segment_notes".into(), serde_json::to_value(&review.segment_notes).map_err(std::io::Error::other)?);
            object.insert("segmentation_edited".into(), serde_json::Value::Bool(review.edited_segments.is_some()));
        }
        let text = serde_json::to_vec_pretty(&json).map_err(std::io::Error::other)?;
        crate::fsutil::atomic_write(&report, &text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_into_the_exported_segments_and_report() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("segments.csv"), "index,start_s,end_s,channel,speaker,p_nonnegative,label,stage\n0,1.0,2.5,0,left,0.3,negative,assessment\n1,3.0,4.0,0,left,0.7,non-negative,assessment\n").unwrap();
        std::fs::write(dir.path().join("report.json"), "{\"app\": \"emotrace\"}").unwrap();
        let mut review = CallReview { call_note: "呼叫者后来平静了".into(), ..Default::default() };
        review.set_note(&LabelledSpan { start_s: 3.0, end_s: 4.0, party: "left".into(), channel: 0 }, "sighs, long pause");
        add_notes_to_export(dir.path(), &review).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("segments.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].ends_with(",stage,note"));
        assert!(lines[1].ends_with("assessment,"));
        assert!(lines[2].ends_with("assessment,\"sighs, long pause\""), "{csv}");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        assert_eq!(report["call_note"], "呼叫者后来平静了");
        assert_eq!(report["segment_notes"][0]["note"], "sighs, long pause");
        assert_eq!(report["app"], "emotrace");
    }
}
