//! `emprox export`: the network a search found, taken out of emprox.
//!
//! - `architecture.json`: the space, the architecture string, its dimensions and values, its
//!   scores and where they came from (the folder, run and query, or "not evaluated");
//! - for a cell network `train` can build (NAS-Bench-201's cells, a declared space of one cell of
//!   its ops): `model.py`, a self-contained PyTorch module of the macro network with that cell,
//!   whose parameter names are candle's;
//! - with `--retrain`, or where the run kept the cell's weights (`emprox run --keep-weights`):
//!   `weights.safetensors` (which `model.load_state_dict` takes as it is), `preprocess.json`
//!   (the normalisation and image size) and `check.safetensors` (validation images and candle's
//!   logits of them: `python model.py --check` compares).

use emprox_benchmarks::declared::cell;
use emprox_benchmarks::nb201::Op;
use emprox_train::evaluator::check_images;
use emprox_train::network::CellGraph;
use emprox_train::TrainingEvaluator;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// The PyTorch module's template: `{{SPEC}}` becomes the cell and sizes, as a Python literal.
const MODEL_PY: &str = include_str!("model.py");

/// The cell graph of a member whose components are exactly the edges of one cell
/// (`i<-j` or `name[i<-j]`, valued by `train`'s op names); `None` for any other member.
pub fn cell_graph(components: &[(String, String)]) -> Option<CellGraph> {
    let mut edges = Vec::new();
    for (name, value) in components {
        let inner = name
            .rsplit_once('[')
            .map(|(_, r)| r.strip_suffix(']').unwrap_or(r))
            .unwrap_or(name);
        let (to, from) = inner.split_once("<-")?;
        let (to, from): (usize, usize) = (to.parse().ok()?, from.parse().ok()?);
        edges.push(((to, from), Op::from_name(value)?));
    }
    let nodes = edges.iter().map(|((to, _), _)| to + 1).max()?;
    if nodes < 2 {
        return None;
    }
    let order = cell::edges(nodes);
    if edges.len() != order.len() {
        return None;
    }
    let ops = order
        .iter()
        .map(|e| edges.iter().find(|(k, _)| k == e).map(|(_, op)| *op))
        .collect::<Option<Vec<Op>>>()?;
    Some(CellGraph { nodes, ops })
}

/// `model.py` for `graph` in a network of `channels` (C), `cells_per_stage` (N), images of
/// `in_channels` channels and `classes` classes.
pub fn model_py(
    graph: &CellGraph,
    channels: usize,
    cells_per_stage: usize,
    in_channels: usize,
    classes: usize,
) -> String {
    let edges: Vec<String> = cell::edges(graph.nodes)
        .iter()
        .zip(&graph.ops)
        .map(|((to, from), op)| format!("        (\"{}\", {to}, {from}),", op.name()))
        .collect();
    let spec = format!(
        "{{\n    \"nodes\": {},\n    \"edges\": [\n{}\n    ],\n    \"channels\": {channels},\n    \"cells_per_stage\": {cells_per_stage},\n    \"in_channels\": {in_channels},\n    \"classes\": {classes},\n}}",
        graph.nodes,
        edges.join("\n")
    );
    MODEL_PY.replace("{{SPEC}}", &spec)
}

/// What `--retrain` wrote and measured.
pub struct Retrained {
    /// Validation accuracy of the new training.
    pub val_acc: f64,
    /// Test accuracy of the new training.
    pub test_acc: f64,
}

/// Trains `graph` with trial seed `seed` and writes `weights.safetensors`,
/// `preprocess.json` and `check.safetensors` into `dir`.
pub fn retrain(
    trainer: &TrainingEvaluator,
    graph: &CellGraph,
    seed: u64,
    dir: &Path,
) -> anyhow::Result<Retrained> {
    let (report, net) = trainer
        .train_network(graph, seed)
        .map_err(|e| anyhow::anyhow!("training {graph}: {e}"))?;
    let (state, logits) = trainer.network_files(&net, report.steps)?;
    write_network(trainer, &state, logits, dir)?;
    Ok(Retrained {
        val_acc: report.val_acc,
        test_acc: report.test_acc,
    })
}

/// Writes the weights a run kept for query `query` in its `weights` folder `kept` (`emprox
/// run --keep-weights`) into `dir` as [`retrain`] writes its own; `false` (nothing written)
/// where the run kept none for that query.
pub fn from_kept(
    trainer: &TrainingEvaluator,
    kept: &Path,
    query: u64,
    dir: &Path,
) -> anyhow::Result<bool> {
    let [weights, logits] = emprox_train::evaluator::kept_weights(kept, query);
    if !weights.exists() || !logits.exists() {
        return Ok(false);
    }
    let read = |p: &Path| {
        candle_core::safetensors::load(p, &candle_core::Device::Cpu)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    };
    let state = read(&weights)?;
    let logits = read(&logits)?
        .remove("logits")
        .ok_or_else(|| anyhow::anyhow!("{}: no tensor `logits`", logits.display()))?;
    write_network(trainer, &state, logits, dir)?;
    Ok(true)
}

/// Writes `weights.safetensors` (`state`), `check.safetensors` (the check images and their
/// `logits`) and `preprocess.json` into `dir`.
fn write_network(
    trainer: &TrainingEvaluator,
    state: &HashMap<String, candle_core::Tensor>,
    logits: candle_core::Tensor,
    dir: &Path,
) -> anyhow::Result<()> {
    candle_core::safetensors::save(state, dir.join("weights.safetensors"))?;
    let splits = trainer.splits();
    let check: HashMap<String, candle_core::Tensor> = [
        ("images".to_string(), check_images(splits)?),
        ("logits".to_string(), logits),
    ]
    .into();
    candle_core::safetensors::save(&check, dir.join("check.safetensors"))?;
    let val = &splits.val;
    let (mean, std): (Vec<f32>, Vec<f32>) = splits.normalisation.iter().copied().unzip();
    let pre = json!({
        "images": trainer.dataset_name(),
        "channels": val.channels,
        "height": val.height,
        "width": val.width,
        "classes": val.classes,
        "scale": "values in [0, 1] (8-bit pixels divided by 255), C×H×W",
        "mean": mean,
        "std": std,
        "image_size": trainer.config().data.as_ref().and_then(|d| d.image_size),
    });
    std::fs::write(
        dir.join("preprocess.json"),
        serde_json::to_string_pretty(&pre)? + "\n",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_read_from_nb201_and_declared_components() {
        let nb: Vec<(String, String)> = cell::edges(4)
            .iter()
            .map(|(t, f)| (format!("{t}<-{f}"), "nor_conv_3x3".to_string()))
            .collect();
        let g = cell_graph(&nb).unwrap();
        assert_eq!((g.nodes, g.ops.len()), (4, 6));
        let declared: Vec<(String, String)> = cell::edges(3)
            .iter()
            .rev()
            .map(|(t, f)| (format!("cell[{t}<-{f}]"), "avg_pool_3x3".to_string()))
            .collect();
        let g = cell_graph(&declared).unwrap();
        assert_eq!((g.nodes, g.ops.len()), (3, 3));
        let mut other = nb.clone();
        other.push(("depth".into(), "3".into()));
        assert!(cell_graph(&other).is_none(), "another dimension");
        other.pop();
        other[0].1 = "sep_conv_5x5".into();
        assert!(cell_graph(&other).is_none(), "an op train cannot build");
        assert!(cell_graph(&nb[..5]).is_none(), "an edge missing");
        let py = model_py(&g, 8, 1, 3, 10);
        assert!(py.contains("(\"avg_pool_3x3\", 2, 1),") && !py.contains("{{SPEC}}"));
        assert!(!py.contains("emprox_") && !py.contains("import emprox"));
    }
}
