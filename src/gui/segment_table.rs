//! The caller segments as a table: click a row to play from it; the playing row is highlighted
//! and kept in view while playback runs. Only visible rows are laid out (long calls have
//! hundreds of segments). The last column is the annotator's label (right-click a row, or N / P /
//! Backspace on the segment being played), saved beside the recording as a training manifest.
//! The rows can be sorted by time, p or annotation and filtered by annotation, stage and p range
//! (model-assisted labelling: e.g. the unlabelled segments nearest p = 0.5 first); the U key
//! plays the most uncertain unlabelled segment ([`most_uncertain_unlabelled`]).

use eframe::egui;

use super::i18n::{Key, Lang};
use super::trajectory_view::{NEGATIVE_COLOUR, NON_NEGATIVE_COLOUR};
use crate::analysis::{EmotionLabel, ScoredSegment, SegmentStage};
use crate::training::call_labels::CallLabels;
use crate::training::dataset::{NEGATIVE, NON_NEGATIVE};

/// The table's sort order and filters (kept in egui's memory for the session).
#[derive(Debug, Clone, PartialEq)]
pub struct TableControls {
    pub sort: SortKey,
    pub descending: bool,
    pub annotation: AnnotationFilter,
    pub stage: StageFilter,
    /// Rows with p in [p_min, p_max].
    pub p_min: f64,
    pub p_max: f64,
}

impl Default for TableControls {
    fn default() -> Self {
        Self { sort: SortKey::Time, descending: false, annotation: AnnotationFilter::Any, stage: StageFilter::Any, p_min: 0.0, p_max: 1.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Time,
    P,
    /// Negative, then non-negative, then unlabelled.
    Annotation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationFilter {
    Any,
    Unlabelled,
    Negative,
    NonNegative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageFilter {
    Any,
    Assessment,
    /// After the assessment stage.
    Later,
}

/// Each segment's annotation (its own or carried over), in segment order.
pub fn annotations(segments: &[ScoredSegment], labels: Option<&CallLabels>) -> Vec<Option<u8>> {
    segments.iter().map(|s| labels.and_then(|l| l.get(s.start_s, s.end_s, &s.speaker, s.channel))).collect()
}

/// The segments the table shows, in the order it shows them (indices into `segments`). Ties keep
/// call order.
pub fn table_order(segments: &[ScoredSegment], annotations: &[Option<u8>], assessment_end_s: f64, controls: &TableControls) -> Vec<usize> {
    let keep = |i: &usize| {
        let (segment, annotation) = (&segments[*i], annotations.get(*i).copied().flatten());
        let annotation_ok = match controls.annotation {
            AnnotationFilter::Any => true,
            AnnotationFilter::Unlabelled => annotation.is_none(),
            AnnotationFilter::Negative => annotation == Some(NEGATIVE),
            AnnotationFilter::NonNegative => annotation == Some(NON_NEGATIVE),
        };
        let stage_ok = match (controls.stage, SegmentStage::of(segment.start_s, assessment_end_s)) {
            (StageFilter::Any, _) => true,
            (StageFilter::Assessment, stage) => stage == SegmentStage::Assessment,
            (StageFilter::Later, stage) => stage == SegmentStage::Intervention,
        };
        annotation_ok && stage_ok && (controls.p_min..=controls.p_max).contains(&segment.p_nonnegative)
    };
    let mut order: Vec<usize> = (0..segments.len()).filter(keep).collect();
    let annotation_rank = |i: usize| match annotations.get(i).copied().flatten() {
        Some(NEGATIVE) => 0,
        Some(_) => 1,
        None => 2,
    };
    match controls.sort {
        SortKey::Time => order.sort_by(|&a, &b| segments[a].start_s.total_cmp(&segments[b].start_s)),
        SortKey::P => order.sort_by(|&a, &b| segments[a].p_nonnegative.total_cmp(&segments[b].p_nonnegative)),
        SortKey::Annotation => order.sort_by_key(|&i| annotation_rank(i)),
    }
    if controls.descending {
        order.reverse();
    }
    order
}

/// The unlabelled segment the model is least sure of: smallest |p − 0.5|, the earliest of ties.
pub fn most_uncertain_unlabelled(segments: &[ScoredSegment], annotations: &[Option<u8>]) -> Option<usize> {
    segments
        .iter()
        .enumerate()
        .filter(|(i, s)| annotations.get(*i).copied().flatten().is_none() && s.p_nonnegative.is_finite())
        .min_by(|(_, a), (_, b)| (a.p_nonnegative - 0.5).abs().total_cmp(&(b.p_nonnegative - 0.5).abs()))
        .map(|(i, _)| i)
}

/// The sort and filter controls above the table.
fn controls_ui(ui: &mut egui::Ui, lang: Lang, controls: &mut TableControls) {
    ui.horizontal_wrapped(|ui| {
        ui.label(lang.text(Key::SortBy));
        egui::ComboBox::from_id_salt("table-sort")
            .selected_text(match controls.sort {
                SortKey::Time => lang.text(Key::SortTime),
                SortKey::P => lang.text(Key::SortP),
                SortKey::Annotation => lang.text(Key::SortAnnotation),
            })
            .show_ui(ui, |ui| {
                for (key, sort) in [(Key::SortTime, SortKey::Time), (Key::SortP, SortKey::P), (Key::SortAnnotation, SortKey::Annotation)] {
                    ui.selectable_value(&mut controls.sort, sort, lang.text(key));
                }
            });
        ui.checkbox(&mut controls.descending, lang.text(Key::Descending));
        ui.label(lang.text(Key::FilterAnnotation));
        let annotation_name = |filter: AnnotationFilter| match filter {
            AnnotationFilter::Any => lang.text(Key::FilterAny),
            AnnotationFilter::Unlabelled => lang.text(Key::FilterUnlabelled),
            AnnotationFilter::Negative => lang.text(Key::Negative),
            AnnotationFilter::NonNegative => lang.text(Key::NonNegative),
        };
        egui::ComboBox::from_id_salt("table-annotation").selected_text(annotation_name(controls.annotation)).show_ui(ui, |ui| {
            for filter in [AnnotationFilter::Any, AnnotationFilter::Unlabelled, AnnotationFilter::Negative, AnnotationFilter::NonNegative] {
                ui.selectable_value(&mut controls.annotation, filter, annotation_name(filter));
            }
        });
    });
    ui.horizontal_wrapped(|ui| {
        ui.label(lang.text(Key::FilterStage));
        let stage_name = |filter: StageFilter| match filter {
            StageFilter::Any => lang.text(Key::FilterAny),
            StageFilter::Assessment => lang.text(Key::StageAssessmentShort),
            StageFilter::Later => lang.text(Key::StageInterventionShort),
        };
        egui::ComboBox::from_id_salt("table-stage").selected_text(stage_name(controls.stage)).show_ui(ui, |ui| {
            for filter in [StageFilter::Any, StageFilter::Assessment, StageFilter::Later] {
                ui.selectable_value(&mut controls.stage, filter, stage_name(filter));
            }
        });
        ui.label(lang.text(Key::FilterPRange));
        ui.add(egui::DragValue::new(&mut controls.p_min).range(0.0..=1.0).speed(0.01).max_decimals(2));
        ui.label(lang.text(Key::FilterTo));
        ui.add(egui::DragValue::new(&mut controls.p_max).range(0.0..=1.0).speed(0.01).max_decimals(2));
        if controls.p_min > controls.p_max {
            std::mem::swap(&mut controls.p_min, &mut controls.p_max);
        }
    });
}

const COLUMN_WIDTHS: [f32; 7] = [34.0, 52.0, 48.0, 40.0, 86.0, 78.0, 70.0];

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
    let controls_id = egui::Id::unique("segment-table-controls");
    let mut controls: TableControls = ui.data_mut(|d| d.get_temp(controls_id)).unwrap_or_default();
    controls_ui(ui, lang, &mut controls);
    ui.data_mut(|d| d.insert_temp(controls_id, controls.clone()));
    let order = table_order(segments, &annotations(segments, labels), assessment_end_s, &controls);
    let shown = if order.len() == segments.len() { segments.len().to_string() } else { format!("{}/{}", order.len(), segments.len()) };
    ui.strong(format!("{} ({shown})", lang.text(Key::TableTitle)));
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
    if let Some(row) = scroll_to.and_then(|segment| order.iter().position(|&i| i == segment)) {
        // Keep the row a few rows below the top so its neighbours stay visible.
        area = area.vertical_scroll_offset(((row as f32 - 3.0).max(0.0)) * (row_height + spacing));
    }
    let mut action = None;
    area.show_rows(ui, row_height, order.len(), |ui, rows| {
        for position in rows {
            let row = order[position];
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
    use super::*;

    fn segment(index: usize, start_s: f64, p: f64) -> ScoredSegment {
        ScoredSegment { index, start_s, end_s: start_s + 3.0, channel: 0, speaker: "left".into(), p_nonnegative: p }
    }

    #[test]
    fn the_most_uncertain_unlabelled_segment_is_nearest_one_half() {
        let segments = [segment(0, 0.0, 0.9), segment(1, 10.0, 0.55), segment(2, 20.0, 0.47), segment(3, 30.0, 0.1)];
        // 0.47 is nearest 0.5 but labelled: 0.55 is next.
        assert_eq!(most_uncertain_unlabelled(&segments, &[None, None, Some(NEGATIVE), None]), Some(1));
        assert_eq!(most_uncertain_unlabelled(&segments, &[None; 4]), Some(2));
        assert_eq!(most_uncertain_unlabelled(&segments, &[Some(NEGATIVE); 4]), None, "all labelled");
        // Ties: the earliest.
        let tied = [segment(0, 0.0, 0.6), segment(1, 10.0, 0.4)];
        assert_eq!(most_uncertain_unlabelled(&tied, &[None, None]), Some(0));
    }

    #[test]
    fn rows_sort_and_filter_by_p_annotation_stage_and_p_range() {
        let segments = [segment(0, 0.0, 0.9), segment(1, 100.0, 0.2), segment(2, 200.0, 0.5), segment(3, 300.0, 0.7)];
        let annotations = [Some(NON_NEGATIVE), None, Some(NEGATIVE), None];
        let order = |controls: TableControls| table_order(&segments, &annotations, 150.0, &controls);
        assert_eq!(order(TableControls::default()), vec![0, 1, 2, 3]);
        assert_eq!(order(TableControls { sort: SortKey::P, ..Default::default() }), vec![1, 2, 3, 0]);
        assert_eq!(order(TableControls { sort: SortKey::P, descending: true, ..Default::default() }), vec![0, 3, 2, 1]);
        assert_eq!(order(TableControls { sort: SortKey::Annotation, ..Default::default() }), vec![2, 0, 1, 3]);
        assert_eq!(order(TableControls { annotation: AnnotationFilter::Unlabelled, ..Default::default() }), vec![1, 3]);
        assert_eq!(order(TableControls { annotation: AnnotationFilter::Negative, ..Default::default() }), vec![2]);
        assert_eq!(order(TableControls { annotation: AnnotationFilter::NonNegative, ..Default::default() }), vec![0]);
        assert_eq!(order(TableControls { stage: StageFilter::Assessment, ..Default::default() }), vec![0, 1]);
        assert_eq!(order(TableControls { stage: StageFilter::Later, ..Default::default() }), vec![2, 3]);
        assert_eq!(order(TableControls { p_min: 0.4, p_max: 0.75, ..Default::default() }), vec![2, 3]);
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(75.4), "1:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
