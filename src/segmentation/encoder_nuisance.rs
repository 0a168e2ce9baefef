//! Nuisance directions of the built-in speaker encoder: the directions along which one voice's
//! CAM++ embeddings move most with emotion, wording, line and noise (the leading eigenvectors
//! of the within-speaker scatter on synthetic calls of the tuning voices; nuisance attribute
//! projection, Solomonoff, Campbell & Boardman 2005). The encoder never saw acted emotion, and
//! in a hotline call the caller's agitated and calm speech can lie further apart than two
//! voices of one sex on one line; removing these few directions before the 2-means keeps such
//! a caller in one cluster (docs/segmentation.md, "Speaker encoder").
//!
//! Unlike speaker identity, how one voice varies is something the 43 voices of `../shared/data`
//! can teach. The shipped directions (`models/speaker_encoder/nuisance.json`, built into the
//! binary) belong to the built-in encoder's embedding space only: an imported encoder's
//! embeddings are clustered as they are. `emotrace train-encoder-nuisance` rebuilds them.

use serde::{Deserialize, Serialize};

const SHIPPED_JSON: &str = include_str!("../../models/speaker_encoder/nuisance.json");

#[derive(Debug, thiserror::Error)]
pub enum NuisanceError {
    #[error("speaker-encoder nuisance directions: {0}")]
    Format(String),
    #[error("speaker-encoder nuisance training: {0}")]
    Training(String),
}

/// Orthonormal directions of the embedding space, largest within-speaker variance first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NuisanceDirections {
    /// Length of an embedding.
    pub dim: usize,
    /// Unit vectors, mutually orthogonal, `dim` values each.
    pub directions: Vec<Vec<f32>>,
    /// Within-speaker variance along each direction (training data, unit-length embeddings).
    pub variances: Vec<f64>,
    /// Total within-speaker variance (the trace), to read the variances against.
    pub total_variance: f64,
    /// How and on what the directions were learnt.
    pub provenance: serde_json::Value,
}

impl NuisanceDirections {
    /// The directions shipped for the built-in encoder.
    pub fn shipped() -> Result<Self, NuisanceError> {
        Self::from_json(SHIPPED_JSON)
    }

    pub fn from_json(text: &str) -> Result<Self, NuisanceError> {
        let parsed: Self = serde_json::from_str(text).map_err(|e| NuisanceError::Format(e.to_string()))?;
        parsed.validate()?;
        Ok(parsed)
    }

    fn validate(&self) -> Result<(), NuisanceError> {
        let bad = |m: &str| Err(NuisanceError::Format(m.to_string()));
        if self.directions.iter().any(|d| d.len() != self.dim) || self.variances.len() != self.directions.len() {
            return bad("every direction needs `dim` values and a variance");
        }
        for (i, a) in self.directions.iter().enumerate() {
            for (j, b) in self.directions.iter().enumerate().take(i + 1) {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                if !dot.is_finite() || (dot - expected).abs() > 1e-3 {
                    return bad("the directions are not orthonormal");
                }
            }
        }
        Ok(())
    }

    /// How many directions there are.
    pub fn len(&self) -> usize {
        self.directions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.directions.is_empty()
    }

    /// Removes the first `count` directions from `embedding` (its projection on the rest of the
    /// space). Linear, so it commutes with centring on the call's mean.
    pub fn remove(&self, count: usize, embedding: &mut [f32]) {
        if embedding.len() != self.dim {
            return;
        }
        for direction in self.directions.iter().take(count) {
            let along: f32 = direction.iter().zip(embedding.iter()).map(|(d, x)| d * x).sum();
            embedding.iter_mut().zip(direction).for_each(|(x, d)| *x -= along * d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_directions_load_and_fit_the_built_in_encoder() {
        let shipped = NuisanceDirections::shipped().unwrap();
        assert_eq!(shipped.dim, 192, "CAM++ embeddings have 192 values");
        assert!(shipped.len() >= 2);
        assert!(shipped.variances.windows(2).all(|w| w[0] >= w[1]), "largest variance first");
    }

    #[test]
    fn removing_a_direction_leaves_what_is_orthogonal_to_it() {
        let directions = NuisanceDirections {
            dim: 3,
            directions: vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]],
            variances: vec![2.0, 1.0],
            total_variance: 3.5,
            provenance: serde_json::Value::Null,
        };
        let mut v = vec![0.5, -2.0, 3.0];
        directions.remove(1, &mut v);
        assert_eq!(v, vec![0.0, -2.0, 3.0]);
        directions.remove(2, &mut v);
        assert_eq!(v, vec![0.0, 0.0, 3.0]);
        let bad = r#"{"dim":2,"directions":[[1.0,0.0],[1.0,0.0]],"variances":[1.0,1.0],"total_variance":2.0,"provenance":null}"#;
        assert!(NuisanceDirections::from_json(bad).is_err(), "non-orthogonal directions are refused");
    }
}
