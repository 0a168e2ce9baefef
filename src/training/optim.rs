//! AdamW with PyTorch's update rule and exportable state, so a checkpoint resumes bit-exactly
//! (candle_nn's AdamW keeps its moments private).
use std::collections::HashMap;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    /// PyTorch's defaults with the reference learning rate 3e-5.
    fn default() -> Self {
        Self { lr: 3e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

pub struct AdamW {
    /// (name, variable, first moment, second moment), sorted by name.
    vars: Vec<(String, Var, Tensor, Tensor)>,
    pub params: AdamWParams,
    pub step: u64,
}

impl AdamW {
    pub fn new(mut named: Vec<(String, Var)>, params: AdamWParams) -> Result<Self> {
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let vars = named
            .into_iter()
            .map(|(n, v)| {
                let z = v.as_tensor().zeros_like()?;
                Ok((n, v, z.clone(), z))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { vars, params, step: 0 })
    }

    /// One update. Variables without a gradient are left unchanged (their moments too).
    pub fn apply(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let p = self.params;
        let t = self.step as i32;
        let bias1 = 1.0 - p.beta1.powi(t);
        let bias2 = 1.0 - p.beta2.powi(t);
        for (_, var, m, v) in self.vars.iter_mut() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            // Detached: otherwise each moment would keep the previous step's whole autograd
            // graph alive through the gradient, and memory would grow every step.
            let g = g.detach();
            *m = ((&*m * p.beta1)? + (&g * (1.0 - p.beta1))?)?.detach();
            *v = ((&*v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?.detach();
            let m_hat = (&*m / bias1)?;
            let v_hat = (&*v / bias2)?;
            let update = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - p.lr * p.weight_decay))?;
            var.set(&(decayed - (update * p.lr)?)?.detach())?;
        }
        Ok(())
    }

    /// Moments keyed `adam.m.<name>` / `adam.v.<name>`.
    pub fn state_tensors(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (name, _, m, v) in &self.vars {
            out.insert(format!("adam.m.{name}"), m.clone());
            out.insert(format!("adam.v.{name}"), v.clone());
        }
        out
    }

    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        for (name, var, m, v) in self.vars.iter_mut() {
            let get = |k: String| {
                tensors.get(&k).cloned().ok_or_else(|| candle_core::Error::Msg(format!("checkpoint lacks {k}")))
            };
            *m = get(format!("adam.m.{name}"))?.to_device(var.device())?;
            *v = get(format!("adam.v.{name}"))?.to_device(var.device())?;
        }
        self.step = step;
        Ok(())
    }
}
