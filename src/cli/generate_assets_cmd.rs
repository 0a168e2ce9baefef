//! `emotrace generate-assets --out DIR` (hidden; run by packaging/build-deb.sh): the man pages of
//! `emotrace` and every subcommand, and shell completions, all generated from the clap
//! definitions so they never drift from the real command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};

#[derive(Debug, Args)]
pub struct GenerateAssetsArgs {
    /// Folder to write man/ (emotrace.1, emotrace-<subcommand>.1) and completions/
    /// (emotrace.bash, _emotrace, emotrace.fish) into.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: GenerateAssetsArgs) -> anyhow::Result<()> {
    let written = generate(&args.out)?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(())
}

/// Writes the man pages and completions under `out`; returns the files written.
pub fn generate(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut command = super::Cli::command();
    command.build();
    let mut written = Vec::new();
    let man_dir = out.join("man");
    std::fs::create_dir_all(&man_dir).with_context(|| format!("cannot create {}", man_dir.display()))?;
    let mut pages = vec![("emotrace".to_string(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        // The page's name is the name `man` finds: emotrace-analyze, and its usage line says
        // `emotrace analyze`.
        let name = format!("emotrace-{}", sub.get_name());
        let sub = sub.clone().display_name(name.clone()).bin_name(format!("emotrace {}", sub.get_name()));
        pages.push((name, sub));
    }
    for (name, page) in pages {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page).render(&mut roff).with_context(|| format!("cannot render the man page {name}"))?;
        let path = man_dir.join(format!("{name}.1"));
        crate::fsutil::atomic_write(&path, &roff).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    let completions_dir = out.join("completions");
    std::fs::create_dir_all(&completions_dir).with_context(|| format!("cannot create {}", completions_dir.display()))?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "emotrace.bash"),
        (clap_complete::Shell::Zsh, "_emotrace"),
        (clap_complete::Shell::Fish, "emotrace.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "emotrace", &mut script);
        let path = completions_dir.join(file);
        crate::fsutil::atomic_write(&path, &script).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
