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
    if from_rate == to_rate && from_rate != 0 {
        return Ok(channels.to_vec());
    }
    let mut resampler = StreamingResampler::new(from_rate, to_rate, channels.len())?;
    let input_len = channels.iter().map(Vec::len).min().unwrap_or(0);
    let input: Vec<&[f32]> = channels.iter().map(|c| &c[..input_len]).collect();
    resampler.reserve(input_len);
    resampler.push(&input)?;
    resampler.finish()
}

/// [`resample`] for input that arrives in pieces (a decoder's packets), so a long recording never
/// has to exist at its original rate in memory. The output is the same, bit for bit, however the
/// input is cut.
pub struct StreamingResampler {
    from_rate: u32,
    to_rate: u32,
    /// `None` when the rates are equal (the input is copied through).
    resampler: Option<FftFixedIn<f32>>,
    /// Input not yet processed (less than one resampler chunk after every push).
    pending: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
    input_len: usize,
}

impl StreamingResampler {
    pub fn new(from_rate: u32, to_rate: u32, channels: usize) -> Result<Self, AudioError> {
        let error = |detail: String| AudioError::Resample { from: from_rate, to: to_rate, detail };
        if from_rate == 0 || to_rate == 0 {
            return Err(error("sample rates must be positive".into()));
        }
        let resampler = if from_rate == to_rate || channels == 0 {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(from_rate as usize, to_rate as usize, CHUNK_FRAMES, 1, channels)
                    .map_err(|e| error(e.to_string()))?,
            )
        };
        let scratch = resampler.as_ref().map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(Self {
            from_rate,
            to_rate,
            resampler,
            pending: vec![Vec::new(); channels],
            scratch,
            outputs: vec![Vec::new(); channels],
            input_len: 0,
        })
    }

    fn error(&self, detail: String) -> AudioError {
        AudioError::Resample { from: self.from_rate, to: self.to_rate, detail }
    }

    /// Room for this many more input frames in the output (an optional hint).
    pub fn reserve(&mut self, input_frames: usize) {
        let frames = (input_frames as u128 * self.to_rate as u128 / self.from_rate as u128) as usize;
        let delay = self.resampler.as_ref().map_or(0, |r| r.output_delay());
        self.outputs.iter_mut().for_each(|o| o.reserve(frames + delay + 1));
    }

    /// Appends planar input (one slice per channel, all the same length).
    pub fn push(&mut self, input: &[&[f32]]) -> Result<(), AudioError> {
        if input.len() != self.outputs.len() {
            return Err(self.error(format!("{} channels given to a {}-channel resampler", input.len(), self.outputs.len())));
        }
        let frames = input.iter().map(|c| c.len()).min().unwrap_or(0);
        self.input_len += frames;
        let Some(resampler) = self.resampler.as_mut() else {
            self.outputs.iter_mut().zip(input).for_each(|(o, c)| o.extend_from_slice(&c[..frames]));
            return Ok(());
        };
        self.pending.iter_mut().zip(input).for_each(|(p, c)| p.extend_from_slice(&c[..frames]));
        let available = self.pending[0].len();
        let mut position = 0;
        while position + resampler.input_frames_next() <= available {
            let needed = resampler.input_frames_next();
            let chunk: Vec<&[f32]> = self.pending.iter().map(|c| &c[position..position + needed]).collect();
            let (_, produced) = resampler
                .process_into_buffer(&chunk, &mut self.scratch, None)
                .map_err(|e| AudioError::Resample { from: self.from_rate, to: self.to_rate, detail: e.to_string() })?;
            append(&self.scratch, produced, &mut self.outputs);
            position += needed;
        }
        self.pending.iter_mut().for_each(|p| {
            p.drain(..position);
        });
        Ok(())
    }

    /// Flushes the filter and returns the resampled channels: `round(len * to_rate / from_rate)`
    /// frames each, aligned with the input in time.
    pub fn finish(mut self) -> Result<Vec<Vec<f32>>, AudioError> {
        let input_len = self.input_len;
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(self.outputs);
        };
        if input_len == 0 {
            return Ok(vec![Vec::new(); self.outputs.len()]);
        }
        let expected_len =
            ((input_len as u128 * self.to_rate as u128 + self.from_rate as u128 / 2) / self.from_rate as u128) as usize;
        let delay = resampler.output_delay();
        let error = |e: rubato::ResampleError| AudioError::Resample { from: self.from_rate, to: self.to_rate, detail: e.to_string() };
        if !self.pending[0].is_empty() {
            let input: Vec<&[f32]> = self.pending.iter().map(|c| c.as_slice()).collect();
            let (_, produced) = resampler.process_partial_into_buffer(Some(&input), &mut self.scratch, None).map_err(error)?;
            append(&self.scratch, produced, &mut self.outputs);
        }
        // Flush the filter's tail with silence until every input frame has reached the output.
        while self.outputs[0].len() < delay + expected_len {
            let (_, produced) =
                resampler.process_partial_into_buffer(None::<&[&[f32]]>, &mut self.scratch, None).map_err(error)?;
            if produced == 0 {
                break;
            }
            append(&self.scratch, produced, &mut self.outputs);
        }
        for output in &mut self.outputs {
            output.drain(..delay.min(output.len()));
            output.resize(expected_len, 0.0);
            output.shrink_to_fit();
        }
        Ok(self.outputs)
    }
}

fn append(scratch: &[Vec<f32>], produced: usize, outputs: &mut [Vec<f32>]) {
    for (output, produced_samples) in outputs.iter_mut().zip(scratch) {
        output.extend_from_slice(&produced_samples[..produced]);
    }
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
    fn streaming_in_uneven_pieces_equals_resampling_at_once() {
        let left = tone(440.0, 8_000, 3.3, 0.5);
        let right = tone(1_234.0, 8_000, 3.3, 0.3);
        let whole = resample(&[left.clone(), right.clone()], 8_000, 16_000).unwrap();
        let mut streaming = StreamingResampler::new(8_000, 16_000, 2).unwrap();
        let mut position = 0;
        for (i, size) in [1usize, 1152, 4096, 5000, 7, 3333].iter().cycle().enumerate() {
            let end = (position + size * (i % 3 + 1)).min(left.len());
            streaming.push(&[&left[position..end], &right[position..end]]).unwrap();
            position = end;
            if position == left.len() {
                break;
            }
        }
        assert_eq!(streaming.finish().unwrap(), whole, "bit-identical to the one-shot resampler");
        let mut same_rate = StreamingResampler::new(16_000, 16_000, 1).unwrap();
        same_rate.push(&[&left[..100]]).unwrap();
        same_rate.push(&[&left[100..]]).unwrap();
        assert_eq!(same_rate.finish().unwrap(), vec![left]);
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
