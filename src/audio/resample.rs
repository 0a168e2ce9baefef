//! Band-limited sample-rate conversion (rubato's FFT resampler): the anti-aliasing filter keeps
//! energy above the target Nyquist out of the 16 kHz signal the model sees.

use rubato::{FftFixedIn, Resampler};

use super::error::AudioError;

/// Input frames per resampler call: large enough for FFT efficiency, small enough for cache.
const CHUNK_FRAMES: usize = 4096;

/// Resamples planar channels (all the same length) from `from_rate` to `to_rate`.
/// The output has `round(len * to_rate / from_rate)` frames, aligned with the input in time
/// (the filter's delay is removed).
pub fn resample(
    channels: &[Vec<f32>],
    from_rate: u32,
    to_rate: u32,
) -> Result<Vec<Vec<f32>>, AudioError> {
    let error = |detail: String| AudioError::Resample { from: from_rate, to: to_rate, detail };
    if from_rate == 0 || to_rate == 0 {
        return Err(error("sample rates must be positive".into()));
    }
    if from_rate == to_rate || channels.is_empty() {
        return Ok(channels.to_vec());
    }
    let input_len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let expected_len =
        ((input_len as u128 * to_rate as u128 + from_rate as u128 / 2) / from_rate as u128) as usize;
    if input_len == 0 {
        return Ok(vec![Vec::new(); channels.len()]);
    }

    let mut resampler =
        FftFixedIn::<f32>::new(from_rate as usize, to_rate as usize, CHUNK_FRAMES, 1, channels.len())
            .map_err(|e| error(e.to_string()))?;
    let delay = resampler.output_delay();
    let mut outputs: Vec<Vec<f32>> =
        (0..channels.len()).map(|_| Vec::with_capacity(expected_len + delay)).collect();
    let mut scratch = resampler.output_buffer_allocate(true);
    let mut position = 0;

    let append = |scratch: &[Vec<f32>], produced: usize, outputs: &mut Vec<Vec<f32>>| {
        for (output, produced_samples) in outputs.iter_mut().zip(scratch) {
            output.extend_from_slice(&produced_samples[..produced]);
        }
    };

    while position + resampler.input_frames_next() <= input_len {
        let needed = resampler.input_frames_next();
        let input: Vec<&[f32]> = channels.iter().map(|c| &c[position..position + needed]).collect();
        let (_, produced) = resampler
            .process_into_buffer(&input, &mut scratch, None)
            .map_err(|e| error(e.to_string()))?;
        append(&scratch, produced, &mut outputs);
        position += needed;
    }
    if position < input_len {
        let input: Vec<&[f32]> = channels.iter().map(|c| &c[position..input_len]).collect();
        let (_, produced) = resampler
            .process_partial_into_buffer(Some(&input), &mut scratch, None)
            .map_err(|e| error(e.to_string()))?;
        append(&scratch, produced, &mut outputs);
    }
    // Flush the filter's tail with silence until every input frame has reached the output.
    while outputs[0].len() < delay + expected_len {
        let (_, produced) = resampler
            .process_partial_into_buffer(None::<&[&[f32]]>, &mut scratch, None)
            .map_err(|e| error(e.to_string()))?;
        if produced == 0 {
            break;
        }
        append(&scratch, produced, &mut outputs);
    }
    for output in &mut outputs {
        output.drain(..delay.min(output.len()));
        output.resize(expected_len, 0.0);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f64, rate: u32, seconds: f64, amplitude: f32) -> Vec<f32> {
        let n = (rate as f64 * seconds) as usize;
        (0..n)
            .map(|i| amplitude * (2.0 * std::f64::consts::PI * frequency * i as f64 / rate as f64).sin() as f32)
            .collect()
    }

    fn rms(samples: &[f32]) -> f64 {
        (samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn output_length_follows_the_rate_ratio() {
        for (from, to, n) in [(44_100, 16_000, 44_100), (8_000, 16_000, 12_345), (48_000, 16_000, 7)] {
            let out = resample(&[vec![0.1; n], vec![0.2; n]], from, to).unwrap();
            let expected = ((n as f64) * to as f64 / from as f64).round() as usize;
            assert_eq!(out.len(), 2);
            assert!(out.iter().all(|c| c.len() == expected), "{from}->{to} n={n}");
        }
    }

    #[test]
    fn tone_above_target_nyquist_is_removed() {
        // 10 kHz cannot exist at 16 kHz; without an anti-aliasing filter it folds to 6 kHz.
        let input = tone(10_000.0, 44_100, 2.0, 0.8);
        let out = resample(&[input.clone()], 44_100, 16_000).unwrap();
        let middle = &out[0][4_000..28_000];
        let attenuation_db = 20.0 * (rms(middle) / rms(&input)).log10();
        assert!(attenuation_db < -60.0, "aliased energy only {attenuation_db:.1} dB down");
    }

    #[test]
    fn passband_tone_keeps_its_level_and_phase() {
        let input = tone(1_000.0, 44_100, 1.0, 0.5);
        let out = resample(&[input], 44_100, 16_000).unwrap();
        let expected = tone(1_000.0, 16_000, 1.0, 0.5);
        let middle = 2_000..14_000;
        let error = rms(
            &out[0][middle.clone()]
                .iter()
                .zip(&expected[middle])
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>(),
        );
        assert!(error < 0.005, "resampled tone differs from the ideal by rms {error}");
    }
}
