use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::analysis_args::AnalysisArgs;
use crate::pipeline::batch::{call_folder, clear_failure, collect, is_complete, read_manifest, record_failure, run_order, ManifestCall, Shard};
use crate::pipeline::{analyze_call, AnalysisSettings, CallBaseline, ScoringModel};
use crate::report::call_report::{write_call_report, REPORT_JSON};

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// CSV with columns call_id,path[,group][,score][,baseline]; relative paths are relative to
    /// the manifest. `baseline` names another row's call_id, the caller's first call: with a
    /// centring model that call is analysed first and this call's scores are centred on it (as
    /// `analyze --centre-on` does), so each caller's calls stay comparable with one another.
    pub manifest: PathBuf,
    /// Output folder: calls/<call_id>/ (one analyze output each), calls.csv, failures.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Handle only manifest rows whose 0-based position modulo N is I (e.g. Slurm's
    /// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, Kubernetes' $JOB_COMPLETION_INDEX/N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Skip calls whose report is already complete (failed calls are retried).
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// The analysis settings of one call: the batch's, centred on the call's baseline call when the
/// manifest names one (its report must already be in the batch folder).
fn settings_for(call: &ManifestCall, settings: &AnalysisSettings, model: &ScoringModel, out: &Path) -> anyhow::Result<AnalysisSettings> {
    if call.baseline.is_empty() {
        return Ok(settings.clone());
    }
    if !is_complete(out, &call.baseline) {
        anyhow::bail!(
            "its baseline call '{}' has no report in this batch folder (it failed, or it belongs to a shard that has not run yet)",
            call.baseline
        );
    }
    let baseline = CallBaseline::from_report(&call_folder(out, &call.baseline))?;
    baseline.check(model)?;
    Ok(AnalysisSettings { baseline: Some(baseline), ..settings.clone() })
}

pub fn run(args: BatchArgs) -> anyhow::Result<()> {
    let manifest = read_manifest(&args.manifest)?;
    let shard = args.shard.unwrap_or_else(Shard::all);
    let settings = args.analysis.settings()?;
    let figure_language = args.analysis.figure_language()?;
    let started = Instant::now();
    let model = args.analysis.load_model(&settings)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let with_baseline = manifest.iter().filter(|c| !c.baseline.is_empty()).count();
    if with_baseline > 0 {
        if settings.baseline.is_some() {
            anyhow::bail!("--centre-on names one baseline for every call, the manifest's baseline column one per call: use one of them");
        }
        if !model.model.centres_per_call() {
            anyhow::bail!(
                "the manifest names baseline calls, but the model '{}' does not centre its scores on the call \
                 (use a centring model, e.g. `emotrace export-model default-centred DIR`, then --model DIR)",
                model.bundle.meta.name
            );
        }
    }
    if settings.baseline.is_some() || with_baseline > 0 {
        eprintln!("notice: {}", crate::pipeline::BASELINE_SCORES_NOTICE);
    }
    if model.model.centres_per_call() && (settings.baseline.is_none() && with_baseline < manifest.len()) {
        eprintln!("notice: {}", crate::pipeline::CENTRED_SCORES_NOTICE);
    }
    crate::fsutil::create_private_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;

    let mine = run_order(manifest.iter().enumerate().filter(|(position, _)| shard.takes(*position)).map(|(_, call)| call));
    let cancel = AtomicBool::new(false);
    let (mut done, mut skipped, mut failed) = (0, 0, 0);
    for (number, call) in mine.iter().enumerate() {
        if args.resume && is_complete(&args.out, &call.call_id) {
            skipped += 1;
            continue;
        }
        // The call id only: the recording's path stays out of logs.
        eprintln!("[{}/{}] {}", number + 1, mine.len(), call.call_id);
        let folder = call_folder(&args.out, &call.call_id);
        // A report is complete only once report.json is rewritten for this run.
        let _ = std::fs::remove_file(folder.join(REPORT_JSON));
        let outcome = settings_for(call, &settings, &model, &args.out)
            .and_then(|settings| analyze_call(&call.path, &settings, &model, &mut |_| {}, &cancel).map_err(anyhow::Error::from))
            .and_then(|analysis| {
                if let Some(notice) = analysis.assignment.uncertain_notice() {
                    eprintln!("  notice: {notice}");
                }
                write_call_report(&analysis, load_seconds, &folder, figure_language).map_err(anyhow::Error::from)
            });
        match outcome {
            Ok(_) => {
                clear_failure(&args.out, &call.call_id);
                done += 1;
            }
            Err(error) => {
                let message = format!("{error:#}");
                eprintln!("  failed: {message}");
                record_failure(&args.out, &call.call_id, &message)?;
                failed += 1;
            }
        }
    }
    let (complete, failures) = collect(&args.out, &manifest)?;
    eprintln!(
        "this run: {done} analysed, {skipped} already complete, {failed} failed; \
         the batch folder now holds {complete} complete and {failures} failed of {} calls",
        manifest.len()
    );
    Ok(())
}
