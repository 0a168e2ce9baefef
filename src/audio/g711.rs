//! G.711 μ-law and A-law companding, as telephone exchanges and many call recorders store audio.
//! Decoding is symphonia's job; these encoders exist to write test fixtures and to simulate
//! telephony when building synthetic calls.

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32635;

/// Encodes a 16-bit linear sample as one G.711 μ-law byte.
pub fn mulaw_encode(sample: i16) -> u8 {
    let mut value = sample as i32;
    let sign = if value < 0 { 0x80 } else { 0 };
    if value < 0 {
        value = -value;
    }
    value = value.min(MULAW_CLIP) + MULAW_BIAS;
    let highest_bit = 31 - (value as u32).leading_zeros() as i32;
    let exponent = (highest_bit - 7).max(0);
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one G.711 μ-law byte to a 16-bit linear sample.
pub fn mulaw_decode(byte: u8) -> i16 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = ((byte >> 4) & 0x07) as i32;
    let mantissa = (byte & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes a 16-bit linear sample as one G.711 A-law byte.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut value = (sample as i32) >> 3;
    let mask = if value >= 0 {
        0xD5u8
    } else {
        value = -value - 1;
        0x55u8
    };
    // Segment k holds 13-bit magnitudes below 32 << k.
    let segment = (0..8).find(|&k| value < (0x20 << k)).unwrap_or(8);
    if segment >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if segment < 2 { 1 } else { segment };
    let code = ((segment << 4) as u8) | ((value >> shift) & 0x0F) as u8;
    code ^ mask
}

/// Decodes one G.711 A-law byte to a 16-bit linear sample.
pub fn alaw_decode(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let exponent = ((byte >> 4) & 0x07) as i32;
    let mantissa = (byte & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if byte & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Quantises a float sample in [-1, 1] to 16 bits, clipping outside that range.
pub fn f32_to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_round_trip_error_is_within_one_quantisation_step() {
        for sample in (-32768i32..=32767).step_by(7) {
            let s = sample as i16;
            let back = mulaw_decode(mulaw_encode(s)) as i32;
            // The largest μ-law step is 1024 (top segment); clipping adds at most 133 above it.
            let tolerance = ((sample.abs() >> 4).max(8)).min(1200);
            assert!((back - sample).abs() <= tolerance, "{sample} -> {back}");
        }
    }

    #[test]
    fn alaw_round_trip_error_is_within_one_quantisation_step() {
        for sample in (-32768i32..=32767).step_by(7) {
            let s = sample as i16;
            let back = alaw_decode(alaw_encode(s)) as i32;
            let tolerance = ((sample.abs() >> 4).max(16)).min(1100);
            assert!((back - sample).abs() <= tolerance, "{sample} -> {back}");
        }
    }

    #[test]
    fn known_code_points() {
        // ITU-T G.711 reference: silence encodes as 0xFF (μ-law) and 0xD5 (A-law).
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0x00), -32124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }
}
