//! The subcommands of the `emprox` binary.

pub mod arch;
pub mod compare;
pub mod list;
pub mod predictors;
pub mod run;
pub mod show;
