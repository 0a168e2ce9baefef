//! The review window: menus, progress, trajectory, waveform, metrics, segment table, playback.
//! Everything it shows comes from the analysis events (see [`super::state`]).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use eframe::egui::containers::menu::{MenuButton, MenuConfig};
use eframe::egui::{self, Color32, RichText};
use serde::Serialize;

use super::export::{self, ExportKind};
use super::i18n::{Key, Lang};
use super::launcher::{AnalysisLauncher, LaunchSettings};
use super::metrics_panel::{self, ShownStage};
use super::playback::{Player, MAX_SPEED, MIN_SPEED};
use super::settings::Settings;
use super::state::{CallView, FrameTimes, Incoming, Job, Phase};
use super::caller_panel::{self, CallerPanelAction, EncoderState};
use super::encoder_import::EncoderImport;
use super::segment_table::{annotation_text, TableAction};
use super::training_window::{TrainingAction, TrainingWindow};
use super::{models, segment_table, spectrogram, trajectory_view, waveform};
use crate::analysis::trend::{caller_trend, DEFAULT_TREND_GRID_SECONDS};
use crate::training::call_labels::{labels_path, CallLabels};
use crate::training::dataset::{NEGATIVE, NON_NEGATIVE};
use crate::pipeline::{AnalysisEvent, PipelineStage, SpeakerStats};
use crate::report::figure::FigureLanguage;
use crate::segmentation::CallerChoice;

/// What a frame's widgets asked for; carried out after drawing.
enum Action {
    Open(PathBuf),
    OpenDialog,
    ExportDialog(ExportKind),
    ExportBeside,
    Cancel,
    PlaySegment(usize),
    PlayAt(f64),
    /// Play a party's sample: from the first time until the second.
    PlaySample(f64, f64),
    SetCaller(CallerChoice),
    TogglePlay,
    SetLanguage(Option<Lang>),
    SetModel(Option<String>),
    ImportEncoderDialog,
    ImportEncoder(PathBuf),
    /// The assessment-stage length changed in Settings.
    AssessmentChanged,
    /// Annotate a caller segment (`None` clears its label).
    Label(usize, Option<u8>),
    OpenFineTune,
    /// Analyse the open call again from the file (after a speaker encoder was imported).
    Reanalyse,
    SettingsChanged,
    ShowFrameTimes(bool),
    OpenSettings,
    Quit,
}

enum DialogRequest {
    Open,
    Export(ExportKind),
    ImportEncoder,
}

/// Test hooks read from the environment: EMOTRACE_GUI_STATE_DUMP=path writes the window's state
/// as JSON once the analysis has finished; EMOTRACE_GUI_PLAY_AFTER_FINISH=N first plays the
/// N-th segment (1 = the first) as a click on its point would, and dumps once the playhead has moved;
/// EMOTRACE_GUI_EXIT_AFTER_DUMP=1 then closes the window. EMOTRACE_GUI_CALLER_AFTER_FINISH=a|b|
/// left|right|all first picks that caller, as the caller panel would, and waits for the new
/// scores; EMOTRACE_GUI_EXPORT_AFTER_FINISH=DIR then exports everything there, as File › Export
/// would.
struct DumpPlan {
    path: PathBuf,
    /// Caller to pick after the first analysis; taken when applied.
    caller: Option<CallerChoice>,
    export_dir: Option<PathBuf>,
    /// Row (0-based) to play before dumping.
    play_row: Option<usize>,
    exit_after: bool,
    play_started_s: Option<f64>,
    frames_since_finish: u32,
    done: bool,
}

impl DumpPlan {
    fn from_env() -> Option<Self> {
        let path = std::env::var_os("EMOTRACE_GUI_STATE_DUMP")?;
        let flag = |name| std::env::var(name).is_ok_and(|v| v == "1");
        Some(Self {
            path: path.into(),
            caller: std::env::var("EMOTRACE_GUI_CALLER_AFTER_FINISH").ok().and_then(|v| v.parse().ok()),
            export_dir: std::env::var_os("EMOTRACE_GUI_EXPORT_AFTER_FINISH").map(PathBuf::from),
            play_row: std::env::var("EMOTRACE_GUI_PLAY_AFTER_FINISH")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1)),
            exit_after: flag("EMOTRACE_GUI_EXIT_AFTER_DUMP"),
            play_started_s: None,
            frames_since_finish: 0,
            done: false,
        })
    }
}

#[derive(Serialize)]
struct FrameStats {
    frames: usize,
    median_ms: Option<f32>,
    p95_ms: Option<f32>,
}

impl From<&FrameTimes> for FrameStats {
    fn from(times: &FrameTimes) -> Self {
        let stats = times.median_p95_ms();
        Self { frames: times.len(), median_ms: stats.map(|s| s.0), p95_ms: stats.map(|s| s.1) }
    }
}

/// The machine-readable state the UI test checks.
#[derive(Serialize)]
struct StateDump {
    file: String,
    phase: String,
    demo_scoring: bool,
    model_name: Option<String>,
    model_device: Option<String>,
    model_needs_fine_tuning: Option<bool>,
    model_load_seconds: Option<f64>,
    /// The notices the window shows about the model, as shown.
    model_notices: Vec<String>,
    decode_count: usize,
    layout: Option<String>,
    caller: Option<String>,
    suggested_caller: Option<String>,
    /// The suggested party spoke under `caller_uncertain_share` of the time: the window asks the
    /// user to listen.
    suggestion_uncertain: bool,
    speakers: Vec<SpeakerStats>,
    exported: Vec<String>,
    language: Lang,
    plotted_points: usize,
    table_rows: usize,
    caller_spans: usize,
    waveform_lanes: usize,
    stages: Vec<ShownStage>,
    output_is_null: bool,
    playing: bool,
    play_started_s: Option<f64>,
    playhead_s: f64,
    frame_times_all: FrameStats,
    frame_times_during_analysis: FrameStats,
}

pub struct ReviewApp {
    launcher: Arc<dyn AnalysisLauncher>,
    settings: Settings,
    lang: Lang,
    view: Option<CallView>,
    job: Option<Job>,
    player: Player,
    status: Option<(String, bool)>,
    frame_times: FrameTimes,
    analysis_frame_times: FrameTimes,
    dialog_results: Receiver<(DialogRequest, Option<PathBuf>)>,
    dialog_sender: Sender<(DialogRequest, Option<PathBuf>)>,
    dialog_open: bool,
    model_bundles: Vec<String>,
    dump: Option<DumpPlan>,
    last_plotted_points: usize,
    last_shown_stages: Vec<ShownStage>,
    last_playing_row: Option<usize>,
    show_settings: bool,
    /// The call length the plots' default view was set for; a change resets both views.
    view_duration_s: f64,
    /// The File menu's typed path (for desktops without a file dialog).
    typed_path: String,
    /// The Model menu's typed checkpoint path (likewise).
    typed_encoder_path: String,
    /// Playing a party's sample: pause when the playhead passes this time.
    sample_until: Option<f64>,
    /// The model notices drawn in the last frame (for the state dump).
    last_model_notices: Vec<String>,
    /// A speaker-encoder import running on its worker.
    encoder_import: Option<EncoderImport>,
    /// A speaker encoder was imported since the window opened: mono calls analysed before it
    /// can be analysed again with it.
    encoder_imported: bool,
    /// The open call's annotations; `None` when its labels file could not be read (labelling is
    /// then off, so the file is not overwritten).
    labels: Option<CallLabels>,
    training: TrainingWindow,
    spectrogram: spectrogram::SpectrogramLane,
}

impl ReviewApp {
    pub fn new(launcher: Arc<dyn AnalysisLauncher>, settings: Settings) -> Self {
        let (dialog_sender, dialog_results) = mpsc::channel();
        let force_null = std::env::var("EMOTRACE_AUDIO").is_ok_and(|v| v == "null");
        let mut player = Player::new(force_null);
        player.set_speed(settings.playback_speed);
        Self {
            launcher,
            lang: settings.language_or_locale(),
            settings,
            view: None,
            job: None,
            player,
            status: None,
            frame_times: FrameTimes::default(),
            analysis_frame_times: FrameTimes::default(),
            dialog_results,
            dialog_sender,
            dialog_open: false,
            model_bundles: models::find_bundles(&models::bundle_roots()),
            dump: DumpPlan::from_env(),
            last_plotted_points: 0,
            last_shown_stages: Vec::new(),
            last_playing_row: None,
            show_settings: false,
            view_duration_s: -1.0,
            typed_path: String::new(),
            typed_encoder_path: String::new(),
            sample_until: None,
            last_model_notices: Vec::new(),
            encoder_import: None,
            encoder_imported: false,
            labels: None,
            training: TrainingWindow::default(),
            spectrogram: spectrogram::SpectrogramLane::default(),
        }
    }

    fn t(&self, key: Key) -> &'static str {
        self.lang.text(key)
    }

    pub fn open(&mut self, path: PathBuf, ctx: &egui::Context) {
        self.open_with_caller(path, CallerChoice::Auto, ctx);
    }

    fn launch_settings(&self, caller: CallerChoice) -> LaunchSettings {
        LaunchSettings { assessment_end_s: self.settings.assessment_minutes * 60.0, model: self.settings.model.clone(), caller }
    }

    fn open_with_caller(&mut self, path: PathBuf, caller: CallerChoice, ctx: &egui::Context) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        self.settings.recent.push(path.clone());
        self.save_settings();
        let settings = self.launch_settings(caller);
        self.player.set_audio(None);
        self.sample_until = None;
        let mut view = CallView::new(path.clone(), self.launcher.is_demo(), settings.assessment_end_s);
        view.caller_choice = caller;
        self.view = Some(view);
        self.job = Some(Job::start(self.launcher.as_ref(), path.clone(), &settings, ctx.clone()));
        self.status = Some((format!("{} {}", self.t(Key::Opening), path.display()), false));
        self.labels = match CallLabels::load(&path) {
            Ok(labels) => Some(labels),
            Err(error) => {
                self.status = Some((format!("{} {error}", self.t(Key::LabelsUnreadable)), true));
                None
            }
        };
        self.last_playing_row = None;
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        ctx.send_viewport_cmd(egui::ViewportCommand::Title(format!("{name} — emotrace")));
    }

    /// Scores the open call again with another caller, from its decoded audio.
    fn set_caller(&mut self, caller: CallerChoice, ctx: &egui::Context) {
        let Some(view) = &mut self.view else { return };
        let (Some(previous), Some(audio)) = (view.previous.clone(), view.audio.clone()) else { return };
        if view.phase == Phase::Running {
            return;
        }
        let settings = LaunchSettings {
            assessment_end_s: self.settings.assessment_minutes * 60.0,
            model: self.settings.model.clone(),
            caller,
        };
        view.begin_reanalysis(caller);
        self.job = Some(Job::restart(self.launcher.as_ref(), previous, audio, &settings, ctx.clone()));
        self.status = Some((self.lang.text(Key::Rescoring).to_string(), false));
        self.last_playing_row = None;
    }

    fn save_settings(&mut self) {
        if let Err(error) = self.settings.save() {
            self.status = Some((format!("{} {error}", self.t(Key::SettingsNotSaved)), true));
        }
    }

    /// Applies every message that arrived since the last frame.
    fn poll_job(&mut self) {
        let (Some(job), Some(view)) = (&self.job, &mut self.view) else { return };
        let mut ended = false;
        while let Ok(incoming) = job.incoming.try_recv() {
            match &incoming {
                Incoming::Event(AnalysisEvent::Decoded { audio }) => self.player.set_audio(Some(audio.clone())),
                Incoming::Event(AnalysisEvent::Finished { .. }) => {
                    self.status = Some((self.lang.text(Key::Finished).to_string(), false));
                    ended = true;
                }
                Incoming::Event(AnalysisEvent::Failed { message }) => {
                    self.status = Some((format!("{} {message}", self.lang.text(Key::Failed)), true));
                    ended = true;
                }
                Incoming::Event(AnalysisEvent::Cancelled) => {
                    self.status = Some((self.lang.text(Key::Cancelled).to_string(), false));
                    ended = true;
                }
                _ => {}
            }
            view.apply(incoming);
        }
        view.refresh_summaries();
        if ended {
            // The pyramid may still be on its way; keep the receiver until the forwarder ends.
            if view.pyramid.is_some() || view.audio.is_none() {
                self.job = None;
            }
        }
    }

    fn poll_dialogs(&mut self, actions: &mut Vec<Action>, ctx: &egui::Context) {
        while let Ok((request, chosen)) = self.dialog_results.try_recv() {
            self.dialog_open = false;
            match (request, chosen) {
                (DialogRequest::Open, Some(path)) => actions.push(Action::Open(path)),
                (DialogRequest::Export(kind), Some(dir)) => self.export_to(kind, dir),
                (DialogRequest::ImportEncoder, Some(path)) => self.start_encoder_import(path, ctx),
                (DialogRequest::Open, None) => self.status = Some((self.t(Key::DialogUnavailable).to_string(), false)),
                (DialogRequest::Export(_), None) => self.status = Some((self.t(Key::ExportDialogUnavailable).to_string(), false)),
                (DialogRequest::ImportEncoder, None) => {
                    self.status = Some((self.t(Key::EncoderDialogUnavailable).to_string(), false))
                }
            }
        }
    }

    fn start_encoder_import(&mut self, checkpoint: PathBuf, ctx: &egui::Context) {
        let Some(dest) = crate::model::speaker_encoder_store::default_dir() else {
            self.status = Some((self.t(Key::EncoderNoDataDir).to_string(), true));
            return;
        };
        let ctx = ctx.clone();
        self.encoder_import = Some(EncoderImport::start(checkpoint, dest, move || ctx.request_repaint()));
        self.status = Some((self.t(Key::EncoderImporting).to_string(), false));
    }

    fn poll_encoder_import(&mut self) {
        let Some(outcome) = self.encoder_import.as_ref().and_then(EncoderImport::poll) else { return };
        self.encoder_import = None;
        self.status = Some(match outcome {
            Ok(network) => {
                self.encoder_imported = true;
                (self.t(Key::EncoderImported).replace("{}", &network), false)
            }
            Err(error) => (format!("{} {error}", self.t(Key::EncoderImportFailed)), true),
        });
    }

    fn spawn_dialog(&mut self, request: DialogRequest, ctx: &egui::Context) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        let sender = self.dialog_sender.clone();
        let ctx = ctx.clone();
        let start_dir = self.view.as_ref().and_then(|v| v.path.parent().map(|p| p.to_path_buf()));
        // The dialog runs on its own thread (through the desktop portal where there is one), so
        // the window keeps drawing; with no portal it returns nothing and the status bar says so.
        std::thread::spawn(move || {
            let mut dialog = rfd::FileDialog::new();
            if let Some(dir) = start_dir {
                dialog = dialog.set_directory(dir);
            }
            let chosen = match request {
                DialogRequest::Open => dialog
                    .add_filter("audio", &["wav", "mp3", "m4a", "flac", "ogg", "aac", "opus", "mp4"])
                    .add_filter("*", &["*"])
                    .pick_file(),
                DialogRequest::Export(_) => dialog.pick_folder(),
                DialogRequest::ImportEncoder => dialog
                    .add_filter("checkpoint", &["pt", "pth", "bin", "safetensors"])
                    .add_filter("*", &["*"])
                    .pick_file(),
            };
            let _ = sender.send((request, chosen));
            ctx.request_repaint();
        });
    }

    fn export_to(&mut self, kind: ExportKind, dir: PathBuf) {
        let Some(mut analysis) = self.view.as_ref().and_then(|v| v.analysis.clone()) else {
            self.status = Some((self.t(Key::NothingToExport).to_string(), true));
            return;
        };
        // The exported trend is the one on screen.
        Arc::make_mut(&mut analysis).settings.trend_window_minutes = self.settings.trend_window_minutes;
        let load_seconds = self.view.as_ref().and_then(|v| v.model.as_ref()).map_or(0.0, |(_, seconds)| *seconds);
        let language = match self.lang {
            Lang::En => FigureLanguage::English,
            Lang::Zh => FigureLanguage::Chinese,
        };
        self.status = Some(match export::export(kind, &analysis, load_seconds, &dir, language) {
            Ok(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                (format!("{} {}", self.t(Key::Exported), names.join(", ")), false)
            }
            Err(error) => (format!("{} {error}", self.t(Key::ExportFailed)), true),
        });
    }

    /// Saves an annotation of a caller segment and says where.
    fn label_segment(&mut self, row: usize, label: Option<u8>) {
        let Some(segment) = self.view.as_ref().and_then(|v| v.segments.get(row)).cloned() else { return };
        let lang = self.lang;
        let Some(labels) = self.labels.as_mut() else {
            self.status = Some((lang.text(Key::LabelsOff).to_string(), true));
            return;
        };
        self.status = Some(match labels.set(segment.start_s, segment.end_s, &segment.speaker, segment.channel, label) {
            Ok(()) => {
                let text = lang
                    .text(Key::LabelSaved)
                    .replacen("{}", &(row + 1).to_string(), 1)
                    .replacen("{}", annotation_text(lang, label), 1)
                    .replacen("{}", &labels.len().to_string(), 1)
                    .replacen("{}", &labels.path().display().to_string(), 1);
                (text, false)
            }
            Err(error) => (format!("{} {error}", lang.text(Key::LabelNotSaved)), true),
        });
    }

    fn play_segment(&mut self, row: usize, now: Instant) {
        if let Some(segment) = self.view.as_ref().and_then(|v| v.segments.get(row)) {
            let start = segment.start_s;
            self.player.play_from(start, now);
        }
    }

    fn handle_keys(&self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        if ctx.text_edit_focused() {
            return;
        }
        let Some(view) = &self.view else { return };
        let position = self.player.position_s();
        ctx.input_mut(|input| {
            if input.consume_key(egui::Modifiers::NONE, egui::Key::Space) {
                actions.push(Action::TogglePlay);
            }
            if input.consume_key(egui::Modifiers::NONE, egui::Key::ArrowRight) {
                if let Some(row) = view.next_segment(position) {
                    actions.push(Action::PlaySegment(row));
                }
            }
            if input.consume_key(egui::Modifiers::NONE, egui::Key::ArrowLeft) {
                if let Some(row) = view.previous_segment(position) {
                    actions.push(Action::PlaySegment(row));
                }
            }
            // Model-assisted labelling: play the unlabelled segment the model is least sure of.
            if input.consume_key(egui::Modifiers::NONE, egui::Key::U) {
                let annotations = segment_table::annotations(&view.segments, self.labels.as_ref());
                if let Some(row) = segment_table::most_uncertain_unlabelled(&view.segments, &annotations) {
                    actions.push(Action::PlaySegment(row));
                }
            }
            // Annotation of the segment being played (or last played).
            if let Some(row) = view.segment_at(position) {
                for (key, label) in [(egui::Key::N, Some(NEGATIVE)), (egui::Key::P, Some(NON_NEGATIVE)), (egui::Key::Backspace, None)] {
                    if input.consume_key(egui::Modifiers::NONE, key) {
                        actions.push(Action::Label(row, label));
                    }
                }
            }
        });
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        let mut typed_path = std::mem::take(&mut self.typed_path);
        let mut typed_encoder_path = std::mem::take(&mut self.typed_encoder_path);
        egui::MenuBar::new().ui(ui, |ui| {
            menu_with_text_field(ui, self.t(Key::MenuFile), |ui| {
                if ui.button(self.t(Key::MenuOpen)).clicked() {
                    actions.push(Action::OpenDialog);
                    ui.close();
                }
                // Where no file dialog exists (no desktop portal), a path can be typed instead.
                ui.horizontal(|ui| {
                    let field = ui.add(egui::TextEdit::singleline(&mut typed_path).hint_text(lang.text(Key::PathHint)).desired_width(260.0));
                    let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if (ui.button(lang.text(Key::MenuOpenPath)).clicked() || entered) && !typed_path.trim().is_empty() {
                        actions.push(Action::Open(PathBuf::from(typed_path.trim())));
                        typed_path.clear();
                        ui.close();
                    }
                });
                ui.menu_button(self.t(Key::MenuRecent), |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label(self.t(Key::MenuNoRecent));
                    }
                    for path in self.settings.recent.iter() {
                        if ui.button(path.display().to_string()).clicked() {
                            actions.push(Action::Open(path.to_path_buf()));
                            ui.close();
                        }
                    }
                });
                ui.separator();
                let can_export = self.view.as_ref().is_some_and(|v| v.analysis.is_some());
                for (key, kind) in [(Key::MenuExportCsv, ExportKind::Csv), (Key::MenuExportPng, ExportKind::Png), (Key::MenuExportSvg, ExportKind::Svg)] {
                    if ui.add_enabled(can_export, egui::Button::new(self.t(key))).clicked() {
                        actions.push(Action::ExportDialog(kind));
                        ui.close();
                    }
                }
                if ui.add_enabled(can_export, egui::Button::new(self.t(Key::MenuExportBeside))).clicked() {
                    actions.push(Action::ExportBeside);
                    ui.close();
                }
                ui.separator();
                if ui.button(self.t(Key::MenuQuit)).clicked() {
                    actions.push(Action::Quit);
                    ui.close();
                }
            });
            ui.menu_button(self.t(Key::MenuView), |ui| {
                ui.menu_button(self.t(Key::MenuLanguage), |ui| {
                    for lang in Lang::ALL {
                        if ui.radio(self.lang == lang, lang.native_name()).clicked() {
                            actions.push(Action::SetLanguage(Some(lang)));
                        }
                    }
                });
                let mut show = self.settings.show_frame_times;
                if ui.checkbox(&mut show, self.t(Key::MenuShowDebug)).changed() {
                    actions.push(Action::ShowFrameTimes(show));
                }
                if trajectory_view::layer_menu(ui, self.lang, &mut self.settings) {
                    actions.push(Action::SettingsChanged);
                }
                if ui.button(self.t(Key::MenuSettings)).clicked() {
                    actions.push(Action::OpenSettings);
                }
            });
            menu_with_text_field(ui, lang.text(Key::MenuModel), |ui| {
                if ui.radio(self.settings.model.is_none(), self.t(Key::MenuModelDefault)).clicked() {
                    actions.push(Action::SetModel(None));
                    ui.close();
                }
                if self.model_bundles.is_empty() {
                    ui.weak(self.t(Key::MenuModelNone));
                }
                for name in &self.model_bundles {
                    if ui.radio(self.settings.model.as_deref() == Some(name.as_str()), name).clicked() {
                        actions.push(Action::SetModel(Some(name.clone())));
                        ui.close();
                    }
                }
                ui.separator();
                if ui.button(self.t(Key::MenuFineTune)).clicked() {
                    actions.push(Action::OpenFineTune);
                    ui.close();
                }
                ui.separator();
                let idle = self.encoder_import.is_none();
                if ui
                    .add_enabled(idle, egui::Button::new(self.t(Key::MenuImportEncoder)))
                    .on_hover_text(self.t(Key::MenuImportEncoderTip))
                    .clicked()
                {
                    actions.push(Action::ImportEncoderDialog);
                    ui.close();
                }
                ui.horizontal(|ui| {
                    let field = ui.add_enabled(
                        idle,
                        egui::TextEdit::singleline(&mut typed_encoder_path).hint_text(lang.text(Key::EncoderPathHint)).desired_width(260.0),
                    );
                    let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let clicked = ui.add_enabled(idle, egui::Button::new(lang.text(Key::EncoderImportPath))).clicked();
                    if (clicked || entered) && idle && !typed_encoder_path.trim().is_empty() {
                        actions.push(Action::ImportEncoder(PathBuf::from(typed_encoder_path.trim())));
                        typed_encoder_path.clear();
                        ui.close();
                    }
                });
            });
        });
        self.typed_path = typed_path;
        self.typed_encoder_path = typed_encoder_path;
    }

    /// The model line: loading (with an animated bar and the seconds so far), or which model
    /// runs on which device; then any notice about it. Returns the notices shown.
    fn model_area(&self, ui: &mut egui::Ui, view: &CallView) -> Vec<String> {
        let mut notices = Vec::new();
        if let Some((name, since)) = &view.model_loading {
            ui.horizontal(|ui| {
                let text = format!("{} '{name}' … {:.0} s", self.t(Key::ModelLoading), since.elapsed().as_secs_f64());
                ui.add(egui::ProgressBar::new(0.0).animate(true).desired_width(360.0).text(text));
            });
            // The bar animates and the seconds count while the loader thread works.
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(250));
        }
        if let Some((model, load_seconds)) = &view.model {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "{}: {} · {} {} · {} {load_seconds:.1} s",
                    self.t(Key::StageModel),
                    model.display_name,
                    self.t(Key::ModelRunsOn),
                    model.device,
                    self.t(Key::ModelLoadedIn),
                ))
                .on_hover_text(&model.dir);
            });
            if let Some(notice) = &model.device_notice {
                let notice = if notice == crate::model::device::NO_GPU_NOTICE { self.t(Key::NoGpuFallback) } else { notice.as_str() };
                let text = format!("{} {notice}", self.t(Key::DeviceNotice));
                ui.weak(&text);
                notices.push(text);
            }
            if model.per_call_centring {
                let text = self.t(Key::PerCallCentred).to_string();
                ui.weak(&text);
                notices.push(text);
            }
            if model.needs_fine_tuning {
                let text = self.t(Key::NeedsFineTuning).to_string();
                ui.label(RichText::new(&text).color(Color32::from_rgb(200, 90, 0)).strong());
                notices.push(text);
            }
        }
        notices
    }

    fn progress_area(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let Some(view) = &self.view else { return };
        self.last_model_notices = self.model_area(ui, view);
        ui.horizontal(|ui| {
            let name = view.path.file_name().map_or_else(|| view.path.display().to_string(), |n| n.to_string_lossy().into_owned());
            ui.heading(name).on_hover_text(view.path.display().to_string());
            if view.duration_s() > 0.0 {
                ui.label(format!("· {:.1} min", view.duration_s() / 60.0));
            }
            if view.demo_scoring {
                ui.label(RichText::new(self.t(Key::DemoScoring)).color(Color32::from_rgb(200, 90, 0)).strong());
            }
        });
        ui.horizontal(|ui| {
            let stages = [
                (PipelineStage::Decode, Key::StageDecode),
                (PipelineStage::Segment, Key::StageSegment),
                (PipelineStage::Features, Key::StageFeatures),
                (PipelineStage::Model, Key::StageModel),
            ];
            let running = view.phase == Phase::Running;
            let width = ((ui.available_width() - 90.0) / 4.0 - 8.0).max(60.0);
            for (stage, key) in stages {
                let progress = view.progress_of(stage).unwrap_or_default();
                // Counts are segments; the Segment stage counts seconds of audio read, shown as % only.
                let counts = if progress.total > 1 && stage != PipelineStage::Segment { format!(" {}/{}", progress.done, progress.total) } else { String::new() };
                let text = format!("{} {:.0}%{counts}", self.t(key), progress.fraction() * 100.0);
                ui.add(egui::ProgressBar::new(progress.fraction()).desired_width(width).text(text));
            }
            if ui.add_enabled(running, egui::Button::new(self.t(Key::Cancel))).clicked() {
                actions.push(Action::Cancel);
            }
        });
        match &view.phase {
            Phase::Failed(message) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("{} {message}", self.t(Key::Failed)));
            }
            Phase::Cancelled => {
                ui.label(self.t(Key::Cancelled));
            }
            _ => {}
        }
        if let Some(audio) = &view.audio {
            for warning in &audio.info.warnings {
                ui.colored_label(ui.visuals().warn_fg_color, warning);
            }
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            let playing = self.player.is_playing();
            let enabled = self.player.has_audio();
            let label = if playing { self.t(Key::Pause) } else { self.t(Key::Play) };
            if ui.add_enabled(enabled, egui::Button::new(label)).clicked() {
                actions.push(Action::TogglePlay);
            }
            ui.monospace(segment_table::clock(self.player.position_s()));
            ui.label(self.t(Key::Speed));
            let mut speed = self.player.speed();
            if ui.add(egui::Slider::new(&mut speed, MIN_SPEED..=MAX_SPEED).step_by(0.25).suffix("×")).changed() {
                self.player.set_speed(speed);
                self.settings.playback_speed = speed;
                actions.push(Action::SettingsChanged);
            }
            ui.weak(self.t(Key::PlaybackKeys));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if self.settings.show_frame_times {
                    if let Some((median, p95)) = self.frame_times.median_p95_ms() {
                        ui.monospace(format!("{} {} {median:.1} ms · p95 {p95:.1} ms", self.t(Key::FrameTime), self.t(Key::Median)));
                    }
                }
                if let Some((ok, description)) = self.player.output_description() {
                    let text = if ok { format!("{} {description}", self.t(Key::AudioDevice)) } else { self.t(Key::AudioNone).to_string() };
                    ui.weak(text).on_hover_text(description.to_string());
                }
            });
        });
        if let Some((message, is_error)) = &self.status {
            let colour = if *is_error { ui.visuals().error_fg_color } else { ui.visuals().weak_text_color() };
            ui.add(egui::Label::new(RichText::new(message).color(colour)).truncate());
        }
    }

    fn settings_window(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        let mut open = self.show_settings;
        egui::Window::new(self.t(Key::MenuSettings)).open(&mut open).resizable(false).show(ctx, |ui| {
            ui.horizontal(|ui| {
                ui.label(self.lang.text(Key::AssessmentMinutes));
                if ui.add(egui::DragValue::new(&mut self.settings.assessment_minutes).range(1.0..=240.0).speed(1.0)).changed() {
                    actions.push(Action::AssessmentChanged);
                }
            });
            ui.weak(self.lang.text(Key::AssessmentAppliesNext));
        });
        self.show_settings = open;
    }

    fn write_dump_when_ready(&mut self, ctx: &egui::Context, now: Instant) {
        let Some(plan) = &mut self.dump else { return };
        let Some(view) = &self.view else { return };
        if plan.done || view.phase == Phase::Running || (view.pyramid.is_none() && view.audio.is_some()) {
            return;
        }
        plan.frames_since_finish += 1;
        // Let a few frames draw the finished state before reading it back.
        if plan.frames_since_finish < 3 {
            ctx.request_repaint();
            return;
        }
        if let Some(caller) = plan.caller.take() {
            plan.frames_since_finish = 0;
            self.set_caller(caller, ctx);
            ctx.request_repaint();
            return;
        }
        if let Some(dir) = plan.export_dir.take() {
            self.export_to(ExportKind::All, dir);
        }
        let plan = self.dump.as_mut().expect("checked above");
        let view = self.view.as_ref().expect("checked above");
        if let (Some(row), None) = (plan.play_row, plan.play_started_s) {
            let row = row.min(view.segments.len().saturating_sub(1));
            let Some(segment) = view.segments.get(row) else {
                plan.play_row = None;
                return;
            };
            plan.play_started_s = Some(segment.start_s);
            self.play_segment(row, now);
            ctx.request_repaint();
            return;
        }
        let plan = self.dump.as_mut().expect("checked above");
        if let Some(start) = plan.play_started_s {
            let moved = self.player.position_s() - start;
            if moved < 0.5 && self.player.is_playing() {
                ctx.request_repaint();
                return;
            }
        }
        let view = self.view.as_ref().expect("checked above");
        let dump = StateDump {
            file: view.path.display().to_string(),
            phase: match &view.phase {
                Phase::Running => "running".into(),
                Phase::Finished => "finished".into(),
                Phase::Failed(m) => format!("failed: {m}"),
                Phase::Cancelled => "cancelled".into(),
            },
            demo_scoring: view.demo_scoring,
            model_name: view.analysis.as_ref().map(|a| a.model_name.clone()),
            model_device: view.model.as_ref().map(|(m, _)| m.device.clone()),
            model_needs_fine_tuning: view.model.as_ref().map(|(m, _)| m.needs_fine_tuning),
            model_load_seconds: view.model.as_ref().map(|(_, seconds)| *seconds),
            model_notices: self.last_model_notices.clone(),
            decode_count: view.decode_count,
            layout: view.assignment.as_ref().map(|a| a.layout.clone()),
            caller: view.assignment.as_ref().map(|a| a.caller.clone()),
            suggested_caller: view.suggested_caller.clone(),
            suggestion_uncertain: view.suggestion_strength.is_some_and(|s| s.uncertain),
            speakers: view.speakers.clone(),
            exported: match &self.status {
                Some((message, false)) if message.starts_with(self.lang.text(Key::Exported)) => vec![message.clone()],
                _ => Vec::new(),
            },
            language: self.lang,
            plotted_points: self.last_plotted_points,
            table_rows: view.segments.len(),
            caller_spans: view.spans.iter().filter(|s| s.is_caller).count(),
            waveform_lanes: view.pyramid.as_ref().map_or(0, |p| p.channels.len()),
            stages: self.last_shown_stages.clone(),
            output_is_null: self.player.is_null_output(),
            playing: self.player.is_playing(),
            play_started_s: plan.play_started_s,
            playhead_s: self.player.position_s(),
            frame_times_all: (&self.frame_times).into(),
            frame_times_during_analysis: (&self.analysis_frame_times).into(),
        };
        plan.done = true;
        let written = serde_json::to_vec_pretty(&dump)
            .map_err(std::io::Error::other)
            .and_then(|json| crate::fsutil::atomic_write(&plan.path, &json));
        if let Err(error) = written {
            eprintln!("emotrace: cannot write the state dump {}: {error}", plan.path.display());
        }
        if plan.exit_after {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    fn perform(&mut self, action: Action, ctx: &egui::Context, now: Instant) {
        match action {
            Action::Open(path) => self.open(path, ctx),
            Action::OpenDialog => self.spawn_dialog(DialogRequest::Open, ctx),
            Action::ExportDialog(kind) => {
                if self.view.as_ref().is_some_and(|v| v.analysis.is_some()) {
                    self.spawn_dialog(DialogRequest::Export(kind), ctx);
                } else {
                    self.status = Some((self.t(Key::NothingToExport).to_string(), true));
                }
            }
            Action::ExportBeside => {
                if let Some(path) = self.view.as_ref().map(|v| v.path.clone()) {
                    self.export_to(ExportKind::All, export::beside_recording(&path));
                }
            }
            Action::Cancel => {
                if let Some(job) = &self.job {
                    job.cancel();
                }
            }
            Action::PlaySegment(row) => {
                self.sample_until = None;
                self.play_segment(row, now);
            }
            Action::PlayAt(seconds) => {
                self.sample_until = None;
                self.player.play_from(seconds, now);
            }
            Action::PlaySample(from, until) => {
                self.player.play_from(from, now);
                self.sample_until = Some(until);
            }
            Action::SetCaller(choice) => self.set_caller(choice, ctx),
            Action::TogglePlay => {
                self.sample_until = None;
                self.player.toggle(now);
            }
            Action::SetLanguage(lang) => {
                self.settings.language = lang;
                self.lang = self.settings.language_or_locale();
                self.save_settings();
            }
            Action::SetModel(model) => {
                let changed = self.settings.model != model;
                self.settings.model = model;
                self.save_settings();
                // A different model means different scores: analyse the open call again, for the
                // same caller.
                if let Some(view) = self.view.as_ref().filter(|_| changed) {
                    let (path, caller) = (view.path.clone(), view.caller_choice);
                    self.open_with_caller(path, caller, ctx);
                }
            }
            Action::ImportEncoderDialog => {
                if self.encoder_import.is_none() {
                    self.spawn_dialog(DialogRequest::ImportEncoder, ctx);
                }
            }
            Action::ImportEncoder(path) => {
                if self.encoder_import.is_none() {
                    self.start_encoder_import(path, ctx);
                }
            }
            Action::Reanalyse => {
                if let Some(path) = self.view.as_ref().map(|v| v.path.clone()) {
                    self.open_with_caller(path, CallerChoice::Auto, ctx);
                }
            }
            Action::SettingsChanged => self.save_settings(),
            Action::Label(row, label) => self.label_segment(row, label),
            Action::OpenFineTune => {
                let labels = self.view.as_ref().map(|v| labels_path(&v.path));
                self.training.open_with(labels);
            }
            Action::AssessmentChanged => {
                self.save_settings();
                if let Some(view) = &mut self.view {
                    view.set_assessment_minutes(self.settings.assessment_minutes);
                }
            }
            Action::ShowFrameTimes(show) => {
                self.settings.show_frame_times = show;
                self.save_settings();
            }
            Action::OpenSettings => self.show_settings = true,
            Action::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }
}

/// A menu of the menu bar that holds a text field. egui closes a menu on any click inside it,
/// which would close it as soon as the field is clicked; this one closes only on a click outside,
/// so its buttons close it themselves.
fn menu_with_text_field(ui: &mut egui::Ui, title: &str, add_contents: impl FnOnce(&mut egui::Ui)) {
    let config = MenuConfig::new().close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    MenuButton::new(title).config(config).ui(ui, add_contents);
}

impl eframe::App for ReviewApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let now = Instant::now();
        if let Some(cpu) = frame.info().cpu_usage {
            self.frame_times.record(cpu);
            if self.job.is_some() {
                self.analysis_frame_times.record(cpu);
            }
        }
        let mut actions = Vec::new();
        self.poll_dialogs(&mut actions, &ctx);
        self.poll_job();
        self.poll_encoder_import();
        if let Some(TrainingAction::Ended { message, is_error }) = self.training.poll(self.lang) {
            // A finished run's bundle is listed at once.
            self.model_bundles = models::find_bundles(&models::bundle_roots());
            self.status = Some((message, is_error));
        }
        if let Some(path) = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf())) {
            actions.push(Action::Open(path));
        }
        self.handle_keys(&ctx, &mut actions);
        self.player.tick(now);
        if let Some(until) = self.sample_until {
            if !self.player.is_playing() || self.player.position_s() >= until {
                self.player.pause();
                self.sample_until = None;
            }
        }
        if let Some(notice) = self.player.take_notice() {
            self.status = Some((format!("{} ({notice})", self.t(Key::NoAudioDevice)), false));
        }

        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui, &mut actions));
        if self.view.is_some() {
            egui::Panel::top("progress").show(ui, |ui| self.progress_area(ui, &mut actions));
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui, &mut actions));

        let lang = self.lang;
        let playhead = self.player.has_audio().then(|| self.player.position_s());
        let playing_row = self.view.as_ref().and_then(|v| playhead.and_then(|p| v.segment_at(p)));
        let scroll_to = if self.player.is_playing() && playing_row != self.last_playing_row { playing_row } else { None };
        self.last_playing_row = playing_row;

        if let Some(view) = &self.view {
            egui::Panel::right("details").default_size(440.0).resizable(true).show(ui, |ui| {
                let partial = view.phase == Phase::Running;
                if view.assignment.is_some() {
                    let encoder = EncoderState { importing: self.encoder_import.is_some(), imported: self.encoder_imported };
                    match caller_panel::show(ui, lang, view, encoder) {
                        Some(CallerPanelAction::Choose(choice)) => actions.push(Action::SetCaller(choice)),
                        Some(CallerPanelAction::Listen(from, until)) => actions.push(Action::PlaySample(from, until)),
                        Some(CallerPanelAction::ImportEncoder) => actions.push(Action::ImportEncoderDialog),
                        Some(CallerPanelAction::Reanalyse) => actions.push(Action::Reanalyse),
                        None => {}
                    }
                    ui.separator();
                }
                self.last_shown_stages = metrics_panel::show(ui, lang, &view.summaries, view.assessment_end_s, partial);
                ui.separator();
                match segment_table::show(ui, lang, &view.segments, view.assessment_end_s, playing_row, scroll_to, self.labels.as_ref()) {
                    Some(TableAction::Play(row)) => actions.push(Action::PlaySegment(row)),
                    Some(TableAction::Label(row, label)) => actions.push(Action::Label(row, label)),
                    None => {}
                }
            });
        }

        egui::CentralPanel::default().show(ui, |ui| {
            let Some(view) = &self.view else {
                ui.centered_and_justified(|ui| ui.label(RichText::new(lang.text(Key::Welcome)).size(16.0)));
                return;
            };
            let axis_group = egui::Id::unique("call-time");
            let available = ui.available_height();
            let duration = view.duration_s();
            // The call's length is known only after decoding: show the whole call then.
            let reset_view = duration != self.view_duration_s;
            self.view_duration_s = duration;
            let lanes = view.pyramid.as_ref().map_or(1, |p| p.channels.len().max(1)) as f32;
            let waveform_height = (available * 0.38).clamp(90.0 * lanes.min(2.0), 420.0);
            let spectrogram_height = if self.settings.show_spectrogram { (available * 0.2).clamp(100.0, 200.0) } else { 0.0 };
            let trajectory_height = (available - waveform_height - spectrogram_height - 12.0).max(160.0);
            let trend = self.settings.show_trend.then(|| {
                caller_trend(&view.segments, duration, self.settings.trend_window_minutes, DEFAULT_TREND_GRID_SECONDS)
            });
            let trajectory = trajectory_view::show(
                ui,
                lang,
                &view.segments,
                view.assessment_end_s,
                duration,
                playhead,
                playing_row,
                axis_group,
                trajectory_height,
                reset_view,
                trajectory_view::TrajectoryLayers {
                    show_points: self.settings.show_points,
                    trend: trend.as_ref(),
                    show_band: self.settings.show_trend_band,
                },
            );
            self.last_plotted_points = trajectory.plotted_points;
            if let Some(row) = trajectory.clicked {
                actions.push(Action::PlaySegment(row));
            }
            let wave = waveform::show(ui, lang, view.pyramid.as_deref(), &view.spans, duration, playhead, axis_group, waveform_height, reset_view);
            if let Some(seconds) = wave.clicked_s {
                actions.push(Action::PlayAt(seconds));
            }
            if self.settings.show_spectrogram {
                let channel = playing_row.or(Some(0)).and_then(|row| view.segments.get(row)).map_or(0, |s| s.channel);
                self.spectrogram.show(ui, lang, view.audio.as_ref(), playhead.unwrap_or(0.0), channel, spectrogram_height);
            }
        });

        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop")));
            let screen = ctx.content_rect();
            painter.rect_filled(screen, 0.0, Color32::from_black_alpha(160));
            painter.text(screen.center(), egui::Align2::CENTER_CENTER, lang.text(Key::DropHere), egui::FontId::proportional(24.0), Color32::WHITE);
        }
        self.settings_window(&ctx, &mut actions);
        if self.training.open {
            // The run starts from the model in use: the bundle picked in the Model menu, or the
            // built-in default model.
            let init = self.settings.model.as_deref().and_then(models::bundle_dir);
            let init_name = self.settings.model.clone().unwrap_or_else(|| self.t(Key::MenuModelDefault).to_string());
            let models_dir = crate::user_dirs::data_dir().map(|d| d.join("models"));
            self.training.show(&ctx, self.lang, models_dir, init, &init_name);
        }

        for action in actions {
            self.perform(action, &ctx, now);
        }
        self.write_dump_when_ready(&ctx, now);
        if self.player.is_playing() {
            ctx.request_repaint();
        }
    }
}
