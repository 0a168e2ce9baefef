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
        let path = dir.join(FILE_NAME);
        let Ok(bytes) = std::fs::read(&path) else { return Self::default() };
        match Self::parse_each_setting(&bytes) {
            Some(settings) => settings.sanitised(),
            None => {
                // Not JSON at all: keep a copy, since the next save replaces the file.
                let kept = dir.join(format!("{FILE_NAME}.damaged"));
                if std::fs::copy(&path, &kept).is_ok() {
                    eprintln!("emotrace: {} is not readable settings; using the defaults (a copy is in {})", path.display(), kept.display());
                }
                Self::default()
            }
        }
    }

    /// The settings of a JSON object, each on its own: a value that does not parse (a hand edit,
    /// an option another version wrote differently) falls back to its default alone instead of
    /// taking the recent calls, the model and the annotator's name with it. `None`: not an object.
    fn parse_each_setting(bytes: &[u8]) -> Option<Self> {
        if let Ok(settings) = serde_json::from_slice::<Settings>(bytes) {
            return Some(settings);
        }
        let serde_json::Value::Object(fields) = serde_json::from_slice(bytes).ok()? else { return None };
        let serde_json::Value::Object(mut merged) = serde_json::to_value(Self::default()).ok()? else { return None };
        for (key, value) in fields {
            let mut trial = merged.clone();
            trial.insert(key.clone(), value.clone());
            if serde_json::from_value::<Settings>(serde_json::Value::Object(trial)).is_ok() {
                merged.insert(key, value);
            } else {
                eprintln!("emotrace: the setting '{key}' has a value this version cannot read; it is back to its default");
            }
        }
        serde_json::from_value(serde_json::Value::Object(merged)).ok()
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

    #[test]
    fn one_unreadable_setting_loses_only_itself_and_a_damaged_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        std::fs::write(&file, r#"{"language": "zh", "model": "my-model", "annotator": "张医生", "recent": 7, "assessment_minutes": 20}"#).unwrap();
        let loaded = Settings::load_from(dir.path());
        assert_eq!(loaded.model.as_deref(), Some("my-model"));
        assert_eq!(loaded.annotator.as_deref(), Some("张医生"));
        assert_eq!(loaded.assessment_minutes, 20.0);
        assert_eq!(loaded.language, None, "an unknown language falls back to the OS locale");
        assert_eq!(loaded.recent, RecentFiles::default());
        std::fs::write(&file, b"{ not json").unwrap();
        assert_eq!(Settings::load_from(dir.path()), Settings::default());
        assert_eq!(std::fs::read(dir.path().join(format!("{FILE_NAME}.damaged"))).unwrap(), b"{ not json");
    }
}
