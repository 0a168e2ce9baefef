//! Single-layer bidirectional `nn.LSTM(batch_first=True)` with PyTorch weight names, reduced to the
//! mean of its outputs over time (all the fused model uses). Used for inference and training.
//!
//! The input projection of all frames is one matmul (ordinary candle ops); the recurrence is one
//! fused CPU op per direction with a hand-written backward pass (BPTT). Written step by step with
//! candle ops it costs ~15 tensor ops per frame and direction (~30k graph nodes for 1001 MFCC
//! frames), which dominated scoring and training time of small models. On other devices the
//! recurrence's inputs go to the CPU and back (`to_device` is differentiable): one implementation
//! everywhere, at the price of a transfer of `batch x frames x 4 hidden` values.
use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use super::scoring::sigmoid;

#[derive(Debug, Clone)]
pub(crate) struct Direction {
    pub(crate) weight_ih: Tensor,
    pub(crate) weight_hh: Tensor,
    pub(crate) bias: Tensor,
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
        // Input contributions for all frames at once: (batch, time, 4 * hidden).
        let gates_x = xs
            .reshape((b * t, input))?
            .matmul(&self.weight_ih.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((b, t, 4 * hidden))?;
        let (device, dtype) = (xs.device(), xs.dtype());
        let on_cpu = |x: &Tensor| -> Result<Tensor> { x.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.contiguous() };
        let sum = on_cpu(&gates_x)?.apply_op2(&on_cpu(&self.weight_hh)?, LstmSum { hidden, reverse })?;
        sum.to_dtype(dtype)?.to_device(device)
    }
}

#[derive(Debug, Clone)]
pub struct BiLstm {
    pub(crate) forward_dir: Direction,
    pub(crate) backward_dir: Direction,
    pub(crate) hidden: usize,
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
        // The directions are independent: run them on two threads (a batch of one segment is the
        // common case when scoring).
        let (fwd, bwd) = rayon::join(
            || self.forward_dir.sum_of_outputs(xs, self.hidden, false),
            || self.backward_dir.sum_of_outputs(xs, self.hidden, true),
        );
        Tensor::cat(&[fwd?, bwd?], 1)? / t as f64
    }
}

/// `(gates_x (B,T,4H), W_hh (4H,H))` -> sum over time of the hidden states `(B,H)`. PyTorch gate
/// order: input, forget, cell, output; zero initial state.
struct LstmSum {
    hidden: usize,
    reverse: bool,
}

/// `W_hh` `(4H, H)` transposed to `(H, 4H)`, so `W_hh h` is a sum of contiguous rows scaled by
/// `h[k]` (vectorises without reassociating any sum).
fn transpose(whh: &[f32], h: usize) -> Vec<f32> {
    let mut t = vec![0f32; whh.len()];
    for r in 0..4 * h {
        for k in 0..h {
            t[k * 4 * h + r] = whh[r * h + k];
        }
    }
    t
}

/// Per-frame values of one sequence kept for the backward pass.
struct Trace {
    /// Activated gates i, f, g, o per step (`T * 4H`), cell states (`(T+1) * H`, index 0 = initial),
    /// hidden states (`(T+1) * H`).
    gates: Vec<f32>,
    cells: Vec<f32>,
    hiddens: Vec<f32>,
}

/// Sum over time of the hidden states of one sequence: `gates_x` `(frames, 4H)` (input
/// contributions and biases), `whh_t` from [`transpose_recurrent`]. Shared with the CPU inference
/// path (`crate::model::fast`).
pub(crate) fn sum_of_hidden_states(gates_x: &[f32], whh_t: &[f32], frames: usize, hidden: usize, reverse: bool) -> Vec<f32> {
    LstmSum { hidden, reverse }.run(gates_x, whh_t, frames, false).0
}

/// `W_hh` `(4H, H)` in the layout the recurrence reads.
pub(crate) fn transpose_recurrent(whh: &[f32], hidden: usize) -> Vec<f32> {
    transpose(whh, hidden)
}

impl LstmSum {
    /// Runs one sequence (`whh_t` from [`transpose`]); returns the sum of hidden states and
    /// optionally the trace. Uses 8-lane AVX2 where available: the same operations in the same
    /// order (no FMA), so the result does not depend on the CPU.
    fn run(&self, gx: &[f32], whh_t: &[f32], t: usize, keep: bool) -> (Vec<f32>, Option<Trace>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { self.run_avx2(gx, whh_t, t, keep) };
        }
        self.run_portable(gx, whh_t, t, keep)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, gx: &[f32], whh_t: &[f32], t: usize, keep: bool) -> (Vec<f32>, Option<Trace>) {
        self.run_portable(gx, whh_t, t, keep)
    }

    #[inline(always)]
    fn run_portable(&self, gx: &[f32], whh_t: &[f32], t: usize, keep: bool) -> (Vec<f32>, Option<Trace>) {
        let h = self.hidden;
        let mut hs = vec![0f32; h];
        let mut cs = vec![0f32; h];
        let mut sum = vec![0f32; h];
        let mut pre = vec![0f32; 4 * h];
        let mut trace = keep.then(|| Trace {
            gates: vec![0f32; t * 4 * h],
            cells: vec![0f32; (t + 1) * h],
            hiddens: vec![0f32; (t + 1) * h],
        });
        for step in 0..t {
            let frame = if self.reverse { t - 1 - step } else { step };
            pre.copy_from_slice(&gx[frame * 4 * h..(frame + 1) * 4 * h]);
            for (k, &hk) in hs.iter().enumerate() {
                let row = &whh_t[k * 4 * h..(k + 1) * 4 * h];
                pre.iter_mut().zip(row).for_each(|(p, w)| *p += hk * w);
            }
            for j in 0..h {
                let i = sigmoid(pre[j]);
                let f = sigmoid(pre[h + j]);
                let gg = pre[2 * h + j].tanh();
                let o = sigmoid(pre[3 * h + j]);
                cs[j] = f * cs[j] + i * gg;
                hs[j] = o * cs[j].tanh();
                sum[j] += hs[j];
                if let Some(tr) = trace.as_mut() {
                    let base = step * 4 * h;
                    tr.gates[base + j] = i;
                    tr.gates[base + h + j] = f;
                    tr.gates[base + 2 * h + j] = gg;
                    tr.gates[base + 3 * h + j] = o;
                }
            }
            if let Some(tr) = trace.as_mut() {
                tr.cells[(step + 1) * h..(step + 2) * h].copy_from_slice(&cs);
                tr.hiddens[(step + 1) * h..(step + 2) * h].copy_from_slice(&hs);
            }
        }
        (sum, trace)
    }

    /// BPTT of one sequence given d(sum)/d(output) `dsum` (H): returns d/d gates_x (T*4H, in
    /// frame order) and d/d W_hh (4H*H).
    fn backward_one(&self, gx: &[f32], whh: &[f32], whh_t: &[f32], t: usize, dsum: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let h = self.hidden;
        let (_, trace) = self.run(gx, whh_t, t, true);
        let Some(tr) = trace else { unreachable!("trace requested") };
        let mut dgx = vec![0f32; t * 4 * h];
        let mut dwhh = vec![0f32; 4 * h * h];
        let mut dh_next = vec![0f32; h];
        let mut dc_next = vec![0f32; h];
        let mut dpre = vec![0f32; 4 * h];
        for step in (0..t).rev() {
            let frame = if self.reverse { t - 1 - step } else { step };
            let gates = &tr.gates[step * 4 * h..(step + 1) * 4 * h];
            let c = &tr.cells[(step + 1) * h..(step + 2) * h];
            let c_prev = &tr.cells[step * h..(step + 1) * h];
            let h_prev = &tr.hiddens[step * h..(step + 1) * h];
            for j in 0..h {
                let (i, f, gg, o) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
                let dh = dsum[j] + dh_next[j];
                let tc = c[j].tanh();
                let d_o = dh * tc;
                let dc = dh * o * (1.0 - tc * tc) + dc_next[j];
                let di = dc * gg;
                let dg = dc * i;
                let df = dc * c_prev[j];
                dc_next[j] = dc * f;
                dpre[j] = di * i * (1.0 - i);
                dpre[h + j] = df * f * (1.0 - f);
                dpre[2 * h + j] = dg * (1.0 - gg * gg);
                dpre[3 * h + j] = d_o * o * (1.0 - o);
            }
            dgx[frame * 4 * h..(frame + 1) * 4 * h].copy_from_slice(&dpre);
            // dW_hh += dpre ⊗ h_prev; dh_prev = W_hh^T dpre.
            dh_next.iter_mut().for_each(|v| *v = 0.0);
            for (r, &d) in dpre.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                let row = &whh[r * h..(r + 1) * h];
                let drow = &mut dwhh[r * h..(r + 1) * h];
                for k in 0..h {
                    drow[k] += d * h_prev[k];
                    dh_next[k] += d * row[k];
                }
            }
        }
        (dgx, dwhh)
    }
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("lstm: {what} must be contiguous")))?;
    match s {
        CpuStorage::F32(d) => Ok(&d[start..end]),
        _ => candle_core::bail!("lstm: {what} must be f32"),
    }
}

impl CustomOp2 for LstmSum {
    fn name(&self) -> &'static str {
        "fused-lstm-sum"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, t, g4) = l1.shape().dims3()?;
        let h = self.hidden;
        if g4 != 4 * h || l2.shape().dims2()? != (4 * h, h) {
            candle_core::bail!("lstm: shapes {:?} / {:?} do not match hidden {h}", l1.shape(), l2.shape());
        }
        let gx = contiguous_f32(s1, l1, "gates")?;
        let whh_t = transpose(contiguous_f32(s2, l2, "weight_hh")?, h);
        let rows: Vec<Vec<f32>> =
            (0..b).into_par_iter().map(|r| self.run(&gx[r * t * g4..(r + 1) * t * g4], &whh_t, t, false).0).collect();
        Ok((CpuStorage::F32(rows.concat()), Shape::from((b, h))))
    }

    fn bwd(&self, arg1: &Tensor, arg2: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, t, g4) = arg1.dims3()?;
        let h = self.hidden;
        let gx = arg1.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let whh = arg2.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let whh_t = transpose(&whh, h);
        let dsum = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let parts: Vec<(Vec<f32>, Vec<f32>)> = (0..b)
            .into_par_iter()
            .map(|r| self.backward_one(&gx[r * t * g4..(r + 1) * t * g4], &whh, &whh_t, t, &dsum[r * h..(r + 1) * h]))
            .collect();
        let mut dwhh = vec![0f32; 4 * h * h];
        let mut dgx = Vec::with_capacity(b * t * g4);
        for (dg, dw) in parts {
            dgx.extend_from_slice(&dg);
            dwhh.iter_mut().zip(&dw).for_each(|(a, v)| *a += v);
        }
        let dev = arg1.device();
        Ok((Some(Tensor::from_vec(dgx, (b, t, g4), dev)?), Some(Tensor::from_vec(dwhh, (4 * h, h), dev)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var, D};
    use candle_nn::VarMap;

    /// Test oracle: the recurrence written step by step with differentiable candle ops, so candle's
    /// autograd checks the hand-written backward pass.
    fn stepwise_sum(xs: &Tensor, vb: &VarBuilder, hidden: usize, suffix: &str, reverse: bool) -> Tensor {
        let d = Direction::load(vb, xs.dim(2).unwrap(), hidden, suffix).unwrap();
        let (b, t, input) = xs.dims3().unwrap();
        let gates_x = xs.reshape((b * t, input)).unwrap().matmul(&d.weight_ih.t().unwrap()).unwrap();
        let gates_x = gates_x.broadcast_add(&d.bias).unwrap().reshape((b, t, 4 * hidden)).unwrap();
        let mut h = Tensor::zeros((b, hidden), DType::F32, xs.device()).unwrap();
        let mut c = h.clone();
        let mut sum = h.clone();
        for step in 0..t {
            let idx = if reverse { t - 1 - step } else { step };
            let gates = (gates_x.narrow(1, idx, 1).unwrap().squeeze(1).unwrap()
                + h.matmul(&d.weight_hh.t().unwrap()).unwrap())
            .unwrap();
            let g = gates.chunk(4, D::Minus1).unwrap();
            let i = candle_nn::ops::sigmoid(&g[0]).unwrap();
            let f = candle_nn::ops::sigmoid(&g[1]).unwrap();
            let o = candle_nn::ops::sigmoid(&g[3]).unwrap();
            c = ((f * &c).unwrap() + (i * g[2].tanh().unwrap()).unwrap()).unwrap();
            h = (o * c.tanh().unwrap()).unwrap();
            sum = (sum + &h).unwrap();
        }
        sum
    }

    #[test]
    fn matches_a_stepwise_lstm_in_value_and_gradient() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let fused = BiLstm::load(vb.pp("lstm"), 5, 4).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 17, 5), &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f32, 1.0, (3, 8), &dev).unwrap();
        let a = fused.mean_output(x.as_tensor()).unwrap();
        let fwd = stepwise_sum(x.as_tensor(), &vb.pp("lstm"), 4, "", false);
        let bwd = stepwise_sum(x.as_tensor(), &vb.pp("lstm"), 4, "_reverse", true);
        let b = (Tensor::cat(&[fwd, bwd], 1).unwrap() / 17.0).unwrap();
        let diff = |p: &Tensor, q: &Tensor| {
            (p - q).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
        };
        assert!(diff(&a, &b) < 1e-5, "outputs differ by {}", diff(&a, &b));
        let ga = (a * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (b * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let vars = varmap.all_vars();
        assert_eq!(vars.len(), 8);
        for v in vars.iter().chain(std::iter::once(&x)) {
            let (p, q) = (ga.get(v.as_tensor()).unwrap(), gb.get(v.as_tensor()).unwrap());
            assert!(diff(p, q) < 1e-5, "gradient differs by {}", diff(p, q));
        }
    }
}
