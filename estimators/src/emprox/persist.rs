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
        space: m.space.clone(),
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
        return Err(EstimatorError::WrongSpace {
            model: file.space,
            given: space.name().to_string(),
        });
    }
    check(&file, space).map_err(|e| EstimatorError::Model(format!("{}: {e}", p.display())))?;
    let w = dir.join("weights.safetensors");
    let tensors = candle_core::safetensors::load(&w, &candle_core::Device::Cpu)
        .map_err(|e| EstimatorError::Model(format!("{}: {e}", w.display())))?;
    // Shapes are compared with the file's tensors before anything is allocated.
    let net = Seq2Seq::from_tensors(file.shape, &tensors)
        .map_err(|e| EstimatorError::Model(format!("{}: {e}", w.display())))?;
    if let Some(name) = net.params().first_non_finite()? {
        return Err(EstimatorError::Model(format!(
            "{}: tensor `{name}` holds NaN or infinite values",
            w.display()
        )));
    }
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
        space: space.name().to_string(),
        net: Arc::new(net),
        archs: file.reference.into_iter().map(|r| r.0).collect(),
    })
}

/// Checks `model.json` before any weight is read: a non-empty reference set with finite targets,
/// a network shape within the ranges the estimator config allows, matching the hyperparameters
/// and the space's vocabulary.
fn check<S: SearchSpace>(file: &ModelFile, space: &S) -> Result<(), String> {
    if file.reference.is_empty() {
        return Err("the reference set is empty: nothing to predict from".into());
    }
    if let Some((a, t)) = file.reference.iter().find(|(_, t)| !t.is_finite()) {
        return Err(format!("reference {a:?} has non-finite target {t}"));
    }
    let p = &file.params;
    if !(1..=100_000).contains(&p.k) {
        return Err(format!("k = {} must be in 1..=100000", p.k));
    }
    let sh = &file.shape;
    for (what, v, lo, hi) in [
        ("embedding_size", sh.embedding_size, 1, 1024),
        ("hidden_size", sh.hidden_size, 1, 1024),
        ("head_layers", sh.head_layers, 0, 16),
        ("head_width", sh.head_width, 1, 4096),
    ] {
        if !(lo..=hi).contains(&v) {
            return Err(format!("shape.{what} = {v} must be in {lo}..={hi}"));
        }
    }
    let vocab = space.vocab_size(p.net.encoding);
    if sh.vocab != vocab {
        return Err(format!(
            "shape.vocab = {} but the {:?} encoding of {} has {vocab} tokens",
            sh.vocab,
            p.net.encoding,
            space.name()
        ));
    }
    // A pre-trained encoder has no head even when `trade_off` > 0.
    let n = &p.net;
    if sh.embedding_size != n.embedding_size
        || sh.hidden_size != n.hidden_size
        || sh.head_width != n.head_width
        || (sh.head_layers != 0 && sh.head_layers != n.head_layers)
    {
        return Err(format!(
            "shape {sh:?} does not match the hyperparameters (embedding_size {}, hidden_size {}, \
             head_layers {}, head_width {})",
            n.embedding_size, n.hidden_size, n.head_layers, n.head_width
        ));
    }
    Ok(())
}
