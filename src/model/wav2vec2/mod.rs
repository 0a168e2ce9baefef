//! HF transformers `Wav2Vec2Model` (inference path, no attention mask: every segment runs at its own
//! length). Weight names follow the PyTorch state_dict.
pub mod encoder;
pub mod feature_encoder;
pub mod feature_projection;
pub mod pos_conv;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub use encoder::Encoder;
pub use feature_encoder::FeatureEncoder;
pub use feature_projection::FeatureProjection;

use super::config::Wav2Vec2Config;

#[derive(Debug, Clone)]
pub struct Wav2Vec2Model {
    feature_extractor: FeatureEncoder,
    feature_projection: FeatureProjection,
    encoder: Encoder,
}

impl Wav2Vec2Model {
    /// `vb` points at the model root (`wav2vec2` inside the fused model, or the root of an HF
    /// `Wav2Vec2Model` checkpoint).
    pub fn load(vb: VarBuilder, cfg: &Wav2Vec2Config) -> Result<Self> {
        Ok(Self {
            feature_extractor: FeatureEncoder::load(vb.pp("feature_extractor"), cfg)?,
            feature_projection: FeatureProjection::load(vb.pp("feature_projection"), cfg)?,
            encoder: Encoder::load(vb.pp("encoder"), cfg)?,
        })
    }

    /// `(batch, samples)` normalised audio -> `last_hidden_state` `(batch, frames, hidden)`.
    pub fn forward(&self, input_values: &Tensor) -> Result<Tensor> {
        let features = self.feature_extractor.forward(input_values)?;
        let hidden = self.feature_projection.forward(&features)?;
        self.encoder.forward(&hidden)
    }
}
