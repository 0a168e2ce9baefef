//! The emotional-trajectory figure in the style of the paper's Fig. 2: p(non-negative) per caller
//! segment against call time, y from Negative to Non-negative, the 0.5 line, the assessment stage
//! shaded and its boundary marked, and both stages' NSS/ECR in the legend.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use crate::analysis::{EmotionLabel, ScoredSegment, StageSummary, SummaryStage};

/// Pixel size of the PNG (and user units of the SVG).
pub const FIGURE_SIZE: (u32, u32) = (1400, 560);

const NEGATIVE_COLOUR: RGBColor = RGBColor(200, 40, 40);
const NON_NEGATIVE_COLOUR: RGBColor = RGBColor(30, 90, 200);
const ASSESSMENT_SHADE: RGBColor = RGBColor(255, 226, 170);
const FONT: &str = "sans-serif";

/// What the figure shows.
pub struct TrajectoryFigure<'a> {
    /// Usually the recording's file name; Chinese renders (bundled CJK font).
    pub title: String,
    pub segments: &'a [ScoredSegment],
    pub summaries: &'a [StageSummary],
    pub assessment_end_s: f64,
    pub call_duration_s: f64,
}

/// Writes the figure as PNG, atomically.
pub fn write_png(figure: &TrajectoryFigure, path: &Path) -> Result<(), ReportError> {
    register_fonts()?;
    let write_error = |cause| ReportError::Write { path: path.to_path_buf(), cause };
    crate::fsutil::atomic_write_via_path(path, |temporary| -> Result<(), ReportError> {
        let root = BitMapBackend::new(temporary, FIGURE_SIZE).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(|e| ReportError::Figure(e.to_string()))
    })
    .map_err(|e| match e {
        ReportError::Io(cause) => write_error(cause),
        other => other,
    })
}

/// Renders the figure as an SVG document.
pub fn svg_string(figure: &TrajectoryFigure) -> Result<String, ReportError> {
    register_fonts()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(|e| ReportError::Figure(e.to_string()))?;
    }
    Ok(svg)
}

/// Writes the figure as SVG, atomically.
pub fn write_svg(figure: &TrajectoryFigure, path: &Path) -> Result<(), ReportError> {
    let svg = svg_string(figure)?;
    crate::fsutil::atomic_write(path, svg.as_bytes())
        .map_err(|cause| ReportError::Write { path: path.to_path_buf(), cause })
}

fn register_fonts() -> Result<(), ReportError> {
    static REGISTER: Once = Once::new();
    let mut outcome = Ok(());
    REGISTER.call_once(|| {
        outcome = plotters::style::register_font(FONT, FontStyle::Normal, crate::assets::CJK_FONT)
            .map_err(|_| ReportError::Figure("the bundled CJK font cannot be read".into()));
    });
    outcome
}

/// The legend line for one stage, e.g. "Assessment (0–30 min): NSS 12 · ECR 0.21 (binary) / 0.18 (prob) · 40 segments".
pub fn stage_legend(summary: &StageSummary, assessment_end_s: f64) -> String {
    let format_ecr = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
    let name = match summary.stage {
        SummaryStage::Assessment => format!("Assessment (0–{:.0} min)", assessment_end_s / 60.0),
        SummaryStage::Full => "Full call".to_string(),
    };
    format!(
        "{name}: NSS {} · ECR {} (binary) / {} (prob) · {} segments",
        summary.nss,
        format_ecr(summary.ecr_binary),
        format_ecr(summary.ecr_prob),
        summary.n_segments
    )
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &TrajectoryFigure) -> Result<(), ReportError> {
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| ReportError::Figure(e.to_string());
    root.fill(&WHITE).map_err(fail)?;
    // The header holds the title, both stages' metrics and the legend, so nothing covers a point.
    let (header, body) = root.split_vertically(HEADER_HEIGHT);
    draw_header(&header, figure).map_err(fail)?;

    let minutes = |seconds: f64| seconds / 60.0;
    let latest_end = figure.segments.iter().map(|s| s.end_s).fold(0.0, f64::max);
    let x_max = minutes(figure.call_duration_s.max(latest_end)).max(1.0);
    let mut chart = ChartBuilder::on(&body)
        .margin(18)
        .margin_top(6)
        .x_label_area_size(50)
        .y_label_area_size(120)
        .build_cartesian_2d(0f64..x_max, -0.05f64..1.05f64)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("Call time (min)")
        .y_desc("p(non-negative)")
        .y_labels(3)
        .y_label_formatter(&|y| match *y {
            y if y < 0.25 => "Negative".to_string(),
            y if y > 0.75 => "Non-negative".to_string(),
            _ => "0.5".to_string(),
        })
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(fail)?;

    let assessment_end_min = minutes(figure.assessment_end_s).min(x_max);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, -0.05), (assessment_end_min, 1.05)],
            ASSESSMENT_SHADE.mix(0.45).filled(),
        )))
        .map_err(fail)?;
    if minutes(figure.assessment_end_s) < x_max {
        chart
            .draw_series(DashedLineSeries::new(
                [(assessment_end_min, -0.05), (assessment_end_min, 1.05)],
                8,
                5,
                BOUNDARY_COLOUR.stroke_width(2),
            ))
            .map_err(fail)?;
    }
    chart
        .draw_series(DashedLineSeries::new([(0.0, 0.5), (x_max, 0.5)], 6, 6, BLACK.mix(0.5).stroke_width(1)))
        .map_err(fail)?;

    let mut ordered: Vec<&ScoredSegment> = figure.segments.iter().collect();
    ordered.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let centre = |s: &ScoredSegment| minutes((s.start_s + s.end_s) / 2.0);
    chart
        .draw_series(LineSeries::new(
            ordered.iter().map(|s| (centre(s), s.p_nonnegative)),
            BLACK.mix(0.35).stroke_width(1),
        ))
        .map_err(fail)?;
    chart
        .draw_series(ordered.iter().map(|s| {
            let colour = match s.label() {
                EmotionLabel::Negative => NEGATIVE_COLOUR,
                EmotionLabel::NonNegative => NON_NEGATIVE_COLOUR,
            };
            Circle::new((centre(s), s.p_nonnegative), POINT_RADIUS, colour.filled())
        }))
        .map_err(fail)?;
    Ok(())
}

const HEADER_HEIGHT: u32 = 112;
const POINT_RADIUS: i32 = 4;
const BOUNDARY_COLOUR: RGBColor = RGBColor(150, 90, 0);

fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &TrajectoryFigure,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, _) = area.dim_in_pixel();
    let title_style = TextStyle::from((FONT, 26).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(figure.title.clone(), (width as i32 / 2, 10), title_style))?;

    let text = TextStyle::from((FONT, 16).into_font());
    let left = 140;
    for (row, summary) in figure.summaries.iter().enumerate() {
        let y = 52 + row as i32 * 26;
        if summary.stage == SummaryStage::Assessment {
            area.draw(&Rectangle::new([(left, y + 2), (left + 16, y + 14)], ASSESSMENT_SHADE.filled()))?;
            area.draw(&Rectangle::new([(left, y + 2), (left + 16, y + 14)], BOUNDARY_COLOUR.stroke_width(1)))?;
        }
        area.draw(&Text::new(stage_legend(summary, figure.assessment_end_s), (left + 26, y), text.clone()))?;
    }
    let legend_x = width as i32 - 330;
    for (row, (colour, label)) in [
        (NEGATIVE_COLOUR, "Negative segment (p ≤ 0.5)"),
        (NON_NEGATIVE_COLOUR, "Non-negative segment (p > 0.5)"),
    ]
    .into_iter()
    .enumerate()
    {
        let y = 52 + row as i32 * 26;
        area.draw(&Circle::new((legend_x, y + 8), POINT_RADIUS, colour.filled()))?;
        area.draw(&Text::new(label, (legend_x + 14, y), text.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::summarise_call;

    fn example() -> (Vec<ScoredSegment>, Vec<StageSummary>) {
        let segments: Vec<ScoredSegment> = (0..40)
            .map(|i| ScoredSegment {
                index: i,
                start_s: i as f64 * 70.0,
                end_s: i as f64 * 70.0 + 6.0,
                channel: 0,
                speaker: "caller".into(),
                p_nonnegative: ((i as f64 * 0.7).sin() + 1.0) / 2.0,
            })
            .collect();
        let summaries = summarise_call(&segments, 1800.0, 2820.0);
        (segments, summaries)
    }

    #[test]
    fn svg_has_one_point_per_segment_and_the_legend() {
        let (segments, summaries) = example();
        let figure = TrajectoryFigure {
            title: "来电 2026-03-01.wav".into(),
            segments: &segments,
            summaries: &summaries,
            assessment_end_s: 1800.0,
            call_duration_s: 2820.0,
        };
        let svg = svg_string(&figure).unwrap();
        // One circle per segment plus the two legend markers.
        let circles = svg.matches("<circle").count();
        assert_eq!(circles, segments.len() + 2, "one circle per segment plus two legend markers");
        assert!(svg.contains("来电 2026-03-01.wav"));
        assert!(svg.contains(&format!("NSS {}", summaries[0].nss)));
        assert!(svg.contains("Full call: NSS"));
    }

    #[test]
    fn png_is_written_atomically() {
        let (segments, summaries) = example();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trajectory.png");
        let figure = TrajectoryFigure {
            title: "call".into(),
            segments: &segments,
            summaries: &summaries,
            assessment_end_s: 1800.0,
            call_duration_s: 2820.0,
        };
        write_png(&figure, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left behind");
    }
}
