use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    emotrace::fsutil::install_private_panic_hook();
    let cli = emotrace::cli::Cli::parse();
    match emotrace::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, as a user reads them.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
