//! Single-layer bidirectional `nn.LSTM(batch_first=True)` with PyTorch weight names, reduced to the
//! mean of its outputs over time (all the fused model uses).
use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

#[derive(Debug, Clone)]
struct Direction {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor,
}

impl Direction {
    fn load(vb: &VarBuilder, input: usize, hidden: usize, suffix: &str) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
        let weight_ih = vb.get_with_hints((4 * hidden, input), &format!("weight_ih_l0{suffix}"), init)?;
        let weight_hh = vb.get_with_hints((4 * hidden, hidden), &format!("weight_hh_l0{suffix}"), init)?;
        let bias_ih = vb.get_with_hints(4 * hidden, &format!("bias_ih_l0{suffix}"), init)?;
        let bias_hh = vb.get_with_hints(4 * hidden, &format!("bias_hh_l0{suffix}"), init)?;
        Ok(Self { weight_ih, weight_hh, bias: (bias_ih + bias_hh)? })
    }

    /// Runs over `xs` `(batch, time, input)` in the given time order; returns the sum of the
    /// hidden states over time `(batch, hidden)`.
    fn sum_of_outputs(&self, xs: &Tensor, hidden: usize, reverse: bool) -> Result<Tensor> {
        let (b, t, input) = xs.dims3()?;
        // Input contributions for all steps at once: (batch, time, 4 * hidden).
        let gates_x = xs
            .reshape((b * t, input))?
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((b, t, 4 * hidden))?;
        let w_hh_t = self.weight_hh.t()?;
        let mut h = Tensor::zeros((b, hidden), xs.dtype(), xs.device())?;
        let mut c = h.clone();
        let mut sum = h.clone();
        for step in 0..t {
            let idx = if reverse { t - 1 - step } else { step };
            let gates = (gates_x.narrow(1, idx, 1)?.squeeze(1)? + h.matmul(&w_hh_t)?)?;
            // PyTorch gate order: input, forget, cell, output.
            let chunks = gates.chunk(4, D::Minus1)?;
            let i = candle_nn::ops::sigmoid(&chunks[0])?;
            let f = candle_nn::ops::sigmoid(&chunks[1])?;
            let g = chunks[2].tanh()?;
            let o = candle_nn::ops::sigmoid(&chunks[3])?;
            c = ((f * &c)? + (i * g)?)?;
            h = (o * c.tanh()?)?;
            sum = (sum + &h)?;
        }
        Ok(sum)
    }
}

#[derive(Debug, Clone)]
pub struct BiLstm {
    forward_dir: Direction,
    backward_dir: Direction,
    hidden: usize,
}

impl BiLstm {
    /// `vb` points at `lstm`.
    pub fn load(vb: VarBuilder, input: usize, hidden: usize) -> Result<Self> {
        Ok(Self {
            forward_dir: Direction::load(&vb, input, hidden, "")?,
            backward_dir: Direction::load(&vb, input, hidden, "_reverse")?,
            hidden,
        })
    }

    /// `(batch, time, input)` -> mean over time of `[h_forward, h_backward]`: `(batch, 2 * hidden)`.
    /// The mean of the reverse direction does not depend on the output order, so its outputs are
    /// never re-reversed.
    pub fn mean_output(&self, xs: &Tensor) -> Result<Tensor> {
        let t = xs.dim(1)?;
        let fwd = self.forward_dir.sum_of_outputs(xs, self.hidden, false)?;
        let bwd = self.backward_dir.sum_of_outputs(xs, self.hidden, true)?;
        Tensor::cat(&[fwd, bwd], 1)? / t as f64
    }
}
