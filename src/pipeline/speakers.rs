//! Who speaks how much: the figures the caller choice is made from (segments and speech time
//! per party, and a segment to listen to).

use serde::Serialize;

use super::events::SpeakerSpan;

/// One party of a call as segmentation found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeakerStats {
    /// "left"/"right" (stereo channels) or "A"/"B" (mono clusters).
    pub speaker: String,
    pub channel: usize,
    pub segments: usize,
    pub speech_s: f64,
    /// This party's segments are the ones scored.
    pub is_caller: bool,
    /// A segment to listen to (start, end): the party's longest.
    pub sample: (f64, f64),
}

/// Per-party figures, in label order (left before right, A before B).
pub fn speaker_stats(spans: &[SpeakerSpan]) -> Vec<SpeakerStats> {
    let mut stats: Vec<SpeakerStats> = Vec::new();
    for span in spans {
        let length = span.end_s - span.start_s;
        match stats.iter_mut().find(|s| s.speaker == span.speaker && s.channel == span.channel) {
            Some(party) => {
                party.segments += 1;
                party.speech_s += length;
                party.is_caller |= span.is_caller;
                if length > party.sample.1 - party.sample.0 {
                    party.sample = (span.start_s, span.end_s);
                }
            }
            None => stats.push(SpeakerStats {
                speaker: span.speaker.clone(),
                channel: span.channel,
                segments: 1,
                speech_s: length,
                is_caller: span.is_caller,
                sample: (span.start_s, span.end_s),
            }),
        }
    }
    stats.sort_by(|a, b| a.channel.cmp(&b.channel).then_with(|| a.speaker.cmp(&b.speaker)));
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(speaker: &str, channel: usize, start_s: f64, end_s: f64, is_caller: bool) -> SpeakerSpan {
        SpeakerSpan { index: 0, start_s, end_s, channel, speaker: speaker.into(), is_caller, overlapped: false }
    }

    #[test]
    fn counts_speech_per_party_and_picks_the_longest_segment_as_sample() {
        let spans = [
            span("B", 0, 0.0, 2.0, false),
            span("A", 0, 3.0, 4.0, true),
            span("A", 0, 5.0, 9.5, true),
            span("B", 0, 10.0, 11.0, false),
        ];
        let stats = speaker_stats(&spans);
        assert_eq!(stats.len(), 2);
        assert_eq!((stats[0].speaker.as_str(), stats[0].segments, stats[0].is_caller), ("A", 2, true));
        assert!((stats[0].speech_s - 5.5).abs() < 1e-9);
        assert_eq!(stats[0].sample, (5.0, 9.5));
        assert_eq!((stats[1].speaker.as_str(), stats[1].segments, stats[1].is_caller), ("B", 2, false));
        assert!((stats[1].speech_s - 3.0).abs() < 1e-9);
        assert!(speaker_stats(&[]).is_empty());
    }
}
