//! What the window shows with no call open: Open a call…, Try the demo call, the recent calls
//! (with a way to clear them) and one line on what the numbers mean; and, over the first call a
//! user opens, a hint pointing at the Caller panel, playback and labelling.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};

use eframe::egui::{self, RichText};
use serde::Serialize;

use super::i18n::{Key, Lang};
use super::recent::RecentFiles;

/// What the start page asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum StartAction {
    OpenDialog,
    OpenDemo,
    Open(PathBuf),
    ClearRecent,
}

/// The start page's state: the demo call being written out, and the test hooks.
pub struct StartPage {
    demo: Option<Receiver<Result<PathBuf, String>>>,
    hooks: StartHooks,
}

impl Default for StartPage {
    fn default() -> Self {
        Self { demo: None, hooks: StartHooks::from_env() }
    }
}

impl StartPage {
    /// Draws the start page in the central panel.
    pub fn show(&mut self, ui: &mut egui::Ui, lang: Lang, recent: &RecentFiles) -> Option<StartAction> {
        let clicked = draw(ui, lang, recent, self.demo.is_some());
        let simulated = self.hooks.after_start_frame(|| StartDump { start_page_shown: true, recent_calls: recent.iter().count(), language: lang });
        if simulated.is_some() {
            ui.ctx().request_repaint();
        }
        clicked.or(simulated)
    }

    /// Writes the demo call out of the binary on a worker thread (a few MB: the window keeps
    /// drawing); [`Self::poll_demo`] hands over its path.
    pub fn open_demo(&mut self, ctx: &egui::Context) {
        if self.demo.is_some() {
            return;
        }
        let (sender, receiver) = mpsc::channel();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let _ = sender.send(crate::assets::install_demo_call().map_err(|e| e.to_string()));
            ctx.request_repaint();
        });
        self.demo = Some(receiver);
    }

    pub fn poll_demo(&mut self) -> Option<Result<PathBuf, String>> {
        let outcome = self.demo.as_ref()?.try_recv().ok()?;
        self.demo = None;
        Some(outcome)
    }
}

fn draw(ui: &mut egui::Ui, lang: Lang, recent: &RecentFiles, demo_pending: bool) -> Option<StartAction> {
    let mut action = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space((ui.available_height() * 0.08).clamp(12.0, 80.0));
            ui.label(RichText::new("emotrace").size(34.0).strong());
            ui.label(RichText::new(lang.text(Key::StartTagline)).size(16.0));
            ui.add_space(24.0);
            let button = |text: &str| egui::Button::new(RichText::new(text).size(18.0)).min_size(egui::vec2(280.0, 44.0));
            if ui.add_enabled(!demo_pending, button(lang.text(Key::StartDemo))).clicked() {
                action = Some(StartAction::OpenDemo);
            }
            if demo_pending {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(lang.text(Key::DemoPreparing));
                });
            }
            ui.weak(lang.text(Key::StartDemoTip));
            ui.add_space(10.0);
            if ui.add(button(lang.text(Key::StartOpen))).clicked() {
                action = Some(StartAction::OpenDialog);
            }
            ui.weak(lang.text(Key::StartDropHint));
            ui.add_space(28.0);

            ui.label(RichText::new(lang.text(Key::StartRecent)).size(16.0).strong());
            if recent.is_empty() {
                ui.weak(lang.text(Key::StartNoRecent));
            }
            for path in recent.iter() {
                let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                if ui.link(name).on_hover_text(path.display().to_string()).clicked() {
                    action = Some(StartAction::Open(path.to_path_buf()));
                }
            }
            if !recent.is_empty() && ui.small_button(lang.text(Key::StartClearRecent)).clicked() {
                action = Some(StartAction::ClearRecent);
            }
            ui.add_space(28.0);
            // A readable line length for the explanation, centred under the buttons.
            let width = ui.available_width().min(720.0);
            ui.allocate_ui_with_layout(egui::vec2(width, 0.0), egui::Layout::top_down(egui::Align::Center), |ui| {
                ui.label(lang.text(Key::StartMeaning));
                ui.add_space(6.0);
                ui.weak(lang.text(Key::StartPrivacy));
            });
        });
    });
    action
}

/// The first-run hint over the review: where the caller is chosen, how to listen and how to
/// label. Returns true when the user dismissed it (remembered in the settings).
pub fn first_run_hint(ctx: &egui::Context, lang: Lang) -> bool {
    let mut dismissed = false;
    egui::Window::new(lang.text(Key::HintTitle))
        .collapsible(false)
        .resizable(false)
        .default_width(420.0)
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-470.0, -40.0))
        .show(ctx, |ui| {
            for key in [Key::HintCaller, Key::HintPlayback, Key::HintLabel] {
                ui.label(format!("• {}", lang.text(key)));
            }
            ui.add_space(4.0);
            if ui.button(lang.text(Key::HintDismiss)).clicked() {
                dismissed = true;
            }
        });
    dismissed
}

/// Test hooks read from the environment: EMOTRACE_GUI_START_DUMP=path writes [`StartDump`] once
/// the start page has been drawn; EMOTRACE_GUI_CLICK_DEMO=1 then clicks "Try the demo call", as
/// a user would, so EMOTRACE_GUI_STATE_DUMP can report the analysed demo.
#[derive(Debug)]
struct StartHooks {
    dump_path: Option<PathBuf>,
    click_demo: bool,
    frames_drawn: u32,
    done: bool,
}

/// What the start-page test checks.
#[derive(Debug, Serialize)]
pub struct StartDump {
    pub start_page_shown: bool,
    pub recent_calls: usize,
    pub language: Lang,
}

impl StartHooks {
    fn from_env() -> Self {
        Self {
            dump_path: std::env::var_os("EMOTRACE_GUI_START_DUMP").map(PathBuf::from),
            click_demo: std::env::var("EMOTRACE_GUI_CLICK_DEMO").is_ok_and(|v| v == "1"),
            frames_drawn: 0,
            done: false,
        }
    }

    /// Called after a frame that drew the start page; returns the click to simulate, if any.
    fn after_start_frame(&mut self, dump: impl FnOnce() -> StartDump) -> Option<StartAction> {
        if self.done || (self.dump_path.is_none() && !self.click_demo) {
            return None;
        }
        self.frames_drawn += 1;
        // Let a few frames lay the page out before reporting it.
        if self.frames_drawn < 3 {
            return None;
        }
        self.done = true;
        if let Some(path) = &self.dump_path {
            let written = serde_json::to_vec_pretty(&dump())
                .map_err(std::io::Error::other)
                .and_then(|json| crate::fsutil::atomic_write(path, &json));
            if let Err(error) = written {
                eprintln!("emotrace: cannot write the start-page dump {}: {error}", path.display());
            }
        }
        self.click_demo.then_some(StartAction::OpenDemo)
    }
}
