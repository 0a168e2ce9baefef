//! Matrix products on strided views (the `gemm` crate), and the dense layer built on them.
//!
//! Views let a convolution multiply its input directly (overlapping rows, no im2col copy) and let
//! attention read one head's columns out of a packed projection (no transposed copies).
use std::marker::PhantomData;

use gemm::Parallelism;
use rayon::prelude::*;

use super::kernels;

/// A read-only strided matrix over a slice (element `(r, c)` at `r * row_stride + c * col_stride`).
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// Panics if the view reaches past `data` (a bug in the caller's shape arithmetic, never an
    /// input error: shapes are checked when the model is built).
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * row_stride + (cols - 1) * col_stride < data.len(),
            "matrix view {rows}x{cols} (strides {row_stride}, {col_stride}) exceeds {} values",
            data.len()
        );
        Self { data, rows, cols, row_stride, col_stride }
    }

    /// A contiguous row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// A mutable matrix with contiguous rows (`row_stride` apart). Several may cover disjoint column
/// ranges of one buffer (see [`MatMut::split_cols`]), hence a pointer rather than a slice.
pub struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    row_stride: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `MatMut` is an exclusive borrow of its elements (split views never overlap), like
// `&mut [f32]`.
unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "matrix view {rows}x{cols} (row stride {row_stride}) exceeds {} values",
            data.len()
        );
        assert!(cols <= row_stride || rows <= 1, "rows of a mutable view must not overlap");
        Self { ptr: data.as_mut_ptr(), rows, cols, row_stride, _borrow: PhantomData }
    }

    /// A contiguous row-major matrix.
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    pub fn n_rows(&self) -> usize {
        self.rows
    }

    pub fn n_cols(&self) -> usize {
        self.cols
    }

    /// Columns `[0, at)` and `[at, cols)`.
    pub fn split_cols(self, at: usize) -> (Self, Self) {
        assert!(at <= self.cols);
        // SAFETY: `at <= cols`, so the right part starts inside (or at the end of) every row.
        let right = unsafe { self.ptr.add(at) };
        (
            Self { cols: at, ..self.reborrow_parts() },
            Self { ptr: right, cols: self.cols - at, ..self.reborrow_parts() },
        )
    }

    /// Rows `[0, at)` and `[at, rows)`.
    pub fn split_rows(self, at: usize) -> (Self, Self) {
        assert!(at <= self.rows);
        // SAFETY: `at <= rows`; the offset stays within (or one past) the borrowed region.
        let lower = unsafe { self.ptr.add(at * self.row_stride) };
        (
            Self { rows: at, ..self.reborrow_parts() },
            Self { ptr: lower, rows: self.rows - at, ..self.reborrow_parts() },
        )
    }

    fn reborrow_parts(&self) -> Self {
        Self { ptr: self.ptr, rows: self.rows, cols: self.cols, row_stride: self.row_stride, _borrow: PhantomData }
    }

    /// `parts` column blocks of (nearly) equal width, each a multiple of `align` except the last.
    pub fn col_blocks(self, parts: usize, align: usize) -> Vec<Self> {
        let width = self.cols.div_ceil(parts.max(1)).div_ceil(align) * align;
        let mut out = Vec::with_capacity(parts);
        let mut rest = self;
        while rest.cols > width {
            let (left, right) = rest.split_cols(width);
            out.push(left);
            rest = right;
        }
        out.push(rest);
        out
    }

    /// Blocks of `rows` rows (the last may be shorter).
    pub fn row_blocks(self, rows: usize) -> Vec<Self> {
        let mut out = Vec::new();
        let mut rest = self;
        while rest.rows > rows {
            let (upper, lower) = rest.split_rows(rows);
            out.push(upper);
            rest = lower;
        }
        out.push(rest);
        out
    }

    /// Row `r` (its `cols` values).
    pub fn row(&mut self, r: usize) -> &mut [f32] {
        assert!(r < self.rows);
        // SAFETY: the view owns `cols` values at every row start, and rows do not overlap.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.row_stride), self.cols) }
    }

    pub fn for_each_row(&mut self, mut f: impl FnMut(usize, &mut [f32])) {
        for r in 0..self.rows {
            f(r, self.row(r));
        }
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), single-threaded unless `threads`
/// asks otherwise.
pub fn matmul(dst: &mut MatMut<'_>, lhs: Mat<'_>, rhs: Mat<'_>, accumulate: bool, parallelism: Parallelism) {
    assert_eq!(lhs.cols, rhs.rows, "inner dimensions");
    assert_eq!((dst.rows, dst.cols), (lhs.rows, rhs.cols), "output shape");
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    // SAFETY: all three views were bounds-checked on construction, `dst` is exclusively borrowed
    // and cannot overlap the shared `lhs`/`rhs` borrows.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.ptr,
            1,
            dst.row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// What follows a dense layer's product, applied block by block while the block is in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    Bias,
    BiasGelu,
    BiasGeluTanh,
    BiasRelu,
}

/// `nn.Linear`: weight `(out, in)` row-major, bias `(out)`.
#[derive(Clone)]
pub struct Dense {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub input: usize,
    pub output: usize,
}

/// Rows up to which a product is computed as dot products rather than a matrix product.
const DOT_ROWS: usize = 2;

impl Dense {
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, input: usize, output: usize) -> Self {
        assert_eq!(weight.len(), input * output);
        assert_eq!(bias.len(), output);
        Self { weight, bias, input, output }
    }

    /// `out = x Wᵀ + b` (then `epilogue`) for `x` of `rows` rows; with `residual`, `out` already
    /// holds values to add to (a residual connection).
    pub fn forward_into(&self, x: &[f32], rows: usize, out: &mut [f32], epilogue: Epilogue, residual: bool) {
        assert_eq!(x.len(), rows * self.input);
        assert_eq!(out.len(), rows * self.output);
        if rows <= DOT_ROWS {
            self.forward_dots(x, out, residual);
            if epilogue != Epilogue::Bias {
                out.chunks_mut(self.output).for_each(|row| activate(row, epilogue));
            }
            return;
        }
        // Every block packs its own copy of the operand it shares with the other blocks: split
        // the output along its longer side so that the shared operand is the smaller one.
        let parts = block_count(rows, self.output, self.input);
        let split_rows = rows > self.output;
        let mut blocks: Vec<(usize, usize, MatMut<'_>)> = Vec::with_capacity(parts);
        let whole = MatMut::rows(out, rows, self.output);
        let (mut first_row, mut first_col) = (0, 0);
        if split_rows {
            for block in whole.row_blocks(rows.div_ceil(parts)) {
                let height = block.n_rows();
                blocks.push((first_row, 0, block));
                first_row += height;
            }
        } else {
            for block in whole.col_blocks(parts, 16) {
                let width = block.n_cols();
                blocks.push((0, first_col, block));
                first_col += width;
            }
        }
        blocks.par_iter_mut().for_each(|(r0, c0, block)| {
            let (height, width) = (block.n_rows(), block.n_cols());
            let lhs = Mat::rows(&x[*r0 * self.input..], height, self.input);
            // Rows c0.. of the weight, read as the (input x width) right-hand side.
            let w = Mat::new(&self.weight[*c0 * self.input..], self.input, width, 1, self.input);
            matmul(block, lhs, w, residual, Parallelism::None);
            let bias = &self.bias[*c0..*c0 + width];
            block.for_each_row(|_, row| {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                activate(row, epilogue);
            });
        });
    }

    pub fn forward(&self, x: &[f32], rows: usize, epilogue: Epilogue) -> Vec<f32> {
        let mut out = vec![0f32; rows * self.output];
        self.forward_into(x, rows, &mut out, epilogue, false);
        out
    }

    /// Few rows: one dot product per output, outputs in parallel.
    fn forward_dots(&self, x: &[f32], out: &mut [f32], residual: bool) {
        for (xr, or) in x.chunks(self.input).zip(out.chunks_mut(self.output)) {
            or.par_chunks_mut(64).enumerate().for_each(|(chunk, outs)| {
                for (i, o) in outs.iter_mut().enumerate() {
                    let j = chunk * 64 + i;
                    let v = kernels::dot(xr, &self.weight[j * self.input..(j + 1) * self.input]) + self.bias[j];
                    *o = if residual { *o + v } else { v };
                }
            });
        }
    }
}

/// Applies the activation part of `epilogue` (the bias is added separately).
pub(super) fn activate(row: &mut [f32], epilogue: Epilogue) {
    match epilogue {
        Epilogue::Bias => {}
        Epilogue::BiasGelu => kernels::gelu(row),
        Epilogue::BiasGeluTanh => kernels::gelu_tanh(row),
        Epilogue::BiasRelu => kernels::relu(row),
    }
}

/// Blocks for a `rows x cols` product with inner size `inner`: enough to keep every thread busy
/// while other branches run, few enough that each block stays efficient (~50 M multiply-adds or
/// more, at least 16 rows or columns).
fn block_count(rows: usize, cols: usize, inner: usize) -> usize {
    let work = rows * cols * inner;
    let threads = rayon::current_num_threads().max(1);
    let by_work = (work / 50_000_000).max(1);
    by_work.min(4 * threads).min(rows.max(cols).div_ceil(16)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], b: &[f32], rows: usize, input: usize, output: usize) -> Vec<f32> {
        let mut out = vec![0f32; rows * output];
        for r in 0..rows {
            for o in 0..output {
                let mut s = b[o] as f64;
                for i in 0..input {
                    s += x[r * input + i] as f64 * w[o * input + i] as f64;
                }
                out[r * output + o] = s as f32;
            }
        }
        out
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 * 0.37 + seed) * 1.3).sin()).collect()
    }

    #[test]
    fn dense_matches_a_naive_product_for_every_shape() {
        // The last two are split into blocks by rows and by columns.
        for (rows, input, output) in [(1, 37, 70), (2, 64, 33), (3, 5, 1000), (257, 40, 129), (1000, 400, 300), (300, 400, 1000)] {
            let x = values(rows * input, 0.1);
            let d = Dense::new(values(input * output, 0.2), values(output, 0.3), input, output);
            let got = d.forward(&x, rows, Epilogue::Bias);
            let want = naive(&x, &d.weight, &d.bias, rows, input, output);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{rows}x{input}->{output}: {g} vs {w}");
            }
            // Residual form adds to what `out` held.
            let mut acc = vec![1.5f32; rows * output];
            d.forward_into(&x, rows, &mut acc, Epilogue::BiasRelu, true);
            for (a, w) in acc.iter().zip(&want) {
                assert!((a - (w + 1.5).max(0.0)).abs() <= 1e-5 * (1.0 + w.abs()));
            }
        }
    }

    #[test]
    fn strided_views_multiply_overlapping_rows() {
        // A stride-2, width-3 window over a 1-channel signal: rows overlap by one value.
        let signal: Vec<f32> = (0..11).map(|v| v as f32).collect();
        let lhs = Mat::new(&signal, 5, 3, 2, 1);
        let weights = [1.0f32, 10.0, 100.0];
        let rhs = Mat::rows(&weights, 3, 1);
        let mut out = vec![0f32; 5];
        matmul(&mut MatMut::rows(&mut out, 5, 1), lhs, rhs, false, Parallelism::None);
        assert_eq!(out, vec![210.0, 432.0, 654.0, 876.0, 1098.0]);
    }

    #[test]
    fn split_views_cover_disjoint_blocks() {
        let mut buf = vec![0f32; 6 * 10];
        let blocks = MatMut::rows(&mut buf, 6, 10).col_blocks(3, 4);
        assert_eq!(blocks.iter().map(|b| b.n_cols()).collect::<Vec<_>>(), vec![4, 4, 2]);
        for (i, b) in blocks.into_iter().enumerate() {
            let parts = b.row_blocks(4);
            assert_eq!(parts.iter().map(|p| p.n_rows()).collect::<Vec<_>>(), vec![4, 2]);
            for mut rb in parts {
                rb.for_each_row(|_, row| row.iter_mut().for_each(|v| *v += i as f32 + 1.0));
            }
        }
        assert!(buf.chunks(10).all(|r| r == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0]));
    }
}
