//! The emprox engine: experiment files, the ask/tell search loop, the trial journal, results and
//! plots. The `emprox` binary (src/main.rs) is a thin layer over this library.

pub mod benchmark;
pub mod commands;
pub mod compare;
pub mod config;
pub mod evaluators;
pub mod experiment;
pub mod export;
pub mod journal;
pub mod objectives;
pub mod pipeline;
pub mod plot;
pub mod progress;
pub mod report;
pub mod results;
pub mod resume;
pub mod rundir;
