//! Who is the caller: each party's segments and speech time, a sample to listen to, and the
//! choice (stereo: left/right/both channels; mono: speaker A/B/all speech). Changing it scores
//! the chosen party from the decoded audio, without decoding again.

use eframe::egui::{self, RichText};

use super::i18n::{Key, Lang};
use super::state::{CallView, Phase};
use crate::segmentation::{CallerChoice, EncoderUse};

pub enum CallerPanelAction {
    Choose(CallerChoice),
    /// Play from the first time to the second.
    Listen(f64, f64),
    /// Pick a speaker-encoder checkpoint to import.
    ImportEncoder,
    /// Analyse the call again (a speaker encoder has been imported since it was analysed).
    Reanalyse,
}

/// The window's speaker-encoder import, as far as this panel is concerned.
#[derive(Debug, Clone, Copy, Default)]
pub struct EncoderState {
    /// An import is running.
    pub importing: bool,
    /// An import succeeded since the window opened.
    pub imported: bool,
}

/// The choice a party's label stands for.
pub fn choice_for(speaker: &str) -> Option<CallerChoice> {
    match speaker {
        "left" => Some(CallerChoice::Left),
        "right" => Some(CallerChoice::Right),
        "A" => Some(CallerChoice::A),
        "B" => Some(CallerChoice::B),
        _ => None,
    }
}

fn party_name(lang: Lang, speaker: &str) -> String {
    match speaker {
        "left" => lang.text(Key::LeftChannel).to_string(),
        "right" => lang.text(Key::RightChannel).to_string(),
        "A" => lang.text(Key::SpeakerA).to_string(),
        "B" => lang.text(Key::SpeakerB).to_string(),
        other => other.to_string(),
    }
}

/// Minutes and seconds, e.g. "3:07".
fn speech_time(seconds: f64) -> String {
    let whole = seconds.round().max(0.0) as u64;
    format!("{}:{:02}", whole / 60, whole % 60)
}

/// Draws the panel once segmentation has told who speaks; returns what the user asked for.
pub fn show(ui: &mut egui::Ui, lang: Lang, view: &CallView, encoder: EncoderState) -> Option<CallerPanelAction> {
    let assignment = view.assignment.as_ref()?;
    let mono = assignment.layout == "mono";
    let mut action = None;
    let mut action_from_encoder = None;
    // A re-analysis needs the finished one it starts from.
    let can_choose = view.phase != Phase::Running && view.previous.is_some();
    ui.strong(lang.text(Key::CallerTitle));
    ui.small(lang.text(if mono { Key::CallerMonoNote } else { Key::CallerStereoNote }));
    if mono {
        // Buttons to import an encoder, or to use one imported since this analysis.
        let offer_encoder = match &assignment.speaker_encoder {
            EncoderUse::BuiltIn => {
                ui.small(lang.text(Key::CallerBuiltInEncoderNote));
                encoder.imported
            }
            EncoderUse::Imported => {
                ui.small(lang.text(Key::CallerEncoderNote));
                encoder.imported
            }
            EncoderUse::Unusable(why) => {
                ui.small(RichText::new(lang.text(Key::CallerEncoderUnusable)).color(ui.visuals().warn_fg_color))
                    .on_hover_text(why);
                true
            }
            EncoderUse::Absent => {
                ui.small(lang.text(Key::CallerNoEncoderNote));
                true
            }
            // "All speech": the voices were not told apart, so no encoder was wanted.
            EncoderUse::NotNeeded => false,
        };
        if offer_encoder {
            action_from_encoder = encoder_buttons(ui, lang, view, encoder);
        }
    }
    if let Some(strength) = view.suggestion_strength.filter(|s| s.uncertain) {
        let split = format!("{:.0} % / {:.0} %", 100.0 * strength.speech_share, 100.0 * (1.0 - strength.speech_share));
        ui.label(RichText::new(lang.text(Key::SuggestionUncertain).replace("{}", &split)).color(ui.visuals().warn_fg_color));
    }
    let disabled_tip = lang.text(Key::CallerWhenFinished);
    {
        egui::Grid::new("caller-choice").num_columns(4).striped(true).show(ui, |ui| {
            for party in &view.speakers {
                let Some(choice) = choice_for(&party.speaker) else { continue };
                let chosen = assignment.caller == party.speaker;
                let radio = ui
                    .add_enabled(can_choose, egui::RadioButton::new(chosen, party_name(lang, &party.speaker)))
                    .on_disabled_hover_text(disabled_tip);
                if radio.clicked() && !chosen {
                    action = Some(CallerPanelAction::Choose(choice));
                }
                ui.label(format!("{} {}", party.segments, lang.text(Key::CallerSegments)));
                ui.monospace(speech_time(party.speech_s));
                ui.horizontal(|ui| {
                    // Listening never changes the choice, so it stays available while scoring.
                    if ui
                        .add(egui::Button::new(lang.text(Key::ListenSample)).small())
                        .on_hover_text(lang.text(Key::ListenSampleTip))
                        .clicked()
                    {
                        action = Some(CallerPanelAction::Listen(party.sample.0, party.sample.1));
                    }
                    if view.suggested_caller.as_deref() == Some(party.speaker.as_str()) {
                        ui.weak(lang.text(Key::Suggested)).on_hover_text(lang.text(Key::SuggestedTip));
                    }
                });
                ui.end_row();
            }
            let all = assignment.caller == "all";
            let all_label = lang.text(if mono { Key::AllSpeechMono } else { Key::AllSpeechStereo });
            let radio = ui.add_enabled(can_choose, egui::RadioButton::new(all, all_label)).on_disabled_hover_text(disabled_tip);
            if radio.clicked() && !all {
                action = Some(CallerPanelAction::Choose(CallerChoice::All));
            }
            ui.end_row();
        });
    }
    if view.phase == Phase::Running && view.previous.is_some() {
        ui.label(RichText::new(lang.text(Key::Rescoring)).italics());
    }
    action.or(action_from_encoder)
}

/// Under a mono call diarized without an encoder: import one, or (once imported) analyse the
/// call again with it.
fn encoder_buttons(ui: &mut egui::Ui, lang: Lang, view: &CallView, encoder: EncoderState) -> Option<CallerPanelAction> {
    let finished = view.phase != Phase::Running;
    let mut action = None;
    ui.horizontal(|ui| {
        if encoder.imported {
            if ui
                .add_enabled(finished, egui::Button::new(lang.text(Key::ReanalyseWithEncoder)).small())
                .on_disabled_hover_text(lang.text(Key::CallerWhenFinished))
                .clicked()
            {
                action = Some(CallerPanelAction::Reanalyse);
            }
        } else if ui
            .add_enabled(!encoder.importing, egui::Button::new(lang.text(Key::MenuImportEncoder)).small())
            .on_hover_text(lang.text(Key::MenuImportEncoderTip))
            .clicked()
        {
            action = Some(CallerPanelAction::ImportEncoder);
        }
    });
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_party_label_maps_to_its_choice() {
        assert_eq!(choice_for("left"), Some(CallerChoice::Left));
        assert_eq!(choice_for("right"), Some(CallerChoice::Right));
        assert_eq!(choice_for("A"), Some(CallerChoice::A));
        assert_eq!(choice_for("B"), Some(CallerChoice::B));
        assert_eq!(choice_for("ch2"), None);
        assert_eq!(speech_time(187.4), "3:07");
    }
}
