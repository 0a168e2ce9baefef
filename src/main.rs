use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    emotrace::fsutil::install_private_panic_hook();
    let cli = emotrace::cli::Cli::parse();
    match emotrace::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, as a user reads them (a cause that the message
            // above it already quotes is not repeated).
            let mut line = String::new();
            for cause in error.chain() {
                let text = cause.to_string();
                if !line.contains(&text) {
                    if !line.is_empty() {
                        line.push_str(": ");
                    }
                    line.push_str(&text);
                }
            }
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}
