//! The recent-files list: newest first, no duplicates, bounded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const MAX_RECENT: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecentFiles(Vec<PathBuf>);

impl RecentFiles {
    /// Puts `path` first, removing an older entry for it and the oldest beyond the limit.
    pub fn push(&mut self, path: PathBuf) {
        self.0.retain(|existing| existing != &path);
        self.0.insert(0, path);
        self.0.truncate(MAX_RECENT);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().map(PathBuf::as_path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn remove(&mut self, path: &Path) {
        self.0.retain(|existing| existing != path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates_and_bounded() {
        let mut recent = RecentFiles::default();
        for i in 0..15 {
            recent.push(PathBuf::from(format!("/calls/{i}.wav")));
        }
        recent.push(PathBuf::from("/calls/12.wav"));
        let listed: Vec<&Path> = recent.iter().collect();
        assert_eq!(listed.len(), MAX_RECENT);
        assert_eq!(listed[0], Path::new("/calls/12.wav"));
        assert_eq!(listed[1], Path::new("/calls/14.wav"));
        assert_eq!(listed.iter().filter(|p| **p == Path::new("/calls/12.wav")).count(), 1);
    }
}
