//! The fine-tuning window (Model → Fine-tune on labels…): the annotators' labels files, the
//! number of epochs and the new model's name; the training runs on a worker thread
//! ([`crate::training::job::run_train_job`]) and reports epochs and steps over a channel, Cancel
//! stops it at the next step (its checkpoint stays, so starting the same run again resumes), and
//! the finished bundle lands in the data folder's `models/`, where the Model menu finds it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

use eframe::egui;

use super::i18n::{Key, Lang};
use crate::training::job::{fine_tune_job, run_train_job};
use crate::training::trainer::TrainEvent;

/// A training run on its worker.
struct Run {
    events: Receiver<TrainEvent>,
    outcome: Receiver<Result<Option<String>, String>>,
    cancel: Arc<AtomicBool>,
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
        Some(match outcome {
            Ok(Some(bundle)) => {
                let message = lang.text(Key::TrainDone).replace("{}", &bundle);
                // The next run gets a fresh name.
                self.name.clear();
                TrainingAction::Ended { message, is_error: false }
            }
            Ok(None) => TrainingAction::Ended { message: lang.text(Key::TrainStopped).to_string(), is_error: false },
            Err(error) => TrainingAction::Ended { message: format!("{} {error}", lang.text(Key::TrainFailed)), is_error: true },
        })
    }

    /// Draws the window. `models_dir` is where bundles go; `init` the model to start from
    /// (`None`: the built-in default model) and `init_name` how to show it.
    pub fn show(&mut self, ctx: &egui::Context, lang: Lang, models_dir: Option<PathBuf>, init: Option<PathBuf>, init_name: &str) {
        if self.name.is_empty() {
            self.name = unused_name(models_dir.as_deref(), &model_stamp());
        }
        let mut open = self.open;
        egui::Window::new(lang.text(Key::TrainTitle)).open(&mut open).resizable(true).default_width(520.0).show(ctx, |ui| {
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
                    ui.add(egui::ProgressBar::new(fraction).text(text).animate(true));
                    for line in &run.log {
                        ui.monospace(line);
                    }
                    if ui.button(lang.text(Key::Cancel)).clicked() {
                        run.cancel.store(true, Ordering::Relaxed);
                    }
                }
                None => {
                    for line in &self.last_log {
                        ui.monospace(line);
                    }
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
        self.open = open || self.run.is_some();
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
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let job = fine_tune_job(manifests, init, out.clone(), epochs).map_err(|e| e.to_string())?;
                if let Some(parent) = out.parent() {
                    crate::fsutil::create_private_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                let result = run_train_job(&job, Some(&event_sender), &stop).map_err(|e| e.to_string())?;
                Ok(result.bundle.map(|_| out.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())))
            }))
            .unwrap_or_else(|_| Err("the training crashed".to_string()));
            let _ = outcome_sender.send(result);
            ctx.request_repaint();
        });
        self.last_log.clear();
        self.run = Some(Run { events, outcome, cancel, epoch: (0, 0), step: (0, 0), preparing: (0, 0), log: Vec::new() });
    }
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
