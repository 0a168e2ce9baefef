use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::analysis_args::AnalysisArgs;
use crate::pipeline::{analyze_call, AnalysisEvent, CallAnalysis, PipelineStage};
use crate::report::call_report::write_call_report;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The call recording.
    pub file: PathBuf,
    /// Output folder for segments.csv, summary.csv, trajectory.png/.svg and report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Print the time spent per stage.
    #[arg(long)]
    pub timings: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<()> {
    let settings = args.analysis.settings()?;
    let figure_language = args.analysis.figure_language()?;
    let started = Instant::now();
    let model = args.analysis.load_model(&settings)?;
    let load_seconds = started.elapsed().as_secs_f64();

    let progress = StageBars::new(args.quiet);
    let cancel = AtomicBool::new(false);
    let analysis = analyze_call(&args.file, &settings, &model, &mut |event| progress.show(&event), &cancel)
        .with_context(|| format!("cannot analyse {}", args.file.display()))?;
    progress.finish();
    for warning in &analysis.audio_info.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(warning) = analysis.assignment.speaker_encoder.warning() {
        eprintln!("warning: {warning}");
    }
    if let Some(notice) = analysis.assignment.uncertain_notice() {
        eprintln!("notice: {notice}");
    }
    if analysis.settings.baseline.is_some() {
        eprintln!("notice: {}", crate::pipeline::BASELINE_SCORES_NOTICE);
    } else if analysis.model.per_call_centring {
        eprintln!("notice: {}", crate::pipeline::CENTRED_SCORES_NOTICE);
    }
    if analysis.segments.is_empty() {
        eprintln!("notice: no caller speech was found in {}; the report has no segments", args.file.display());
    }

    let timings = write_call_report(&analysis, load_seconds, &args.out, figure_language)?;
    if args.timings {
        for (stage, seconds) in &timings.stages {
            eprintln!("{stage:>12}: {seconds:8.2} s");
        }
        eprintln!("{:>12}: {:8.2} s", "report", timings.report_seconds);
        eprintln!("{:>12}: {:8.2} s", "total", started.elapsed().as_secs_f64());
    }
    if !args.quiet {
        print_summary(&analysis);
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}

fn print_summary(analysis: &CallAnalysis) {
    for summary in &analysis.summaries {
        let ecr = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        eprintln!(
            "{:<10} segments {:>4}  NSS {:>4}  ECR binary {}  ECR prob {}",
            summary.stage.as_str(),
            summary.n_segments,
            summary.nss,
            ecr(summary.ecr_binary),
            ecr(summary.ecr_prob)
        );
    }
}

/// One progress bar per pipeline stage on stderr.
struct StageBars {
    bars: HashMap<PipelineStage, ProgressBar>,
    _group: MultiProgress,
}

impl StageBars {
    fn new(quiet: bool) -> Self {
        let group = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let style_of = |counts: &str| {
            ProgressStyle::with_template(&format!("{{prefix:>9}} [{{bar:30}}] {counts} {{elapsed}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let style = style_of("{pos}/{len}");
        // The Segment stage counts seconds of audio read (two passes for a mono call), not segments.
        let percent_style = style_of("{percent}%");
        let bars = PipelineStage::ALL
            .into_iter()
            .map(|stage| {
                let bar = group.add(ProgressBar::new(1));
                bar.set_style(if stage == PipelineStage::Segment { percent_style.clone() } else { style.clone() });
                bar.set_prefix(stage.as_str());
                (stage, bar)
            })
            .collect();
        Self { bars, _group: group }
    }

    fn show(&self, event: &AnalysisEvent) {
        if let AnalysisEvent::Progress { stage, done, total } = event {
            if let Some(bar) = self.bars.get(stage) {
                bar.set_length((*total).max(1));
                bar.set_position(*done);
            }
        }
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
