//! The emprox engine: experiment files, the ask/tell search loop, the trial journal, results and
//! plots. The `emprox` binary (src/main.rs) is a thin layer over this library.

pub mod acquisition;
pub mod benchmark;
pub mod cache;
pub mod commands;
pub mod compare;
pub mod config;
pub mod dedup;
pub mod evaluators;
pub mod experiment;
pub mod filter;
pub mod journal;
pub mod mo_rank;
pub mod objectives;
pub mod plot;
pub mod pool;
pub mod progress;
pub mod proxy;
pub mod replay;
pub mod results;
pub mod resume;
pub mod rundir;
pub mod search;
pub mod stopping;
