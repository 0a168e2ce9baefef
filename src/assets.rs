//! Files shipped inside the binary.

/// Noto Sans CJK SC cut to ASCII, Latin-1, CJK punctuation and GB 2312, so Chinese text renders
/// in the window and in figures on machines without CJK fonts.
/// Made by scripts/make_cjk_font_subset.py; licence in assets/fonts/LICENSE-OFL-1.1.txt.
pub const CJK_FONT: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-subset.otf");

/// The demo call: 4 minutes of two-party stereo telephone audio (8-kHz μ-law WAV) made by
/// scripts/make_demo_call.sh from nEMO speech (CC BY-NC-SA 4.0; assets/demo/LICENSE).
pub const DEMO_CALL: &[u8] = include_bytes!("../assets/demo/demo-call.wav");
/// The demo call's true labels (`emotrace make-call` truth CSV).
pub const DEMO_TRUTH: &[u8] = include_bytes!("../assets/demo/demo-call-truth.csv");
/// The demo audio's licence and attribution, written beside it.
pub const DEMO_LICENSE: &[u8] = include_bytes!("../assets/demo/LICENSE");
/// The application icon (the window's; the package installs the same picture in hicolor).
pub const APP_ICON_PNG: &[u8] = include_bytes!("../assets/icons/hicolor/256x256/apps/emotrace.png");

/// The demo call's file name in the data folder.
pub const DEMO_CALL_NAME: &str = "demo-call.wav";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("no data folder on this system (set EMOTRACE_DATA_DIR)")]
    NoDataDir,
    #[error("cannot write {path}: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
}

/// Writes the demo call, its truth CSV and licence into the user's data folder (`demo/`) unless
/// identical copies are there, and returns the call's path. An installed binary has no source
/// tree beside it, so the demo travels inside the binary.
pub fn install_demo_call() -> Result<std::path::PathBuf, DemoError> {
    let dir = crate::user_dirs::data_dir().ok_or(DemoError::NoDataDir)?.join("demo");
    install_demo_call_in(&dir)
}

/// [`install_demo_call`] into `dir`.
pub fn install_demo_call_in(dir: &std::path::Path) -> Result<std::path::PathBuf, DemoError> {
    let write_error = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    for (name, bytes) in [(DEMO_CALL_NAME, DEMO_CALL), ("demo-call-truth.csv", DEMO_TRUTH), ("LICENSE", DEMO_LICENSE)] {
        let path = dir.join(name);
        // The same bytes already there (a later run): leave the file, and its labels, alone.
        if std::fs::read(&path).is_ok_and(|existing| existing == bytes) {
            continue;
        }
        crate::fsutil::atomic_write(&path, bytes).map_err(write_error(&path))?;
    }
    Ok(dir.join(DEMO_CALL_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_call_is_written_once_and_rewritten_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let call = install_demo_call_in(dir.path()).unwrap();
        assert_eq!(std::fs::read(&call).unwrap(), DEMO_CALL);
        assert_eq!(std::fs::read(dir.path().join("demo-call-truth.csv")).unwrap(), DEMO_TRUTH);
        std::fs::write(&call, b"damaged").unwrap();
        assert_eq!(install_demo_call_in(dir.path()).unwrap(), call);
        assert_eq!(std::fs::read(&call).unwrap(), DEMO_CALL);
    }
}
