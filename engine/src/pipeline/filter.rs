//! The estimator filter: middleware between strategy and evaluator (NNI's
//! `Chain(strategy, Filter(estimator))`). The strategy proposes a pool; cells the run already
//! evaluated (or has in flight), and repeats inside the pool, are dropped by the run's
//! [`Dedup`] key (isomorphism classes with `[search] dedup_isomorphic`); the fitted estimator
//! scores the rest; only the top `top_k` are evaluated.

use crate::journal::{JournalWriter, Timing, WriteError};
use crate::pipeline::acquisition::{self, Acquisition};
use crate::pipeline::dedup::Dedup;
use crate::pipeline::mo_rank::{MoRank, MoRankKind};
use crate::pipeline::pool::{self, PoolSettings};
use crate::pipeline::proxy::{Line, Proxy, ProxyUse};
use emprox_benchmarks::{seed, SearchSpace};
use emprox_estimators::{Estimator, EstimatorError, FittedEstimator};
use emprox_strategies::{Feedback, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Instant;

/// The `[filter]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Pool size proposed by the strategy at each step (default 100).
    #[serde(default = "d_candidates")]
    pub candidates: usize,
    /// Candidates evaluated from each pool, best-scored first (default 10).
    #[serde(default = "d_top_k")]
    pub top_k: usize,
    /// Evaluations drawn by the strategy unfiltered before the first fit (default 20).
    #[serde(default = "d_warmup")]
    pub warmup: u64,
    /// Evaluations between refits (default 10). Checked only when a new pool is needed, so the
    /// estimator is refitted at most once every `top_k` evaluations: values up to `top_k` are
    /// equivalent.
    #[serde(default = "d_refit")]
    pub refit_every: u64,
    /// Replaced by `[search] dedup_isomorphic`, which the filter follows: kept only to reject
    /// old files with a message that says so.
    #[serde(default, skip_serializing)]
    pub dedup_isomorphic: Option<bool>,
    /// With several `objectives`: how a pool is ranked (`dominance`, the default, or `hvi`;
    /// see [`crate::pipeline::mo_rank`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mo_rank: Option<MoRankKind>,
    /// Share of each pool made of mutations of the best evaluated cells (default 0: the
    /// strategy's proposals only). See [`crate::pipeline::pool`].
    #[serde(default = "d_exploit")]
    pub exploit: f64,
    /// The best evaluated cells that are mutated (default 10).
    #[serde(default = "d_mutate_top")]
    pub mutate_top: usize,
    /// Mutations per mutant, at most (default 2).
    #[serde(default = "d_mutations")]
    pub mutations: usize,
    /// Fitted estimators per refit (default 1). See [`crate::pipeline::acquisition`].
    #[serde(default = "d_ensemble")]
    pub ensemble: usize,
    /// How candidates are scored from the ensemble: mean | ucb | thompson (default mean).
    #[serde(default)]
    pub acquisition: Acquisition,
    /// The weight of the ensemble's standard deviation in `ucb` (default 1).
    #[serde(default = "d_beta")]
    pub beta: f64,
    /// A zero-cost proxy: a metric known before training that is larger for better cells
    /// (default none). See [`crate::pipeline::proxy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// What the proxy serves: `both` (the default), `warmup` or `prior`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_use: Option<ProxyUse>,
}

fn d_candidates() -> usize {
    100
}
fn d_top_k() -> usize {
    10
}
fn d_warmup() -> u64 {
    20
}
fn d_refit() -> u64 {
    10
}
fn d_exploit() -> f64 {
    PoolSettings::default().exploit
}
fn d_mutate_top() -> usize {
    PoolSettings::default().mutate_top
}
fn d_mutations() -> usize {
    PoolSettings::default().mutations
}
fn d_ensemble() -> usize {
    1
}
fn d_beta() -> f64 {
    1.0
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            candidates: d_candidates(),
            top_k: d_top_k(),
            warmup: d_warmup(),
            refit_every: d_refit(),
            dedup_isomorphic: None,
            mo_rank: None,
            exploit: d_exploit(),
            mutate_top: d_mutate_top(),
            mutations: d_mutations(),
            ensemble: d_ensemble(),
            acquisition: Acquisition::default(),
            beta: d_beta(),
            proxy: None,
            proxy_use: None,
        }
    }
}

/// The most candidates one filter step may score.
pub const MAX_CANDIDATES: usize = 1_000_000;

impl FilterConfig {
    /// Checks the values (given the estimator's smallest training set).
    pub fn validate(&self, min_train: usize) -> Result<(), String> {
        if self.dedup_isomorphic.is_some() {
            return Err(
                "[filter] dedup_isomorphic is now `[search] dedup_isomorphic` \
                 (one setting for the loop and the filter, default false): move it there"
                    .into(),
            );
        }
        if self.top_k == 0 {
            return Err("[filter] top_k must be at least 1".into());
        }
        if self.candidates > MAX_CANDIDATES {
            return Err(format!(
                "[filter] candidates must be at most {MAX_CANDIDATES}, got {}",
                self.candidates
            ));
        }
        if self.candidates < self.top_k {
            return Err(format!(
                "[filter] candidates ({}) must be at least top_k ({})",
                self.candidates, self.top_k
            ));
        }
        if self.refit_every == 0 {
            return Err("[filter] refit_every must be at least 1".into());
        }
        if (self.warmup as usize) < min_train.max(1) {
            return Err(format!(
                "[filter] warmup ({}) must be at least the estimator's smallest training set ({})",
                self.warmup,
                min_train.max(1)
            ));
        }
        if self.proxy_use.is_some() && self.proxy.is_none() {
            return Err(
                "[filter] proxy_use needs a `proxy` (a metric known before training, \
                        e.g. proxy = \"params_m\")"
                    .into(),
            );
        }
        self.pool().validate()?;
        acquisition::validate(self.ensemble, self.beta)
    }

    /// What the proxy serves, where there is one.
    pub fn proxy_usage(&self) -> Option<ProxyUse> {
        self.proxy
            .as_ref()
            .map(|_| self.proxy_use.unwrap_or_default())
    }

    /// The pool keys.
    pub fn pool(&self) -> PoolSettings {
        PoolSettings {
            exploit: self.exploit,
            mutate_top: self.mutate_top,
            mutations: self.mutations,
        }
    }
}

/// Why the filter failed.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The estimator failed to fit.
    #[error("estimator: {0}")]
    Estimator(#[from] EstimatorError),
    /// A log could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

#[derive(Serialize)]
struct PoolRecord<'a> {
    /// Queries made before this pool was scored.
    after_query: u64,
    /// Training set size of the fitted estimator.
    train_size: usize,
    /// (index, score) of every scored candidate, in pool order.
    scored: &'a [(Option<u64>, f64)],
    /// Indices chosen for evaluation, best first.
    chosen: Vec<Option<u64>>,
    /// With an ensemble: each candidate's standard deviation and acquisition value (`scored`
    /// holds the mean), in pool order.
    #[serde(skip_serializing_if = "Option::is_none")]
    spread: Option<Vec<[f64; 2]>>,
}

/// A cell the filter chose, with the estimator's prediction (none for a pool the proxy ranked
/// in the warm-up).
pub type Choice<C> = (C, Option<f64>);

/// A filter for one run.
pub struct Filter<S: SearchSpace> {
    cfg: FilterConfig,
    estimator: Box<dyn Estimator<S>>,
    fitted: Vec<Box<dyn FittedEstimator<S>>>,
    fitted_at: usize,
    fits: u64,
    /// Chosen cells still to propose.
    queue: VecDeque<Choice<S::Cell>>,
    /// The training set: evaluated cells with their (maximised) scores, in query order.
    evaluated: Vec<(S::Cell, f64)>,
    seed: u64,
    /// Draws the mutants of the pools.
    mutant_rng: seed::Rng,
    /// Pools and timings before this query were logged by an earlier attempt (resume).
    replay_until: u64,
    /// Wall seconds spent fitting.
    pub fit_seconds: f64,
    /// Wall seconds spent scoring.
    pub query_seconds: f64,
    /// With several objectives: the ranking of a pool.
    mo: Option<MoRank<S::Cell>>,
    /// Cells the estimator pre-trains an encoder on at its first fit (named in progress).
    pretrain: usize,
    /// A zero-cost proxy, and its line under the estimator at the last refit.
    proxy: Option<Proxy<S::Cell>>,
    line: Option<Line>,
}

impl<S: SearchSpace> Filter<S> {
    /// A filter for the run with seed `run_seed`, whose pools and timings before query
    /// `replay_until` were logged by an earlier attempt (resume; 0 for a new run).
    pub fn new(
        cfg: FilterConfig,
        estimator: Box<dyn Estimator<S>>,
        run_seed: u64,
        replay_until: u64,
    ) -> Self {
        Self {
            pretrain: 0,
            cfg,
            estimator,
            fitted: Vec::new(),
            fitted_at: 0,
            fits: 0,
            queue: VecDeque::new(),
            evaluated: Vec::new(),
            seed: seed::derive(run_seed, "estimator"),
            mutant_rng: seed::stream(run_seed, "filter-mutants"),
            replay_until,
            fit_seconds: 0.0,
            query_seconds: 0.0,
            mo: None,
            proxy: None,
            line: None,
        }
    }

    /// The filter of an estimator that pre-trains an encoder on `cells` unlabelled cells at
    /// its first fit (progress names that phase).
    pub fn with_pretraining(mut self, cells: usize) -> Self {
        self.pretrain = cells;
        self
    }

    /// The filter with a zero-cost proxy.
    pub fn with_proxy(mut self, proxy: Proxy<S::Cell>) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whether the warm-up's pools are ranked by the proxy.
    fn proxy_warmup(&self) -> bool {
        self.proxy.as_ref().is_some_and(|p| p.usage().warmup())
    }

    /// The filter ranking pools by several objectives with `mo`.
    pub fn with_objectives(mut self, mo: MoRank<S::Cell>) -> Self {
        self.mo = Some(mo);
        self
    }

    /// True while the strategy still proposes unfiltered (the warm-up, unless a proxy ranks it).
    pub fn warming_up(&self, queries: u64) -> bool {
        queries < self.cfg.warmup && !self.proxy_warmup()
    }

    /// A cell was evaluated successfully, and its strategy told `told`: it joins the training
    /// set (with its maximised score) and, with several objectives, the evaluated front.
    pub fn observe(&mut self, cell: S::Cell, told: &Feedback) {
        self.evaluated.push((cell, told.score));
        if let Some(mo) = &mut self.mo {
            mo.observe(&told.objectives);
        }
    }

    /// The next cell to evaluate with its predicted score (`None` in a warm-up ranked by the
    /// proxy), or `None` when the pool held nothing new.
    /// `dedup` knows the cells evaluated or in flight, and what counts as the same cell.
    #[allow(clippy::too_many_arguments)]
    pub fn next(
        &mut self,
        strategy: &mut dyn Strategy<S>,
        space: &S,
        rng: &mut seed::Rng,
        queries: u64,
        dedup: &Dedup<S::Cell>,
        pools: &mut JournalWriter,
        timings: &mut JournalWriter,
        phase: &dyn Fn(Option<&str>),
    ) -> Result<Option<Choice<S::Cell>>, FilterError> {
        if let Some(x) = self.queue.pop_front() {
            return Ok(Some(x));
        }
        // With a proxy for the warm-up, its pools are ranked by the proxy, unfitted.
        let warm = queries < self.cfg.warmup;
        if !warm
            && (self.fitted.is_empty()
                || self.evaluated.len() >= self.fitted_at + self.cfg.refit_every as usize)
        {
            let (cells, mut targets): (Vec<S::Cell>, Vec<f64>) =
                self.evaluated.iter().cloned().unzip();
            if let Some(p) = self.proxy.as_ref().filter(|p| p.usage().prior()) {
                // The estimator learns what the proxy's line leaves.
                let z = p.values(&cells);
                let line = Line::fit(&z, &targets);
                for (t, z) in targets.iter_mut().zip(z) {
                    *t -= line.at(z);
                }
                self.line = Some(line);
            }
            phase(Some(&match (self.fits, self.pretrain) {
                (0, n) if n > 0 => format!(
                    "pre-training the EmProx encoder on {n} cells, then fitting on {}",
                    cells.len()
                ),
                _ => format!("fitting the estimator on {} cells", cells.len()),
            }));
            let t0 = Instant::now();
            let fitted = acquisition::fit(
                self.estimator.as_ref(),
                &self.fitted,
                space,
                &cells,
                &targets,
                self.cfg.ensemble,
                self.seed,
                self.fits,
                self.estimator.needs().min_train_size,
            );
            phase(None);
            self.fitted = fitted?;
            let secs = t0.elapsed().as_secs_f64();
            self.fit_seconds += secs;
            self.fits += 1;
            self.fitted_at = self.evaluated.len();
            if queries >= self.replay_until {
                timings.write(&Timing::EstimatorFit {
                    after_query: queries,
                    train_size: cells.len(),
                    wall_seconds: secs,
                })?;
            }
        }
        let pool = pool::build(
            &self.cfg.pool(),
            self.cfg.candidates,
            strategy,
            space,
            &self.evaluated,
            rng,
            &mut self.mutant_rng,
            dedup,
        );
        if pool.is_empty() {
            return Ok(None);
        }
        let t0 = Instant::now();
        let (means, spread) = match (&self.proxy, warm) {
            (Some(p), true) => {
                let z = p.values(&pool);
                let z = match &self.mo {
                    // Several objectives: the proxy stands in for the signal, stretched over
                    // its range, and the pool is ranked with the known costs.
                    Some(mo) => crate::pipeline::proxy::stretch(&z, mo.score_range()),
                    None => z,
                };
                (z, vec![0.0; pool.len()])
            }
            _ => {
                let (mut means, spread) = acquisition::predict(&self.fitted, space, &pool)?;
                if let (Some(p), Some(line)) = (&self.proxy, self.line) {
                    for (m, z) in means.iter_mut().zip(p.values(&pool)) {
                        *m += line.at(z);
                    }
                }
                (means, spread)
            }
        };
        let mut acq_rng = seed::stream(self.seed, &format!("acquire/{queries}"));
        let scores = acquisition::acquire(
            self.cfg.acquisition,
            self.cfg.beta,
            &means,
            &spread,
            &mut acq_rng,
        );
        let secs = t0.elapsed().as_secs_f64();
        self.query_seconds += secs;
        if queries >= self.replay_until {
            timings.write(&Timing::EstimatorQuery {
                after_query: queries,
                pool_size: pool.len(),
                wall_seconds: secs,
            })?;
        }
        let mut order: Vec<usize> = (0..pool.len()).collect();
        // Best first; equal scores keep pool order, NaN scores go last.
        order.sort_by(|&a, &b| {
            let (x, y) = (scores[a], scores[b]);
            match (x.is_nan(), y.is_nan()) {
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => y.total_cmp(&x),
            }
        });
        order.truncate(self.cfg.top_k);
        if let Some(mo) = &self.mo {
            let mut ehvi_rng = seed::stream(self.seed, &format!("ehvi/{queries}"));
            order = mo.order(
                &pool,
                &scores,
                &means,
                &spread,
                self.cfg.top_k,
                &mut ehvi_rng,
            );
        }
        let index = |c: &S::Cell| space.index(c);
        let scored: Vec<(Option<u64>, f64)> = pool
            .iter()
            .zip(&means)
            .map(|(c, s)| (index(c), *s))
            .collect();
        if queries >= self.replay_until {
            pools.write(&PoolRecord {
                after_query: queries,
                train_size: self.fitted_at,
                scored: &scored,
                chosen: order.iter().map(|&i| index(&pool[i])).collect(),
                spread: (self.fitted.len() > 1)
                    .then(|| spread.iter().zip(&scores).map(|(s, a)| [*s, *a]).collect()),
            })?;
        }
        let predicted = !(warm && self.proxy.is_some());
        self.queue = order
            .into_iter()
            .map(|i| (pool[i].clone(), predicted.then_some(means[i])))
            .collect();
        Ok(self.queue.pop_front())
    }
}
