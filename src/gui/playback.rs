//! Listening: a playhead shared by the views, driven either by an audio device (cpal) or, where
//! none exists (CI, Xvfb, a remote desktop), by a null output that advances in real time.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::audio::{Audio16k, ANALYSIS_RATE};

pub const MIN_SPEED: f32 = 0.5;
pub const MAX_SPEED: f32 = 2.0;

/// State the audio callback and the window share, lock-free.
#[derive(Debug)]
struct Transport {
    /// Playhead in 16 kHz samples, as f64 bits.
    position: AtomicU64,
    playing: AtomicBool,
    /// f32 bits.
    speed: AtomicU32,
    /// Frames in the recording.
    length: AtomicU64,
}

impl Transport {
    fn position(&self) -> f64 {
        f64::from_bits(self.position.load(Ordering::Relaxed))
    }
    fn set_position(&self, samples: f64) {
        self.position.store(samples.to_bits(), Ordering::Relaxed);
    }
    fn speed(&self) -> f32 {
        f32::from_bits(self.speed.load(Ordering::Relaxed))
    }
    /// Moves the playhead by `samples`; stops at the end.
    fn advance(&self, samples: f64) {
        let length = self.length.load(Ordering::Relaxed) as f64;
        let next = self.position() + samples;
        if next >= length {
            self.set_position(length);
            self.playing.store(false, Ordering::Relaxed);
        } else {
            self.set_position(next);
        }
    }
}

enum Output {
    /// Not opened yet: opened on first play, so a window that never plays never touches audio.
    Unopened,
    Device { _stream: cpal::Stream, description: String },
    Null { reason: String },
}

/// The playhead and whatever moves it.
pub struct Player {
    transport: Arc<Transport>,
    audio: Arc<Mutex<Option<Arc<Audio16k>>>>,
    output: Output,
    last_tick: Option<Instant>,
    notice: Option<String>,
    force_null: bool,
}

impl Player {
    /// `force_null` skips the audio device (tests; EMOTRACE_AUDIO=null).
    pub fn new(force_null: bool) -> Self {
        Self {
            transport: Arc::new(Transport {
                position: AtomicU64::new(0f64.to_bits()),
                playing: AtomicBool::new(false),
                speed: AtomicU32::new(1f32.to_bits()),
                length: AtomicU64::new(0),
            }),
            audio: Arc::new(Mutex::new(None)),
            output: Output::Unopened,
            last_tick: None,
            notice: None,
            force_null,
        }
    }

    /// A new recording: stops playback and rewinds.
    pub fn set_audio(&mut self, audio: Option<Arc<Audio16k>>) {
        self.pause();
        self.transport.length.store(audio.as_ref().map_or(0, |a| a.len()) as u64, Ordering::Relaxed);
        self.transport.set_position(0.0);
        if let Ok(mut slot) = self.audio.lock() {
            *slot = audio;
        }
    }

    pub fn position_s(&self) -> f64 {
        self.transport.position() / ANALYSIS_RATE as f64
    }

    pub fn is_playing(&self) -> bool {
        self.transport.playing.load(Ordering::Relaxed)
    }

    pub fn speed(&self) -> f32 {
        self.transport.speed()
    }

    pub fn set_speed(&mut self, speed: f32) {
        self.transport.speed.store(speed.clamp(MIN_SPEED, MAX_SPEED).to_bits(), Ordering::Relaxed);
    }

    pub fn has_audio(&self) -> bool {
        self.transport.length.load(Ordering::Relaxed) > 0
    }

    /// Moves the playhead without changing play/pause.
    pub fn seek(&mut self, seconds: f64) {
        let length = self.transport.length.load(Ordering::Relaxed) as f64;
        self.transport.set_position((seconds * ANALYSIS_RATE as f64).clamp(0.0, length));
    }

    pub fn play_from(&mut self, seconds: f64, now: Instant) {
        self.seek(seconds);
        self.play(now);
    }

    pub fn play(&mut self, now: Instant) {
        if !self.has_audio() {
            return;
        }
        self.open_output();
        let length = self.transport.length.load(Ordering::Relaxed) as f64;
        if self.transport.position() >= length {
            self.transport.set_position(0.0);
        }
        self.last_tick = Some(now);
        self.transport.playing.store(true, Ordering::Relaxed);
    }

    pub fn pause(&mut self) {
        self.transport.playing.store(false, Ordering::Relaxed);
        self.last_tick = None;
    }

    pub fn toggle(&mut self, now: Instant) {
        if self.is_playing() {
            self.pause();
        } else {
            self.play(now);
        }
    }

    /// Call once per frame. With the null output this is what moves the playhead: by the wall
    /// time since the last tick times the speed. A device output moves it from its callback.
    pub fn tick(&mut self, now: Instant) {
        if !self.is_playing() {
            self.last_tick = None;
            return;
        }
        if matches!(self.output, Output::Null { .. }) {
            if let Some(last) = self.last_tick {
                let elapsed = now.saturating_duration_since(last).as_secs_f64();
                self.transport.advance(elapsed * ANALYSIS_RATE as f64 * self.speed() as f64);
            }
        }
        self.last_tick = Some(now);
    }

    /// What the status bar should say about the output, once.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    /// "device name" or the reason the output is silent; `None` before the first play.
    pub fn output_description(&self) -> Option<(bool, &str)> {
        match &self.output {
            Output::Unopened => None,
            Output::Device { description, .. } => Some((true, description)),
            Output::Null { reason } => Some((false, reason)),
        }
    }

    pub fn is_null_output(&self) -> bool {
        matches!(self.output, Output::Null { .. })
    }

    fn open_output(&mut self) {
        if !matches!(self.output, Output::Unopened) {
            return;
        }
        self.output = if self.force_null {
            Output::Null { reason: "null output requested".into() }
        } else {
            match open_device(self.transport.clone(), self.audio.clone()) {
                Ok((stream, description)) => Output::Device { _stream: stream, description },
                Err(reason) => {
                    self.notice = Some(reason.clone());
                    Output::Null { reason }
                }
            }
        };
    }
}

fn open_device(transport: Arc<Transport>, audio: Arc<Mutex<Option<Arc<Audio16k>>>>) -> Result<(cpal::Stream, String), String> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let device = host.default_output_device().ok_or_else(|| "no default output device".to_string())?;
    let config = device.default_output_config().map_err(|e| e.to_string())?.config();
    let device_rate = config.sample_rate as f64;
    let device_channels = config.channels.max(1) as usize;
    let description = format!("{} Hz, {} ch", config.sample_rate, device_channels);
    let stream = device
        .build_output_stream::<f32, _, _>(
            config,
            move |out: &mut [f32], _| fill_output(out, device_channels, device_rate, &transport, &audio),
            |error| eprintln!("emotrace: audio output error: {error}"),
            None,
        )
        .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
    Ok((stream, description))
}

/// The audio callback: the channels' mean at the playhead, linearly interpolated to the device
/// rate and stepped by the speed (pitch follows speed), then the playhead moves on.
fn fill_output(out: &mut [f32], device_channels: usize, device_rate: f64, transport: &Transport, audio: &Mutex<Option<Arc<Audio16k>>>) {
    out.fill(0.0);
    if !transport.playing.load(Ordering::Relaxed) {
        return;
    }
    let Ok(guard) = audio.try_lock() else { return };
    let Some(audio) = guard.as_ref() else { return };
    let step = ANALYSIS_RATE as f64 * transport.speed() as f64 / device_rate;
    let len = audio.len();
    let scale = 1.0 / audio.channels.len().max(1) as f32;
    let mut position = transport.position();
    for frame in out.chunks_mut(device_channels) {
        let index = position as usize;
        if index + 1 >= len {
            break;
        }
        let fraction = (position - index as f64) as f32;
        let value: f32 = audio
            .channels
            .iter()
            .map(|c| c[index] * (1.0 - fraction) + c[index + 1] * fraction)
            .sum::<f32>()
            * scale;
        frame.fill(value);
        position += step;
    }
    drop(guard);
    transport.advance(position - transport.position());
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audio::AudioInfo;

    fn audio(seconds: usize) -> Arc<Audio16k> {
        let info = AudioInfo {
            path: "test.wav".into(),
            container: "wav".into(),
            codec: "pcm".into(),
            sample_rate: 16_000,
            channels: 1,
            frames: (seconds * 16_000) as u64,
            duration_s: seconds as f64,
            skipped_packets: 0,
            declared_duration_s: None,
            warnings: vec![],
        };
        Arc::new(Audio16k { channels: vec![vec![0.0; seconds * 16_000]], info })
    }

    #[test]
    fn null_output_advances_with_wall_time_and_speed() {
        let mut player = Player::new(true);
        player.set_audio(Some(audio(60)));
        let start = Instant::now();
        player.play_from(10.0, start);
        assert!(player.is_null_output());
        player.tick(start + Duration::from_secs(2));
        assert!((player.position_s() - 12.0).abs() < 1e-6, "{}", player.position_s());
        player.set_speed(2.0);
        player.tick(start + Duration::from_secs(3));
        assert!((player.position_s() - 14.0).abs() < 1e-6, "{}", player.position_s());
        player.set_speed(0.5);
        player.tick(start + Duration::from_secs(5));
        assert!((player.position_s() - 15.0).abs() < 1e-6, "{}", player.position_s());
    }

    #[test]
    fn paused_playhead_stays_and_resumes_without_a_jump() {
        let mut player = Player::new(true);
        player.set_audio(Some(audio(60)));
        let start = Instant::now();
        player.play_from(5.0, start);
        player.tick(start + Duration::from_secs(1));
        player.toggle(start + Duration::from_secs(1));
        assert!(!player.is_playing());
        player.tick(start + Duration::from_secs(30));
        assert!((player.position_s() - 6.0).abs() < 1e-6);
        player.toggle(start + Duration::from_secs(30));
        player.tick(start + Duration::from_secs(31));
        assert!((player.position_s() - 7.0).abs() < 1e-6, "{}", player.position_s());
    }

    #[test]
    fn playback_stops_at_the_end_and_speed_is_clamped() {
        let mut player = Player::new(true);
        player.set_audio(Some(audio(10)));
        let start = Instant::now();
        player.play_from(9.0, start);
        player.tick(start + Duration::from_secs(5));
        assert!(!player.is_playing());
        assert!((player.position_s() - 10.0).abs() < 1e-6);
        player.set_speed(9.0);
        assert_eq!(player.speed(), MAX_SPEED);
        player.set_speed(0.1);
        assert_eq!(player.speed(), MIN_SPEED);
    }

    #[test]
    fn nothing_plays_without_audio() {
        let mut player = Player::new(true);
        player.play(Instant::now());
        assert!(!player.is_playing());
    }
}
