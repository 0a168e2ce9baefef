//! The fine-tuning window's figures: per-epoch loss and validation curves while a run trains,
//! and the starting and new models side by side on the held-out segments when it has ended.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::i18n::{Key, Lang};
use crate::training::compare::{HeldOutFigures, ModelComparison};
use crate::training::trainer::EpochRecord;

const LOSS_COLOUR: egui::Color32 = egui::Color32::from_rgb(70, 130, 200);
const VAL_LOSS_COLOUR: egui::Color32 = egui::Color32::from_rgb(230, 140, 40);
const VAL_F1_COLOUR: egui::Color32 = egui::Color32::from_rgb(60, 160, 90);

/// Training loss, validation loss and validation macro-F1 against the epoch.
pub fn show_curves(ui: &mut egui::Ui, lang: Lang, history: &[EpochRecord], epochs: usize) {
    if history.is_empty() {
        return;
    }
    ui.strong(lang.text(Key::TrainCurveTitle));
    let series = |value: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<[f64; 2]> {
        history.iter().filter_map(|r| value(r).map(|v| [r.epoch as f64, v])).collect()
    };
    let train_loss = series(&|r| Some(r.train_loss));
    let val_loss = series(&|r| r.val_loss);
    let val_f1 = series(&|r| r.val.as_ref().map(|m| m.macro_f1));
    Plot::new("fine_tune_curves")
        .height(150.0)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(1.0)
        .include_x(epochs.max(2) as f64)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label(lang.text(Key::TrainEpoch))
        .show(ui, |plot_ui| {
            for (points, key, colour) in [
                (train_loss, Key::TrainCurveLoss, LOSS_COLOUR),
                (val_loss, Key::TrainCurveValLoss, VAL_LOSS_COLOUR),
                (val_f1, Key::TrainCurveValF1, VAL_F1_COLOUR),
            ] {
                if points.is_empty() {
                    continue;
                }
                let name = lang.text(key);
                plot_ui.points(egui_plot::Points::new(name, PlotPoints::from(points.clone())).color(colour).radius(3.0));
                plot_ui.line(Line::new(name, PlotPoints::from(points)).color(colour));
            }
        });
}

/// The two models' figures in a table; returns whether "Switch to the new model" was clicked.
/// `switched`: the new model is already in use.
pub fn show_comparison(ui: &mut egui::Ui, lang: Lang, comparison: &ModelComparison, switched: bool) -> bool {
    ui.strong(lang.text(Key::CompareTitle));
    let held_out = if comparison.held_out_segments {
        lang.text(Key::CompareHeldOutSegments)
            .replacen("{}", &comparison.negatives.to_string(), 1)
            .replacen("{}", &comparison.non_negatives.to_string(), 1)
    } else {
        lang.text(Key::CompareHeldOutSpeakers)
            .replacen("{}", &comparison.held_out_speakers.join(", "), 1)
            .replacen("{}", &comparison.negatives.to_string(), 1)
            .replacen("{}", &comparison.non_negatives.to_string(), 1)
    };
    ui.label(held_out);
    ui.weak(lang.text(Key::CompareCaveat));
    let undefined = lang.text(Key::CompareUndefined);
    let fixed = |v: f64| format!("{v:.3}");
    let optional = |v: Option<f64>| v.map_or_else(|| undefined.to_string(), fixed);
    let rows: [(Key, &dyn Fn(&HeldOutFigures) -> String); 6] = [
        (Key::CompareSegments, &|f| f.n.to_string()),
        (Key::CompareMacroF1, &|f| fixed(f.macro_f1)),
        (Key::CompareNegativeF1, &|f| fixed(f.negative_f1)),
        (Key::CompareAccuracy, &|f| fixed(f.accuracy)),
        (Key::CompareKappa, &|f| optional(f.kappa)),
        (Key::CompareAuc, &|f| optional(f.auc)),
    ];
    egui::Grid::new("fine_tune_comparison").striped(true).num_columns(3).spacing([18.0, 4.0]).show(ui, |ui| {
        ui.strong(lang.text(Key::CompareFigure));
        ui.strong(format!("{}\n{}", lang.text(Key::CompareBefore), comparison.before.model));
        ui.strong(format!("{}\n{}", lang.text(Key::CompareAfter), comparison.after.model));
        ui.end_row();
        for (key, value) in rows {
            ui.label(lang.text(key));
            ui.monospace(value(&comparison.before.figures));
            ui.monospace(value(&comparison.after.figures));
            ui.end_row();
        }
    });
    if switched {
        ui.label(lang.text(Key::CompareSwitched));
        false
    } else {
        ui.button(lang.text(Key::CompareSwitch)).clicked()
    }
}
