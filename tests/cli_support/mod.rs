//! The emotrace binary for CLI tests, and a tiny random-weight model bundle for them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary, blind to this machine's user data: a speaker encoder a developer imported must
/// not change what these tests see (an empty, never-created data directory).
pub fn emotrace() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emotrace"));
    command.env("EMOTRACE_DATA_DIR", std::env::temp_dir().join(format!("emotrace-tests-no-user-data-{}", std::process::id())));
    command
}

/// A bundle of the tiny random-weight fixture model in `dir` (fast to load and score; its scores
/// mean nothing).
pub fn tiny_random_bundle(dir: &Path) -> PathBuf {
    use emotrace::model::bundle::{write_bundle, BundleMeta};
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/tiny_layer_prenorm");
    let config: emotrace::model::FusedConfig =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap()).unwrap();
    let tensors = emotrace::model::weights::read_safetensors(&fixture.join("model.safetensors")).unwrap();
    write_bundle(dir, &config, &tensors, BundleMeta::new("tiny-random", "none: random weights", "test fixture", true), false)
        .unwrap();
    dir.to_path_buf()
}
