//! emotrace: emotional-trajectory review of recorded hotline calls.
pub mod audio;
pub mod segmentation;
pub mod synth;
pub mod cli;
