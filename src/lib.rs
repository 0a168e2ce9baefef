//! emotrace: emotional-trajectory review of recorded hotline calls.
pub mod audio;
pub mod model;
