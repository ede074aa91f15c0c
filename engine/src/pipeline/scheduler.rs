//! Scheduler middleware: multi-fidelity search around any strategy (and filter), as in BOHB and
//! Syne Tune. The strategy (with the filter) chooses which *new* cells enter; the scheduler
//! chooses at which fidelity each trial runs and which cells are *promoted* to the next rung.
//!
//! Rungs are the benchmark's fidelity levels from `min_fidelity` to `max_fidelity` (a table's
//! declared levels: NAS-Bench-201's 12 and 200 epochs). The scheduler decides from the results
//! it was told, in the order the loop tells them, and keeps no other state: replaying a journal
//! rebuilds it exactly, so a run killed anywhere (between a rung's evaluation and its
//! promotion too) resumes to the same journal.
//!
//! - `successive_halving`: brackets of `cells` new cells at the lowest rung; when a rung's
//!   trials are all done, the best `1/eta` of them (at least one) are promoted, up to the top.
//! - `hyperband`: successive-halving brackets that start at each rung in turn, the most
//!   aggressive first (bracket `s` enters `ceil((s_max + 1) eta^s / (s + 1))` cells at rung
//!   `s_max - s`).
//! - `asha`: asynchronous: whenever a trial can start, the best not-yet-promoted cell of the
//!   highest rung that lies in its rung's top `1/eta` is promoted; if there is none, a new cell
//!   enters the lowest rung. It never waits for a rung to fill.
//!
//! What the strategy (and the filter's estimator) learn: each cell's score at the rung it
//! entered, once, when that trial ends (with `successive_halving` and `asha`, the lowest rung:
//! the estimator is fitted on one fidelity's scores). Promotions' results go to the scheduler,
//! the journal and the incumbent, which counts trials at `max_fidelity` only.

use serde::{Deserialize, Serialize};

/// Which scheduler (`[scheduler] type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// Every trial at full fidelity (as without a `[scheduler]` table).
    #[default]
    None,
    /// Synchronous successive halving.
    SuccessiveHalving,
    /// Hyperband: successive halving over brackets that start at each rung.
    Hyperband,
    /// Asynchronous successive halving.
    Asha,
}

impl SchedulerKind {
    /// Every type, in the order `emprox list` shows them.
    pub const ALL: [SchedulerKind; 4] = [
        SchedulerKind::None,
        SchedulerKind::SuccessiveHalving,
        SchedulerKind::Hyperband,
        SchedulerKind::Asha,
    ];

    /// Its name in the TOML.
    pub fn name(self) -> String {
        toml::Value::try_from(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

fn d_eta() -> u64 {
    3
}

/// The `[scheduler]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// none | successive_halving | hyperband | asha.
    #[serde(rename = "type")]
    pub kind: SchedulerKind,
    /// Promotion ratio: the best `1/eta` of a rung go up (at least 2; default 3).
    #[serde(default = "d_eta")]
    pub eta: u64,
    /// The lowest rung's fidelity, one of the benchmark's levels (default: its lowest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fidelity: Option<f64>,
    /// The highest rung's fidelity (default: the benchmark's full one); the incumbent is chosen
    /// among trials at this fidelity only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fidelity: Option<f64>,
    /// `successive_halving`: new cells per bracket (default `eta^(rungs - 1)`, one reaching
    /// the top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells: Option<u64>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            kind: SchedulerKind::None,
            eta: d_eta(),
            min_fidelity: None,
            max_fidelity: None,
            cells: None,
        }
    }
}

impl SchedulerConfig {
    /// True when trials are scheduled over fidelities.
    pub fn active(&self) -> bool {
        self.kind != SchedulerKind::None
    }

    /// Checks what needs no benchmark: `eta`, the order of the fidelities, `cells`.
    pub fn validate(&self) -> Result<(), String> {
        if self.eta < 2 {
            return Err(format!(
                "[scheduler] eta must be at least 2 (the best 1/eta of a rung are promoted), got {}",
                self.eta
            ));
        }
        if let (Some(lo), Some(hi)) = (self.min_fidelity, self.max_fidelity) {
            if lo > hi {
                return Err(format!(
                    "[scheduler] min_fidelity ({lo}) is above max_fidelity ({hi})"
                ));
            }
        }
        match self.cells {
            Some(0) => Err("[scheduler] cells must be at least 1".into()),
            Some(_) if self.kind != SchedulerKind::SuccessiveHalving => Err(format!(
                "[scheduler] cells applies to type = \"successive_halving\" only, not \"{}\"",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    /// The type's name, as in the TOML.
    pub fn name(&self) -> String {
        self.kind.name()
    }

    /// The rungs' fidelities: the evaluator's `levels` (ascending) from `min_fidelity` to
    /// `max_fidelity`. An error names the key when the evaluator has no fidelity or a bound is
    /// not one of its levels.
    pub fn rungs(&self, levels: &[f64]) -> Result<Vec<f64>, String> {
        if levels.is_empty() {
            return Err(format!(
                "[scheduler] type = \"{}\" needs an evaluator with fidelity levels (a table whose \
                 description declares [fidelity], or `train` with `fidelity_epochs`); this one has \
                 only one fidelity",
                self.name()
            ));
        }
        let shown = levels
            .iter()
            .map(f64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let find = |key: &str, v: Option<f64>, default: usize| match v {
            None => Ok(default),
            Some(v) => levels.iter().position(|l| *l == v).ok_or_else(|| {
                format!("[scheduler] {key} = {v} is not a fidelity of the benchmark ({shown})")
            }),
        };
        let lo = find("min_fidelity", self.min_fidelity, 0)?;
        let hi = find("max_fidelity", self.max_fidelity, levels.len() - 1)?;
        Ok(levels[lo..=hi].to_vec())
    }
}

/// What the scheduler wants next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next<C> {
    /// A new cell from the strategy (and filter), at this rung.
    New(usize),
    /// Trial `from`'s cell, at rung `rung` (one up).
    Promote {
        /// The trial promoted.
        from: usize,
        /// Its cell.
        cell: C,
        /// The rung it goes to.
        rung: usize,
    },
    /// Nothing can start before a running trial ends.
    Wait,
}

/// One trial the scheduler started.
#[derive(Debug, Clone)]
struct Entry<C> {
    cell: C,
    rung: usize,
    /// The maximised score once done (`None`: running or failed).
    score: Option<f64>,
    done: bool,
    /// The trial it was promoted from.
    from: Option<usize>,
    /// The trial it was promoted to.
    promoted_to: Option<usize>,
    /// Never to be promoted: its rung's promotions are all started, or its bracket is over.
    closed: bool,
    /// Told to [`Scheduler::released`] already.
    released: bool,
}

/// A successive-halving bracket: which rung it fills now, how many trials each rung takes, and
/// the trials it started per rung.
#[derive(Debug, Clone)]
struct Bracket {
    /// The rung its new cells enter.
    start: usize,
    /// Trials per rung, from `start` up.
    sizes: Vec<usize>,
    /// The stage being filled (0: `start`).
    stage: usize,
    /// Trial ids per stage.
    trials: Vec<Vec<usize>>,
}

impl Bracket {
    fn new(start: usize, top: usize, n: u64, eta: u64) -> Self {
        let sizes: Vec<usize> = (0..=(top - start) as u32)
            .map(|k| (n / eta.saturating_pow(k)).max(1) as usize)
            .collect();
        Bracket {
            start,
            trials: vec![Vec::new(); sizes.len()],
            sizes,
            stage: 0,
        }
    }
}

/// The scheduler of one run.
#[derive(Debug)]
pub struct Scheduler<C> {
    kind: SchedulerKind,
    eta: u64,
    /// The rungs' fidelities, ascending.
    rungs: Vec<f64>,
    cells: u64,
    trials: Vec<Entry<C>>,
    bracket: Option<Bracket>,
    /// Hyperband: brackets started so far.
    brackets: u64,
    /// Trials that may have become releasable since [`Scheduler::released`] last looked.
    changed: Vec<usize>,
}

impl<C: Clone> Scheduler<C> {
    /// A scheduler of `cfg`'s type over rungs at `rungs` (from [`SchedulerConfig::rungs`]).
    pub fn new(cfg: &SchedulerConfig, rungs: Vec<f64>) -> Self {
        let top = rungs.len() as u32 - 1;
        Scheduler {
            kind: cfg.kind,
            eta: cfg.eta,
            cells: cfg.cells.unwrap_or_else(|| cfg.eta.saturating_pow(top)),
            rungs,
            trials: Vec::new(),
            bracket: None,
            brackets: 0,
            changed: Vec::new(),
        }
    }

    /// The fidelity of rung `rung`.
    pub fn fidelity(&self, rung: usize) -> f64 {
        self.rungs[rung]
    }

    /// True when `rung` is the top one (whose trials may become the incumbent).
    pub fn is_top(&self, rung: usize) -> bool {
        rung == self.top_rung()
    }

    /// The top rung.
    pub fn top_rung(&self) -> usize {
        self.rungs.len() - 1
    }

    /// What to start next (nothing changes until [`Scheduler::start`]).
    pub fn decide(&mut self) -> Next<C> {
        match self.kind {
            SchedulerKind::Asha => self.next_asha(),
            _ => self.next_bracket(),
        }
    }

    /// Starts a trial of `cell` at `rung`, promoted from trial `from` (what
    /// [`Scheduler::decide`] asked for): its id for [`Scheduler::finish`].
    pub fn start(&mut self, cell: C, rung: usize, from: Option<usize>) -> usize {
        let id = self.trials.len();
        if let Some(f) = from {
            self.trials[f].promoted_to = Some(id);
        }
        let mut closed = Vec::new();
        if let Some(b) = self.bracket.as_mut() {
            b.trials[b.stage].push(id);
            // Its promotions all started: the rest of the stage below stays there.
            if b.stage > 0 && b.trials[b.stage].len() == b.sizes[b.stage] {
                closed = b.trials[b.stage - 1].clone();
            }
        }
        self.close(&closed);
        self.trials.push(Entry {
            cell,
            rung,
            score: None,
            done: false,
            from,
            promoted_to: None,
            closed: false,
            released: false,
        });
        id
    }

    /// Trial `id` ended with maximised score `score` (`None`: failed).
    pub fn finish(&mut self, id: usize, score: Option<f64>) {
        let t = &mut self.trials[id];
        t.done = true;
        t.score = score;
        self.changed
            .extend([Some(id), t.from].into_iter().flatten());
    }

    fn next_asha(&self) -> Next<C> {
        for rung in (0..self.rungs.len() - 1).rev() {
            let scores: Vec<f64> = self
                .trials
                .iter()
                .filter(|t| t.rung == rung && t.done)
                .filter_map(|t| t.score)
                .collect();
            let k = scores.len() / self.eta as usize;
            if k == 0 {
                continue;
            }
            // The k-th best score of the rung: a candidate at or above it is in the top 1/eta.
            let mut sorted = scores;
            sorted.sort_by(|a, b| b.total_cmp(a));
            let bar = sorted[k - 1];
            let ids: Vec<usize> = (0..self.trials.len())
                .filter(|&i| self.trials[i].rung == rung)
                .collect();
            if let Some(best) = self.best_in(&ids) {
                if self.trials[best].score.unwrap() >= bar {
                    return self.promote(best, rung + 1);
                }
            }
        }
        Next::New(0)
    }

    /// The next bracket's start rung and size.
    fn open_bracket(&mut self) -> Bracket {
        let top = self.rungs.len() - 1;
        let b = match self.kind {
            SchedulerKind::Hyperband => {
                let s_max = top as u64;
                let s = s_max - self.brackets % (s_max + 1);
                let n = ((s_max + 1) * self.eta.saturating_pow(s as u32)).div_ceil(s + 1);
                Bracket::new(top - s as usize, top, n, self.eta)
            }
            _ => Bracket::new(0, top, self.cells, self.eta),
        };
        self.brackets += 1;
        b
    }

    fn next_bracket(&mut self) -> Next<C> {
        loop {
            let mut b = match self.bracket.take() {
                Some(b) => b,
                None => self.open_bracket(),
            };
            let rung = b.start + b.stage;
            let started = b.trials[b.stage].len();
            let next = if b.stage == 0 {
                (started < b.sizes[0]).then_some(Next::New(rung))
            } else if started < b.sizes[b.stage] {
                // Promote from the stage below, which is all done.
                self.best_in(&b.trials[b.stage - 1])
                    .map(|i| self.promote(i, rung))
            } else {
                None
            };
            if let Some(n) = next {
                self.bracket = Some(b);
                return n;
            }
            if b.trials[b.stage].iter().any(|&i| !self.trials[i].done) {
                self.bracket = Some(b);
                return Next::Wait;
            }
            if b.stage + 1 < b.sizes.len() && self.best_in(&b.trials[b.stage]).is_some() {
                b.stage += 1;
                self.bracket = Some(b);
            } else {
                for ids in &b.trials {
                    self.close(ids);
                }
            }
            // Else the bracket is over (its top rung is done, or nothing succeeded to promote):
            // the loop opens the next one.
        }
    }

    fn close(&mut self, ids: &[usize]) {
        for &i in ids {
            self.trials[i].closed = true;
        }
        self.changed.extend_from_slice(ids);
    }

    /// The trials whose checkpoints no promotion will read any more, each once, in trial
    /// order: done at the top rung, promoted with the promotion done, or never to be promoted
    /// (with `all`, every trial: the run is over). A function of the results told so far, so
    /// that a resumed run releases the same trials at the same points.
    pub fn released(&mut self, all: bool) -> Vec<(usize, C, usize)> {
        let top = self.top_rung();
        let mut look = std::mem::take(&mut self.changed);
        if all {
            look = (0..self.trials.len()).collect();
        }
        look.sort_unstable();
        look.dedup();
        let mut out = Vec::new();
        for i in look {
            let t = &self.trials[i];
            let free = t.done
                && match t.promoted_to {
                    Some(p) => self.trials[p].done,
                    None => t.rung == top || t.closed,
                };
            if !t.released && (all || free) {
                out.push((i, t.cell.clone(), t.rung));
                self.trials[i].released = true;
            }
        }
        out
    }

    fn promote(&self, from: usize, rung: usize) -> Next<C> {
        Next::Promote {
            from,
            cell: self.trials[from].cell.clone(),
            rung,
        }
    }

    /// The best finished, successful, unpromoted trial among `ids`.
    fn best_in(&self, ids: &[usize]) -> Option<usize> {
        ids.iter()
            .copied()
            .filter(|&i| {
                let t = &self.trials[i];
                t.done && t.promoted_to.is_none() && t.score.is_some()
            })
            .min_by(|&a, &b| {
                let (x, y) = (self.trials[a].score, self.trials[b].score);
                y.unwrap().total_cmp(&x.unwrap()).then(a.cmp(&b))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: SchedulerKind, eta: u64, cells: Option<u64>) -> SchedulerConfig {
        SchedulerConfig {
            kind,
            eta,
            cells,
            ..SchedulerConfig::default()
        }
    }

    /// Starts what the scheduler asks for (new cells numbered from `fresh`), finishing each at
    /// once with the score `score(cell)`; the (cell, rung) of each trial.
    fn drive(
        s: &mut Scheduler<u32>,
        trials: usize,
        score: impl Fn(u32) -> f64,
    ) -> Vec<(u32, usize)> {
        let mut fresh = 0;
        let mut out = Vec::new();
        for _ in 0..trials {
            let (cell, rung, from) = match s.decide() {
                Next::New(r) => {
                    fresh += 1;
                    (fresh, r, None)
                }
                Next::Promote { from, cell, rung } => (cell, rung, Some(from)),
                Next::Wait => panic!("nothing runs"),
            };
            let id = s.start(cell, rung, from);
            s.finish(id, Some(score(cell)));
            out.push((cell, rung));
        }
        out
    }

    #[test]
    fn successive_halving_fills_a_rung_then_promotes_its_best_third() {
        let cfg = config(SchedulerKind::SuccessiveHalving, 3, Some(9));
        let mut s = Scheduler::new(&cfg, vec![12.0, 200.0]);
        // Cell c scores (c * 7) % 10: among 1..=9 the best are 3 (1), 7 (9), 4 (8), 1 (7).
        let t = drive(&mut s, 13, |c| f64::from((c * 7) % 10));
        assert!(t[..9]
            .iter()
            .enumerate()
            .all(|(i, &(c, r))| c == i as u32 + 1 && r == 0));
        assert_eq!(t[9..12], [(7, 1), (4, 1), (1, 1)]);
        // The next bracket's first new cell.
        assert_eq!(t[12], (10, 0));
    }

    #[test]
    fn a_bracket_waits_for_its_rung_to_finish() {
        let cfg = config(SchedulerKind::SuccessiveHalving, 2, None);
        let mut s = Scheduler::new(&cfg, vec![1.0, 2.0, 4.0]);
        // eta^(rungs - 1) = 4 new cells, 2 promoted to rung 1, then 1 to rung 2.
        let ids: Vec<usize> = (0..4)
            .map(|c| {
                assert_eq!(s.decide(), Next::New(0));
                s.start(c, 0, None)
            })
            .collect();
        assert_eq!(s.decide(), Next::Wait);
        for (i, id) in ids.iter().enumerate() {
            s.finish(*id, Some(i as f64));
        }
        assert_eq!(
            s.decide(),
            Next::Promote {
                from: 3,
                cell: 3,
                rung: 1
            }
        );
        let a = s.start(3, 1, Some(3));
        assert_eq!(
            s.decide(),
            Next::Promote {
                from: 2,
                cell: 2,
                rung: 1
            }
        );
        let b = s.start(2, 1, Some(2));
        assert_eq!(s.decide(), Next::Wait);
        s.finish(a, Some(0.0));
        s.finish(b, None);
        // A failed trial is not promoted: the other goes up.
        assert_eq!(
            s.decide(),
            Next::Promote {
                from: a,
                cell: 3,
                rung: 2
            }
        );
        assert!(s.is_top(2) && !s.is_top(1));
    }

    #[test]
    fn checkpoints_are_released_once_no_promotion_reads_them() {
        let cfg = config(SchedulerKind::SuccessiveHalving, 3, Some(9));
        let mut s = Scheduler::new(&cfg, vec![12.0, 200.0]);
        let ids = |v: Vec<(usize, u32, usize)>| v.into_iter().map(|t| t.0).collect::<Vec<_>>();
        for c in 1..=9 {
            assert_eq!(s.decide(), Next::New(0));
            let id = s.start(c, 0, None);
            s.finish(id, Some(f64::from((c * 7) % 10)));
        }
        // The rung is complete but its promotions are not chosen yet: every trial may go up.
        assert!(s.released(false).is_empty());
        let mut up = Vec::new();
        for _ in 0..3 {
            let Next::Promote { from, cell, rung } = s.decide() else {
                panic!("a promotion");
            };
            up.push(s.start(cell, rung, Some(from)));
            if up.len() < 3 {
                assert!(s.released(false).is_empty());
            }
        }
        // The last promotion started: the six left at 12 epochs never go up (the best are
        // trials 6, 3 and 0, cells 7, 4 and 1).
        assert_eq!(ids(s.released(false)), [1, 2, 4, 5, 7, 8]);
        // A promotion done frees its source; a top-rung trial needs no checkpoint.
        s.finish(up[0], Some(1.0));
        assert_eq!(ids(s.released(false)), [6, 9]);
        assert!(s.released(false).is_empty());
        // The run over: every other trial, once.
        assert_eq!(ids(s.released(true)), [0, 3, 10, 11]);
        assert!(s.released(true).is_empty());
    }

    #[test]
    fn asha_keeps_every_low_rung_checkpoint_until_the_end() {
        let cfg = config(SchedulerKind::Asha, 3, None);
        let mut s = Scheduler::new(&cfg, vec![12.0, 200.0]);
        let t = drive(&mut s, 10, |c| f64::from((c * 7) % 10));
        // Released: the promotions, done at the top rung (trials 3, 5 and 9), and their
        // sources (0, 4 and 8); the other 12-epoch trials may still go up.
        let got: Vec<usize> = s.released(false).into_iter().map(|r| r.0).collect();
        assert_eq!(got, [0, 3, 4, 5, 8, 9]);
        assert_eq!(t[9], (7, 1));
    }

    #[test]
    fn hyperband_cycles_brackets_from_the_lowest_rung_to_the_top() {
        let cfg = config(SchedulerKind::Hyperband, 3, None);
        let mut s = Scheduler::new(&cfg, vec![12.0, 200.0]);
        let t = drive(&mut s, 9, f64::from);
        // s = 1: ceil(2 * 3 / 2) = 3 cells at rung 0, the best one up; s = 0: 2 cells at the
        // top; then s = 1 again.
        let rungs: Vec<usize> = t.iter().map(|x| x.1).collect();
        assert_eq!(rungs, [0, 0, 0, 1, 1, 1, 0, 0, 0]);
        assert_eq!(t[3], (3, 1));
    }

    #[test]
    fn asha_promotes_the_top_third_without_waiting() {
        let cfg = config(SchedulerKind::Asha, 3, None);
        let mut s = Scheduler::new(&cfg, vec![12.0, 200.0]);
        // Cell c scores (c * 7) % 10: 7, 4, 1, 8, 5, 2, 9. A cell goes up once it is in the
        // top third of its rung's results (k = results / 3 best).
        let t = drive(&mut s, 10, |c| f64::from((c * 7) % 10));
        assert_eq!(
            t,
            [
                (1, 0),
                (2, 0),
                (3, 0),
                (1, 1),
                (4, 0),
                (4, 1),
                (5, 0),
                (6, 0),
                (7, 0),
                (7, 1)
            ]
        );
        // While a trial runs, ASHA starts another new cell rather than wait.
        assert_eq!(s.decide(), Next::New(0));
    }

    #[test]
    fn config_checks_name_the_key() {
        let bad = |c: SchedulerConfig, want: &str| {
            let e = c.validate().unwrap_err();
            assert!(e.contains(want), "{want:?} not in {e}");
        };
        bad(
            config(SchedulerKind::Asha, 1, None),
            "eta must be at least 2",
        );
        bad(
            SchedulerConfig {
                min_fidelity: Some(200.0),
                max_fidelity: Some(12.0),
                ..config(SchedulerKind::Asha, 3, None)
            },
            "min_fidelity (200) is above max_fidelity (12)",
        );
        bad(config(SchedulerKind::Asha, 3, Some(9)), "cells applies to");
        let c = config(SchedulerKind::Hyperband, 3, None);
        assert!(c
            .rungs(&[])
            .unwrap_err()
            .contains("needs an evaluator with fidelity"));
        let c = SchedulerConfig {
            min_fidelity: Some(10.0),
            ..c
        };
        assert!(c
            .rungs(&[12.0, 200.0])
            .unwrap_err()
            .contains("min_fidelity = 10 is not"));
        let c = SchedulerConfig {
            min_fidelity: Some(12.0),
            max_fidelity: Some(50.0),
            ..c
        };
        assert_eq!(
            c.rungs(&[6.0, 12.0, 50.0, 200.0]).unwrap(),
            vec![12.0, 50.0]
        );
        assert_eq!(c.name(), "hyperband");
    }
}
