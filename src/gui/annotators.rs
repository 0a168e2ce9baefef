//! The Annotators view: who labelled the open call, the segments where their labels differ
//! (click one to play it), and a way to settle each into the adjudicated label training uses
//! (`<stem>.labels.csv`, see [`crate::training::call_labels`]).

use eframe::egui;

use super::i18n::{Key, Lang};
use super::segment_table::{annotation_text, clock};
use crate::analysis::ScoredSegment;
use crate::training::call_labels::CallLabels;
use crate::training::dataset::{NEGATIVE, NON_NEGATIVE};

/// A segment the annotators labelled differently.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// Row in the segment table.
    pub row: usize,
    /// Each annotator's label (name order).
    pub labels: Vec<(String, u8)>,
}

/// The rows whose annotators disagree: at least two labels, not all equal. `labels[row]` is
/// every annotator's label of that row's segment.
pub fn disagreements(labels: &[Vec<(String, u8)>]) -> Vec<Disagreement> {
    labels
        .iter()
        .enumerate()
        .filter(|(_, given)| given.len() >= 2 && given.iter().any(|(_, label)| *label != given[0].1))
        .map(|(row, given)| Disagreement { row, labels: given.clone() })
        .collect()
}

/// Every annotator's label of each shown segment.
pub fn labels_by_row(segments: &[ScoredSegment], labels: &CallLabels) -> Vec<Vec<(String, u8)>> {
    segments.iter().map(|s| labels.labels_of(s.start_s, s.end_s, &s.speaker, s.channel)).collect()
}

/// What the user did in the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnnotatorsAction {
    Jump(usize),
    Settle(usize, Option<u8>),
}

/// The view as a window; `open` closes it.
pub fn show(ctx: &egui::Context, lang: Lang, open: &mut bool, segments: &[ScoredSegment], labels: &CallLabels) -> Option<AnnotatorsAction> {
    let mut action = None;
    egui::Window::new(lang.text(Key::AnnotatorsTitle)).open(open).default_width(520.0).resizable(true).show(ctx, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(lang.text(Key::AnnotatorsList));
            for name in labels.annotators() {
                let text = if name == labels.annotator() { egui::RichText::new(&name).strong() } else { egui::RichText::new(&name) };
                ui.label(text);
            }
        });
        ui.separator();
        let found = disagreements(&labels_by_row(segments, labels));
        ui.strong(lang.text(Key::Disagreements).replacen("{}", &found.len().to_string(), 1));
        if found.is_empty() {
            ui.weak(lang.text(Key::NoDisagreements));
        }
        egui::ScrollArea::vertical().max_height(420.0).show(ui, |ui| {
            for disagreement in &found {
                let segment = &segments[disagreement.row];
                ui.horizontal(|ui| {
                    let title = format!("#{} {}", disagreement.row + 1, clock(segment.start_s));
                    if ui.link(title).clicked() {
                        action = Some(AnnotatorsAction::Jump(disagreement.row));
                    }
                    let given: Vec<String> =
                        disagreement.labels.iter().map(|(name, label)| format!("{name}: {}", annotation_text(lang, Some(*label)))).collect();
                    ui.label(given.join(" · "));
                });
                ui.horizontal(|ui| {
                    let settled = labels.settled(segment.start_s, segment.end_s, &segment.speaker, segment.channel);
                    if let Some(label) = settled {
                        ui.weak(format!("{} {}", lang.text(Key::SettledAs), annotation_text(lang, Some(label))));
                    }
                    ui.label(lang.text(Key::SettleAs));
                    for label in [NEGATIVE, NON_NEGATIVE] {
                        if ui.add_enabled(settled != Some(label), egui::Button::new(annotation_text(lang, Some(label)))).clicked() {
                            action = Some(AnnotatorsAction::Settle(disagreement.row, Some(label)));
                        }
                    }
                });
                ui.separator();
            }
        });
    });
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreements_are_rows_with_two_or_more_different_labels() {
        let a = |name: &str, label: u8| (name.to_string(), label);
        let rows = vec![
            vec![],
            vec![a("ann", NEGATIVE)],
            vec![a("ann", NEGATIVE), a("王", NEGATIVE)],
            vec![a("ann", NEGATIVE), a("王", NON_NEGATIVE)],
            vec![a("ann", NON_NEGATIVE), a("bo", NON_NEGATIVE), a("王", NEGATIVE)],
        ];
        let found = disagreements(&rows);
        assert_eq!(found.iter().map(|d| d.row).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(found[0].labels, rows[3]);
    }

    #[test]
    fn the_disagreements_of_two_annotators_files() {
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("call.wav");
        let segment = |start_s: f64| ScoredSegment { index: 0, start_s, end_s: start_s + 2.0, channel: 0, speaker: "left".into(), p_nonnegative: 0.5 };
        let segments = vec![segment(0.0), segment(3.0), segment(6.0)];
        let mut ann = CallLabels::load_as(&recording, "ann").unwrap();
        ann.set(0.0, 2.0, "left", 0, Some(NEGATIVE)).unwrap();
        ann.set(3.0, 5.0, "left", 0, Some(NEGATIVE)).unwrap();
        let mut bo = CallLabels::load_as(&recording, "bo").unwrap();
        bo.set(0.0, 2.0, "left", 0, Some(NON_NEGATIVE)).unwrap();
        bo.set(3.0, 5.0, "left", 0, Some(NEGATIVE)).unwrap();
        bo.set(6.0, 8.0, "left", 0, Some(NEGATIVE)).unwrap();
        let found = disagreements(&labels_by_row(&segments, &bo));
        assert_eq!(found, vec![Disagreement { row: 0, labels: vec![("ann".into(), NEGATIVE), ("bo".into(), NON_NEGATIVE)] }]);
    }

    /// The window lists the same disagreements as `emotrace agreement` on the call's files, also
    /// with three annotators, labels given by some only, and a label saved for a slightly
    /// different span (carried over by overlap in both).
    #[test]
    fn the_window_lists_what_emotrace_agreement_finds() {
        use crate::analysis::agreement;
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("来电.wav");
        let segment = |start_s: f64| ScoredSegment { index: 0, start_s, end_s: start_s + 2.0, channel: 0, speaker: "left".into(), p_nonnegative: 0.5 };
        let segments: Vec<ScoredSegment> = (0..8).map(|i| segment(3.0 * i as f64)).collect();
        let given: [(&str, &[(f64, u8)]); 3] = [
            ("ann", &[(0.0, NEGATIVE), (3.0, NEGATIVE), (6.0, NON_NEGATIVE), (9.0, NEGATIVE), (15.0, NEGATIVE)]),
            ("王医生", &[(0.0, NON_NEGATIVE), (3.0, NEGATIVE), (6.0, NON_NEGATIVE), (12.0, NEGATIVE), (15.0, NON_NEGATIVE)]),
            ("bo", &[(3.0, NON_NEGATIVE), (9.0, NEGATIVE), (12.0, NON_NEGATIVE), (18.1, NEGATIVE)]),
        ];
        let mut last = None;
        for (name, labels) in given {
            let mut annotator = CallLabels::load_as(&recording, name).unwrap();
            for (start_s, label) in labels {
                // 18.1 s: bo's label is for a segment of another segmentation (IoU 0.9).
                annotator.set(*start_s, start_s + 2.0, "left", 0, Some(*label)).unwrap();
            }
            last = Some(annotator);
        }
        let window: Vec<(i64, i64)> = disagreements(&labels_by_row(&segments, &last.unwrap()))
            .iter()
            .map(|d| ((segments[d.row].start_s * 1000.0).round() as i64, (segments[d.row].end_s * 1000.0).round() as i64))
            .collect();
        let matrix = agreement::align(&agreement::load_inputs(&[recording]).unwrap());
        let cli: Vec<(i64, i64)> = agreement::disagreements(&matrix)
            .iter()
            .map(|d| ((d.item.start_s() * 1000.0).round() as i64, (d.item.end_s() * 1000.0).round() as i64))
            .collect();
        assert_eq!(window, vec![(0, 2000), (3000, 5000), (12000, 14000), (15000, 17000)]);
        assert_eq!(window, cli);
    }
}
