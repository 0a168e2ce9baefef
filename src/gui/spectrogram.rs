//! A closer look at the speech around the playhead, as in Praat: a spectrogram (0–4 kHz) of a few
//! seconds of the caller's channel with the model's own pitch feature (`features::pitch`, the
//! highest qualifying spectral peak in 150–4000 Hz, not F0) drawn over it. Toggled from the View
//! menu. The region is computed on a worker thread and handed over through a channel; the GUI
//! thread only polls, uploads the finished image and draws.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

use eframe::egui::{self, Color32, Pos2, Stroke};
use realfft::RealFftPlanner;

use super::i18n::{Key, Lang};
use super::waveform::PLAYHEAD_COLOUR;
use crate::audio::Audio16k;
use crate::features::pitch::{PitchPlan, HOP as PITCH_HOP};

/// Seconds of audio shown, centred on the playhead.
pub const REGION_S: f64 = 6.0;
const SAMPLE_RATE: f64 = 16_000.0;
/// 32-ms Hann frames every 10 ms: a wide-band view that shows harmonics and formants.
const N_FFT: usize = 512;
const HOP: usize = 160;
const MAX_HZ: f64 = 4000.0;
/// Dynamic range shown below the region's loudest bin.
const RANGE_DB: f32 = 70.0;
const PITCH_COLOUR: Color32 = Color32::from_rgb(80, 230, 255);
/// A new region is computed once the playhead is this far from the shown region's centre.
const RECENTRE_S: f64 = REGION_S / 4.0;

/// One computed region: the image (rows from MAX_HZ down to 0 Hz, a column per frame) and the
/// pitch track as (seconds, Hz) for frames with a pitch.
pub struct Region {
    pub channel: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub image: egui::ColorImage,
    pub pitch: Vec<(f64, f32)>,
}

/// The lane's state: the region on screen and the one being computed.
#[derive(Default)]
pub struct SpectrogramLane {
    pending: Option<(usize, f64, Receiver<Region>)>,
    shown: Option<(usize, f64, f64, egui::TextureHandle, Vec<(f64, f32)>)>,
}

/// The region's spectrogram and pitch track (runs on the worker).
pub fn compute_region(channels: &[Vec<f32>], channel: usize, centre_s: f64) -> Region {
    let samples: &[f32] = channels.get(channel).or_else(|| channels.first()).map_or(&[], Vec::as_slice);
    let total_s = samples.len() as f64 / SAMPLE_RATE;
    let start_s = (centre_s - REGION_S / 2.0).clamp(0.0, (total_s - REGION_S).max(0.0));
    let end_s = (start_s + REGION_S).min(total_s);
    let (first, last) = ((start_s * SAMPLE_RATE) as usize, ((end_s * SAMPLE_RATE) as usize).min(samples.len()));
    let clip = &samples[first.min(last)..last];

    let bins = ((MAX_HZ / (SAMPLE_RATE / N_FFT as f64)) as usize).min(N_FFT / 2);
    let frames = clip.len() / HOP + 1;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let (mut input, mut spectrum) = (fft.make_input_vec(), fft.make_output_vec());
    let hann: Vec<f32> = (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N_FFT as f32).cos()).collect();
    let mut power_db = vec![0f32; frames * bins];
    for frame in 0..frames {
        // Frames centred on their hop, zero outside the clip.
        let centre = frame * HOP;
        for (i, value) in input.iter_mut().enumerate() {
            let at = (centre + i).checked_sub(N_FFT / 2);
            *value = at.and_then(|at| clip.get(at)).map_or(0.0, |s| s * hann[i]);
        }
        if fft.process(&mut input, &mut spectrum).is_err() {
            continue;
        }
        for bin in 0..bins {
            power_db[frame * bins + bin] = 10.0 * (spectrum[bin].norm_sqr() + 1e-10).log10();
        }
    }
    let loudest = power_db.iter().copied().fold(f32::MIN, f32::max);
    let mut image = egui::ColorImage::filled([frames.max(1), bins.max(1)], Color32::BLACK);
    for frame in 0..frames {
        for bin in 0..bins {
            let level = ((power_db[frame * bins + bin] - (loudest - RANGE_DB)) / RANGE_DB).clamp(0.0, 1.0);
            image[(frame, bins - 1 - bin)] = heat(level);
        }
    }

    let plan = PitchPlan::new(SAMPLE_RATE as u32);
    let mut scratch = plan.make_scratch();
    let mut per_frame = Vec::new();
    let pitch = match plan.pitch_frames(clip, &mut scratch, &mut per_frame) {
        Ok(()) => per_frame
            .iter()
            .enumerate()
            .filter(|(_, hz)| **hz > 0.0 && (**hz as f64) < MAX_HZ)
            .map(|(i, hz)| (start_s + (i * PITCH_HOP) as f64 / SAMPLE_RATE, *hz))
            .collect(),
        Err(_) => Vec::new(),
    };
    Region { channel, start_s, end_s, image, pitch }
}

/// Black → purple → orange → pale yellow.
fn heat(level: f32) -> Color32 {
    let stops = [(0.0, [0u8, 0, 4]), (0.4, [100, 30, 120]), (0.75, [240, 110, 40]), (1.0, [252, 250, 190])];
    let upper = stops.iter().position(|(at, _)| level <= *at).unwrap_or(stops.len() - 1).max(1);
    let ((a_at, a), (b_at, b)) = (stops[upper - 1], stops[upper]);
    let t = ((level - a_at) / (b_at - a_at)).clamp(0.0, 1.0);
    let mix = |i: usize| (a[i] as f32 + (b[i] as f32 - a[i] as f32) * t) as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

impl SpectrogramLane {
    /// Draws the lane (`height` points high) for the region around `playhead_s` on `channel`,
    /// asking the worker for a new region when the playhead has moved away from the shown one.
    pub fn show(&mut self, ui: &mut egui::Ui, lang: Lang, audio: Option<&Arc<Audio16k>>, playhead_s: f64, channel: usize, height: f32) {
        if let Some((_, _, receiver)) = &self.pending {
            match receiver.try_recv() {
                Ok(region) => {
                    let texture = ui.ctx().load_texture("spectrogram-lane", region.image, egui::TextureOptions::LINEAR);
                    self.shown = Some((region.channel, region.start_s, region.end_s, texture, region.pitch));
                    self.pending = None;
                }
                Err(TryRecvError::Empty) => ui.ctx().request_repaint_after(std::time::Duration::from_millis(50)),
                Err(TryRecvError::Disconnected) => self.pending = None,
            }
        }
        let stale = match &self.shown {
            Some((shown_channel, start, end, ..)) => *shown_channel != channel || (playhead_s - (start + end) / 2.0).abs() > RECENTRE_S,
            None => true,
        };
        let asked = self.pending.as_ref().is_some_and(|(c, centre, _)| *c == channel && (playhead_s - centre).abs() <= RECENTRE_S);
        if let (true, false, Some(audio)) = (stale, asked, audio) {
            let (sender, receiver) = mpsc::channel();
            let (audio, ctx) = (Arc::clone(audio), ui.ctx().clone());
            std::thread::spawn(move || {
                let _ = sender.send(compute_region(&audio.channels, channel, playhead_s));
                ctx.request_repaint();
            });
            // A newer request replaces an older one; the older result is dropped unseen.
            self.pending = Some((channel, playhead_s, receiver));
        }

        let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), height), egui::Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        let caption = egui::FontId::proportional(12.0);
        match &self.shown {
            Some((shown_channel, start, end, texture, pitch)) => {
                let uv = egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
                painter.image(texture.id(), rect, uv, Color32::WHITE);
                let span = (end - start).max(1e-6);
                let x = |t: f64| rect.left() + ((t - start) / span) as f32 * rect.width();
                let y = |hz: f32| rect.bottom() - (hz / MAX_HZ as f32) * rect.height();
                for (t, hz) in pitch {
                    painter.circle_filled(Pos2::new(x(*t), y(*hz)), 1.8, PITCH_COLOUR);
                }
                if (*start..=*end).contains(&playhead_s) {
                    painter.line_segment([Pos2::new(x(playhead_s), rect.top()), Pos2::new(x(playhead_s), rect.bottom())], Stroke::new(2.0, PLAYHEAD_COLOUR));
                }
                let text = format!("{} · ch {} · {:.1}–{:.1} s", lang.text(Key::SpectrogramCaption), shown_channel + 1, start, end);
                // On a dark box at the bottom left, where the pitch dots (at most 4 kHz, the top) are not.
                let galley = painter.layout_no_wrap(text, caption, Color32::WHITE);
                let at = rect.left_bottom() + egui::vec2(6.0, -4.0 - galley.size().y);
                painter.rect_filled(egui::Rect::from_min_size(at, galley.size()).expand(3.0), 3.0, Color32::from_black_alpha(190));
                painter.galley(at, galley, Color32::WHITE);
            }
            None => {
                let text = if audio.is_some() { lang.text(Key::SpectrogramComputing) } else { lang.text(Key::SpectrogramNoAudio) };
                painter.text(rect.center(), egui::Align2::CENTER_CENTER, text, caption, Color32::GRAY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_is_one_bright_row_and_its_pitch_is_found() {
        let hz = 440.0f32;
        let samples: Vec<f32> = (0..16_000 * 8).map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin()).collect();
        let region = compute_region(&[samples], 0, 4.0);
        assert_eq!((region.start_s, region.end_s), (1.0, 7.0));
        let [width, height] = region.image.size;
        assert_eq!(height, 128);
        // The brightest row of a middle column is the tone's bin (rows run from 4 kHz down).
        let column = width / 2;
        let brightness = |row: usize| {
            let c = region.image[(column, row)];
            c.r() as u32 + c.g() as u32 + c.b() as u32
        };
        let brightest = (0..height).max_by_key(|&row| brightness(row)).unwrap();
        let tone_row = height - 1 - (hz as f64 / (SAMPLE_RATE / N_FFT as f64)).round() as usize;
        assert!(brightest.abs_diff(tone_row) <= 1, "row {brightest}, tone at {tone_row}");
        assert!(!region.pitch.is_empty());
        let median = {
            let mut hz: Vec<f32> = region.pitch.iter().map(|(_, hz)| *hz).collect();
            hz.sort_by(f32::total_cmp);
            hz[hz.len() / 2]
        };
        assert!((median - hz).abs() < 20.0, "pitch {median} Hz");
    }
}
