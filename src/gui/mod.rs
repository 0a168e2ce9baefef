//! The review window: a thin shell over the library. Analyses run on worker threads and report
//! [`AnalysisEvent`](crate::pipeline::AnalysisEvent)s over a channel, so the window never blocks.

mod annotators;
mod app;
pub mod builtin_install;
mod caller_baseline;
mod caller_panel;
pub mod encoder_import;
pub mod export;
pub mod history;
pub mod segment_edit;
mod fine_tune_compare;
mod fonts;
mod help;
pub mod i18n;
pub mod launcher;
mod metrics_panel;
pub mod one_shot;
pub mod models;
pub mod pipeline_launcher;
pub mod playback;
pub mod recent;
pub mod review;
pub mod script;
mod segment_table;
mod spectrogram;
pub mod settings;
mod start_page;
pub mod state;
mod training_window;
mod trajectory_view;
pub mod waveform;

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

pub use launcher::{AnalysisLauncher, LaunchSettings, SyntheticLauncher};

/// The analysis `emotrace FILE` runs: the pipeline with the model picked in the Model menu, or
/// the demo driver while no model is picked (the window then says "demo scoring: no model").
pub fn default_launcher() -> Arc<dyn AnalysisLauncher> {
    Arc::new(pipeline_launcher::ProductLauncher::default())
}

/// Opens the window, optionally with a recording already loading.
pub fn run(file: Option<PathBuf>) -> anyhow::Result<()> {
    run_with(file, default_launcher())
}

/// The window's icon (the package's hicolor icon); none if it ever failed to decode.
fn app_icon() -> Arc<egui::IconData> {
    Arc::new(eframe::icon_data::from_png_bytes(crate::assets::APP_ICON_PNG).unwrap_or_default())
}

/// Opens the window with a given analysis launcher.
pub fn run_with(file: Option<PathBuf>, launcher: Arc<dyn AnalysisLauncher>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emotrace")
            // The desktop entry's name (org.emotrace.emotrace.desktop), so desktops match the window to it.
            .with_app_id("org.emotrace.emotrace")
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([800.0, 520.0])
            .with_drag_and_drop(true)
            .with_icon(app_icon()),
        // Window size, position and panel layout persist beside the settings.
        persistence_path: settings::config_dir().map(|dir| dir.join("window.ron")),
        ..Default::default()
    };
    eframe::run_native(
        "emotrace",
        options,
        Box::new(move |cc| {
            fonts::install(&cc.egui_ctx);
            let mut app = app::ReviewApp::new(launcher, settings::Settings::load());
            if let Some(path) = file {
                app.open(path, &cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
