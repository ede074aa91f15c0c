//! SVG plots of incumbent accuracy: the drawing routine lives in `emprox_estimators::plot`,
//! shared with the predictor evaluation's plots.

pub use emprox_estimators::plot::{history, lines, plot, steps, Axes, Dots, Series, PALETTE};
