//! The Help menu: a short user guide, the keyboard shortcuts and About (version, the built-in
//! model and what it was trained on, licences), each in its own small window.

use eframe::egui::{self, RichText};

use super::i18n::{Key, Lang};
use crate::model::default_model::default_bundle;

/// The keyboard shortcuts the window handles (see `ReviewApp::handle_keys`): key, what it does.
pub const SHORTCUTS: &[(&str, Key)] = &[
    ("Space", Key::ShortcutPlay),
    ("→", Key::ShortcutNext),
    ("←", Key::ShortcutPrevious),
    ("N", Key::ShortcutNegative),
    ("P", Key::ShortcutNonNegative),
    ("Backspace", Key::ShortcutClear),
];

/// Which Help windows are open.
#[derive(Debug, Default)]
pub struct HelpWindows {
    guide: bool,
    shortcuts: bool,
    about: bool,
}

impl HelpWindows {
    /// The Help menu of the menu bar.
    pub fn menu(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.menu_button(lang.text(Key::MenuHelp), |ui| {
            for (key, open) in [(Key::MenuGuide, &mut self.guide), (Key::MenuShortcuts, &mut self.shortcuts), (Key::MenuAbout, &mut self.about)] {
                if ui.button(lang.text(key)).clicked() {
                    *open = true;
                    ui.close();
                }
            }
        });
    }

    /// Draws the open Help windows.
    pub fn show(&mut self, ctx: &egui::Context, lang: Lang) {
        egui::Window::new(lang.text(Key::MenuGuide)).open(&mut self.guide).default_width(560.0).show(ctx, |ui| {
            egui::ScrollArea::vertical().max_height(520.0).show(ui, |ui| {
                for key in GUIDE {
                    ui.label(lang.text(*key));
                    ui.add_space(6.0);
                }
            });
        });
        egui::Window::new(lang.text(Key::MenuShortcuts)).open(&mut self.shortcuts).resizable(false).show(ctx, |ui| {
            shortcuts_grid(ui, lang);
        });
        egui::Window::new(lang.text(Key::MenuAbout)).open(&mut self.about).default_width(520.0).show(ctx, |ui| about(ui, lang));
    }
}

/// The guide's paragraphs, in reading order.
const GUIDE: &[Key] = &[Key::GuideOpen, Key::GuideTrajectory, Key::GuideCaller, Key::GuideListen, Key::GuideLabel, Key::GuideExport, Key::GuideLimits];

pub fn shortcuts_grid(ui: &mut egui::Ui, lang: Lang) {
    egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
        for (key, what) in SHORTCUTS {
            ui.monospace(*key);
            ui.label(lang.text(*what));
            ui.end_row();
        }
    });
}

fn about(ui: &mut egui::Ui, lang: Lang) {
    ui.heading(format!("emotrace {}", env!("CARGO_PKG_VERSION")));
    ui.label(RichText::new(lang.text(Key::AboutNotDiagnosis)).strong());
    ui.add_space(6.0);
    egui::ScrollArea::vertical().max_height(420.0).show(ui, |ui| {
        match default_bundle() {
            Ok(bundle) => {
                ui.label(format!("{} {}", lang.text(Key::AboutModel), bundle.meta.name));
                ui.label(format!("{} {}", lang.text(Key::AboutTrainingData), bundle.meta.training_data));
                ui.add_space(6.0);
                ui.label(RichText::new(lang.text(Key::AboutLicences)).strong());
                for line in &bundle.meta.licences {
                    ui.label(format!("• {line}"));
                }
            }
            // The embedded bundle is checked by tests; say so rather than panic if it ever fails.
            Err(error) => {
                ui.colored_label(ui.visuals().error_fg_color, error.to_string());
            }
        }
        ui.add_space(6.0);
        ui.label(lang.text(Key::AboutOtherLicences));
    });
}
