//! The review window: a thin shell over the library. Work runs on worker threads that report to
//! the GUI over channels, so the window never blocks.

mod fonts;

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};

use eframe::egui;

use crate::audio::{probe_info, AudioError, AudioInfo};

/// Opens the window, optionally with a recording already loading.
pub fn run(file: Option<PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("emotrace")
            .with_inner_size([960.0, 640.0]),
        ..Default::default()
    };
    eframe::run_native(
        "emotrace",
        options,
        Box::new(move |cc| {
            fonts::install(&cc.egui_ctx);
            let mut app = ReviewApp::default();
            if let Some(path) = file {
                app.open(path, cc.egui_ctx.clone());
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

enum Recording {
    Loading { path: PathBuf, result: Receiver<Result<AudioInfo, AudioError>> },
    Ready(AudioInfo),
    Failed(String),
}

#[derive(Default)]
struct ReviewApp {
    recording: Option<Recording>,
}

impl ReviewApp {
    fn open(&mut self, path: PathBuf, ctx: egui::Context) {
        let (sender, receiver) = mpsc::channel();
        let worker_path = path.clone();
        std::thread::spawn(move || {
            let _ = sender.send(probe_info(&worker_path));
            ctx.request_repaint();
        });
        self.recording = Some(Recording::Loading { path, result: receiver });
    }

    fn poll_worker(&mut self) {
        if let Some(Recording::Loading { result, .. }) = &self.recording {
            if let Ok(outcome) = result.try_recv() {
                self.recording = Some(match outcome {
                    Ok(info) => Recording::Ready(info),
                    Err(error) => Recording::Failed(error.to_string()),
                });
            }
        }
    }
}

impl eframe::App for ReviewApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.poll_worker();
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("emotrace");
            ui.label("Emotional trajectory review of recorded support-line calls.");
            ui.separator();
            match &self.recording {
                None => {
                    ui.label("Open a call from the command line: emotrace CALL.wav");
                }
                Some(Recording::Loading { path, .. }) => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Reading {}", path.display()));
                    });
                }
                Some(Recording::Ready(info)) => {
                    egui::Grid::new("recording-info").striped(true).show(ui, |ui| {
                        let rows = [
                            ("File", info.path.display().to_string()),
                            ("Container", info.container.clone()),
                            ("Codec", info.codec.clone()),
                            ("Sample rate", format!("{} Hz", info.sample_rate)),
                            ("Channels", info.channels.to_string()),
                            ("Duration", format!("{:.1} s", info.duration_s)),
                        ];
                        for (name, value) in rows {
                            ui.label(name);
                            ui.label(value);
                            ui.end_row();
                        }
                    });
                    for warning in &info.warnings {
                        ui.colored_label(ui.visuals().warn_fg_color, warning);
                    }
                }
                Some(Recording::Failed(message)) => {
                    ui.colored_label(ui.visuals().error_fg_color, message);
                }
            }
        });
    }
}
