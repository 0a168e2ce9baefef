//! Names the container from the file's first bytes: symphonia 0.5 does not report which
//! format reader it picked, and `info` must say what the file really is, whatever its extension.

/// A human-readable container name, or `None` when the magic bytes are not one we know.
pub fn sniff_container(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.len() >= magic.len() && &head[..magic.len()] == magic;
    let at = |offset: usize, magic: &[u8]| {
        head.len() >= offset + magic.len() && &head[offset..offset + magic.len()] == magic
    };
    if (starts(b"RIFF") || starts(b"RF64")) && at(8, b"WAVE") {
        Some("WAV")
    } else if starts(b"fLaC") {
        Some("FLAC")
    } else if starts(b"OggS") {
        Some("Ogg")
    } else if at(4, b"ftyp") {
        Some("MP4/M4A")
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("Matroska/WebM")
    } else if starts(b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Some("AIFF")
    } else if starts(b"caff") {
        Some("CAF")
    } else if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        // An MPEG audio frame sync (11 set bits) or an ID3v2 tag in front of one; ADTS AAC shares
        // the sync, told apart by the layer bits being 00.
        if head.len() >= 2 && head[0] == 0xFF && head[1] & 0x06 == 0 {
            Some("ADTS (AAC)")
        } else {
            Some("MPEG audio")
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::sniff_container;

    #[test]
    fn recognises_common_containers() {
        assert_eq!(sniff_container(b"RIFF\0\0\0\0WAVEfmt "), Some("WAV"));
        assert_eq!(sniff_container(b"fLaC\0\0\0\x22"), Some("FLAC"));
        assert_eq!(sniff_container(b"OggS\0\x02"), Some("Ogg"));
        assert_eq!(sniff_container(b"\0\0\0\x20ftypM4A "), Some("MP4/M4A"));
        assert_eq!(sniff_container(b"ID3\x04\0\0"), Some("MPEG audio"));
        assert_eq!(sniff_container(&[0xFF, 0xFB, 0x90, 0x00]), Some("MPEG audio"));
        assert_eq!(sniff_container(&[0xFF, 0xF1, 0x50, 0x80]), Some("ADTS (AAC)"));
        assert_eq!(sniff_container(b"hello world"), None);
        assert_eq!(sniff_container(b""), None);
    }
}
