//! The emotional-trajectory figure in the style of the paper's Fig. 2: p(non-negative) per caller
//! segment against call time, y from Negative to Non-negative, the 0.5 line, the assessment stage
//! shaded and its boundary marked, both stages' NSS/ECR in the legend, and (when given) the
//! caller's smoothed trend with its 95% band ([`crate::analysis::trend`]).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use crate::analysis::trend::Trend;
use crate::analysis::{EmotionLabel, ScoredSegment, StageSummary, SummaryStage};

/// Pixel size of the PNG (and user units of the SVG).
pub const FIGURE_SIZE: (u32, u32) = (1400, 560);

const NEGATIVE_COLOUR: RGBColor = RGBColor(200, 40, 40);
const NON_NEGATIVE_COLOUR: RGBColor = RGBColor(30, 90, 200);
const ASSESSMENT_SHADE: RGBColor = RGBColor(255, 226, 170);
/// The trend line and its band: dark green, apart from the points' red and blue.
pub(crate) const TREND_COLOUR: RGBColor = RGBColor(20, 120, 70);
pub(crate) const FONT: &str = "sans-serif";

/// The language of the figure's labels (the title is the recording's name either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FigureLanguage {
    #[default]
    English,
    /// Simplified Chinese, in the review window's terms.
    Chinese,
}

impl std::str::FromStr for FigureLanguage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Self::English),
            "zh" | "zh-cn" | "chinese" => Ok(Self::Chinese),
            other => Err(format!("unknown figure language '{other}' (en or zh)")),
        }
    }
}

/// The figure's words in one language.
struct Words {
    time_axis: &'static str,
    p_axis: &'static str,
    negative: &'static str,
    non_negative: &'static str,
    negative_points: &'static str,
    non_negative_points: &'static str,
    not_defined: &'static str,
}

impl FigureLanguage {
    /// The trend's legend entry, e.g. "Trend: 3-min moving average, 95% band".
    pub fn trend_legend(self, window_minutes: f64) -> String {
        // Shortest form of the width to the second: 3, 0.5, 2.25.
        let minutes = (window_minutes * 60.0).round() / 60.0;
        let minutes = format!("{}", (minutes * 1000.0).round() / 1000.0);
        match self {
            Self::English => format!("Trend: {minutes}-min moving average, 95% band"),
            Self::Chinese => format!("趋势: {minutes} 分钟滑动平均, 95% 区间"),
        }
    }

    fn words(self) -> Words {
        match self {
            Self::English => Words {
                time_axis: "Call time (min)",
                p_axis: "p(non-negative)",
                negative: "Negative",
                non_negative: "Non-negative",
                negative_points: "Negative segment (p ≤ 0.5)",
                non_negative_points: "Non-negative segment (p > 0.5)",
                not_defined: "n/a",
            },
            Self::Chinese => Words {
                time_axis: "通话时间 (分钟)",
                p_axis: "p(非负性)",
                negative: "负性",
                non_negative: "非负性",
                negative_points: "负性片段 (p ≤ 0.5)",
                non_negative_points: "非负性片段 (p > 0.5)",
                not_defined: "无",
            },
        }
    }
}

/// What the figure shows.
pub struct TrajectoryFigure<'a> {
    /// Usually the recording's file name; Chinese renders (bundled CJK font).
    pub title: String,
    pub segments: &'a [ScoredSegment],
    pub summaries: &'a [StageSummary],
    pub assessment_end_s: f64,
    pub call_duration_s: f64,
    pub language: FigureLanguage,
    /// The smoothed trend and its band, drawn over the points.
    pub trend: Option<&'a Trend>,
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

pub(crate) fn register_fonts() -> Result<(), ReportError> {
    static REGISTER: Once = Once::new();
    let mut outcome = Ok(());
    REGISTER.call_once(|| {
        outcome = plotters::style::register_font(FONT, FontStyle::Normal, crate::assets::CJK_FONT)
            .map_err(|_| ReportError::Figure("the bundled CJK font cannot be read".into()));
    });
    outcome
}

/// The legend line for one stage, e.g. "Assessment (0–30 min): NSS 12 · ECR 0.21 (binary) / 0.18 (prob) · 40 segments".
pub fn stage_legend(summary: &StageSummary, assessment_end_s: f64, language: FigureLanguage) -> String {
    let format_ecr = |v: Option<f64>| v.map_or(language.words().not_defined.to_string(), |v| format!("{v:.2}"));
    let minutes = assessment_end_s / 60.0;
    let (nss, binary, prob, n) = (summary.nss, format_ecr(summary.ecr_binary), format_ecr(summary.ecr_prob), summary.n_segments);
    match language {
        FigureLanguage::English => {
            let stage = match summary.stage {
                SummaryStage::Assessment => format!("Assessment (0–{minutes:.0} min)"),
                SummaryStage::Full => "Full call".to_string(),
            };
            format!("{stage}: NSS {nss} · ECR {binary} (binary) / {prob} (prob) · {n} segments")
        }
        FigureLanguage::Chinese => {
            let stage = match summary.stage {
                SummaryStage::Assessment => format!("评估阶段 (0–{minutes:.0} 分钟)"),
                SummaryStage::Full => "全部通话".to_string(),
            };
            format!("{stage}: NSS {nss} · ECR {binary} (二值) / {prob} (概率) · {n} 个片段")
        }
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &TrajectoryFigure) -> Result<(), ReportError> {
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| ReportError::Figure(e.to_string());
    let words = figure.language.words();
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
        .x_desc(words.time_axis)
        .y_desc(words.p_axis)
        .y_labels(3)
        .y_label_formatter(&|y| match *y {
            y if y < 0.25 => words.negative.to_string(),
            y if y > 0.75 => words.non_negative.to_string(),
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
    if let Some(trend) = figure.trend {
        draw_trend(&mut chart, trend).map_err(fail)?;
    }
    Ok(())
}

/// The band as one filled polygon per run of defined grid points, and the mean as a line over
/// the points.
fn draw_trend<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    trend: &Trend,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let minute = |i: usize| trend.grid_s[i] / 60.0;
    for run in trend.defined_runs() {
        let band: Vec<(f64, f64)> =
            run.clone().map(|i| (minute(i), trend.upper[i])).chain(run.clone().rev().map(|i| (minute(i), trend.lower[i]))).collect();
        chart.draw_series(std::iter::once(Polygon::new(band, TREND_COLOUR.mix(0.22).filled())))?;
        chart.draw_series(LineSeries::new(run.map(|i| (minute(i), trend.mean[i])), TREND_COLOUR.stroke_width(3)))?;
    }
    Ok(())
}

const HEADER_HEIGHT: u32 = 136;
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
        area.draw(&Text::new(stage_legend(summary, figure.assessment_end_s, figure.language), (left + 26, y), text.clone()))?;
    }
    let legend_x = width as i32 - 330;
    let words = figure.language.words();
    for (row, (colour, label)) in [(NEGATIVE_COLOUR, words.negative_points), (NON_NEGATIVE_COLOUR, words.non_negative_points)]
    .into_iter()
    .enumerate()
    {
        let y = 52 + row as i32 * 26;
        area.draw(&Circle::new((legend_x, y + 8), POINT_RADIUS, colour.filled()))?;
        area.draw(&Text::new(label, (legend_x + 14, y), text.clone()))?;
    }
    if let Some(trend) = figure.trend {
        let y = 52 + 2 * 26;
        area.draw(&Rectangle::new([(legend_x - 8, y + 2), (legend_x + 8, y + 14)], TREND_COLOUR.mix(0.22).filled()))?;
        area.draw(&PathElement::new(vec![(legend_x - 8, y + 8), (legend_x + 8, y + 8)], TREND_COLOUR.stroke_width(3)))?;
        area.draw(&Text::new(figure.language.trend_legend(trend.window_minutes), (legend_x + 14, y), text.clone()))?;
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
            language: FigureLanguage::English,
            trend: None,
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
    fn chinese_labels_replace_the_english_ones() {
        let (segments, summaries) = example();
        let figure = TrajectoryFigure {
            title: "来电.wav".into(),
            segments: &segments,
            summaries: &summaries,
            assessment_end_s: 1800.0,
            call_duration_s: 2820.0,
            language: FigureLanguage::Chinese,
            trend: None,
        };
        let svg = svg_string(&figure).unwrap();
        for words in ["通话时间 (分钟)", "负性片段", "非负性片段", "评估阶段 (0–30 分钟): NSS", "全部通话: NSS", "个片段"] {
            assert!(svg.contains(words), "{words}");
        }
        for english in ["Call time", "Negative", "Full call", "segments"] {
            assert!(!svg.contains(english), "{english}");
        }
        assert_eq!(svg.matches("<circle").count(), segments.len() + 2);
        assert_eq!("zh".parse::<FigureLanguage>(), Ok(FigureLanguage::Chinese));
        assert_eq!("EN".parse::<FigureLanguage>(), Ok(FigureLanguage::English));
        assert!("fr".parse::<FigureLanguage>().is_err());
    }

    #[test]
    fn the_trend_is_a_band_and_a_line_over_the_points() {
        let (segments, summaries) = example();
        let trend = crate::analysis::trend::caller_trend(&segments, 2820.0, 3.0, 10.0);
        let figure = TrajectoryFigure {
            title: "call".into(),
            segments: &segments,
            summaries: &summaries,
            assessment_end_s: 1800.0,
            call_duration_s: 2820.0,
            language: FigureLanguage::English,
            trend: Some(&trend),
        };
        let svg = svg_string(&figure).unwrap();
        // Segments 70 s apart and a 3-min window: no gaps, so one band polygon.
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert!(svg.contains("Trend: 3-min moving average, 95% band"));
        assert_eq!(svg.matches("<circle").count(), segments.len() + 2, "the trend adds no points");
        let chinese = svg_string(&TrajectoryFigure { language: FigureLanguage::Chinese, ..figure }).unwrap();
        assert!(chinese.contains("趋势: 3 分钟滑动平均, 95% 区间"));
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
            language: FigureLanguage::English,
            trend: None,
        };
        write_png(&figure, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left behind");
    }
}
