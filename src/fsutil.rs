//! Writing user data: atomically (readers see the old file or the complete new one, even after a
//! crash or power loss) and privately. Everything emotrace writes derives from a recording
//! (labels, reports, figures, segment CSVs, batch folders, caches, models, settings), so files
//! are created 0600 and folders 0700 whatever the umask, unless shared files were asked for
//! ([`set_shared_files`], `--shared-output`, `EMOTRACE_SHARED_FILES=1`): then 0640/0750 as the
//! umask allows, so a research group can read them (and so can anyone in the folder's group).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable that turns on shared files (`1` or `true`).
pub const SHARED_FILES_ENV: &str = "EMOTRACE_SHARED_FILES";

static SHARED_FILES: AtomicBool = AtomicBool::new(false);

/// Makes files and folders written from now on group-readable (0640/0750, umask honoured).
pub fn set_shared_files(shared: bool) {
    SHARED_FILES.store(shared, Ordering::Relaxed);
}

/// Whether outputs are shared (the setting, or the environment variable).
pub fn shared_files() -> bool {
    SHARED_FILES.load(Ordering::Relaxed)
        || std::env::var(SHARED_FILES_ENV).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// The mode new files get.
pub fn file_mode() -> u32 {
    if shared_files() { 0o640 } else { 0o600 }
}

/// The mode new folders get.
pub fn dir_mode() -> u32 {
    if shared_files() { 0o750 } else { 0o700 }
}

/// Private mode is forced past the umask (a umask cannot widen it, but 0277 would narrow it
/// to read-only); shared mode is narrowed by the umask, also for files a library created with
/// a mode of its own (safetensors writes 0600 temporaries).
fn enforce_mode(path: &Path, mode: u32) -> io::Result<()> {
    let wanted = if shared_files() { mode & !current_umask() } else { mode };
    fs::set_permissions(path, fs::Permissions::from_mode(wanted))
}

/// The process's umask, read without changing it (Linux reports it in /proc/self/status);
/// 022, the common default, where it cannot be read.
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// Creates `dir` and its missing parents, each new one 0700 (0750 shared). Folders that exist
/// already keep their mode: they are the user's.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).collect();
    fs::DirBuilder::new().recursive(true).mode(dir_mode()).create(dir)?;
    for created in missing {
        enforce_mode(created, dir_mode())?;
    }
    Ok(())
}

/// Creates one new folder, 0700 (0750 shared); fails if it exists.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(dir_mode()).create(dir)?;
    enforce_mode(dir, dir_mode())
}

/// Creates one new file for writing, 0600 (0640 shared); fails if it exists.
pub fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(file_mode()).open(path)?;
    enforce_mode(path, file_mode())?;
    Ok(file)
}

/// Gives an existing file (written by a library that chose its own mode) the private mode.
pub fn make_private(path: &Path) -> io::Result<()> {
    enforce_mode(path, file_mode())
}

/// Flushes a folder's entries (a rename into it) to the disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    fs::File::open(dir)?.sync_all()
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Swaps two existing paths in one step (Linux renameat2 RENAME_EXCHANGE), so a folder is
/// replaced with no moment where neither version exists. Fails (e.g. EINVAL) where the file
/// system cannot exchange; callers then fall back to two renames.
pub fn exchange(first: &Path, second: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    let (a, b) = (c(first)?, c(second)?);
    // SAFETY: two valid NUL-terminated paths that outlive the call.
    let result = unsafe {
        libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE)
    };
    if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// An exclusive advisory lock (flock) on `<path>.lock`, held until dropped. Writers of the same
/// file in several processes (two windows labelling one call) take it around read-merge-write.
#[derive(Debug)]
pub struct FileLock {
    file: fs::File,
}

/// Waits for and takes the lock of `path` (its `.lock` sibling is created, private, if needed).
pub fn lock_exclusive(path: &Path) -> io::Result<FileLock> {
    use std::os::fd::AsRawFd;
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let file = fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(file_mode()).open(PathBuf::from(name))?;
    loop {
        // SAFETY: flock on a descriptor this function owns; no memory is shared with the kernel.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(FileLock { file });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above; closing the file would release the lock too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// A panic hook for the program: a panic message can quote a recording's file name or
/// content, so only where it happened is printed (the message with EMOTRACE_PANIC_DETAILS=1).
/// Panics the decoder turns into errors (see `audio::decode`) print nothing.
pub fn install_private_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if crate::audio::decode::in_guarded_decoder_call() {
            return;
        }
        let location = info.location().map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        if std::env::var_os("EMOTRACE_PANIC_DETAILS").is_some() {
            eprintln!("emotrace: internal error{location}: {info}");
        } else {
            eprintln!(
                "emotrace: internal error{location} (a bug; its message is withheld because it may name a recording: \
                 set EMOTRACE_PANIC_DETAILS=1 to see it)"
            );
        }
    }));
}

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

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one:
/// a private temporary sibling is written and synced, renamed over `path`, and the folder synced.
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
        let file = create_private_file(&temporary)?;
        let mut writer = io::BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_dir(parent_of(path))
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
    let result = produce(&temporary).and_then(|()| {
        make_private(&temporary)?;
        fs::OpenOptions::new().write(true).open(&temporary)?.sync_all()?;
        fs::rename(&temporary, path)?;
        Ok(sync_dir(parent_of(path))?)
    });
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
    fn files_and_folders_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        let path = nested.join("report.csv");
        atomic_write(&path, b"x").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
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
