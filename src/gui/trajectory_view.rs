//! The trajectory (paper Fig. 2, interactive): p(non-negative) per caller segment against call
//! time in minutes, the 0.5 line, the assessment stage shaded, points coloured by label.

use eframe::egui::{self, Color32};
use egui_plot::{GridMark, HLine, LineStyle, MarkerShape, Plot, PlotPoints, Points, Span, VLine};

use super::i18n::{Key, Lang};
use super::waveform::PLAYHEAD_COLOUR;
use crate::analysis::{EmotionLabel, ScoredSegment};

pub const NEGATIVE_COLOUR: Color32 = Color32::from_rgb(200, 40, 40);
pub const NON_NEGATIVE_COLOUR: Color32 = Color32::from_rgb(30, 90, 200);
pub const ASSESSMENT_SHADE: Color32 = Color32::from_rgba_premultiplied(26, 20, 6, 26);
/// Both views reserve this width for the y axis so their x axes line up.
pub const Y_AXIS_WIDTH: f32 = 96.0;
/// A click this close (pixels) to a point picks it.
const PICK_RADIUS: f32 = 14.0;

#[derive(Default)]
pub struct TrajectoryOutput {
    /// Index into the segments slice of a clicked point.
    pub clicked: Option<usize>,
    /// How many points this frame drew.
    pub plotted_points: usize,
}

#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    lang: Lang,
    segments: &[ScoredSegment],
    assessment_end_s: f64,
    duration_s: f64,
    playhead_s: Option<f64>,
    selected: Option<usize>,
    axis_group: egui::Id,
    height: f32,
    reset_view: bool,
) -> TrajectoryOutput {
    let minutes = |s: f64| s / 60.0;
    let (negative, non_negative): (Vec<&ScoredSegment>, Vec<&ScoredSegment>) =
        segments.iter().partition(|s| s.label() == EmotionLabel::Negative);
    let plotted_points = negative.len() + non_negative.len();
    let point = |s: &&ScoredSegment| [minutes((s.start_s + s.end_s) / 2.0), s.p_nonnegative];
    let negative_points: Vec<[f64; 2]> = negative.iter().map(point).collect();
    let non_negative_points: Vec<[f64; 2]> = non_negative.iter().map(point).collect();
    let negative_name = lang.text(Key::Negative);
    let non_negative_name = lang.text(Key::NonNegative);
    let y_label = move |mark: GridMark, _: &std::ops::RangeInclusive<f64>| -> String {
        match mark.value {
            v if (v - 0.0).abs() < 1e-9 => negative_name.to_string(),
            v if (v - 1.0).abs() < 1e-9 => non_negative_name.to_string(),
            v if (v - 0.5).abs() < 1e-9 => "0.5".to_string(),
            _ => String::new(),
        }
    };
    let y_marks = |_input: egui_plot::GridInput| {
        [0.0, 0.25, 0.5, 0.75, 1.0].into_iter().map(|value| GridMark { value, step_size: 0.25 }).collect()
    };
    let stage_name = lang.text(Key::AssessmentStage);
    let mut plot = Plot::new("trajectory");
    if reset_view {
        plot = plot.reset();
    }
    let response = plot
        .height(height)
        .link_axis(axis_group, [true, false])
        .link_cursor(axis_group, [true, false])
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .allow_scroll([true, false])
        .allow_boxed_zoom(false)
        .default_x_bounds(0.0, minutes(duration_s).max(1.0))
        .default_y_bounds(-0.05, 1.05)
        .include_y(-0.05)
        .include_y(1.05)
        .y_grid_spacer(y_marks)
        .y_axis_formatter(y_label)
        .y_axis_min_width(Y_AXIS_WIDTH)
        .x_axis_label(lang.text(Key::AxisTime))
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::RightTop))
        .label_formatter(|hover| match hover {
            egui_plot::HoverPosition::NearDataPoint { position, .. } => {
                Some(format!("{:.2} min\np = {:.2}", position.x, position.y))
            }
            egui_plot::HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot_ui| {
            plot_ui.span(Span::new(stage_name, 0.0..=minutes(assessment_end_s)).fill(ASSESSMENT_SHADE));
            plot_ui.hline(HLine::new(lang.text(Key::Threshold), 0.5).color(Color32::GRAY).style(LineStyle::dashed_loose()));
            plot_ui.points(
                Points::new(negative_name, PlotPoints::from(negative_points))
                    .color(NEGATIVE_COLOUR)
                    .radius(4.0)
                    .shape(MarkerShape::Circle)
                    .filled(true),
            );
            plot_ui.points(
                Points::new(non_negative_name, PlotPoints::from(non_negative_points))
                    .color(NON_NEGATIVE_COLOUR)
                    .radius(4.0)
                    .shape(MarkerShape::Circle)
                    .filled(true),
            );
            if let Some(segment) = selected.and_then(|i| segments.get(i)) {
                plot_ui.points(
                    Points::new(lang.text(Key::Playhead), vec![point(&segment)])
                        .color(PLAYHEAD_COLOUR)
                        .radius(7.0)
                        .shape(MarkerShape::Circle)
                        .filled(false),
                );
            }
            if let Some(seconds) = playhead_s {
                plot_ui.vline(VLine::new(lang.text(Key::Playhead), minutes(seconds)).color(PLAYHEAD_COLOUR).width(2.0));
            }
            plot_ui.response().clicked().then(|| plot_ui.response().interact_pointer_pos()).flatten()
        });

    let clicked = response.inner.and_then(|pointer| {
        let transform = &response.transform;
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let at = transform.position_from_point(&egui_plot::PlotPoint::new(minutes((s.start_s + s.end_s) / 2.0), s.p_nonnegative));
                (i, at.distance(pointer))
            })
            .filter(|(_, distance)| *distance <= PICK_RADIUS)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    });
    TrajectoryOutput { clicked, plotted_points }
}
