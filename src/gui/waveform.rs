//! The waveform overview: a min/max pyramid per channel, so a 45-minute call draws in constant
//! time per frame (one min/max pair per pixel column), never from raw samples.
//!
//! The caller's segments are boxes in their channel's lane, and the segmentation is edited here:
//! drag a box's edge to move its start or end, Shift+drag over unsegmented audio to add a
//! segment, right-click a segment to split it there, merge it with the next or delete it.

use eframe::egui::{self, Color32, Pos2, Stroke};
use egui_plot::{Plot, PlotBounds, PlotPoint, PlotTransform};

use super::i18n::{Key, Lang};
use super::review::SegmentEdit;
use super::segment_edit::Edge;
use crate::analysis::ScoredSegment;
use crate::audio::ANALYSIS_RATE;
use crate::pipeline::SpeakerSpan;

/// How close (px) to a segment's edge a press grabs the edge rather than panning the view.
const EDGE_GRAB_PX: f32 = 6.0;
/// Edited segments and the drag preview.
pub const EDIT_COLOUR: Color32 = Color32::from_rgb(210, 140, 0);

/// An edit being dragged.
#[derive(Debug, Clone, Copy, PartialEq)]
enum EditDrag {
    Edge { row: usize, edge: Edge, to_s: f64 },
    Add { lane: usize, from_s: f64, to_s: f64 },
}

/// The waveform's editing state between frames.
#[derive(Debug, Default)]
pub struct WaveformEdit {
    /// The last frame's plot transform (to hit-test the pointer before this frame's plot).
    transform: Option<PlotTransform>,
    drag: Option<EditDrag>,
    /// Where the context menu was opened: seconds and the segment there.
    context_at: Option<(f64, Option<usize>)>,
}

impl WaveformEdit {
    /// Where (screen) `seconds` of `lane`'s middle was drawn in the last frame.
    pub fn screen_pos(&self, seconds: f64, lane: usize) -> Option<Pos2> {
        self.transform.map(|t| t.position_from_point(&PlotPoint::new(seconds / 60.0, -(lane as f64))))
    }

    pub fn is_dragging(&self) -> bool {
        self.drag.is_some()
    }

    /// The caller segment whose edge is under `pos` in its lane, and which edge.
    fn edge_at(transform: &PlotTransform, pos: Pos2, segments: &[ScoredSegment]) -> Option<(usize, Edge)> {
        if !transform.frame().contains(pos) {
            return None;
        }
        let lane = lane_of(transform, pos);
        segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.channel == lane)
            .flat_map(|(row, s)| {
                [(row, Edge::Start, s.start_s), (row, Edge::End, s.end_s)]
                    .map(|(row, edge, t)| (row, edge, (transform.position_from_point_x(t / 60.0) - pos.x).abs()))
            })
            .filter(|(_, _, distance)| *distance <= EDGE_GRAB_PX)
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|(row, edge, _)| (row, edge))
    }
}

fn lane_of(transform: &PlotTransform, pos: Pos2) -> usize {
    (-transform.value_from_position(pos).y).round().max(0.0) as usize
}

fn seconds_of(transform: &PlotTransform, pos: Pos2) -> f64 {
    transform.value_from_position(pos).x * 60.0
}

/// The caller segment at `seconds` in `lane`.
fn segment_at(segments: &[ScoredSegment], lane: usize, seconds: f64) -> Option<usize> {
    segments.iter().position(|s| s.channel == lane && s.start_s <= seconds && seconds <= s.end_s)
}

/// Narrowest caller segment (screen points) drawn as an editable box.
const MIN_BOX_PX: f32 = 6.0;

/// Samples per bin of the finest level.
pub const BASE_BIN: usize = 32;

/// Min/max of one channel at halving resolutions: level `l` has bins of `BASE_BIN << l` samples.
#[derive(Debug, Clone)]
pub struct ChannelPyramid {
    levels: Vec<Vec<(f32, f32)>>,
    samples: usize,
}

impl ChannelPyramid {
    pub fn build(samples: &[f32]) -> Self {
        let base: Vec<(f32, f32)> = samples
            .chunks(BASE_BIN)
            .map(|chunk| chunk.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x))))
            .collect();
        let mut levels = vec![base];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let previous = levels.last().map(Vec::as_slice).unwrap_or(&[]);
            let next = previous
                .chunks(2)
                .map(|pair| pair.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(a, b)| (lo.min(a), hi.max(b))))
                .collect();
            levels.push(next);
        }
        Self { levels, samples: samples.len() }
    }

    pub fn level_count(&self) -> usize {
        self.levels.len()
    }

    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Min/max per column for `columns` equal columns over samples `[start, end)`; `None` for a
    /// column outside the recording. Reads the coarsest level whose bins still fit in a column.
    pub fn envelope(&self, start: f64, end: f64, columns: usize) -> Vec<Option<(f32, f32)>> {
        if columns == 0 || end <= start || self.levels.is_empty() {
            return vec![None; columns];
        }
        let per_column = (end - start) / columns as f64;
        let mut level = 0;
        while level + 1 < self.levels.len() && ((BASE_BIN << (level + 1)) as f64) <= per_column {
            level += 1;
        }
        let bin = (BASE_BIN << level) as f64;
        let bins = &self.levels[level];
        (0..columns)
            .map(|column| {
                let from = (start + column as f64 * per_column).max(0.0);
                let to = (start + (column + 1) as f64 * per_column).min(self.samples as f64);
                if to <= from {
                    return None;
                }
                let first = (from / bin).floor() as usize;
                let last = ((to / bin).ceil() as usize).max(first + 1).min(bins.len());
                let folded = bins
                    .get(first..last)?
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(a, b)| (lo.min(a), hi.max(b)));
                folded.0.is_finite().then_some(folded)
            })
            .collect()
    }
}

/// The pyramids of every channel of a recording.
#[derive(Debug, Clone)]
pub struct WaveformPyramid {
    pub channels: Vec<ChannelPyramid>,
}

impl WaveformPyramid {
    pub fn build(channels: &[Vec<f32>]) -> Self {
        Self { channels: channels.iter().map(|c| ChannelPyramid::build(c)).collect() }
    }
}

/// What one frame of the waveform view reports back.
#[derive(Default)]
pub struct WaveformOutput {
    /// Seconds the user clicked at.
    pub clicked_s: Option<f64>,
    /// An edit of the segmentation the user made.
    pub edit: Option<SegmentEdit>,
}

pub const CALLER_COLOUR: Color32 = Color32::from_rgb(40, 110, 200);
pub const OTHER_COLOUR: Color32 = Color32::from_rgb(150, 150, 150);
pub const PLAYHEAD_COLOUR: Color32 = Color32::from_rgb(230, 120, 0);
/// Both parties speak at once: the segment is kept and scored, but the score mixes two voices.
pub const OVERLAP_COLOUR: Color32 = Color32::from_rgb(200, 60, 60);

/// Draws one lane per channel (time in minutes on x, linked with the trajectory), the speech
/// spans under each lane and the playhead.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    lang: Lang,
    pyramid: Option<&WaveformPyramid>,
    spans: &[SpeakerSpan],
    duration_s: f64,
    playhead_s: Option<f64>,
    axis_group: egui::Id,
    height: f32,
    reset_view: bool,
    editing: Option<(&[ScoredSegment], &dyn Fn(usize) -> bool, &mut WaveformEdit)>,
) -> WaveformOutput {
    let lanes = pyramid.map_or(1, |p| p.channels.len().max(1));
    // Editing takes the press from panning when it grabs an edge or adds (Shift), judged with
    // the last frame's transform (the plot has not been laid out yet this frame).
    // A press that began on an edge keeps the plot from panning until the drag is recognised.
    let (hover, shift, held_from) =
        ui.input(|i| (i.pointer.hover_pos(), i.modifiers.shift, i.pointer.primary_down().then(|| i.pointer.press_origin()).flatten()));
    let grabs = editing.as_ref().is_some_and(|(segments, _, edit)| {
        let on_edge = |pos: Option<Pos2>| matches!((edit.transform, pos), (Some(t), Some(pos)) if WaveformEdit::edge_at(&t, pos, segments).is_some());
        edit.drag.is_some() || shift || on_edge(hover) || on_edge(held_from)
    });
    let caller_channels: Vec<usize> = {
        let mut c: Vec<usize> = spans.iter().filter(|s| s.is_caller).map(|s| s.channel).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let mut plot = Plot::new("waveform");
    if reset_view {
        plot = plot.reset();
    }
    let response = plot
        .height(height)
        .link_axis(axis_group, [true, false])
        .link_cursor(axis_group, [true, false])
        .allow_zoom([true, false])
        .allow_drag([!grabs, false])
        .allow_scroll([true, false])
        .allow_boxed_zoom(false)
        .show_y(false)
        .show_grid([true, false])
        // An empty y axis as wide as the trajectory's keeps both x axes aligned.
        .y_grid_spacer(|_| Vec::new())
        .y_axis_formatter(|_, _| String::new())
        .y_axis_min_width(super::trajectory_view::Y_AXIS_WIDTH)
        .x_axis_label(lang.text(Key::AxisTime))
        .default_x_bounds(0.0, (duration_s / 60.0).max(1.0))
        .default_y_bounds(-(lanes as f64) + 0.5, 0.5)
        .include_y(-(lanes as f64) + 0.5)
        .include_y(0.5)
        .show(ui, |plot_ui| {
            // Keep lanes fixed vertically whatever the user does with the x axis.
            let bounds = plot_ui.plot_bounds();
            plot_ui.set_plot_bounds(PlotBounds::from_min_max(
                [bounds.min()[0], -(lanes as f64) + 0.5],
                [bounds.max()[0], 0.5],
            ));
            plot_ui.response().clicked().then(|| plot_ui.pointer_coordinate()).flatten()
        });

    let transform = response.transform;
    let frame = *transform.frame();
    let mut edit_request = None;
    let plot_response = response.response.clone();
    let painter = ui.painter().with_clip_rect(frame);
    let bounds = transform.bounds();
    let (x0, x1) = (bounds.min()[0], bounds.max()[0]);
    let lane_y = |lane: usize, offset: f64| transform.position_from_point_y(-(lane as f64) + offset);

    // Speech spans: a band at the foot of each lane.
    for span in spans {
        let (a, b) = (span.start_s / 60.0, span.end_s / 60.0);
        if b < x0 || a > x1 {
            continue;
        }
        let left = transform.position_from_point_x(a);
        let right = transform.position_from_point_x(b).max(left + 1.0);
        let colour = if span.is_caller { CALLER_COLOUR } else { OTHER_COLOUR };
        let rect = egui::Rect::from_min_max(
            Pos2::new(left, lane_y(span.channel, -0.40)),
            Pos2::new(right, lane_y(span.channel, -0.47)),
        );
        painter.rect_filled(rect, 0.0, colour.gamma_multiply(0.7));
        if span.overlapped {
            let mark = egui::Rect::from_min_max(
                Pos2::new(left, lane_y(span.channel, -0.35)),
                Pos2::new(right, lane_y(span.channel, -0.38)),
            );
            painter.rect_filled(mark, 0.0, OVERLAP_COLOUR);
        }
    }
    if spans.iter().any(|span| span.overlapped) {
        painter.text(
            Pos2::new(frame.right() - 4.0, frame.top() + 2.0),
            egui::Align2::RIGHT_TOP,
            lang.text(Key::OverlapLegend),
            egui::FontId::proportional(12.0),
            OVERLAP_COLOUR,
        );
    }

    if let Some(pyramid) = pyramid {
        let columns = frame.width().max(1.0) as usize;
        let rate = ANALYSIS_RATE as f64;
        let wave_colour = ui.visuals().text_color().gamma_multiply(0.8);
        for (lane, channel) in pyramid.channels.iter().enumerate() {
            let envelope = channel.envelope(x0 * 60.0 * rate, x1 * 60.0 * rate, columns);
            let colour = if caller_channels.contains(&lane) { CALLER_COLOUR } else { wave_colour };
            for (column, value) in envelope.into_iter().enumerate() {
                if let Some((lo, hi)) = value {
                    let x = frame.left() + column as f32 + 0.5;
                    let top = lane_y(lane, 0.42 * hi.clamp(-1.0, 1.0) as f64);
                    let bottom = lane_y(lane, 0.42 * lo.clamp(-1.0, 1.0) as f64);
                    painter.line_segment([Pos2::new(x, top), Pos2::new(x, bottom.max(top + 1.0))], Stroke::new(1.0, colour));
                }
            }
        }
    } else {
        painter.text(
            frame.center(),
            egui::Align2::CENTER_CENTER,
            lang.text(Key::WaveformPending),
            egui::FontId::proportional(14.0),
            ui.visuals().weak_text_color(),
        );
    }

    if let Some(seconds) = playhead_s {
        let x = transform.position_from_point_x(seconds / 60.0);
        painter.line_segment([Pos2::new(x, frame.top()), Pos2::new(x, frame.bottom())], Stroke::new(2.0, PLAYHEAD_COLOUR));
    }

    if let Some((segments, is_edited, edit)) = editing {
        edit_request = edit_segments(ui, lang, &plot_response, &transform, &painter, segments, is_edited, edit, lane_y, duration_s);
    }

    // Lane names last, on a backing, so segment boxes never cross them.
    if let Some(pyramid) = pyramid {
        for lane in 0..pyramid.channels.len() {
            let caller = caller_channels.contains(&lane);
            let role = if caller { lang.text(Key::CallerLane) } else { lang.text(Key::OtherLane) };
            let colour = if caller { CALLER_COLOUR } else { ui.visuals().weak_text_color() };
            let galley = painter.layout_no_wrap(format!("{} {} · {}", lang.text(Key::Channel), lane + 1, role), egui::FontId::proportional(12.0), colour);
            let at = Pos2::new(frame.left() + 4.0, lane_y(lane, 0.48));
            painter.rect_filled(egui::Rect::from_min_size(at, galley.size()).expand(2.0), 2.0, ui.visuals().extreme_bg_color.gamma_multiply(0.85));
            painter.galley(at, galley, colour);
        }
    }

    WaveformOutput { clicked_s: response.inner.map(|point| (point.x * 60.0).clamp(0.0, duration_s.max(0.0))), edit: edit_request }
}

/// Draws the caller segments as editable boxes and turns drags and the context menu into edits.
#[allow(clippy::too_many_arguments)]
fn edit_segments(
    ui: &egui::Ui,
    lang: Lang,
    response: &egui::Response,
    transform: &PlotTransform,
    painter: &egui::Painter,
    segments: &[ScoredSegment],
    is_edited: &dyn Fn(usize) -> bool,
    edit: &mut WaveformEdit,
    lane_y: impl Fn(usize, f64) -> f32,
    duration_s: f64,
) -> Option<SegmentEdit> {
    edit.transform = Some(*transform);
    let (x0, x1) = (transform.bounds().min()[0] * 60.0, transform.bounds().max()[0] * 60.0);
    for (row, segment) in segments.iter().enumerate() {
        if segment.end_s < x0 || segment.start_s > x1 {
            continue;
        }
        let (left, right) = (transform.position_from_point_x(segment.start_s / 60.0), transform.position_from_point_x(segment.end_s / 60.0));
        // Zoomed out over a long call, hundreds of boxes' edges would cover the lane and its
        // waveform: only boxes wide enough to grab are drawn (edited ones always).
        if right - left < MIN_BOX_PX && !is_edited(row) {
            continue;
        }
        let rect = egui::Rect::from_min_max(Pos2::new(left, lane_y(segment.channel, 0.46)), Pos2::new(right.max(left + 1.0), lane_y(segment.channel, -0.33)));
        let colour = if is_edited(row) { EDIT_COLOUR } else { CALLER_COLOUR };
        painter.rect_filled(rect, 1.0, colour.gamma_multiply(0.10));
        painter.line_segment([rect.left_top(), rect.left_bottom()], Stroke::new(2.0, colour));
        painter.line_segment([rect.right_top(), rect.right_bottom()], Stroke::new(2.0, colour));
    }
    if (0..segments.len()).any(is_edited) {
        painter.text(
            Pos2::new(transform.frame().center().x, transform.frame().top() + 2.0),
            egui::Align2::CENTER_TOP,
            lang.text(Key::EditedMarker),
            egui::FontId::proportional(12.0),
            EDIT_COLOUR,
        );
    }
    let pointer = ui.input(|i| i.pointer.interact_pos());
    if let Some(pos) = pointer {
        if edit.drag.is_some() || WaveformEdit::edge_at(transform, pos, segments).is_some() {
            ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
        }
    }
    if response.drag_started_by(egui::PointerButton::Primary) {
        let origin = ui.input(|i| i.pointer.press_origin());
        let shift = ui.input(|i| i.modifiers.shift);
        if let Some(origin) = origin.filter(|o| transform.frame().contains(*o)) {
            let at = seconds_of(transform, origin);
            edit.drag = match WaveformEdit::edge_at(transform, origin, segments) {
                Some((row, edge)) => Some(EditDrag::Edge { row, edge, to_s: at }),
                None if shift => Some(EditDrag::Add { lane: lane_of(transform, origin), from_s: at, to_s: at }),
                None => None,
            };
        }
    }
    if let (Some(drag), Some(pos)) = (&mut edit.drag, pointer) {
        let at = seconds_of(transform, pos).clamp(0.0, duration_s.max(0.0));
        match drag {
            EditDrag::Edge { to_s, .. } | EditDrag::Add { to_s, .. } => *to_s = at,
        }
    }
    // The drag's preview.
    match edit.drag {
        Some(EditDrag::Edge { row, to_s, .. }) => {
            if let Some(segment) = segments.get(row) {
                let x = transform.position_from_point_x(to_s / 60.0);
                painter.line_segment([Pos2::new(x, lane_y(segment.channel, 0.5)), Pos2::new(x, lane_y(segment.channel, -0.5))], Stroke::new(3.0, EDIT_COLOUR));
            }
        }
        Some(EditDrag::Add { lane, from_s, to_s }) => {
            let (a, b) = (transform.position_from_point_x(from_s.min(to_s) / 60.0), transform.position_from_point_x(from_s.max(to_s) / 60.0));
            let rect = egui::Rect::from_min_max(Pos2::new(a, lane_y(lane, 0.46)), Pos2::new(b, lane_y(lane, -0.33)));
            painter.rect_filled(rect, 1.0, EDIT_COLOUR.gamma_multiply(0.3));
        }
        None => {}
    }
    let mut request = None;
    if response.drag_stopped() {
        request = match edit.drag.take() {
            Some(EditDrag::Edge { row, edge, to_s }) => Some(SegmentEdit::MoveEdge { row, edge, to_s }),
            Some(EditDrag::Add { lane, from_s, to_s }) => Some(SegmentEdit::Add { channel: lane, from_s, to_s }),
            None => None,
        };
    }
    if response.secondary_clicked() {
        edit.context_at = pointer.map(|pos| {
            let at = seconds_of(transform, pos);
            (at, segment_at(segments, lane_of(transform, pos), at))
        });
    }
    response.context_menu(|ui| {
        let Some((at, row)) = edit.context_at else { return };
        let mut item = |ui: &mut egui::Ui, key: Key, shortcut: &str, make: Option<SegmentEdit>| {
            if ui.add_enabled(make.is_some(), egui::Button::new(lang.text(key)).shortcut_text(shortcut)).clicked() {
                request = make;
                ui.close();
            }
        };
        item(ui, Key::EditSplitHere, "S", row.map(|row| SegmentEdit::Split { row, at_s: at }));
        item(ui, Key::EditMerge, "M", row.map(|row| SegmentEdit::Merge { row }));
        item(ui, Key::EditDelete, "Delete", row.map(|row| SegmentEdit::Delete { row }));
        ui.separator();
        ui.weak(lang.text(Key::EditDragHint));
        ui.weak(lang.text(Key::EditAddHint));
    });
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_matches_brute_force_min_max() {
        let samples: Vec<f32> = (0..100_000).map(|i| ((i as f32) * 0.013).sin() * ((i % 977) as f32 / 977.0)).collect();
        let pyramid = ChannelPyramid::build(&samples);
        assert!(pyramid.level_count() > 5);
        let (start, end, columns) = (1_000.0, 91_000.0, 300);
        let envelope = pyramid.envelope(start, end, columns);
        let per = (end - start) / columns as f64;
        for (column, value) in envelope.iter().enumerate() {
            let (lo, hi) = value.expect("inside the recording");
            let a = (start + column as f64 * per) as usize;
            let b = (start + (column + 1) as f64 * per) as usize;
            let exact = samples[a..b].iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
            // A column may read whole bins reaching past its edges: it can only be wider, by at
            // most one bin of the chosen level on each side.
            assert!(lo <= exact.0 && hi >= exact.1, "column {column}: {lo},{hi} vs {exact:?}");
            let margin = samples[a.saturating_sub(per as usize * 2)..(b + per as usize * 2).min(samples.len())]
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
            assert!(lo >= margin.0 && hi <= margin.1, "column {column} reads beyond its neighbourhood");
        }
    }

    #[test]
    fn envelope_outside_the_recording_is_empty() {
        let pyramid = ChannelPyramid::build(&vec![0.5; 10_000]);
        let envelope = pyramid.envelope(-10_000.0, 20_000.0, 30);
        assert!(envelope[0].is_none(), "before the start");
        assert!(envelope[29].is_none(), "after the end");
        assert_eq!(envelope[15], Some((0.5, 0.5)));
    }

    #[test]
    fn coarse_view_reads_few_bins_per_column() {
        // 45 minutes at 16 kHz into 1000 columns: each column must come from a level whose bins
        // are at least half a column wide, i.e. a handful of bins, not thousands of samples.
        let samples = vec![0.1f32; 45 * 60 * 16_000];
        let pyramid = ChannelPyramid::build(&samples);
        let envelope = pyramid.envelope(0.0, samples.len() as f64, 1000);
        assert_eq!(envelope.len(), 1000);
        assert!(envelope.iter().all(|v| *v == Some((0.1, 0.1))));
        assert_eq!(pyramid.samples(), samples.len());
    }
}
