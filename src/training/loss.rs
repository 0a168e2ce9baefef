//! Differentiable losses on logits (targets: 1 = non-negative, 0 = negative).
use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LossKind {
    /// Binary cross-entropy with logits.
    Bce,
    /// Focal loss `(1 - p_t)^gamma * BCE`.
    Focal { gamma: f64 },
}

/// Per-sample BCE-with-logits, numerically stable: `max(x,0) - x*y + log(1 + exp(-|x|))`.
pub fn bce_with_logits_per_sample(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    (logits.relu()? - (logits * targets)?)? + softplus
}

/// Weighted mean loss: `sum(w_i * l_i) / sum(w_i)`, with `weights` per sample (class weights).
pub fn loss(kind: LossKind, logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let bce = bce_with_logits_per_sample(logits, targets)?;
    let per_sample = match kind {
        LossKind::Bce => bce,
        LossKind::Focal { gamma } => {
            // p_t = exp(-bce); (1 - p_t)^gamma, with a floor so powf stays differentiable at 0.
            let one_minus_pt = (1.0 - bce.neg()?.exp()?)?.clamp(1e-12, 1.0)?;
            (one_minus_pt.powf(gamma)? * bce)?
        }
    };
    (per_sample * weights)?.sum_all()? / weights.sum_all()?.to_scalar::<f32>()? as f64
}

/// Class weights `(w_negative, w_non_negative)` = `n / (2 n_c)`: each class contributes half.
pub fn balanced_class_weights(labels: &[u8]) -> (f32, f32) {
    let n = labels.len() as f32;
    let pos = labels.iter().filter(|&&l| l == 1).count() as f32;
    let neg = n - pos;
    if pos == 0.0 || neg == 0.0 {
        return (1.0, 1.0);
    }
    (n / (2.0 * neg), n / (2.0 * pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn bce_matches_candle_and_focal_is_smaller() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[-3f32, -0.2, 0.0, 1.5, 4.0], &dev).unwrap();
        let y = Tensor::new(&[0f32, 1.0, 1.0, 0.0, 1.0], &dev).unwrap();
        let w = Tensor::ones(5, candle_core::DType::F32, &dev).unwrap();
        let ours = loss(LossKind::Bce, &x, &y, &w).unwrap().to_scalar::<f32>().unwrap();
        let reference = candle_nn::loss::binary_cross_entropy_with_logit(&x, &y).unwrap().to_scalar::<f32>().unwrap();
        assert!((ours - reference).abs() < 1e-5, "{ours} vs {reference}");
        let focal = loss(LossKind::Focal { gamma: 2.0 }, &x, &y, &w).unwrap().to_scalar::<f32>().unwrap();
        assert!(focal < ours && focal > 0.0);
        assert_eq!(balanced_class_weights(&[0, 0, 0, 1]), (4.0 / 6.0, 2.0));
    }
}
