//! The fine-tuning window (Model → Fine-tune on labels…): the annotators' labels files, the
//! number of epochs and the new model's name; the training runs on a worker thread
//! ([`crate::training::job::run_train_job`]) and reports epochs and steps over a channel, Cancel
//! stops it at the next step (its checkpoint stays, so starting the same run again resumes), and
//! the finished bundle lands in the data folder's `models/`, where the Model menu finds it.
//! The loss and validation curves grow as epochs end; once the bundle is written the same worker
//! scores the held-out segments with the starting model and the new one
//! ([`crate::training::compare`]) and the window shows both side by side, with a button that
//! switches to the new model (the Model menu's path, which analyses the open call again).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

use eframe::egui;

use super::fine_tune_compare::{show_comparison, show_curves};
use super::i18n::{Key, Lang};
use crate::training::compare::{compare_models, ModelComparison};
use crate::training::job::{fine_tune_job, run_train_job};
use crate::training::trainer::{EpochRecord, TrainEvent};

/// What the worker hands back: the new model's folder name (`None`: stopped) and the comparison
/// on the held-out segments (`None` when nothing was held out).
struct RunOutcome {
    bundle: Option<String>,
    comparison: Option<Result<ModelComparison, String>>,
}

/// A training run on its worker.
struct Run {
    events: Receiver<TrainEvent>,
    outcome: Receiver<Result<RunOutcome, String>>,
    cancel: Arc<AtomicBool>,
    /// Set by the worker once training is over and the comparison scoring has begun.
    comparing: Arc<AtomicBool>,
    /// Every finished epoch, for the curves.
    history: Vec<EpochRecord>,
    epoch: (usize, usize),
    step: (usize, usize),
    preparing: (usize, usize),
    /// One line per finished epoch.
    log: Vec<String>,
}

/// What the window asks of the app.
pub enum TrainingAction {
    /// A run ended (finished, stopped or failed): what to say.
    Ended { message: String, is_error: bool },
}

#[derive(Default)]
pub struct TrainingWindow {
    pub open: bool,
    manifests: Vec<PathBuf>,
    typed_path: String,
    epochs: usize,
    name: String,
    run: Option<Run>,
    /// The last run's epoch lines, kept after it ends.
    last_log: Vec<String>,
    last_history: Vec<EpochRecord>,
    /// The last finished run's bundle (folder name under `models/`) and its comparison.
    new_model: Option<String>,
    comparison: Option<Result<ModelComparison, String>>,
    /// A scripted start (EMOTRACE_GUI_SCRIPT `fine-tune EPOCHS`) waiting for the next frame.
    scripted_start: bool,
}

/// The fine-tuning state the GUI test reads from the state dump.
#[derive(serde::Serialize)]
pub struct FineTuneDump {
    pub new_model: Option<String>,
    pub epochs_plotted: usize,
    pub comparison: Option<ModelComparison>,
    pub comparison_error: Option<String>,
}

impl TrainingWindow {
    /// Opens the window, offering `labels` (the open call's labels file) when it exists.
    pub fn open_with(&mut self, labels: Option<PathBuf>) {
        self.open = true;
        if self.epochs == 0 {
            self.epochs = 10;
        }
        if let Some(path) = labels.filter(|p| p.is_file()) {
            if !self.manifests.contains(&path) {
                self.manifests.push(path);
            }
        }
    }

    /// Drains the worker's messages; returns what the app must do when the run ended.
    pub fn poll(&mut self, lang: Lang) -> Option<TrainingAction> {
        let run = self.run.as_mut()?;
        loop {
            match run.events.try_recv() {
                Ok(TrainEvent::Preparing { done, total }) => run.preparing = (done, total),
                Ok(TrainEvent::EpochStarted { epoch, epochs }) => run.epoch = (epoch, epochs),
                Ok(TrainEvent::Step { step, steps, .. }) => run.step = (step, steps),
                Ok(TrainEvent::EpochFinished(record)) => {
                    run.history.push(record.clone());
                    let val = record.val.as_ref().map_or(String::new(), |m| {
                        format!(" · {} F1(neg) {:.3} macro-F1 {:.3}", lang.text(Key::TrainValidation), m.negative.f1, m.macro_f1)
                    });
                    run.log.push(format!("{} {}: loss {:.4}{val} ({:.0} s)", lang.text(Key::TrainEpoch), record.epoch, record.train_loss, record.seconds));
                }
                Ok(_) => {}
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let outcome = match run.outcome.try_recv() {
            Ok(outcome) => outcome,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err("the training stopped without an answer".to_string()),
        };
        let run = self.run.take()?;
        self.last_log = run.log;
        self.last_history = run.history;
        Some(match outcome {
            Ok(RunOutcome { bundle: Some(bundle), comparison }) => {
                let message = lang.text(Key::TrainDone).replace("{}", &bundle);
                self.new_model = Some(bundle);
                self.comparison = comparison;
                // The next run gets a fresh name.
                self.name.clear();
                TrainingAction::Ended { message, is_error: false }
            }
            Ok(RunOutcome { bundle: None, .. }) => TrainingAction::Ended { message: lang.text(Key::TrainStopped).to_string(), is_error: false },
            Err(error) => TrainingAction::Ended { message: format!("{} {error}", lang.text(Key::TrainFailed)), is_error: true },
        })
    }

    /// Starts a run of `epochs` on the offered labels files at the next frame (the GUI script's
    /// `fine-tune` step); a run that cannot start says why in the window as usual.
    pub fn start_scripted(&mut self, epochs: usize) {
        self.epochs = epochs.max(1);
        self.scripted_start = true;
    }

    /// A run is starting, training or comparing.
    pub fn busy(&self) -> bool {
        self.scripted_start || self.run.is_some()
    }

    /// The last finished run's bundle (its folder name under `models/`).
    pub fn new_model(&self) -> Option<&str> {
        self.new_model.as_deref()
    }

    pub fn dump(&self) -> FineTuneDump {
        FineTuneDump {
            new_model: self.new_model.clone(),
            epochs_plotted: self.run.as_ref().map_or(self.last_history.len(), |r| r.history.len()),
            comparison: self.comparison.as_ref().and_then(|c| c.as_ref().ok()).cloned(),
            comparison_error: self.comparison.as_ref().and_then(|c| c.as_ref().err()).cloned(),
        }
    }

    /// Draws the window. `models_dir` is where bundles go; `init` the model to start from
    /// (`None`: the built-in default model), `init_name` how to show it and `model_in_use` the
    /// Model menu's choice. Returns the bundle to switch to when "Switch to the new model" was
    /// clicked.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        lang: Lang,
        models_dir: Option<PathBuf>,
        init: Option<PathBuf>,
        init_name: &str,
        model_in_use: Option<&str>,
    ) -> Option<String> {
        if self.name.is_empty() {
            self.name = unused_name(models_dir.as_deref(), &model_stamp());
        }
        if std::mem::take(&mut self.scripted_start) && self.run.is_none() && self.problem(lang, models_dir.as_ref()).is_none() {
            if let Some(dir) = &models_dir {
                self.start(dir.join(self.name.trim()), init.clone(), ctx.clone());
            }
        }
        let mut switch_to = None;
        let mut open = self.open;
        egui::Window::new(lang.text(Key::TrainTitle)).open(&mut open).resizable(true).default_width(560.0).default_height(660.0).show(ctx, |ui| {
            egui::ScrollArea::vertical().auto_shrink([false, true]).show(ui, |ui| {
                ui.weak(lang.text(Key::TrainIntro));
                ui.label(format!("{} {init_name}", lang.text(Key::TrainFrom)));
                ui.separator();
                let running = self.run.is_some();
                ui.strong(lang.text(Key::TrainLabelsFiles));
                let mut remove = None;
                for (i, path) in self.manifests.iter().enumerate() {
                    ui.horizontal(|ui| {
                        if ui.add_enabled(!running, egui::Button::new("×").small()).clicked() {
                            remove = Some(i);
                        }
                        ui.label(path.display().to_string());
                    });
                }
                if let Some(i) = remove {
                    self.manifests.remove(i);
                }
                ui.horizontal(|ui| {
                    let field = ui.add_enabled(!running, egui::TextEdit::singleline(&mut self.typed_path).hint_text(lang.text(Key::TrainAddHint)).desired_width(340.0));
                    let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if (ui.add_enabled(!running, egui::Button::new(lang.text(Key::TrainAdd))).clicked() || entered) && !self.typed_path.trim().is_empty() {
                        let path = PathBuf::from(self.typed_path.trim());
                        if !self.manifests.contains(&path) {
                            self.manifests.push(path);
                        }
                        self.typed_path.clear();
                    }
                });
                ui.horizontal(|ui| {
                    ui.label(lang.text(Key::TrainEpochs));
                    ui.add_enabled(!running, egui::DragValue::new(&mut self.epochs).range(1..=200));
                    ui.label(lang.text(Key::TrainName));
                    ui.add_enabled(!running, egui::TextEdit::singleline(&mut self.name).desired_width(200.0));
                });
                ui.separator();
                match &self.run {
                    Some(run) => {
                        let (epoch, epochs) = run.epoch;
                        let (step, steps) = run.step;
                        let fraction = if epochs == 0 {
                            0.0
                        } else {
                            ((epoch.saturating_sub(1)) as f32 + if steps == 0 { 0.0 } else { step as f32 / steps as f32 }) / epochs as f32
                        };
                        let text = if epoch == 0 {
                            format!("{} {}/{}", lang.text(Key::TrainPreparing), run.preparing.0, run.preparing.1)
                        } else {
                            format!("{} {epoch}/{epochs} · {step}/{steps}", lang.text(Key::TrainEpoch))
                        };
                        let comparing = run.comparing.load(Ordering::Relaxed);
                        let text = if comparing { lang.text(Key::TrainComparing).to_string() } else { text };
                        ui.add(egui::ProgressBar::new(if comparing { 1.0 } else { fraction }).text(text).animate(true));
                        show_curves(ui, lang, &run.history, epochs);
                        show_log(ui, &run.log);
                        if ui.button(lang.text(Key::Cancel)).clicked() {
                            run.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    None => {
                        // The comparison first: it is what the run was for.
                        if let Some(new_model) = self.new_model.clone() {
                            match &self.comparison {
                                Some(Ok(comparison)) => {
                                    if show_comparison(ui, lang, comparison, model_in_use == Some(new_model.as_str())) {
                                        switch_to = Some(new_model);
                                    }
                                }
                                Some(Err(error)) => {
                                    ui.colored_label(ui.visuals().warn_fg_color, format!("{} {error}", lang.text(Key::CompareFailed)));
                                }
                                None => {
                                    ui.label(lang.text(Key::CompareNone));
                                }
                            }
                            ui.separator();
                        }
                        show_curves(ui, lang, &self.last_history, self.last_history.len());
                        show_log(ui, &self.last_log);
                        let problem = self.problem(lang, models_dir.as_ref());
                        if let Some(problem) = &problem {
                            ui.colored_label(ui.visuals().warn_fg_color, problem);
                        }
                        if ui.add_enabled(problem.is_none(), egui::Button::new(lang.text(Key::TrainStart))).clicked() {
                            if let Some(dir) = &models_dir {
                                self.start(dir.join(self.name.trim()), init.clone(), ctx.clone());
                            }
                        }
                    }
                }
            });
        });
        self.open = open || self.run.is_some();
        if self.run.is_some() {
            // Epochs and steps arrive over a channel: look again soon without blocking.
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        switch_to
    }

    /// Why the run cannot start, if it cannot.
    fn problem(&self, lang: Lang, models_dir: Option<&PathBuf>) -> Option<String> {
        let Some(dir) = models_dir else { return Some(lang.text(Key::EncoderNoDataDir).to_string()) };
        let name = self.name.trim();
        if self.manifests.is_empty() {
            return Some(lang.text(Key::TrainNoLabels).to_string());
        }
        if let Some(missing) = self.manifests.iter().find(|p| !p.is_file()) {
            return Some(format!("{} {}", lang.text(Key::TrainMissing), missing.display()));
        }
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Some(lang.text(Key::TrainBadName).to_string());
        }
        if dir.join(name).exists() {
            return Some(lang.text(Key::TrainExists).replace("{}", name));
        }
        None
    }

    fn start(&mut self, out: PathBuf, init: Option<PathBuf>, ctx: egui::Context) {
        let (event_sender, events) = mpsc::channel();
        let (outcome_sender, outcome) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let manifests = self.manifests.clone();
        let epochs = self.epochs;
        let stop = cancel.clone();
        let comparing = Arc::new(AtomicBool::new(false));
        let comparing_flag = comparing.clone();
        let repaint = ctx.clone();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let job = fine_tune_job(manifests, init.clone(), out.clone(), epochs).map_err(|e| e.to_string())?;
                if let Some(parent) = out.parent() {
                    crate::fsutil::create_private_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                let result = run_train_job(&job, Some(&event_sender), &stop).map_err(|e| e.to_string())?;
                let Some(_) = result.bundle else { return Ok(RunOutcome { bundle: None, comparison: None }) };
                let bundle = out.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                if result.held_out.is_empty() {
                    return Ok(RunOutcome { bundle: Some(bundle), comparison: None });
                }
                comparing_flag.store(true, Ordering::Relaxed);
                repaint.request_repaint();
                let comparison = compare_models(
                    init.as_deref().filter(|p| !crate::training::job::is_default_init(p)),
                    &out,
                    &result.held_out,
                    result.split.val_speakers.clone(),
                    result.split.held_out_segments,
                    &mut |_, _| {},
                )
                .map_err(|e| e.to_string());
                Ok(RunOutcome { bundle: Some(bundle), comparison: Some(comparison) })
            }))
            .unwrap_or_else(|_| Err("the training crashed".to_string()));
            let _ = outcome_sender.send(result);
            ctx.request_repaint();
        });
        self.last_log.clear();
        self.last_history.clear();
        self.new_model = None;
        self.comparison = None;
        self.run = Some(Run { events, outcome, cancel, comparing, history: Vec::new(), epoch: (0, 0), step: (0, 0), preparing: (0, 0), log: Vec::new() });
    }
}

/// The epoch lines, newest in view, in a short scrolling box so the comparison below stays on
/// screen.
fn show_log(ui: &mut egui::Ui, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    egui::ScrollArea::vertical().id_salt("fine_tune_log").max_height(72.0).stick_to_bottom(true).show(ui, |ui| {
        for line in lines {
            ui.add(egui::Label::new(egui::RichText::new(line).monospace()).extend());
        }
    });
}

/// `fine-tuned-YYYYMMDD-HHMM`, with `-2`, `-3`, … when a model of that name exists.
fn unused_name(models_dir: Option<&std::path::Path>, stamp: &str) -> String {
    let base = format!("fine-tuned-{stamp}");
    let taken = |name: &str| models_dir.is_some_and(|dir| dir.join(name).exists());
    std::iter::once(base.clone())
        .chain((2..).map(|k| format!("{base}-{k}")))
        .find(|name| !taken(name))
        .unwrap_or(base)
}

/// `YYYYMMDD-HHMM` (UTC) for default model names.
fn model_stamp() -> String {
    // "YYYY-MM-DDTHH:MM:SSZ" -> "YYYYMMDD-HHMM".
    let now = crate::model::bundle::now_rfc3339();
    let digits: String = now.chars().filter(char::is_ascii_digit).collect();
    format!("{}-{}", &digits[..8.min(digits.len())], &digits[8.min(digits.len())..12.min(digits.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let first = unused_name(Some(dir.path()), "20261203-0324");
        assert_eq!(first, "fine-tuned-20261203-0324");
        std::fs::create_dir(dir.path().join(&first)).unwrap();
        assert_eq!(unused_name(Some(dir.path()), "20261203-0324"), "fine-tuned-20261203-0324-2");
    }

    #[test]
    fn stamp_is_a_date_and_time() {
        let stamp = model_stamp();
        assert_eq!(stamp.len(), 13, "{stamp}");
        assert!(stamp.starts_with("20") && stamp.as_bytes()[8] == b'-', "{stamp}");
    }
}
