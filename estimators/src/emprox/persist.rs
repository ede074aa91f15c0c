//! Saving and loading a fitted EmProx: `weights.safetensors` plus `model.json` (hyperparameters,
//! network shape and the labelled reference set).

use super::model::{Seq2Seq, Shape};
use super::{EmProxParams, FittedEmProx};
use crate::error::EstimatorError;
use crate::knn::Knn;
use emprox_benchmarks::SearchSpace;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// Format tag of `model.json`.
pub const FORMAT: &str = "emprox-model-v1";

/// The JSON half of a saved model.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// [`FORMAT`].
    pub format: String,
    /// Estimator type (`emprox`).
    pub estimator: String,
    /// Search-space name.
    pub space: String,
    /// Hyperparameters.
    pub params: EmProxParams,
    /// Network shape.
    pub shape: Shape,
    /// Reference architectures (the space's strings) and their targets.
    pub reference: Vec<(String, f64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EstimatorError + '_ {
    move |source| EstimatorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Saves `m` into `dir` (created if needed).
pub fn save(m: &FittedEmProx, dir: &Path) -> Result<(), EstimatorError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    candle_core::safetensors::save(&m.net.tensors()?, dir.join("weights.safetensors"))?;
    let file = ModelFile {
        format: FORMAT.into(),
        estimator: "emprox".into(),
        space: m.space.into(),
        params: m.params.clone(),
        shape: m.net.shape,
        reference: m.archs.iter().cloned().zip(m.knn.targets.clone()).collect(),
    };
    let json = serde_json::to_string_pretty(&file).expect("model serialises");
    let p = dir.join("model.json");
    std::fs::write(&p, json).map_err(io(&p))
}

/// Loads a model saved by [`save`] for `space`; reference embeddings are recomputed.
pub fn load<S: SearchSpace>(dir: &Path, space: &S) -> Result<FittedEmProx, EstimatorError> {
    let p = dir.join("model.json");
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    let file: ModelFile = serde_json::from_str(&text)
        .map_err(|e| EstimatorError::Model(format!("{}: {e}", p.display())))?;
    if file.format != FORMAT || file.estimator != "emprox" {
        return Err(EstimatorError::Model(format!(
            "{}: format {:?} / estimator {:?}, expected {FORMAT:?} / \"emprox\"",
            p.display(),
            file.format,
            file.estimator
        )));
    }
    if file.space != space.name() {
        return Err(EstimatorError::Model(format!(
            "model is for space {:?}, not {:?}",
            file.space,
            space.name()
        )));
    }
    let w = dir.join("weights.safetensors");
    let tensors = candle_core::safetensors::load(&w, &candle_core::Device::Cpu)
        .map_err(|e| EstimatorError::Model(format!("{}: {e}", w.display())))?;
    let net = Seq2Seq::from_tensors(file.shape, &tensors)?;
    let mut cells = Vec::with_capacity(file.reference.len());
    for (a, _) in &file.reference {
        cells.push(
            space
                .parse(a)
                .map_err(|e| EstimatorError::Model(e.to_string()))?,
        );
    }
    let enc = file.params.net.encoding;
    let seqs: Vec<Vec<u32>> = cells.iter().map(|c| space.sequence(c, enc)).collect();
    let emb = net.embed(&seqs)?;
    let targets: Vec<f64> = file.reference.iter().map(|r| r.1).collect();
    Ok(FittedEmProx {
        knn: Knn::new(file.params.k, emb, targets),
        params: file.params,
        space: space.name(),
        net: Arc::new(net),
        archs: file.reference.into_iter().map(|r| r.0).collect(),
    })
}
