//! `emotrace bench fine-tune`: the window's fine-tuning (the same job, [`fine_tune_job`]) on
//! labels files, timed: preparing the segments (decode, features, the frozen encoder's states)
//! and each epoch, so "how long do 100 labelled segments take" has a measured answer.
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use crate::training::dataset::read_manifests;
use crate::training::job::{fine_tune_job, run_train_job};
use crate::training::trainer::TrainEvent;

#[derive(Debug, Args)]
pub struct BenchFineTuneArgs {
    /// Labels files (`<call>.labels.csv` from the window) or manifests.
    #[arg(required = true)]
    pub labels: Vec<PathBuf>,
    /// The bundle to start from (default: the built-in default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Epochs (the window's default is 10).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
}

pub fn run(args: BenchFineTuneArgs) -> anyhow::Result<()> {
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let segments = read_manifests(&args.labels).context("cannot read the labels")?.len();
    // The bundle and its checkpoint go to a private scratch folder, removed afterwards.
    let work = std::env::temp_dir().join(format!("emotrace-bench-fine-tune-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let job = fine_tune_job(args.labels.clone(), args.model.clone(), work.join("fine-tuned"), args.epochs);
    let outcome = job.map_err(anyhow::Error::from).and_then(|job| timed(&job, &args, segments));
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn timed(job: &crate::training::job::TrainJob, args: &BenchFineTuneArgs, segments: usize) -> anyhow::Result<()> {
    let (events, received) = mpsc::channel();
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let watcher = std::thread::spawn(move || {
        let mut prepared_at = None;
        let mut epochs = Vec::new();
        let mut epoch_started = None;
        for event in received {
            match event {
                TrainEvent::EpochStarted { .. } => {
                    prepared_at.get_or_insert_with(|| started.elapsed().as_secs_f64());
                    epoch_started = Some(Instant::now());
                }
                TrainEvent::EpochFinished(_) => {
                    if let Some(t) = epoch_started.take() {
                        epochs.push(t.elapsed().as_secs_f64());
                    }
                }
                _ => {}
            }
        }
        (prepared_at, epochs)
    });
    let result = run_train_job(job, Some(&events), &cancel);
    drop(events);
    let total = started.elapsed().as_secs_f64();
    let (prepared_at, epochs) = watcher.join().map_err(|_| anyhow::anyhow!("the timing thread failed"))?;
    let result = result?;
    let start = args.model.as_ref().map_or("the built-in default model".to_string(), |p| p.display().to_string());
    println!("fine-tuning {start} on {segments} labelled segments, {} epochs (the window's recipe)", args.epochs);
    println!("prepare (decode, features, frozen encoder): {:.1} s", prepared_at.unwrap_or(total));
    if !epochs.is_empty() {
        let mean = epochs.iter().sum::<f64>() / epochs.len() as f64;
        println!("epochs: {} at {:.2} s each on average", epochs.len(), mean);
    }
    println!("total (to the written bundle): {total:.1} s; best epoch {:?}", result.best_epoch);
    Ok(())
}
