//! Atomic file writes: user data (labels, models, reports) is never left half-written.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `<folder>/<stem><suffix>` beside `recording` (its outputs and annotations live next to it).
pub fn beside(recording: &Path, suffix: &str) -> PathBuf {
    let stem = recording.file_stem().map_or_else(|| "call".into(), |s| s.to_string_lossy().into_owned());
    recording.parent().unwrap_or(Path::new(".")).join(format!("{stem}{suffix}"))
}

/// A temporary sibling of `path` (same directory, so the final rename stays on one file system).
fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!(".{name}.tmp-{}-{}", std::process::id(), unique_counter());
    path.with_file_name(unique)
}

fn unique_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_with(path, |file| file.write_all(bytes))
}

/// Like [`atomic_write`], with the content produced by a writer callback.
pub fn atomic_write_with(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = temporary_sibling(path);
    let result = (|| {
        let file = fs::File::create(&temporary)?;
        let mut writer = io::BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// For writers that insist on a path of their own (image encoders): `produce` writes a temporary
/// sibling that keeps `path`'s extension, which is then renamed over `path`.
pub fn atomic_write_via_path<E: From<io::Error>>(
    path: &Path,
    produce: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let mut temporary = temporary_sibling(path).into_os_string();
    if let Some(extension) = path.extension() {
        temporary.push(".");
        temporary.push(extension);
    }
    let temporary = PathBuf::from(temporary);
    let result = produce(&temporary).and_then(|()| Ok(fs::rename(&temporary, path)?));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        atomic_write(&path, b"old").unwrap();
        atomic_write(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        atomic_write(&path, b"kept").unwrap();
        let failure = atomic_write_with(&path, |_| Err(io::Error::other("disk full")));
        assert!(failure.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"kept");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
