//! The reliability diagram of an evaluation: per bin of predicted p(non-negative), the observed
//! fraction of non-negative clips against the bins' mean p, with the diagonal a calibrated model
//! follows and the clip count per bin. Written as PNG or SVG (by extension) with the table beside
//! it as CSV (`<name>.csv`).
use std::path::Path;

use plotters::prelude::*;

use super::figure::{register_fonts, FONT};
use super::ReportError;
use crate::training::calibration::ReliabilityBin;

const SIZE: (u32, u32) = (640, 640);

/// Writes the diagram (PNG, or SVG when `path` ends in .svg) and `path` with a .csv extension.
pub fn write_reliability(path: &Path, bins: &[ReliabilityBin], model: &str, ece: f64) -> Result<(), ReportError> {
    register_fonts()?;
    let mut csv = String::from("lower,upper,count,mean_p,observed_non_negative\n");
    for b in bins {
        let num = |v: f64| if v.is_finite() { format!("{v:.6}") } else { String::new() };
        csv.push_str(&format!("{:.2},{:.2},{},{},{}\n", b.lower, b.upper, b.count, num(b.mean_p), num(b.observed)));
    }
    let csv_path = path.with_extension("csv");
    crate::fsutil::atomic_write(&csv_path, csv.as_bytes()).map_err(|cause| ReportError::Write { path: csv_path.clone(), cause })?;
    let title = format!("{model}: reliability (ECE {ece:.3})");
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            draw(&root, bins, &title)?;
            root.present().map_err(|e| ReportError::Figure(e.to_string()))?;
        }
        return crate::fsutil::atomic_write(path, svg.as_bytes()).map_err(|cause| ReportError::Write { path: path.to_path_buf(), cause });
    }
    crate::fsutil::atomic_write_via_path(path, |temporary| -> Result<(), ReportError> {
        let root = BitMapBackend::new(temporary, SIZE).into_drawing_area();
        draw(&root, bins, &title)?;
        root.present().map_err(|e| ReportError::Figure(e.to_string()))
    })
    .map_err(|e| match e {
        ReportError::Io(cause) => ReportError::Write { path: path.to_path_buf(), cause },
        other => other,
    })
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, bins: &[ReliabilityBin], title: &str) -> Result<(), ReportError> {
    let fail = |e: &dyn std::fmt::Display| ReportError::Figure(e.to_string());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("mean predicted p(non-negative)")
        .y_desc("observed fraction non-negative")
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| fail(&e))?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4))).map_err(|e| fail(&e))?;
    let filled: Vec<&ReliabilityBin> = bins.iter().filter(|b| b.count > 0).collect();
    let largest = filled.iter().map(|b| b.count).max().unwrap_or(1) as f64;
    let blue = RGBColor(30, 90, 200);
    chart.draw_series(LineSeries::new(filled.iter().map(|b| (b.mean_p, b.observed)), blue.stroke_width(2))).map_err(|e| fail(&e))?;
    chart
        .draw_series(filled.iter().map(|b| Circle::new((b.mean_p, b.observed), 3 + (9.0 * (b.count as f64 / largest).sqrt()) as i32, blue.filled())))
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(filled.iter().map(|b| {
            Text::new(format!("{}", b.count), (b.mean_p + 0.015, (b.observed - 0.04).max(0.01)), (FONT, 12).into_font().color(&BLACK.mix(0.7)))
        }))
        .map_err(|e| fail(&e))?;
    Ok(())
}
