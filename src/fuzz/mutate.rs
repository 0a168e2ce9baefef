//! Mutations of a valid recording, aimed at its structure: the chunk/box/page/frame boundaries
//! and the numeric header fields (sizes, sample rate, channel count, bit depth) are located
//! first, so truncations, field overwrites and chunk shuffles hit what parsers trust.

use proptest::prelude::*;

/// A numeric header field: where it is, how wide, which byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: usize,
    pub width: usize,
    pub big_endian: bool,
    pub role: FieldRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    Size,
    SampleRate,
    Channels,
    BitsPerSample,
    Other,
}

/// What a file is made of, as far as the fuzzer cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Structure {
    /// Byte ranges of chunks/boxes/pages/frames (top level and nested), in file order.
    pub chunks: Vec<(usize, usize)>,
    pub fields: Vec<Field>,
    /// The sample data of a float WAV: (start, end, bytes per sample).
    pub float_data: Option<(usize, usize, usize)>,
}

impl Structure {
    /// Every offset where a structural unit starts or ends.
    pub fn boundaries(&self, len: usize) -> Vec<usize> {
        let mut all: Vec<usize> = self.chunks.iter().flat_map(|&(s, e)| [s, e]).chain([0, len]).collect();
        all.extend(self.fields.iter().map(|f| f.offset));
        all.retain(|&b| b <= len);
        all.sort_unstable();
        all.dedup();
        all
    }
}

fn read_uint(bytes: &[u8], offset: usize, width: usize, big_endian: bool) -> Option<u64> {
    let slice = bytes.get(offset..offset + width)?;
    let fold = |acc: u64, &b: &u8| (acc << 8) | b as u64;
    Some(if big_endian { slice.iter().fold(0, fold) } else { slice.iter().rev().fold(0, fold) })
}

/// Locates the structure of a recording by its signature (unknown content: no structure).
pub fn structure(bytes: &[u8]) -> Structure {
    let at = |offset: usize, tag: &[u8]| bytes.get(offset..offset + tag.len()) == Some(tag);
    let mut found = Structure::default();
    if at(0, b"RIFF") && at(8, b"WAVE") {
        riff_like(bytes, 12, false, 4, &mut found);
        found.fields.push(Field { offset: 4, width: 4, big_endian: false, role: FieldRole::Size });
    } else if at(0, b"FORM") {
        riff_like(bytes, 12, true, 4, &mut found);
        found.fields.push(Field { offset: 4, width: 4, big_endian: true, role: FieldRole::Size });
    } else if at(0, b"caff") {
        riff_like(bytes, 8, true, 8, &mut found);
    } else if at(0, b"fLaC") {
        flac(bytes, &mut found);
    } else if at(0, b"OggS") {
        let mut offset = 0;
        while let Some(position) = find(bytes, b"OggS", offset) {
            found.chunks.push((position, position + 27));
            found.fields.push(Field { offset: position + 26, width: 1, big_endian: false, role: FieldRole::Size });
            offset = position + 4;
        }
        close_ranges(&mut found.chunks, bytes.len());
    } else if at(4, b"ftyp") {
        mp4_boxes(bytes, 0, bytes.len(), 0, &mut found);
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        ebml_elements(bytes, 0, bytes.len(), 0, &mut found);
    } else {
        mpeg_frames(bytes, &mut found);
    }
    found.chunks.sort_unstable();
    found
}

fn find(bytes: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Turns a list of start-only ranges into consecutive ones (each ends where the next starts).
fn close_ranges(ranges: &mut [(usize, usize)], len: usize) {
    let starts: Vec<usize> = ranges.iter().map(|r| r.0).collect();
    for (index, range) in ranges.iter_mut().enumerate() {
        range.1 = starts.get(index + 1).copied().unwrap_or(len);
    }
}

/// RIFF/AIFF/CAF chunk lists: a 4-byte id then a `size_width`-byte size.
fn riff_like(bytes: &[u8], mut offset: usize, big_endian: bool, size_width: usize, found: &mut Structure) {
    let header = 4 + size_width;
    while let Some(size) = read_uint(bytes, offset + 4, size_width, big_endian) {
        let id = &bytes[offset..offset + 4];
        let body = offset + header;
        let end = body.saturating_add(size.min(bytes.len() as u64) as usize).min(bytes.len());
        found.chunks.push((offset, end));
        found.fields.push(Field { offset: offset + 4, width: size_width, big_endian, role: FieldRole::Size });
        let field = |at: usize, width: usize, role| Field { offset: body + at, width, big_endian, role };
        match id {
            b"fmt " => {
                found.fields.push(field(2, 2, FieldRole::Channels));
                found.fields.push(field(4, 4, FieldRole::SampleRate));
                found.fields.push(field(8, 4, FieldRole::Other));
                found.fields.push(field(12, 2, FieldRole::Other));
                found.fields.push(field(14, 2, FieldRole::BitsPerSample));
                let format = read_uint(bytes, body, 2, false);
                let bits = read_uint(bytes, body + 14, 2, false);
                if format == Some(3) {
                    found.float_data = Some((0, 0, if bits == Some(64) { 8 } else { 4 }));
                }
            }
            b"data" => {
                if let Some(float) = &mut found.float_data {
                    *float = (body, end, float.2);
                }
            }
            b"COMM" => {
                found.fields.push(field(0, 2, FieldRole::Channels));
                found.fields.push(field(2, 4, FieldRole::Other));
                found.fields.push(field(6, 2, FieldRole::BitsPerSample));
                found.fields.push(field(8, 2, FieldRole::SampleRate));
            }
            b"desc" => {
                found.fields.push(field(16, 4, FieldRole::Other));
                found.fields.push(field(20, 4, FieldRole::Other));
                found.fields.push(field(24, 4, FieldRole::Other));
                found.fields.push(field(28, 4, FieldRole::Channels));
                found.fields.push(field(32, 4, FieldRole::BitsPerSample));
            }
            _ => {}
        }
        let padded = if size_width == 4 { end + (end - body) % 2 } else { end };
        if padded <= offset || padded >= bytes.len() {
            break;
        }
        offset = padded;
    }
}

/// FLAC metadata blocks, then frames (found by their sync code).
fn flac(bytes: &[u8], found: &mut Structure) {
    let mut offset = 4;
    while let Some(header) = read_uint(bytes, offset, 4, true) {
        let length = (header & 0x00FF_FFFF) as usize;
        let end = (offset + 4 + length).min(bytes.len());
        found.chunks.push((offset, end));
        found.fields.push(Field { offset: offset + 1, width: 3, big_endian: true, role: FieldRole::Size });
        if header >> 24 & 0x7F == 0 {
            // STREAMINFO: 20-bit rate, 3-bit channels, 5-bit depth share these bytes.
            found.fields.push(Field { offset: offset + 14, width: 3, big_endian: true, role: FieldRole::SampleRate });
            found.fields.push(Field { offset: offset + 16, width: 1, big_endian: true, role: FieldRole::Channels });
        }
        offset = end;
        if header >> 31 == 1 || end >= bytes.len() {
            break;
        }
    }
    let audio = offset;
    let mut frames: Vec<(usize, usize)> = Vec::new();
    let mut position = audio;
    while position + 1 < bytes.len() {
        if bytes[position] == 0xFF && bytes[position + 1] & 0xFE == 0xF8 {
            frames.push((position, position));
        }
        position += 1;
    }
    close_ranges(&mut frames, bytes.len());
    found.chunks.extend(frames.into_iter().take(64));
}

/// MP4 boxes, descending into the containers that hold the audio track's description.
fn mp4_boxes(bytes: &[u8], mut offset: usize, end: usize, depth: usize, found: &mut Structure) {
    const CONTAINERS: [&[u8]; 7] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts"];
    while offset + 8 <= end {
        let Some(size) = read_uint(bytes, offset, 4, true) else { break };
        let size = size as usize;
        let box_end = if size < 8 { end } else { (offset + size).min(end) };
        found.chunks.push((offset, box_end));
        found.fields.push(Field { offset, width: 4, big_endian: true, role: FieldRole::Size });
        let kind = &bytes[offset + 4..offset + 8];
        if depth < 8 && CONTAINERS.contains(&kind) {
            mp4_boxes(bytes, offset + 8, box_end, depth + 1, found);
        }
        if kind == b"mp4a" && offset + 36 <= end {
            found.fields.push(Field { offset: offset + 24, width: 2, big_endian: true, role: FieldRole::Channels });
            found.fields.push(Field { offset: offset + 32, width: 2, big_endian: true, role: FieldRole::SampleRate });
        }
        if box_end <= offset {
            break;
        }
        offset = box_end;
    }
}

/// The length of an EBML variable-size integer starting with `first`.
fn vint_len(first: u8) -> usize {
    first.leading_zeros() as usize + 1
}

/// Matroska elements (IDs and sizes are variable-length integers), descending into masters.
fn ebml_elements(bytes: &[u8], mut offset: usize, end: usize, depth: usize, found: &mut Structure) {
    const MASTERS: [&[u8]; 6] = [
        b"\x1A\x45\xDF\xA3",
        b"\x18\x53\x80\x67",
        b"\x16\x54\xAE\x6B",
        b"\x1F\x43\xB6\x75",
        b"\xAE",
        b"\xE1",
    ];
    while offset < end {
        let id_len = vint_len(bytes[offset]);
        let size_at = offset + id_len;
        if id_len > 4 || size_at >= end {
            break;
        }
        let size_len = vint_len(bytes[size_at]);
        if size_len > 8 || size_at + size_len > end {
            break;
        }
        let raw = read_uint(bytes, size_at, size_len, true).unwrap_or(0);
        let size = raw & (u64::MAX >> (64 - 7 * size_len));
        let body = size_at + size_len;
        let element_end = body.saturating_add(size.min(end as u64) as usize).min(end);
        found.chunks.push((offset, element_end));
        found.fields.push(Field { offset: size_at, width: size_len, big_endian: true, role: FieldRole::Size });
        let id = &bytes[offset..size_at];
        match id {
            [0xB5] => found.fields.push(Field { offset: body, width: size_len.min(8), big_endian: true, role: FieldRole::SampleRate }),
            [0x9F] => found.fields.push(Field { offset: body, width: 8, big_endian: true, role: FieldRole::Channels }),
            [0x62, 0x64] => found.fields.push(Field { offset: body, width: 8, big_endian: true, role: FieldRole::BitsPerSample }),
            _ => {}
        }
        if depth < 6 && MASTERS.contains(&id) {
            ebml_elements(bytes, body, element_end, depth + 1, found);
        }
        if element_end <= offset {
            break;
        }
        offset = element_end;
    }
}

/// An ID3 tag, then MPEG audio frames (found by their 11-bit sync).
fn mpeg_frames(bytes: &[u8], found: &mut Structure) {
    let mut start = 0;
    if bytes.starts_with(b"ID3") && bytes.len() >= 10 {
        let size = bytes[6..10].iter().fold(0usize, |acc, &b| (acc << 7) | (b & 0x7F) as usize);
        start = (10 + size).min(bytes.len());
        found.chunks.push((0, start));
        found.fields.push(Field { offset: 6, width: 4, big_endian: true, role: FieldRole::Size });
    }
    let mut frames = Vec::new();
    for position in start..bytes.len().saturating_sub(1) {
        if bytes[position] == 0xFF && bytes[position + 1] & 0xE0 == 0xE0 {
            frames.push((position, position));
            found.fields.push(Field { offset: position + 2, width: 1, big_endian: true, role: FieldRole::SampleRate });
        }
        if frames.len() >= 64 {
            break;
        }
    }
    close_ranges(&mut frames, bytes.len());
    found.chunks.extend(frames);
}

/// Values written into a numeric field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue {
    Zero,
    One,
    /// All bits set (the largest value the field holds).
    Huge,
    /// Just over the field's original value (off by a few).
    Nudged(i8),
    Any(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poison {
    NaN,
    Infinity,
    NegativeInfinity,
    Denormal,
}

/// One change to a recording. Positions are fractions of the file or indices into its
/// structure (taken modulo the count found), so every mutation applies to every file.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    FlipBits { at: f64, mask: u8 },
    TruncateAtBoundary { boundary: usize, delta: i8 },
    TruncateAt { at: f64 },
    SetField { field: usize, value: FieldValue },
    SetRole { role: FieldRole, value: FieldValue },
    SetChannels { count: u8 },
    DuplicateChunk { chunk: usize },
    SwapChunks { first: usize, second: usize },
    PoisonFloats { poison: Poison, at: f64, count: u16 },
    AppendGarbage { bytes: Vec<u8> },
}

fn write_field(bytes: &mut [u8], field: &Field, value: FieldValue) {
    let Some(slot) = bytes.get_mut(field.offset..field.offset + field.width) else { return };
    let mask = if field.width >= 8 { u64::MAX } else { (1u64 << (8 * field.width)) - 1 };
    let fold = |acc: u64, &b: &u8| (acc << 8) | b as u64;
    let current = if field.big_endian { slot.iter().fold(0, fold) } else { slot.iter().rev().fold(0, fold) };
    let raw = match value {
        FieldValue::Zero => 0,
        FieldValue::One => 1,
        FieldValue::Huge => mask,
        FieldValue::Nudged(delta) => current.wrapping_add(delta as i64 as u64),
        FieldValue::Any(v) => v,
    } & mask;
    for (index, byte) in slot.iter_mut().enumerate() {
        let shift = if field.big_endian { 8 * (field.width - 1 - index) } else { 8 * index };
        *byte = (raw >> shift) as u8;
    }
}

fn position(len: usize, at: f64) -> usize {
    ((len as f64 * at) as usize).min(len.saturating_sub(1))
}

impl Mutation {
    /// Applies the mutation (structure is re-read first: earlier mutations may have moved it).
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        let found = structure(bytes);
        match self {
            Self::FlipBits { at, mask } => {
                if !bytes.is_empty() {
                    let index = position(bytes.len(), *at);
                    bytes[index] ^= mask;
                }
            }
            Self::TruncateAtBoundary { boundary, delta } => {
                let boundaries = found.boundaries(bytes.len());
                let cut = boundaries[boundary % boundaries.len()] as i64 + *delta as i64;
                bytes.truncate(cut.clamp(0, bytes.len() as i64) as usize);
            }
            Self::TruncateAt { at } => bytes.truncate(position(bytes.len() + 1, *at)),
            Self::SetField { field, value } => {
                if !found.fields.is_empty() {
                    write_field(bytes, &found.fields[field % found.fields.len()], *value);
                }
            }
            Self::SetRole { role, value } => {
                for field in found.fields.iter().filter(|f| f.role == *role) {
                    write_field(bytes, field, *value);
                }
            }
            Self::SetChannels { count } => {
                for field in found.fields.iter().filter(|f| f.role == FieldRole::Channels) {
                    write_field(bytes, field, FieldValue::Any(*count as u64));
                }
            }
            Self::DuplicateChunk { chunk } => {
                if !found.chunks.is_empty() {
                    let (start, end) = found.chunks[chunk % found.chunks.len()];
                    let copy = bytes[start..end].to_vec();
                    bytes.splice(end..end, copy);
                }
            }
            Self::SwapChunks { first, second } => {
                // Swaps two top-level-disjoint chunks (nested ones would overlap).
                if found.chunks.len() >= 2 {
                    let a = found.chunks[first % found.chunks.len()];
                    let b = found.chunks[second % found.chunks.len()];
                    let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                    if a.1 <= b.0 {
                        let swapped =
                            [&bytes[..a.0], &bytes[b.0..b.1], &bytes[a.1..b.0], &bytes[a.0..a.1], &bytes[b.1..]].concat();
                        *bytes = swapped;
                    }
                }
            }
            Self::PoisonFloats { poison, at, count } => {
                let Some((start, end, width)) = found.float_data else { return };
                let samples = end.saturating_sub(start) / width;
                if samples == 0 {
                    return;
                }
                let first = position(samples, *at);
                for sample in first..(first + *count as usize).min(samples) {
                    let offset = start + sample * width;
                    if width == 8 {
                        let value = match poison {
                            Poison::NaN => f64::NAN,
                            Poison::Infinity => f64::INFINITY,
                            Poison::NegativeInfinity => f64::NEG_INFINITY,
                            Poison::Denormal => f64::from_bits(1),
                        };
                        bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
                    } else {
                        let value = match poison {
                            Poison::NaN => f32::NAN,
                            Poison::Infinity => f32::INFINITY,
                            Poison::NegativeInfinity => f32::NEG_INFINITY,
                            Poison::Denormal => f32::from_bits(1),
                        };
                        bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
                    }
                }
            }
            Self::AppendGarbage { bytes: garbage } => bytes.extend_from_slice(garbage),
        }
    }
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Zero),
        Just(FieldValue::One),
        Just(FieldValue::Huge),
        (-4i8..=4).prop_map(FieldValue::Nudged),
        any::<u64>().prop_map(FieldValue::Any),
    ]
}

fn role() -> impl Strategy<Value = FieldRole> {
    prop_oneof![
        Just(FieldRole::Size),
        Just(FieldRole::SampleRate),
        Just(FieldRole::Channels),
        Just(FieldRole::BitsPerSample),
    ]
}

/// Any one mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (0.0..1.0f64, 1u8..=255).prop_map(|(at, mask)| Mutation::FlipBits { at, mask }),
        3 => (any::<usize>(), -3i8..=3).prop_map(|(boundary, delta)| Mutation::TruncateAtBoundary { boundary, delta }),
        1 => (0.0..1.0f64).prop_map(|at| Mutation::TruncateAt { at }),
        3 => (any::<usize>(), field_value()).prop_map(|(field, value)| Mutation::SetField { field, value }),
        2 => (role(), field_value()).prop_map(|(role, value)| Mutation::SetRole { role, value }),
        1 => (0u8..=32).prop_map(|count| Mutation::SetChannels { count }),
        1 => any::<usize>().prop_map(|chunk| Mutation::DuplicateChunk { chunk }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(first, second)| Mutation::SwapChunks { first, second }),
        2 => (
            prop_oneof![Just(Poison::NaN), Just(Poison::Infinity), Just(Poison::NegativeInfinity), Just(Poison::Denormal)],
            0.0..1.0f64,
            prop_oneof![1u16..=4, 1u16..=u16::MAX],
        )
            .prop_map(|(poison, at, count)| Mutation::PoisonFloats { poison, at, count }),
        1 => proptest::collection::vec(any::<u8>(), 1..512).prop_map(|bytes| Mutation::AppendGarbage { bytes }),
    ]
}
