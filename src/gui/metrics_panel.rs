//! The stage metrics panel: NSS, both ECRs and segment counts for the assessment stage and the
//! full call, as the library computes them. Wording stays descriptive, never diagnostic.

use eframe::egui;
use serde::Serialize;

use super::i18n::{Key, Lang};
use crate::analysis::{StageSummary, SummaryStage};

/// The text the panel shows for one stage (also what the state dump reports).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownStage {
    pub stage: String,
    pub n_segments: String,
    pub nss: String,
    pub ecr_binary: String,
    pub ecr_prob: String,
}

/// How the panel prints an ECR: three decimals, or "n/a" when undefined (never 0).
pub fn format_ecr(value: Option<f64>, lang: Lang) -> String {
    value.map_or_else(|| lang.text(Key::NotDefined).to_string(), |v| format!("{v:.3}"))
}

pub fn shown(summary: &StageSummary, lang: Lang) -> ShownStage {
    ShownStage {
        stage: summary.stage.as_str().to_string(),
        n_segments: summary.n_segments.to_string(),
        nss: summary.nss.to_string(),
        ecr_binary: format_ecr(summary.ecr_binary, lang),
        ecr_prob: format_ecr(summary.ecr_prob, lang),
    }
}

/// Draws the panel; returns what it showed.
pub fn show(ui: &mut egui::Ui, lang: Lang, summaries: &[StageSummary], assessment_end_s: f64, partial: bool) -> Vec<ShownStage> {
    let mut title = lang.text(Key::MetricsTitle).to_string();
    if partial {
        title = format!("{title} {}", lang.text(Key::MetricsPartial));
    }
    ui.strong(title);
    let stages: Vec<ShownStage> = SummaryStage::ALL
        .iter()
        .filter_map(|stage| summaries.iter().find(|s| s.stage == *stage))
        .map(|s| shown(s, lang))
        .collect();
    let header = |stage: &str| match stage {
        "assessment" => format!("{} (0–{:.0} min)", lang.text(Key::AssessmentStage), assessment_end_s / 60.0),
        _ => lang.text(Key::FullCall).to_string(),
    };
    egui::Grid::new("stage-metrics").striped(true).num_columns(3).show(ui, |ui| {
        ui.label(lang.text(Key::MetricStage));
        for stage in &stages {
            ui.strong(header(&stage.stage));
        }
        ui.end_row();
        let rows: [(Key, Key, fn(&ShownStage) -> &str); 4] = [
            (Key::MetricSegments, Key::MetricSegmentsTip, |s| s.n_segments.as_str()),
            (Key::MetricNss, Key::MetricNssTip, |s| s.nss.as_str()),
            (Key::MetricEcrBinary, Key::MetricEcrBinaryTip, |s| s.ecr_binary.as_str()),
            (Key::MetricEcrProb, Key::MetricEcrProbTip, |s| s.ecr_prob.as_str()),
        ];
        for (name, tip, value) in rows {
            ui.label(lang.text(name)).on_hover_text(lang.text(tip));
            for stage in &stages {
                ui.label(value(stage)).on_hover_text(lang.text(tip));
            }
            ui.end_row();
        }
    });
    ui.small(lang.text(Key::MetricsNote));
    stages
}
