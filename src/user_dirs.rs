//! Where emotrace keeps settings and user data on this machine (the OS conventions, or the
//! directories named by `EMOTRACE_CONFIG_DIR` / `EMOTRACE_DATA_DIR`, which tests and portable
//! installs use).
use std::path::PathBuf;

/// Where settings live: EMOTRACE_CONFIG_DIR if set, else the OS config dir for emotrace.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("EMOTRACE_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "emotrace").map(|dirs| dirs.config_dir().to_path_buf())
}

/// Where user data (imported and fine-tuned models, an imported speaker encoder) lives.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("EMOTRACE_DATA_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "emotrace").map(|dirs| dirs.data_dir().to_path_buf())
}
