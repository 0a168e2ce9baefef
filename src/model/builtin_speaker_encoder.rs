//! The speaker encoder built into emotrace: 3D-Speaker's published CAM++ network
//! (`speech_campplus_sv_zh_en_16k-common_advanced`, 200k Chinese and English speakers,
//! Apache-2.0), compiled into the binary from `models/speaker_encoder/` so that mono calls are
//! told apart without any import. The weights are the published ones, unchanged but for float16
//! storage of the matrices (`scripts/pack_builtin_speaker_encoder.py`; licence and provenance in
//! that folder). An encoder the user imports takes its place.
use candle_core::Device;

use super::speaker_encoder_store::{self, EncoderConfig, SpeakerEncoderNet};
use super::weights::to_f32;
use super::ModelError;

/// How the built-in encoder is named to people (reports, the window, warnings).
pub const BUILTIN_ENCODER_LABEL: &str = "built-in CAM++";

const CONFIG_JSON: &str = include_str!("../../models/speaker_encoder/config.json");
const WEIGHTS: &[u8] = include_bytes!("../../models/speaker_encoder/model.safetensors");

/// The built-in network on `device`, with every tensor name and shape checked like an import.
pub fn load(device: &Device) -> Result<SpeakerEncoderNet, ModelError> {
    let config = EncoderConfig::from_json(CONFIG_JSON)
        .map_err(|e| ModelError::Internal(format!("built-in speaker encoder config: {e}")))?;
    let tensors = to_f32(candle_core::safetensors::load_buffer(WEIGHTS, &Device::Cpu)?.into_iter())?;
    speaker_encoder_store::build(tensors, &config, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_encoder_is_the_published_campplus() {
        let encoder = load(&Device::Cpu).unwrap();
        let SpeakerEncoderNet::CamPlus(net) = &encoder else { panic!("the built-in encoder must be CAM++") };
        assert_eq!(net.config(), &super::super::campplus::CamPlusConfig::default());
        assert_eq!(encoder.sample_rate(), 16_000);
    }
}
