//! The caller segments as a table: click a row to play from it; the playing row is highlighted
//! and kept in view while playback runs. Only visible rows are laid out (long calls have
//! hundreds of segments). The last column is the annotator's label (right-click a row, or N / P /
//! Backspace on the segment being played), saved beside the recording as a training manifest.

use eframe::egui;

use super::i18n::{Key, Lang};
use super::trajectory_view::{NEGATIVE_COLOUR, NON_NEGATIVE_COLOUR};
use crate::analysis::{EmotionLabel, ScoredSegment, SegmentStage};
use crate::training::call_labels::CallLabels;
use crate::training::dataset::{NEGATIVE, NON_NEGATIVE};

const COLUMN_WIDTHS: [f32; 7] = [34.0, 58.0, 48.0, 40.0, 70.0, 56.0, 70.0];

/// What the user did in the table.
pub enum TableAction {
    /// Play from this row.
    Play(usize),
    /// Give this row an annotation (`None`: clear it).
    Label(usize, Option<u8>),
}

/// What else a row shows: whether the reviewer edited the segment, and its note (on hover).
#[derive(Debug, Default)]
pub struct RowMarks {
    pub edited: bool,
    pub note: Option<String>,
}

/// The annotation's text: "Negative", "Non-negative" or a dash.
pub fn annotation_text(lang: Lang, label: Option<u8>) -> &'static str {
    match label {
        Some(NEGATIVE) => lang.text(Key::Negative),
        Some(_) => lang.text(Key::NonNegative),
        None => "—",
    }
}

/// [`clock`] with tenths (`m:ss.s`), to tell apart spans a few tenths of a second apart.
fn clock_tenths(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    format!("{}.{}", clock((tenths / 10) as f64), tenths % 10)
}

/// `m:ss` (or `h:mm:ss`).
pub fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Draws the table; returns what the user did. `scroll_to` brings a row into view this frame;
/// without `labels` (no labels file could be read) the annotation column is empty and read-only.
pub fn show(
    ui: &mut egui::Ui,
    lang: Lang,
    segments: &[ScoredSegment],
    assessment_end_s: f64,
    playing: Option<usize>,
    scroll_to: Option<usize>,
    labels: Option<&CallLabels>,
    marks: &dyn Fn(usize) -> RowMarks,
) -> Option<TableAction> {
    ui.strong(format!("{} ({})", lang.text(Key::TableTitle), segments.len()));
    let headers =
        [Key::TableIndex, Key::TableStart, Key::TableDuration, Key::TableP, Key::TableLabel, Key::TableStage, Key::TableAnnotation];
    let gap = ui.spacing().item_spacing.x;
    let width: f32 = COLUMN_WIDTHS.iter().sum::<f32>() + gap * COLUMN_WIDTHS.len() as f32;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 18.0), egui::Sense::hover());
    let font = egui::TextStyle::Body.resolve(ui.style());
    let mut x = rect.left();
    for (key, column_width) in headers.iter().zip(COLUMN_WIDTHS) {
        ui.painter().text(egui::pos2(x + 2.0, rect.center().y), egui::Align2::LEFT_CENTER, lang.text(*key), font.clone(), ui.visuals().strong_text_color());
        x += column_width + gap;
    }
    ui.separator();
    let row_height = ui.text_style_height(&egui::TextStyle::Body).max(18.0);
    let spacing = ui.spacing().item_spacing.y;
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]).id_salt("segment-table");
    if let Some(row) = scroll_to {
        // Keep the row a few rows below the top so its neighbours stay visible.
        area = area.vertical_scroll_offset(((row as f32 - 3.0).max(0.0)) * (row_height + spacing));
    }
    let mut action = None;
    area.show_rows(ui, row_height, segments.len(), |ui, rows| {
        for row in rows {
            let segment = &segments[row];
            let label = segment.label();
            let colour = if label == EmotionLabel::Negative { NEGATIVE_COLOUR } else { NON_NEGATIVE_COLOUR };
            let label_text = match label {
                EmotionLabel::Negative => lang.text(Key::Negative),
                EmotionLabel::NonNegative => lang.text(Key::NonNegative),
            };
            let stage_text = match SegmentStage::of(segment.start_s, assessment_end_s) {
                SegmentStage::Assessment => lang.text(Key::StageAssessmentShort),
                SegmentStage::Intervention => lang.text(Key::StageInterventionShort),
            };
            let default_colour = ui.visuals().text_color();
            let found = labels.and_then(|l| l.annotation(segment.start_s, segment.end_s, &segment.speaker, segment.channel));
            let annotation = found.map(|a| a.label);
            let carried_from = found.and_then(|a| a.carried_from);
            let annotation_colour = match annotation {
                Some(NEGATIVE) => NEGATIVE_COLOUR,
                Some(_) => NON_NEGATIVE_COLOUR,
                None => ui.visuals().weak_text_color(),
            };
            let mark = marks(row);
            let cells = [
                // "*": a segment the reviewer edited; "•": it has a note (shown on hover).
                (format!("{}{}{}", row + 1, if mark.edited { "*" } else { "" }, if mark.note.is_some() { "•" } else { "" }), default_colour),
                (clock(segment.start_s), default_colour),
                (format!("{:.1} s", segment.duration_s()), default_colour),
                (format!("{:.2}", segment.p_nonnegative), colour),
                (label_text.to_string(), colour),
                (stage_text.to_string(), default_colour),
                // "≈": saved for a segment of an earlier segmentation that shares most of this one's speech.
                (annotation_text(lang, annotation).to_string() + if carried_from.is_some() { " ≈" } else { "" }, annotation_colour),
            ];
            let (rect, mut response) = ui.allocate_exact_size(egui::vec2(width, row_height), egui::Sense::click());
            if let Some((from, to)) = carried_from {
                let tip = lang.text(Key::LabelCarriedOver).replacen("{}", &clock_tenths(from), 1).replacen("{}", &clock_tenths(to), 1);
                response = response.on_hover_text(tip);
            }
            if let Some(note) = &mark.note {
                response = response.on_hover_text(note);
            }
            if playing == Some(row) {
                ui.painter().rect_filled(rect, 2.0, ui.visuals().selection.bg_fill.gamma_multiply(0.5));
            } else if response.hovered() {
                ui.painter().rect_filled(rect, 2.0, ui.visuals().widgets.hovered.weak_bg_fill);
            }
            let font = egui::TextStyle::Body.resolve(ui.style());
            let mut x = rect.left();
            for ((text, colour), column_width) in cells.into_iter().zip(COLUMN_WIDTHS) {
                ui.painter().text(egui::pos2(x + 2.0, rect.center().y), egui::Align2::LEFT_CENTER, text, font.clone(), colour);
                x += column_width + gap;
            }
            if response.clicked() {
                action = Some(TableAction::Play(row));
            }
            if labels.is_some() {
                response.context_menu(|ui| {
                    for (key, label) in [(Key::LabelNegative, Some(NEGATIVE)), (Key::LabelNonNegative, Some(NON_NEGATIVE)), (Key::LabelClear, None)] {
                        // A carried-over label can be confirmed for this segment's own span.
                        let enabled = annotation != label || carried_from.is_some();
                        if ui.add_enabled(enabled, egui::Button::new(lang.text(key))).clicked() {
                            action = Some(TableAction::Label(row, label));
                            ui.close();
                        }
                    }
                });
            }
        }
    });
    action
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_format() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(75.4), "1:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
