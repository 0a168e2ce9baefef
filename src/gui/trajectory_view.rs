//! The trajectory (paper Fig. 2, interactive): p(non-negative) per caller segment against call
//! time in minutes, the 0.5 line, the assessment stage shaded, points coloured by label, and the
//! caller's trend with its 95% band; points, trend and band can each be hidden (View menu).

use eframe::egui::{self, Color32};
use egui_plot::{GridMark, HLine, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points, Polygon, Span, VLine};

use super::i18n::{Key, Lang};
use super::waveform::PLAYHEAD_COLOUR;
use super::settings::Settings;
use crate::analysis::trend::Trend;
use crate::analysis::{EmotionLabel, ScoredSegment};

/// The trend line and band: dark green, apart from the points' red and blue.
pub const TREND_COLOUR: Color32 = Color32::from_rgb(20, 120, 70);
/// At most this many band pieces are drawn (a long call's 10-s grid is thinned for drawing).
const MAX_BAND_PIECES: usize = 600;

/// What the plot draws besides the stage, threshold and playhead.
pub struct TrajectoryLayers<'a> {
    pub show_points: bool,
    /// `None`: no trend line.
    pub trend: Option<&'a Trend>,
    pub show_band: bool,
}

/// The View menu's trajectory entries (points, trend, band, trend window); true when a setting
/// changed.
pub fn layer_menu(ui: &mut egui::Ui, lang: Lang, settings: &mut Settings) -> bool {
    let mut changed = false;
    ui.separator();
    changed |= ui.checkbox(&mut settings.show_points, lang.text(Key::ShowPoints)).changed();
    changed |= ui.checkbox(&mut settings.show_trend, lang.text(Key::ShowTrend)).changed();
    changed |= ui.add_enabled(settings.show_trend, egui::Checkbox::new(&mut settings.show_trend_band, lang.text(Key::ShowTrendBand))).changed();
    ui.horizontal(|ui| {
        ui.label(lang.text(Key::TrendWindow));
        let value = egui::DragValue::new(&mut settings.trend_window_minutes).range(0.5..=30.0).speed(0.1).max_decimals(1);
        changed |= ui.add(value).changed();
    });
    changed |= ui.checkbox(&mut settings.show_spectrogram, lang.text(Key::ShowSpectrogram)).changed();
    ui.separator();
    changed
}

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
    layers: TrajectoryLayers<'_>,
) -> TrajectoryOutput {
    let minutes = |s: f64| s / 60.0;
    let (negative, non_negative): (Vec<&ScoredSegment>, Vec<&ScoredSegment>) =
        segments.iter().partition(|s| s.label() == EmotionLabel::Negative);
    let plotted_points = if layers.show_points { negative.len() + non_negative.len() } else { 0 };
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
            if let Some(trend) = layers.trend {
                draw_trend(plot_ui, lang, trend, layers.show_band);
            }
            if !layers.show_points {
                return plot_ui.response().clicked().then(|| plot_ui.response().interact_pointer_pos()).flatten();
            }
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

    let clicked = response.inner.filter(|_| layers.show_points).and_then(|pointer| {
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

/// The band as one convex piece per grid step (egui fills convex polygons only) under the line;
/// the pieces share one legend entry.
fn draw_trend(plot_ui: &mut egui_plot::PlotUi<'_>, lang: Lang, trend: &Trend, show_band: bool) {
    let minute = |i: usize| trend.grid_s[i] / 60.0;
    let thin = (trend.grid_s.len() / MAX_BAND_PIECES).max(1);
    for run in trend.defined_runs() {
        if show_band {
            let mut corners: Vec<usize> = run.clone().step_by(thin).collect();
            if corners.last() != Some(&(run.end - 1)) {
                corners.push(run.end - 1);
            }
            for pair in corners.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let piece = vec![[minute(a), trend.lower[a]], [minute(b), trend.lower[b]], [minute(b), trend.upper[b]], [minute(a), trend.upper[a]]];
                plot_ui.polygon(
                    Polygon::new(lang.text(Key::TrendBandName), PlotPoints::from(piece))
                        .fill_color(TREND_COLOUR.gamma_multiply(0.22))
                        // A zero-width stroke in the trend's colour: invisible, but the legend takes its colour.
                        .stroke(egui::Stroke::new(0.0, TREND_COLOUR)),
                );
            }
        }
        let line: Vec<[f64; 2]> = run.map(|i| [minute(i), trend.mean[i]]).collect();
        plot_ui.line(Line::new(lang.text(Key::TrendName), PlotPoints::from(line)).color(TREND_COLOUR).width(2.5));
    }
}
