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
use super::builtin_install::CentredInstall;
use super::caller_baseline::{self, BaselineLoad};
use super::encoder_import::EncoderImport;
use super::segment_table::{annotation_text, TableAction};
use super::training_window::{TrainingAction, TrainingWindow};
use super::help::HelpWindows;
use super::start_page::{self, StartAction, StartPage};
use super::{models, segment_table, spectrogram, trajectory_view, waveform};
use crate::analysis::trend::{caller_trend, DEFAULT_TREND_GRID_SECONDS};
use crate::model::default_centred::CENTRED_MODEL_NAME;
use super::annotators::{self, AnnotatorsAction};
use super::review::{self, EditMenuAction, NotesWindow, ReviewCommand, ReviewHistory, ReviewState, Reviewed, SegmentEdit};
use super::script::{Script, Step};
use super::segment_edit::EditSpan;
use crate::training::call_labels::{labels_path, CallReview, LabelledSpan, DEFAULT_ANNOTATOR};
use crate::training::dataset::{NEGATIVE, NON_NEGATIVE};
use crate::pipeline::{AnalysisEvent, CallBaseline, PipelineStage, SpeakerStats};
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
    /// Model → the centred built-in model: chosen at once when installed, else installed first.
    UseCentredModel,
    /// Model → centre on an earlier call: pick its report.json.
    BaselineDialog,
    /// Centre the scores on the earlier call whose report.json (or export folder) this is.
    CentreOn(PathBuf),
    /// Centre the scores on the call itself again.
    ClearBaseline,
    /// The assessment-stage length changed in Settings.
    AssessmentChanged,
    /// Annotate a caller segment (`None` clears its label).
    Label(usize, Option<u8>),
    /// Edit the caller segmentation.
    Edit(SegmentEdit),
    Undo,
    Redo,
    /// Settle a disagreement into the adjudicated label.
    Settle(usize, Option<u8>),
    OpenNotes,
    SaveNotes(CallReview),
    OpenAnnotators,
    /// Export everything into this folder (the test script).
    ExportTo(PathBuf),
    /// The annotator's name changed (Settings, or the first-label prompt).
    AnnotatorChanged,
    OpenFineTune,
    /// Analyse the open call again from the file (after a speaker encoder was imported).
    Reanalyse,
    SettingsChanged,
    ShowFrameTimes(bool),
    OpenSettings,
    /// The start page's "Try the demo call", "Clear recent calls"; the first-run hint's dismissal.
    OpenDemo,
    ClearRecent,
    DismissHint,
    Quit,
}

enum DialogRequest {
    Open,
    Export(ExportKind),
    ImportEncoder,
    Baseline,
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
    /// The caller segments shown (after any edit).
    segments: Vec<DumpedSegment>,
    segmentation_edited: bool,
    scores_pending: usize,
    undo_steps: usize,
    redo_available: bool,
    annotator: Option<String>,
    annotators: Vec<String>,
    disagreements: usize,
    script_keys_sent: usize,
    labels_applied: usize,
    last_error: Option<String>,
    /// The fine-tuning window's last run: its new model and the held-out comparison.
    fine_tune: super::training_window::FineTuneDump,
}

#[derive(Serialize)]
struct DumpedSegment {
    start_s: f64,
    end_s: f64,
    channel: usize,
    speaker: String,
    p_nonnegative: f64,
    edited: bool,
    annotation: Option<u8>,
    note: Option<String>,
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
    /// The Model menu's typed baseline report path (likewise).
    typed_baseline_path: String,
    /// Playing a party's sample: pause when the playhead passes this time.
    sample_until: Option<f64>,
    /// The model notices drawn in the last frame (for the state dump).
    last_model_notices: Vec<String>,
    /// A speaker-encoder import running on its worker.
    encoder_import: Option<EncoderImport>,
    centred_install: Option<CentredInstall>,
    /// The caller baseline the centring model's scores are heard against (`None`: the call
    /// itself). Kept for the next call opened, since a caller's calls share it; cleared when the
    /// model changes, as it belongs to one model's weights.
    baseline: Option<CallBaseline>,
    /// A baseline report being read.
    baseline_load: Option<BaselineLoad>,
    /// A script's `centre-on` step has asked for its baseline.
    baseline_requested: bool,
    /// A script's `use-centred-model` has asked for it (it then waits for the model to change).
    centred_requested: bool,
    /// The last install failed (a waiting script step goes on; the status bar says why).
    centred_install_failed: bool,
    /// A speaker encoder was imported since the window opened: mono calls analysed before it
    /// can be analysed again with it.
    encoder_imported: bool,
    /// The open call's labels, edited segmentation and notes; `None` when its files could not be
    /// read (labelling and editing are then off, so the files are not overwritten).
    reviewed: Option<Reviewed>,
    /// Undo/redo of the labels, segment edits, notes and settlements of this session.
    history: ReviewHistory,
    wave_edit: waveform::WaveformEdit,
    /// Scores of edited segments coming back from the scoring worker, with the call they are for.
    rescored_sender: Sender<(PathBuf, Vec<EditSpan>, Result<Vec<Option<f64>>, String>)>,
    rescored: Receiver<(PathBuf, Vec<EditSpan>, Result<Vec<Option<f64>>, String>)>,
    notes: NotesWindow,
    show_annotators: bool,
    /// The annotator's name being asked for, and the label waiting for it.
    annotator_prompt: Option<(String, Action)>,
    script: Option<Script>,
    labels_applied: usize,
    last_error: Option<String>,
    /// To wake the window from worker threads.
    repaint: Option<egui::Context>,
    training: TrainingWindow,
    start_page: StartPage,
    help: HelpWindows,
    spectrogram: spectrogram::SpectrogramLane,
}

impl ReviewApp {
    pub fn new(launcher: Arc<dyn AnalysisLauncher>, settings: Settings) -> Self {
        let (dialog_sender, dialog_results) = mpsc::channel();
        let force_null = std::env::var("EMOTRACE_AUDIO").is_ok_and(|v| v == "null");
        let mut player = Player::new(force_null);
        player.set_speed(settings.playback_speed);
        let (rescored_sender, rescored) = mpsc::channel();
        let script = match Script::from_env() {
            Some(Ok(script)) => Some(script),
            Some(Err(error)) => {
                eprintln!("emotrace: EMOTRACE_GUI_SCRIPT: {error}");
                None
            }
            None => None,
        };
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
            typed_baseline_path: String::new(),
            sample_until: None,
            last_model_notices: Vec::new(),
            encoder_import: None,
            centred_install: None,
            baseline: None,
            baseline_load: None,
            baseline_requested: false,
            centred_requested: false,
            centred_install_failed: false,
            encoder_imported: false,
            reviewed: None,
            history: ReviewHistory::default(),
            wave_edit: waveform::WaveformEdit::default(),
            rescored_sender,
            rescored,
            notes: NotesWindow::default(),
            show_annotators: false,
            annotator_prompt: None,
            script,
            labels_applied: 0,
            last_error: None,
            repaint: None,
            training: TrainingWindow::default(),
            start_page: StartPage::default(),
            help: HelpWindows::default(),
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
        LaunchSettings {
            assessment_end_s: self.settings.assessment_minutes * 60.0,
            model: self.settings.model.clone(),
            caller,
            baseline: self.baseline.clone(),
        }
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
        let annotator = self.settings.annotator.clone().unwrap_or_else(|| DEFAULT_ANNOTATOR.to_string());
        self.reviewed = match Reviewed::load(&path, &annotator) {
            Ok(reviewed) => Some(reviewed),
            Err(error) => {
                self.status = Some((format!("{} {error}", self.t(Key::LabelsUnreadable)), true));
                None
            }
        };
        self.history.clear();
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
        let settings = self.launch_settings(caller);
        let Some(view) = &mut self.view else { return };
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
        if ended && view.phase == Phase::Finished {
            // The reviewer's segmentation saved for this call replaces the pipeline's.
            let edited = self.reviewed.as_ref().and_then(|r| review::edited_spans_for(view, r.review()));
            let to_score = edited.map(|spans| view.show_segmentation(Some(&spans))).unwrap_or_default();
            let (path, audio) = (view.path.clone(), view.audio.clone());
            self.request_scores(path, audio, to_score);
        }
        let Some(view) = &mut self.view else { return };
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
                (DialogRequest::Baseline, Some(path)) => actions.push(Action::CentreOn(path)),
                (DialogRequest::Baseline, None) => self.status = Some((self.t(Key::BaselineDialogUnavailable).to_string(), false)),
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

    fn start_centred_install(&mut self, ctx: &egui::Context) {
        let Some(root) = super::settings::data_dir().map(|d| d.join("models")) else {
            self.status = Some((self.t(Key::CentredNoDataDir).to_string(), true));
            return;
        };
        let ctx = ctx.clone();
        self.centred_install_failed = false;
        self.centred_install = Some(CentredInstall::start(root, move || ctx.request_repaint()));
        self.status = Some((self.t(Key::CentredInstalling).to_string(), false));
    }

    /// The installed model's name once an install has succeeded (the caller then chooses it).
    fn poll_centred_install(&mut self) -> Option<String> {
        let outcome = self.centred_install.as_ref().and_then(CentredInstall::poll)?;
        self.centred_install = None;
        match outcome {
            Ok(name) => {
                self.model_bundles = models::find_bundles(&models::bundle_roots());
                self.status = None;
                Some(name)
            }
            Err(error) => {
                self.centred_install_failed = true;
                self.status = Some((format!("{} {error}", self.t(Key::CentredInstallFailed)), true));
                None
            }
        }
    }

    fn start_baseline_load(&mut self, report: PathBuf, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.baseline_load = Some(BaselineLoad::start(report, move || ctx.request_repaint()));
        self.status = Some((self.t(Key::BaselineReading).to_string(), false));
    }

    /// A baseline read and fitting the model shown becomes the one in use; the open call is
    /// scored again against it (from its decoded audio when it has been analysed).
    fn poll_baseline_load(&mut self, ctx: &egui::Context) {
        let Some(outcome) = self.baseline_load.as_ref().and_then(BaselineLoad::poll) else { return };
        self.baseline_load = None;
        let shown_model = self.view.as_ref().and_then(|v| v.model.as_ref()).map(|(model, _)| model);
        match outcome.and_then(|baseline| caller_baseline::usable_with(&baseline, shown_model).map(|()| baseline)) {
            Ok(baseline) => {
                self.status = Some((self.t(Key::BaselineSet).replace("{}", &baseline.call_name()), false));
                self.baseline = Some(baseline);
                self.score_open_call_again(ctx);
            }
            Err(error) => self.status = Some((format!("{} {error}", self.t(Key::BaselineFailed)), true)),
        }
    }

    /// The open call scored again with the current settings: from its decoded audio when its
    /// analysis has finished, else from the file.
    fn score_open_call_again(&mut self, ctx: &egui::Context) {
        let Some(view) = &self.view else { return };
        let caller = view.caller_choice;
        if view.phase != Phase::Running && view.previous.is_some() && view.audio.is_some() {
            self.set_caller(caller, ctx);
        } else {
            let path = view.path.clone();
            self.open_with_caller(path, caller, ctx);
        }
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
                DialogRequest::Baseline => dialog.add_filter("report.json", &["json"]).add_filter("*", &["*"]).pick_file(),
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
        let exported = export::export(kind, &analysis, load_seconds, &dir, language).and_then(|paths| {
            // The reviewer's notes join the exported segments and report.
            match self.reviewed.as_ref() {
                Some(reviewed) => review::add_notes_to_export(&dir, reviewed.review()).map(|()| paths).map_err(Into::into),
                None => Ok(paths),
            }
        });
        match exported {
            Ok(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                self.status = Some((format!("{} {}", self.t(Key::Exported), names.join(", ")), false));
            }
            Err(error) => self.fail(format!("{} {error}", self.t(Key::ExportFailed))),
        }
    }

    /// Saves an annotation of a caller segment (an undoable command) and says where.
    fn label_segment(&mut self, row: usize, label: Option<u8>) {
        let Some(segment) = self.view.as_ref().and_then(|v| v.segments.get(row)).cloned() else { return };
        let lang = self.lang;
        let Some(reviewed) = self.reviewed.as_ref() else {
            self.status = Some((lang.text(Key::LabelsOff).to_string(), true));
            return;
        };
        let labels = reviewed.labels().with_label(segment.start_s, segment.end_s, &segment.speaker, segment.channel, label);
        let after = ReviewState { labels, review: reviewed.review().clone() };
        if self.run_review_command(after, Key::DoLabel) {
            self.labels_applied += 1;
            let Some(labels) = self.reviewed.as_ref().map(Reviewed::labels) else { return };
            let text = lang
                .text(Key::LabelSaved)
                .replacen("{}", &(row + 1).to_string(), 1)
                .replacen("{}", annotation_text(lang, label), 1)
                .replacen("{}", &labels.len().to_string(), 1)
                .replacen("{}", &labels.annotator_path().display().to_string(), 1);
            self.status = Some((text, false));
        }
    }

    /// Applies and records a change of the reviewed state (saved beside the recording), then
    /// shows the segmentation it implies; false (and the status says why) when it could not be
    /// saved.
    fn run_review_command(&mut self, after: ReviewState, what: Key) -> bool {
        let Some(reviewed) = self.reviewed.as_mut() else {
            self.status = Some((self.lang.text(Key::LabelsOff).to_string(), true));
            return false;
        };
        let command = ReviewCommand { before: reviewed.state.clone(), after, what };
        if let Err(error) = self.history.execute(command, reviewed) {
            self.fail(format!("{} {error}", self.lang.text(Key::EditNotSaved)));
            return false;
        }
        self.sync_segmentation();
        true
    }

    fn fail(&mut self, message: String) {
        self.last_error = Some(message.clone());
        self.status = Some((message, true));
    }

    /// Shows the segmentation the reviewed state holds (the pipeline's when not edited) and
    /// sends the segments without a score to the scoring worker.
    fn sync_segmentation(&mut self) {
        let (Some(view), Some(reviewed)) = (self.view.as_mut(), self.reviewed.as_ref()) else { return };
        if view.unedited.is_none() || view.phase == Phase::Running {
            return;
        }
        let edited = review::edited_spans_for(view, reviewed.review());
        let to_score = view.show_segmentation(edited.as_deref());
        let (path, audio) = (view.path.clone(), view.audio.clone());
        self.request_scores(path, audio, to_score);
    }

    /// Scores `spans` of the open call on the launcher's worker; the GUI thread goes on drawing.
    fn request_scores(&mut self, path: PathBuf, audio: Option<Arc<crate::audio::Audio16k>>, spans: Vec<EditSpan>) {
        let Some(audio) = audio.filter(|_| !spans.is_empty()) else { return };
        // A centring model scores edited segments against the mean its analysis of the call
        // subtracted; without that analysis (pipeline::score_spans would refuse them) say so in
        // the user's language instead of asking.
        let analysed = self.view.as_ref().and_then(|v| v.analysis.clone());
        let has_offsets = analysed.as_ref().is_some_and(|a| a.call_offsets.is_some());
        if let Some(view) =
            self.view.as_mut().filter(|v| !has_offsets && v.model.as_ref().is_some_and(|(m, _)| m.per_call_centring))
        {
            view.scores_failed(&spans);
            self.status = Some((self.t(Key::EditedNeedReanalysis).to_string(), false));
            return;
        }
        let settings = self.launch_settings(self.view.as_ref().map_or(CallerChoice::Auto, |v| v.caller_choice));
        let sender = self.rescored_sender.clone();
        let ctx = self.repaint.clone();
        let tuples = spans.iter().map(|s| (s.channel, s.start_s, s.end_s)).collect();
        self.status = Some((self.t(Key::ScoringEdited).to_string(), false));
        self.launcher.rescore(
            audio,
            tuples,
            analysed,
            &settings,
            Box::new(move |scores| {
                let _ = sender.send((path, spans, scores));
                if let Some(ctx) = ctx {
                    ctx.request_repaint();
                }
            }),
        );
    }

    fn poll_rescored(&mut self) {
        while let Ok((path, spans, scores)) = self.rescored.try_recv() {
            let Some(view) = self.view.as_mut().filter(|v| v.path == path) else { continue };
            match scores {
                Ok(scores) => {
                    view.apply_scores(&spans, &scores);
                    let scoring = self.lang.text(Key::ScoringEdited);
                    if view.scores_pending() == 0 && self.status.as_ref().is_some_and(|(m, _)| m == scoring) {
                        self.status = None;
                    }
                }
                Err(error) => {
                    view.scores_failed(&spans);
                    self.fail(format!("{} {error}", self.lang.text(Key::Failed)));
                }
            }
        }
    }

    /// An edit of the segmentation, as one undoable command.
    fn edit_segments(&mut self, edit: SegmentEdit) {
        let (Some(view), Some(reviewed)) = (self.view.as_ref(), self.reviewed.as_ref()) else {
            self.status = Some((self.t(Key::LabelsOff).to_string(), true));
            return;
        };
        if view.phase != Phase::Finished {
            return;
        }
        match review::plan_edit(view, &reviewed.state, &edit) {
            Ok(after) => {
                self.run_review_command(after, edit.what());
            }
            Err(error) => self.fail(format!("{} {}", self.t(Key::EditRefused), error.localized(self.lang))),
        }
    }

    fn undo_or_redo(&mut self, redo: bool) {
        let Some(reviewed) = self.reviewed.as_mut() else { return };
        let lang = self.lang;
        let done = if redo { self.history.redo(reviewed) } else { self.history.undo(reviewed) };
        let message = match done {
            Ok(Some(command)) => {
                let verb = if redo { Key::Redone } else { Key::Undone };
                (format!("{} {}", lang.text(verb), lang.text(command.what)), false)
            }
            Ok(None) => (lang.text(if redo { Key::NothingToRedo } else { Key::NothingToUndo }).to_string(), false),
            Err(error) => (format!("{} {error}", lang.text(Key::EditNotSaved)), true),
        };
        self.status = Some(message);
        self.sync_segmentation();
    }

    /// The caller segment at the playhead (the one being played, or last played).
    fn row_at_playhead(&self) -> Option<usize> {
        self.view.as_ref().and_then(|v| v.segment_at(self.player.position_s()))
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
            // Ctrl+Z also matches Ctrl+Shift+Z: redo is checked first.
            if input.consume_key(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z)
                || input.consume_key(egui::Modifiers::COMMAND, egui::Key::Y)
            {
                actions.push(Action::Redo);
            }
            if input.consume_key(egui::Modifiers::COMMAND, egui::Key::Z) {
                actions.push(Action::Undo);
            }
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
                let annotations = segment_table::annotations(&view.segments, self.reviewed.as_ref().map(|r| r.labels()));
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
                // Segment edits on the same segment: split at the playhead, merge, delete.
                if input.consume_key(egui::Modifiers::NONE, egui::Key::S) {
                    actions.push(Action::Edit(SegmentEdit::Split { row, at_s: position }));
                }
                if input.consume_key(egui::Modifiers::NONE, egui::Key::M) {
                    actions.push(Action::Edit(SegmentEdit::Merge { row }));
                }
                if input.consume_key(egui::Modifiers::NONE, egui::Key::Delete) {
                    actions.push(Action::Edit(SegmentEdit::Delete { row }));
                }
            }
        });
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        let mut typed_path = std::mem::take(&mut self.typed_path);
        let mut typed_encoder_path = std::mem::take(&mut self.typed_encoder_path);
        let mut typed_baseline_path = std::mem::take(&mut self.typed_baseline_path);
        let mut help = std::mem::take(&mut self.help);
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
            let can_edit = self.reviewed.is_some() && self.view.as_ref().is_some_and(|v| v.phase == Phase::Finished);
            match review::edit_menu(ui, lang, &self.history, can_edit) {
                Some(EditMenuAction::Undo) => actions.push(Action::Undo),
                Some(EditMenuAction::Redo) => actions.push(Action::Redo),
                Some(EditMenuAction::Split) => {
                    if let Some(row) = self.row_at_playhead() {
                        actions.push(Action::Edit(SegmentEdit::Split { row, at_s: self.player.position_s() }));
                    }
                }
                Some(EditMenuAction::Merge) => actions.extend(self.row_at_playhead().map(|row| Action::Edit(SegmentEdit::Merge { row }))),
                Some(EditMenuAction::Delete) => actions.extend(self.row_at_playhead().map(|row| Action::Edit(SegmentEdit::Delete { row }))),
                Some(EditMenuAction::Notes) => actions.push(Action::OpenNotes),
                Some(EditMenuAction::Annotators) => actions.push(Action::OpenAnnotators),
                None => {}
            }
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
                let centred = self.settings.model.as_deref() == Some(CENTRED_MODEL_NAME);
                if ui
                    .add_enabled(self.centred_install.is_none(), egui::RadioButton::new(centred, self.t(Key::MenuModelCentred)))
                    .on_hover_text(self.t(Key::MenuModelCentredTip))
                    .clicked()
                {
                    actions.push(Action::UseCentredModel);
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
                // A caller baseline needs a model that centres on the call: the one shown says.
                let centring = self.view.as_ref().and_then(|v| v.model.as_ref()).is_some_and(|(model, _)| model.per_call_centring);
                let pick = ui
                    .add_enabled(centring && self.baseline_load.is_none(), egui::Button::new(self.t(Key::MenuBaseline)))
                    .on_hover_text(self.t(Key::MenuBaselineTip))
                    .on_disabled_hover_text(self.t(Key::MenuBaselineNeedsCentring));
                if pick.clicked() {
                    actions.push(Action::BaselineDialog);
                    ui.close();
                }
                ui.horizontal(|ui| {
                    let idle = centring && self.baseline_load.is_none();
                    let field = ui.add_enabled(
                        idle,
                        egui::TextEdit::singleline(&mut typed_baseline_path).hint_text(lang.text(Key::BaselinePathHint)).desired_width(260.0),
                    );
                    let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let clicked = ui.add_enabled(idle, egui::Button::new(lang.text(Key::BaselineUsePath))).clicked();
                    if (entered || clicked) && !typed_baseline_path.trim().is_empty() {
                        actions.push(Action::CentreOn(PathBuf::from(typed_baseline_path.trim())));
                        ui.close();
                    }
                });
                if let Some(baseline) = &self.baseline {
                    let clear = ui.button(self.t(Key::MenuBaselineClear).replace("{}", &baseline.call_name())).on_hover_text(&baseline.source);
                    if clear.clicked() {
                        actions.push(Action::ClearBaseline);
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
            help.menu(ui, lang);
        });
        self.help = help;
        self.typed_path = typed_path;
        self.typed_encoder_path = typed_encoder_path;
        self.typed_baseline_path = typed_baseline_path;
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
                // The baseline this analysis used (while it runs, the one it was started with).
                let baseline = view.analysis.as_ref().map_or(self.baseline.as_ref(), |a| a.settings.baseline.as_ref());
                let text = match baseline {
                    Some(baseline) => self.t(Key::BaselineCentred).replace("{}", &baseline.call_name()),
                    None => self.t(Key::PerCallCentred).to_string(),
                };
                match baseline {
                    Some(baseline) => ui.label(RichText::new(&text).strong()).on_hover_text(&baseline.source),
                    None => ui.weak(&text),
                };
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
            ui.weak(self.t(Key::PlaybackKeys)).on_hover_text(self.t(Key::EditKeys));
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
            ui.horizontal(|ui| {
                ui.label(self.lang.text(Key::AnnotatorName));
                let mut name = self.settings.annotator.clone().unwrap_or_default();
                let field = ui.text_edit_singleline(&mut name);
                if field.changed() {
                    self.settings.annotator = Some(name).filter(|n| !n.trim().is_empty());
                }
                if field.lost_focus() {
                    actions.push(Action::AnnotatorChanged);
                }
            });
        });
        self.show_settings = open;
    }

    fn write_dump_when_ready(&mut self, ctx: &egui::Context, now: Instant) {
        let Some(plan) = &mut self.dump else { return };
        let Some(view) = &self.view else { return };
        if plan.done || view.phase == Phase::Running || (view.pyramid.is_none() && view.audio.is_some()) {
            return;
        }
        // A test script plays to its end, and edited segments get their scores, first.
        if self.script.as_ref().is_some_and(|s| !s.is_finished()) || view.scores_pending() > 0 || self.wave_edit.is_dragging() {
            ctx.request_repaint();
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
            segments: view
                .segments
                .iter()
                .enumerate()
                .map(|(row, s)| {
                    let span = LabelledSpan { start_s: s.start_s, end_s: s.end_s, party: s.speaker.clone(), channel: s.channel };
                    DumpedSegment {
                        start_s: s.start_s,
                        end_s: s.end_s,
                        channel: s.channel,
                        speaker: s.speaker.clone(),
                        p_nonnegative: s.p_nonnegative,
                        edited: view.is_edited_segment(row),
                        annotation: self.reviewed.as_ref().and_then(|r| r.labels().get(s.start_s, s.end_s, &s.speaker, s.channel)),
                        note: self.reviewed.as_ref().and_then(|r| r.review().note(&span).map(str::to_string)),
                    }
                })
                .collect(),
            segmentation_edited: view.edited,
            scores_pending: view.scores_pending(),
            undo_steps: self.history.len(),
            redo_available: self.history.can_redo(),
            annotator: self.settings.annotator.clone(),
            annotators: self.reviewed.as_ref().map(|r| r.labels().annotators()).unwrap_or_default(),
            disagreements: self
                .reviewed
                .as_ref()
                .map_or(0, |r| annotators::disagreements(&annotators::labels_by_row(&view.segments, r.labels())).len()),
            script_keys_sent: self.script.as_ref().map_or(0, |s| s.keys_sent),
            labels_applied: self.labels_applied,
            last_error: self.last_error.clone(),
            fine_tune: self.training.dump(),
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
                if changed && self.baseline.take().is_some() {
                    // Its offsets are the previous model's: meaningless for another.
                    self.status = Some((self.t(Key::BaselineCleared).to_string(), false));
                }
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
            Action::BaselineDialog => self.spawn_dialog(DialogRequest::Baseline, ctx),
            Action::CentreOn(report) => {
                if self.baseline_load.is_none() {
                    self.start_baseline_load(report, ctx);
                }
            }
            Action::ClearBaseline => {
                if self.baseline.take().is_some() {
                    self.status = Some((self.t(Key::BaselineCleared).to_string(), false));
                    self.score_open_call_again(ctx);
                }
            }
            Action::UseCentredModel => {
                if models::bundle_dir(CENTRED_MODEL_NAME).is_some() {
                    self.perform(Action::SetModel(Some(CENTRED_MODEL_NAME.to_string())), ctx, now);
                } else if self.centred_install.is_none() {
                    self.start_centred_install(ctx);
                }
            }
            Action::Reanalyse => {
                if let Some(path) = self.view.as_ref().map(|v| v.path.clone()) {
                    self.open_with_caller(path, CallerChoice::Auto, ctx);
                }
            }
            Action::SettingsChanged => self.save_settings(),
            Action::Label(row, label) => {
                if self.settings.annotator.is_none() {
                    // Asked once, before the first label: who labels is saved with every label.
                    let suggested = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_default();
                    self.annotator_prompt = Some((suggested, Action::Label(row, label)));
                } else {
                    self.label_segment(row, label);
                }
            }
            Action::Edit(edit) => self.edit_segments(edit),
            Action::Undo => self.undo_or_redo(false),
            Action::Redo => self.undo_or_redo(true),
            Action::Settle(row, label) => {
                let segment = self.view.as_ref().and_then(|v| v.segments.get(row)).cloned();
                if let (Some(segment), Some(reviewed)) = (segment, self.reviewed.as_ref()) {
                    let labels = reviewed.labels().with_settled(segment.start_s, segment.end_s, &segment.speaker, segment.channel, label);
                    let after = ReviewState { labels, review: reviewed.review().clone() };
                    self.run_review_command(after, Key::DoSettle);
                }
            }
            Action::OpenNotes => {
                let row = self.row_at_playhead();
                let segment = row.and_then(|row| {
                    let s = self.view.as_ref()?.segments.get(row)?;
                    Some((row, LabelledSpan { start_s: s.start_s, end_s: s.end_s, party: s.speaker.clone(), channel: s.channel }))
                });
                if let Some(reviewed) = &self.reviewed {
                    self.notes.open_for(reviewed.review(), segment);
                }
            }
            Action::SaveNotes(changed) => {
                if let Some(reviewed) = &self.reviewed {
                    let after = ReviewState { labels: reviewed.labels().clone(), review: changed };
                    self.run_review_command(after, Key::DoNote);
                }
            }
            Action::OpenAnnotators => self.show_annotators = true,
            Action::ExportTo(dir) => self.export_to(ExportKind::All, dir),
            Action::AnnotatorChanged => {
                self.save_settings();
                // Labels are now this annotator's: read the call's files again as them. The
                // history's states belong to the earlier name, so it starts afresh.
                if let Some(path) = self.view.as_ref().map(|v| v.path.clone()) {
                    let annotator = self.settings.annotator.clone().unwrap_or_else(|| DEFAULT_ANNOTATOR.to_string());
                    match Reviewed::load(&path, &annotator) {
                        Ok(reviewed) => {
                            self.reviewed = Some(reviewed);
                            self.history.clear();
                        }
                        Err(error) => self.fail(format!("{} {error}", self.t(Key::LabelsUnreadable))),
                    }
                }
            }
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
            Action::OpenDemo => self.start_page.open_demo(ctx),
            Action::ClearRecent => {
                self.settings.recent.clear();
                self.save_settings();
            }
            Action::DismissHint => {
                self.settings.first_run_hint_dismissed = true;
                self.save_settings();
            }
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

impl ReviewApp {
    /// The Annotators view, the Notes window and the annotator's-name prompt.
    fn review_windows(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        let lang = self.lang;
        if let (Some(view), Some(reviewed)) = (&self.view, &self.reviewed) {
            if self.show_annotators {
                match annotators::show(ctx, lang, &mut self.show_annotators, &view.segments, reviewed.labels()) {
                    Some(AnnotatorsAction::Jump(row)) => actions.push(Action::PlaySegment(row)),
                    Some(AnnotatorsAction::Settle(row, label)) => actions.push(Action::Settle(row, label)),
                    None => {}
                }
            }
            if self.notes.open {
                if let Some(changed) = self.notes.show(ctx, lang, reviewed.review()) {
                    actions.push(Action::SaveNotes(changed));
                }
            }
        }
        let mut answered = false;
        if let Some((name, _)) = &mut self.annotator_prompt {
            egui::Window::new(lang.text(Key::AnnotatorName)).collapsible(false).resizable(false).show(ctx, |ui| {
                ui.label(lang.text(Key::AnnotatorPrompt));
                let field = ui.text_edit_singleline(name);
                let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button(lang.text(Key::AnnotatorOk)).clicked() || entered) && !name.trim().is_empty() {
                    answered = true;
                }
            });
        }
        if answered {
            if let Some((name, waiting)) = self.annotator_prompt.take() {
                self.settings.annotator = Some(name.trim().to_string());
                actions.push(Action::AnnotatorChanged);
                actions.push(waiting);
            }
        }
    }

    /// One step of the test script (EMOTRACE_GUI_SCRIPT) per frame, once the analysis is done.
    fn run_script_step(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        let Some(script) = self.script.as_mut() else { return };
        let Some(view) = self.view.as_ref().filter(|v| v.phase == Phase::Finished && v.pyramid.is_some()) else { return };
        if script.is_finished() {
            return;
        }
        ctx.request_repaint();
        // Events injected into this frame are handled later in it: the next step waits a frame.
        if script.take_injected() || script.is_sending() || self.wave_edit.is_dragging() {
            return;
        }
        let Some(step) = script.steps.front().cloned() else { return };
        match step {
            Step::WaitScores if view.scores_pending() > 0 => return,
            Step::WaitScores => {}
            Step::Seek(seconds) => {
                self.player.pause();
                self.player.seek(seconds);
            }
            Step::SeekRow(row, fraction) => {
                if let Some(segment) = view.segments.get(row) {
                    let at = segment.start_s + fraction * segment.duration_s();
                    self.player.pause();
                    self.player.seek(at);
                }
            }
            Step::Key(key, modifiers) => script.press_key(key, modifiers),
            Step::DragEdge { row, edge, delta_s } => {
                let Some(segment) = view.segments.get(row) else {
                    script.steps.pop_front();
                    return;
                };
                let at = match edge {
                    super::segment_edit::Edge::Start => segment.start_s,
                    super::segment_edit::Edge::End => segment.end_s,
                };
                // The waveform has to have been drawn for editing first.
                let (Some(from), Some(to)) = (self.wave_edit.screen_pos(at, segment.channel), self.wave_edit.screen_pos(at + delta_s, segment.channel)) else {
                    return;
                };
                script.drag(from, to, egui::Modifiers::NONE);
            }
            Step::DragAdd { lane, from_s, to_s } => {
                let (Some(from), Some(to)) = (self.wave_edit.screen_pos(from_s, lane), self.wave_edit.screen_pos(to_s, lane)) else {
                    return;
                };
                script.drag(from, to, egui::Modifiers::SHIFT);
            }
            Step::Export(dir) => actions.push(Action::ExportTo(dir)),
            Step::OpenAnnotators => actions.push(Action::OpenAnnotators),
            Step::OpenNotes => actions.push(Action::OpenNotes),
            Step::FineTune(epochs) => {
                actions.push(Action::OpenFineTune);
                self.training.start_scripted(epochs);
            }
            Step::WaitFineTune if self.training.busy() => return,
            Step::WaitFineTune => {}
            Step::UseCentredModel => {
                let chosen = self.settings.model.as_deref() == Some(CENTRED_MODEL_NAME);
                if !chosen && !self.centred_install_failed {
                    if !self.centred_requested {
                        self.centred_requested = true;
                        actions.push(Action::UseCentredModel);
                    }
                    return;
                }
                self.centred_requested = false;
            }
            Step::CentreOn(report) => {
                if !self.baseline_requested {
                    self.baseline_requested = true;
                    actions.push(Action::CentreOn(report));
                    return;
                }
                if self.baseline_load.is_some() {
                    return;
                }
                self.baseline_requested = false;
            }
            Step::ClearBaseline => actions.push(Action::ClearBaseline),
            Step::SwitchToNewModel => {
                if let Some(name) = self.training.new_model() {
                    actions.push(Action::SetModel(Some(name.to_string())));
                }
            }
        }
        script.steps.pop_front();
    }
}

impl eframe::App for ReviewApp {
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if let Some(script) = self.script.as_mut() {
            script.inject(raw_input);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.repaint = Some(ctx.clone());
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
        self.poll_rescored();
        self.poll_encoder_import();
        self.poll_baseline_load(&ctx);
        if let Some(name) = self.poll_centred_install() {
            actions.push(Action::SetModel(Some(name)));
        }
        match self.start_page.poll_demo() {
            Some(Ok(demo)) => actions.push(Action::Open(demo)),
            Some(Err(error)) => self.status = Some((format!("{} {error}", self.t(Key::DemoUnavailable)), true)),
            None => {}
        }
        if let Some(TrainingAction::Ended { message, is_error }) = self.training.poll(self.lang) {
            // A finished run's bundle is listed at once.
            self.model_bundles = models::find_bundles(&models::bundle_roots());
            self.status = Some((message, is_error));
        }
        if let Some(path) = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf())) {
            actions.push(Action::Open(path));
        }
        self.run_script_step(&ctx, &mut actions);
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
                let review = self.reviewed.as_ref().map(Reviewed::review);
                let marks = |row: usize| segment_table::RowMarks {
                    edited: view.is_edited_segment(row),
                    note: view.segments.get(row).and_then(|s| {
                        review?.note(&LabelledSpan { start_s: s.start_s, end_s: s.end_s, party: s.speaker.clone(), channel: s.channel }).map(str::to_string)
                    }),
                };
                let labels = self.reviewed.as_ref().map(Reviewed::labels);
                match segment_table::show(ui, lang, &view.segments, view.assessment_end_s, playing_row, scroll_to, labels, &marks) {
                    Some(TableAction::Play(row)) => actions.push(Action::PlaySegment(row)),
                    Some(TableAction::Label(row, label)) => actions.push(Action::Label(row, label)),
                    None => {}
                }
            });
        }

        egui::CentralPanel::default().show(ui, |ui| {
            let Some(view) = &self.view else {
                actions.extend(self.start_page.show(ui, lang, &self.settings.recent).map(|action| match action {
                    StartAction::OpenDialog => Action::OpenDialog,
                    StartAction::OpenDemo => Action::OpenDemo,
                    StartAction::Open(path) => Action::Open(path),
                    StartAction::ClearRecent => Action::ClearRecent,
                }));
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
            let is_edited = |row: usize| view.is_edited_segment(row);
            // Editing once the analysis is done and the call's files could be read.
            let editing = (view.phase == Phase::Finished && self.reviewed.is_some())
                .then_some((view.segments.as_slice(), &is_edited as &dyn Fn(usize) -> bool, &mut self.wave_edit));
            let wave = waveform::show(ui, lang, view.pyramid.as_deref(), &view.spans, duration, playhead, axis_group, waveform_height, reset_view, editing);
            if let Some(seconds) = wave.clicked_s {
                actions.push(Action::PlayAt(seconds));
            }
            if let Some(edit) = wave.edit {
                actions.push(Action::Edit(edit));
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
        self.review_windows(&ctx, &mut actions);
        self.help.show(&ctx, lang);
        if self.view.is_some() && !self.settings.first_run_hint_dismissed && start_page::first_run_hint(&ctx, lang) {
            actions.push(Action::DismissHint);
        }
        if self.training.open {
            // The run starts from the model in use: the bundle picked in the Model menu, or the
            // built-in default model.
            let init = self.settings.model.as_deref().and_then(models::bundle_dir);
            let init_name = self.settings.model.clone().unwrap_or_else(|| self.t(Key::MenuModelDefault).to_string());
            let models_dir = crate::user_dirs::data_dir().map(|d| d.join("models"));
            let model_in_use = self.settings.model.clone();
            if let Some(new_model) = self.training.show(&ctx, self.lang, models_dir, init, &init_name, model_in_use.as_deref()) {
                actions.push(Action::SetModel(Some(new_model)));
            }
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
