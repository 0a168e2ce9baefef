//! Scripted input for the window's tests (EMOTRACE_GUI_SCRIPT=FILE): after the analysis has
//! finished, the window performs one step per frame as real input events (keys, pointer
//! presses and moves injected before egui sees the frame's input), so the tests drive the same
//! code paths as a user. One step per line (`#` starts a comment):
//!
//! * `seek S` — move the playhead to S seconds (paused);
//! * `seek-row N F` — to fraction F of segment N (1 = the first row);
//! * `key NAME [ctrl] [shift]` — press and release a key (egui names: `N`, `S`, `Delete`, `Z`, `ArrowRight`);
//! * `drag-edge N start|end DS` — drag that edge of segment N by DS seconds on the waveform;
//! * `drag-add LANE FROM TO` — Shift+drag on LANE (channel) from FROM to TO seconds;
//! * `wait-scores` — wait until every edited segment has its score;
//! * `export DIR` — export everything to DIR, as File › Export does;
//! * `open annotators|notes` — open the Annotators view or the Notes window (Edit menu).
//! * `fine-tune N` — open Model → Fine-tune on labels… with the call's labels and start N epochs;
//! * `wait-fine-tune` — wait until that run and its held-out comparison have ended;
//! * `switch-to-new-model` — click "Switch to the new model" (the call is analysed again).

use std::collections::VecDeque;
use std::path::PathBuf;

use eframe::egui::{self, Event, Modifiers, PointerButton, Pos2};

use super::segment_edit::Edge;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Seek(f64),
    SeekRow(usize, f64),
    Key(egui::Key, Modifiers),
    DragEdge { row: usize, edge: Edge, delta_s: f64 },
    DragAdd { lane: usize, from_s: f64, to_s: f64 },
    WaitScores,
    Export(PathBuf),
    OpenAnnotators,
    OpenNotes,
    /// Opens Model → Fine-tune on labels… with the open call's labels and starts a run of this
    /// many epochs.
    FineTune(usize),
    /// Waits until that run (training and comparison) has ended.
    WaitFineTune,
    /// Clicks "Switch to the new model".
    SwitchToNewModel,
    /// Picks Model → the centred built-in model (installing it first if needed), then waits
    /// until it is the chosen model.
    UseCentredModel,
    /// Model → centre on an earlier call: the report.json (or export folder) named by the rest of
    /// the line; waits until it is read (then for the call's new scores, as after any analysis).
    CentreOn(PathBuf),
    /// Model → centre on the call itself again.
    ClearBaseline,
}

/// Parses a script; the error names the line.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("script line {}: {line:?}", number + 1);
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok()).ok_or_else(bad);
        let row = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok()).and_then(|n| n.checked_sub(1)).ok_or_else(bad);
        let step = match words[0] {
            "seek" => Step::Seek(num(1)?),
            "seek-row" => Step::SeekRow(row(1)?, num(2)?),
            "key" => {
                let key = words.get(1).and_then(|name| egui::Key::from_name(name)).ok_or_else(bad)?;
                let mut modifiers = Modifiers::NONE;
                for word in &words[2..] {
                    match *word {
                        "ctrl" => modifiers = modifiers | Modifiers::COMMAND,
                        "shift" => modifiers = modifiers | Modifiers::SHIFT,
                        _ => return Err(bad()),
                    }
                }
                Step::Key(key, modifiers)
            }
            "drag-edge" => {
                let edge = match words.get(2).copied() {
                    Some("start") => Edge::Start,
                    Some("end") => Edge::End,
                    _ => return Err(bad()),
                };
                Step::DragEdge { row: row(1)?, edge, delta_s: num(3)? }
            }
            "drag-add" => Step::DragAdd { lane: num(1)? as usize, from_s: num(2)?, to_s: num(3)? },
            "wait-scores" => Step::WaitScores,
            "fine-tune" => Step::FineTune(words.get(1).and_then(|w| w.parse::<usize>().ok()).filter(|&n| n > 0).ok_or_else(bad)?),
            "wait-fine-tune" => Step::WaitFineTune,
            "switch-to-new-model" => Step::SwitchToNewModel,
            "use-centred-model" => Step::UseCentredModel,
            // The rest of the line: a path may hold spaces.
            "centre-on" => match line["centre-on".len()..].trim() {
                "" => return Err(bad()),
                path => Step::CentreOn(PathBuf::from(path)),
            },
            "clear-baseline" => Step::ClearBaseline,
            "export" => Step::Export(PathBuf::from(words.get(1).ok_or_else(bad)?)),
            "open" => match words.get(1).copied() {
                Some("annotators") => Step::OpenAnnotators,
                Some("notes") => Step::OpenNotes,
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        steps.push(step);
    }
    Ok(steps)
}

/// A script being played: steps still to do and the input events queued for the next frames.
#[derive(Debug, Default)]
pub struct Script {
    pub steps: VecDeque<Step>,
    /// One batch of events per frame, with the modifiers held during it.
    queued: VecDeque<(Vec<Event>, Modifiers)>,
    /// Key presses sent so far.
    pub keys_sent: usize,
    /// Events went into this frame's input: the next step waits until the frame has handled them.
    injected: bool,
}

impl Script {
    pub fn from_env() -> Option<Result<Self, String>> {
        let path = std::env::var_os("EMOTRACE_GUI_SCRIPT")?;
        Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: {e}", PathBuf::from(&path).display()))
                .and_then(|text| parse(&text))
                .map(|steps| Script { steps: steps.into(), ..Default::default() }),
        )
    }

    pub fn is_finished(&self) -> bool {
        self.steps.is_empty() && self.queued.is_empty()
    }

    /// Whether input events are still waiting to be sent (the next step waits for them).
    pub fn is_sending(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Whether this frame's input holds injected events (asked once per frame, before its
    /// widgets run: the events are handled later in the same frame).
    pub fn take_injected(&mut self) -> bool {
        std::mem::take(&mut self.injected)
    }

    pub fn press_key(&mut self, key: egui::Key, modifiers: Modifiers) {
        let event = |pressed| Event::Key { key, physical_key: None, pressed, repeat: false, modifiers };
        self.queued.push_back((vec![event(true), event(false)], modifiers));
        self.keys_sent += 1;
    }

    /// A press at `from`, moves to `to`, a release there; frame by frame.
    pub fn drag(&mut self, from: Pos2, to: Pos2, modifiers: Modifiers) {
        let button = |pos, pressed| Event::PointerButton { pos, button: PointerButton::Primary, pressed, modifiers };
        let middle = from + (to - from) * 0.5;
        for batch in [
            vec![Event::PointerMoved(from)],
            vec![button(from, true)],
            vec![Event::PointerMoved(middle)],
            vec![Event::PointerMoved(to)],
            vec![button(to, false)],
            vec![Event::PointerMoved(to + egui::vec2(0.0, 400.0))],
        ] {
            self.queued.push_back((batch, modifiers));
        }
    }

    /// Adds the next frame's events to the raw input.
    pub fn inject(&mut self, raw: &mut egui::RawInput) {
        if let Some((events, modifiers)) = self.queued.pop_front() {
            raw.events.push(Event::ModifiersChanged(modifiers));
            raw.events.extend(events);
            self.injected = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_name_the_bad_line() {
        let steps = parse("seek 1.5\nkey Z ctrl shift # redo\n\ndrag-edge 2 end -0.5\ndrag-add 0 3 5\nwait-scores\nexport /tmp/x\nseek-row 3 0.5").unwrap();
        assert_eq!(steps[1], Step::Key(egui::Key::Z, Modifiers::COMMAND | Modifiers::SHIFT));
        assert_eq!(steps[2], Step::DragEdge { row: 1, edge: Edge::End, delta_s: -0.5 });
        assert_eq!(steps[6], Step::SeekRow(2, 0.5));
        assert_eq!(parse("fine-tune 3\nwait-fine-tune\nswitch-to-new-model").unwrap(), [Step::FineTune(3), Step::WaitFineTune, Step::SwitchToNewModel]);
        assert_eq!(parse("use-centred-model").unwrap(), [Step::UseCentredModel]);
        assert_eq!(parse("centre-on /calls/首次 来电/report.json").unwrap(), [Step::CentreOn(PathBuf::from("/calls/首次 来电/report.json"))]);
        assert_eq!(parse("clear-baseline").unwrap(), [Step::ClearBaseline]);
        assert!(parse("centre-on").is_err());
        assert!(parse("fine-tune 0").is_err());
        assert_eq!(parse("seek 1\nfly away").unwrap_err(), "script line 2: \"fly away\"");
    }
}
