//! Search strategies: they propose candidates (`ask`) and learn from results (`tell`).
//!
//! A strategy never sees a benchmark or an evaluator: the engine alone evaluates. Every strategy
//! takes its randomness from the RNG the engine passes in, so a run is reproducible and can be
//! replayed from its journal.

pub mod config;
pub mod local_search;
pub mod mo_local_search;
pub mod mo_regularized_evolution;
pub mod random;
pub mod regularized_evolution;

pub use config::{StrategyConfig, StrategyError};
pub use local_search::LocalSearch;
pub use mo_local_search::MoLocalSearch;
pub use mo_regularized_evolution::MoRegularizedEvolution;
pub use random::RandomSearch;
pub use regularized_evolution::RegularizedEvolution;

use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;

/// A search strategy over the space `S`.
pub trait Strategy<S: SearchSpace>: Send {
    /// The strategy's name, as in experiment files.
    fn name(&self) -> &'static str;

    /// Proposes the next candidate.
    fn ask(&mut self, space: &S, rng: &mut Rng) -> S::Cell;

    /// Proposes a batch of `n` candidates to choose from (an estimator filter scores the batch
    /// and evaluates only the best few).
    ///
    /// The contract: a batch is the strategy's next `n` proposals by its own rule, in its order
    /// of preference, drawn without learning anything; proposing a cell is not evaluating it.
    /// The engine tells back, as usual and in proposal order, only the cells it evaluates
    /// (and cells it answers from the journal); cells it drops are never told. The batch may
    /// hold cells already evaluated, or repeats: the engine drops them.
    ///
    /// The default asks `n` times: right for a strategy whose `ask` keeps no search state
    /// beyond a proposal count (random search, regularized evolution). A strategy whose `ask`
    /// walks a state machine (local search) defines its own batch.
    fn ask_pool(&mut self, space: &S, n: usize, rng: &mut Rng) -> Vec<S::Cell> {
        (0..n).map(|_| self.ask(space, rng)).collect()
    }

    /// Tells the strategy what the evaluation of a cell it proposed found (`None`: the
    /// evaluation failed). Single-objective strategies read [`Feedback::score`]; multi-objective
    /// ones [`Feedback::objectives`].
    fn tell(&mut self, space: &S, cell: &S::Cell, feedback: Option<&Feedback>);
}

/// What a strategy learns of an evaluated cell, from the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// The search signal (validation accuracy), oriented so that larger is better: the
    /// benchmark's value, negated when the benchmark minimises it.
    pub score: f64,
    /// With several `objectives` in the experiment: every objective of the cell, in the
    /// experiment's order (the search signal first), each normalised by the experiment's range
    /// to a *utility* in [0, 1], 1 the best end of the range whatever the goal, values outside the
    /// range clipped (`emprox_benchmarks::pareto::Bounds::normalise`: an accuracy below the
    /// range's low end is 0). These are exactly the coordinates of the experiment's hypervolume.
    /// Empty with one objective.
    pub objectives: Vec<f64>,
}

impl Feedback {
    /// The feedback of a single-objective search.
    pub fn single(score: f64) -> Self {
        Self {
            score,
            objectives: Vec::new(),
        }
    }

    /// The objective vector to rank by: [`Feedback::objectives`], or the score alone with one
    /// objective.
    pub fn utilities(&self) -> Vec<f64> {
        if self.objectives.is_empty() {
            vec![self.score]
        } else {
            self.objectives.clone()
        }
    }
}
