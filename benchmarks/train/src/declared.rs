//! [`DeclaredTraining`]: trains the members of a declared space of one `type = "cell"` dimension
//! (any number of nodes, ops among those [`Op::ALL`] names) in the NAS-Bench-201 macro skeleton.

use crate::evaluator::TrainingEvaluator;
use crate::network::CellGraph;
use emprox_benchmarks::declared::{DeclaredCell, DeclaredSpace};
use emprox_benchmarks::evaluator::{EvalFailure, Evaluator, Outcome};
use emprox_benchmarks::nb201::Op;

/// A [`TrainingEvaluator`] of the members of a declared cell space: each member's cell becomes a
/// [`CellGraph`] and trains as a NAS-Bench-201 cell would (same seeds for the same graph: a
/// declared 4-node cell with NAS-Bench-201's ops trains bit for bit as the built-in one).
#[derive(Debug, Clone)]
pub struct DeclaredTraining {
    inner: TrainingEvaluator,
    nodes: usize,
    /// The op of each value id of the cell dimension.
    ops: Vec<Op>,
}

impl DeclaredTraining {
    /// A training of the members of `space`, checked by [`DeclaredTraining::check`]: the error
    /// names the dimension and key (`dimension "cell", `ops``) and what is allowed.
    pub fn new(inner: TrainingEvaluator, space: &DeclaredSpace) -> Result<Self, String> {
        let (nodes, ops) = Self::check(space)?;
        Ok(DeclaredTraining { inner, nodes, ops })
    }

    /// Checks that `space` is one `type = "cell"` dimension whose every op `train` builds,
    /// without preparing any training: its number of nodes and the op of each value id.
    pub fn check(space: &DeclaredSpace) -> Result<(usize, Vec<Op>), String> {
        let builds = || {
            Op::ALL
                .iter()
                .map(|o| o.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut cell = None;
        for d in space.dimensions() {
            match (d.nodes, cell) {
                (Some(nodes), None) => cell = Some((d, nodes)),
                _ => {
                    return Err(format!(
                        "dimension {:?}: [evaluator] type = \"train\" trains a space of exactly \
                         one `type = \"cell\"` dimension and nothing else (ops among {}); \
                         score other spaces with type = \"command\"",
                        d.name,
                        builds()
                    ))
                }
            }
        }
        let (d, nodes) = cell.ok_or("the space has no dimension")?;
        let ops = d
            .values
            .iter()
            .map(|v| {
                Op::from_name(v).ok_or_else(|| {
                    format!(
                        "dimension {:?}, `ops`: {v:?} is not an op [evaluator] type = \"train\" \
                         can build ({})",
                        d.name,
                        builds()
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((nodes, ops))
    }

    /// The cell graph of a member.
    pub fn graph(&self, cell: &DeclaredCell) -> CellGraph {
        CellGraph {
            nodes: self.nodes,
            ops: cell.0.iter().map(|&v| self.ops[v as usize]).collect(),
        }
    }

    /// The training evaluator.
    pub fn training(&self) -> &TrainingEvaluator {
        &self.inner
    }
}

impl Evaluator<DeclaredCell> for DeclaredTraining {
    fn evaluate(
        &self,
        cell: &DeclaredCell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let seed = rng.next_u64();
        self.inner.evaluate_seed(&self.graph(cell), seed)
    }

    /// With [`TrialContext::keep_weights`](emprox_benchmarks::evaluator::TrialContext): the
    /// weights kept as [`TrainingEvaluator::evaluate_keeping`] keeps them.
    fn evaluate_trial(
        &self,
        trial: &emprox_benchmarks::evaluator::TrialContext,
        cell: &DeclaredCell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        if !trial.keep_weights {
            return self.evaluate(cell, rng);
        }
        let seed = rng.next_u64();
        self.inner.evaluate_keeping(trial, &self.graph(cell), seed)
    }
}
