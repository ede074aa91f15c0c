//! The ask/tell loop and its middlewares, one module each, in the order a proposal meets them:
//!
//! ```text
//! strategy.ask ─► replay ─► dedup ─► filter ─► scheduler ─► cache ─► pool (the evaluator's workers)
//!      ▲                                                                    │
//!      └──────────────── tell, in proposal order ◄── journal ◄──────────────┘
//! ```
//!
//! - [`search`]: the loop that wires them, one run of one seed;
//! - [`replay`]: answers from a journal being resumed, before anything is evaluated again;
//! - [`dedup`]: a cell (or its isomorphism class) evaluated once per run;
//! - [`filter`]: the estimator's fit, predict and top-k, with [`acquisition`] (how predictions
//!   become a ranking), [`mo_rank`] (several objectives) and [`proxy`] (a zero-cost metric);
//! - [`scheduler`]: multi-fidelity (successive halving, Hyperband, ASHA): the fidelity of
//!   each trial and the promotions, around the strategy and the filter;
//! - [`cache`]: results reused across runs and experiments;
//! - [`pool`]: the evaluator's workers, results handed back in proposal order;
//! - [`stopping`]: the OR-ed budgets that end a run.

pub mod acquisition;
pub mod cache;
pub mod dedup;
pub mod filter;
pub mod mo_rank;
pub mod pool;
pub mod proxy;
pub mod replay;
pub mod scheduler;
pub mod search;
pub mod stopping;
