//! emotrace: emotional-trajectory review of recorded psychological-support hotline calls.
//!
//! The library follows the pipeline: [`audio`] (decode, resample) → segmentation → features →
//! model → analysis → report. The GUI and the CLI are thin shells over it.

pub mod analysis;
pub mod assets;
pub mod audio;
pub mod cli;
pub mod features;
pub mod fsutil;
pub mod fuzz;
pub mod gui;
pub mod pipeline;
pub mod report;
pub mod model;
pub mod segmentation;
pub mod synth;
pub mod training;
pub mod user_dirs;
