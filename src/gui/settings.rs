//! The window's settings, kept as JSON in the OS config directory (or EMOTRACE_CONFIG_DIR, which
//! tests use so they never touch a user's settings).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::i18n::Lang;
use super::recent::RecentFiles;
use crate::analysis::DEFAULT_ASSESSMENT_MINUTES;

const FILE_NAME: &str = "gui-settings.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `None` = follow the OS locale.
    pub language: Option<Lang>,
    pub assessment_minutes: f64,
    pub recent: RecentFiles,
    /// The model bundle picked in the Model menu; `None` = the shipped default.
    pub model: Option<String>,
    pub playback_speed: f32,
    pub show_frame_times: bool,
    /// Who labels (saved with every label); asked once, before the first label.
    pub annotator: Option<String>,
    /// The first-run hint (Caller panel, playback, labelling) was dismissed.
    pub first_run_hint_dismissed: bool,
    /// The trajectory's layers: the segments' points, the trend line and its 95% band.
    pub show_points: bool,
    pub show_trend: bool,
    pub show_trend_band: bool,
    /// Width of the trend's moving-average window (minutes); also used by exports.
    pub trend_window_minutes: f64,
    /// The spectrogram lane with the pitch track under the waveform.
    pub show_spectrogram: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: None,
            assessment_minutes: DEFAULT_ASSESSMENT_MINUTES,
            recent: RecentFiles::default(),
            model: None,
            playback_speed: 1.0,
            show_frame_times: true,
            annotator: None,
            first_run_hint_dismissed: false,
            show_points: true,
            show_trend: true,
            show_trend_band: true,
            trend_window_minutes: crate::analysis::trend::DEFAULT_TREND_WINDOW_MINUTES,
            show_spectrogram: false,
        }
    }
}

pub use crate::user_dirs::{config_dir, data_dir};

impl Settings {
    /// Reads the settings; a missing or unreadable file gives the defaults (a damaged settings
    /// file must never stop the window from opening).
    pub fn load_from(dir: &Path) -> Self {
        std::fs::read(dir.join(FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Settings>(&bytes).ok())
            .map(Settings::sanitised)
            .unwrap_or_default()
    }

    pub fn save_to(&self, dir: &Path) -> std::io::Result<()> {
        crate::fsutil::create_private_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::atomic_write(&dir.join(FILE_NAME), &json)
    }

    pub fn load() -> Self {
        config_dir().map(|dir| Self::load_from(&dir)).unwrap_or_default()
    }

    pub fn save(&self) -> std::io::Result<()> {
        match config_dir() {
            Some(dir) => self.save_to(&dir),
            None => Err(std::io::Error::other("no configuration directory on this system")),
        }
    }

    fn sanitised(mut self) -> Self {
        if !(self.assessment_minutes.is_finite() && self.assessment_minutes > 0.0) {
            self.assessment_minutes = DEFAULT_ASSESSMENT_MINUTES;
        }
        self.trend_window_minutes = crate::analysis::trend::sanitise_window_minutes(self.trend_window_minutes);
        self.playback_speed = self.playback_speed.clamp(super::playback::MIN_SPEED, super::playback::MAX_SPEED);
        self
    }

    pub fn language_or_locale(&self) -> Lang {
        self.language.unwrap_or_else(Lang::from_os_locale)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use super::*;

    #[test]
    fn settings_round_trip_through_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings { language: Some(Lang::Zh), assessment_minutes: 25.0, ..Settings::default() };
        settings.recent.push(PathBuf::from("/calls/来电 1.wav"));
        settings.save_to(dir.path()).unwrap();
        assert_eq!(Settings::load_from(dir.path()), settings);
    }

    #[test]
    fn damaged_or_missing_settings_give_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load_from(dir.path()), Settings::default());
        std::fs::write(dir.path().join(FILE_NAME), b"{ not json").unwrap();
        assert_eq!(Settings::load_from(dir.path()), Settings::default());
        std::fs::write(dir.path().join(FILE_NAME), br#"{"assessment_minutes": -3, "playback_speed": 40}"#).unwrap();
        let loaded = Settings::load_from(dir.path());
        assert_eq!(loaded.assessment_minutes, DEFAULT_ASSESSMENT_MINUTES);
        assert_eq!(loaded.playback_speed, 2.0);
    }
}
