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
    pub(crate) feature_extractor: FeatureEncoder,
    pub(crate) feature_projection: FeatureProjection,
    pub(crate) encoder: Encoder,
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
        self.forward_from_conv_features(&self.conv_features(input_values)?)
    }

    /// The conv feature encoder alone: `(batch, samples)` -> `(batch, frames, conv_dim)`.
    pub fn conv_features(&self, input_values: &Tensor) -> Result<Tensor> {
        self.feature_extractor.forward(input_values)
    }

    /// Feature projection and encoder on the conv features -> `last_hidden_state`.
    pub fn forward_from_conv_features(&self, features: &Tensor) -> Result<Tensor> {
        self.encoder.forward(&self.feature_projection.forward(features)?)
    }
}
