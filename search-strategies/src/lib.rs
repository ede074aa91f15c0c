//! Search strategies: they propose candidates (`ask`) and learn from results (`tell`).
//!
//! A strategy never sees a benchmark or an evaluator: the engine alone evaluates. Every strategy
//! takes its randomness from the RNG the engine passes in, so a run is reproducible and can be
//! replayed from its journal.

pub mod config;
pub mod local_search;
pub mod random;
pub mod regularized_evolution;

pub use config::{StrategyConfig, StrategyError};
pub use local_search::LocalSearch;
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

    /// Tells the strategy the validation accuracy of a cell it proposed (`None`: the evaluation
    /// failed).
    fn tell(&mut self, space: &S, cell: &S::Cell, val_acc: Option<f64>);
}
