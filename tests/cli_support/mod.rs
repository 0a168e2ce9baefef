//! The emotrace binary for CLI tests.

use std::process::Command;

/// The binary, blind to this machine's user data: a speaker encoder a developer imported must
/// not change what these tests see (an empty, never-created data directory).
pub fn emotrace() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
    command.env("EMOTRACE_DATA_DIR", std::env::temp_dir().join(format!("emotrace-tests-no-user-data-{}", std::process::id())));
    command
}
