//! Replay middleware: on resume, the trials an interrupted attempt journaled are answered from
//! the journal instead of evaluated, after checking that the run proposes the same cells.

use crate::journal::Trial;
use emprox_benchmarks::evaluator::{EvalFailure, Outcome};

/// A journal that does not belong to the run replaying it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReplayError(String);

/// The trials of an earlier attempt of one run, in query order.
#[derive(Debug, Default)]
pub struct Replay {
    run: u64,
    trials: Vec<Trial>,
}

impl Replay {
    /// Replays the `trials` of run `run` (query 1 first).
    pub fn new(run: u64, trials: Vec<Trial>) -> Self {
        Self { run, trials }
    }

    /// Number of trials to replay.
    pub fn len(&self) -> u64 {
        self.trials.len() as u64
    }

    /// True when there is nothing to replay.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The journaled result of query `query` (1-based), which the run proposes as the cell
    /// (`index`, `arch`) at `fidelity`; `None` past the end of the journal. A different cell
    /// or fidelity is an error.
    pub fn result(
        &self,
        query: u64,
        index: Option<u64>,
        arch: &str,
        fidelity: Option<f64>,
    ) -> Result<Option<Result<Outcome, EvalFailure>>, ReplayError> {
        let Some(t) = query
            .checked_sub(1)
            .and_then(|i| self.trials.get(i as usize))
        else {
            return Ok(None);
        };
        if t.run != self.run {
            return Err(ReplayError(format!(
                "journal line {query} belongs to run {} but is replayed as run {}: \
                 the journal belongs to another run",
                t.run, self.run
            )));
        }
        if t.index != index || t.arch != arch || t.query != query {
            let show = |i: Option<u64>, a: &str| i.map_or(a.to_string(), |i| i.to_string());
            return Err(ReplayError(format!(
                "journal line {query} holds cell {} but the run proposes {}: \
                 the journal belongs to another configuration",
                show(t.index, &t.arch),
                show(index, arch)
            )));
        }
        if t.fidelity != fidelity {
            let show = |f: Option<f64>| f.map_or("the full one".into(), |f| f.to_string());
            return Err(ReplayError(format!(
                "journal line {query} holds fidelity {} but the run proposes {}: \
                 the journal belongs to another configuration",
                show(t.fidelity),
                show(fidelity)
            )));
        }
        let cost_seconds = t.cost_seconds.unwrap_or(0.0);
        Ok(Some(match t.val_acc {
            Some(v) => Ok(Outcome {
                val_acc: v,
                test_acc: t.test_acc,
                cost_seconds,
                extras: t.extras.clone(),
            }),
            None => Err(EvalFailure {
                reason: t.error.clone().unwrap_or_default(),
                cost_seconds,
            }),
        }))
    }

    /// Checks that a run that stopped after `queries` queries replayed the whole journal.
    pub fn finished(&self, queries: u64) -> Result<(), ReplayError> {
        if queries < self.len() {
            return Err(ReplayError(format!(
                "the journal holds {} trials but the run stops after {queries}",
                self.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(query: u64, index: u64, val: Option<f64>) -> Trial {
        Trial {
            run: 0,
            query,
            index: Some(index),
            arch: format!("cell{index}"),
            fidelity: None,
            val_acc: val,
            test_acc: val.map(|v| v - 1.0),
            cost_seconds: Some(2.5),
            sim_seconds: None,
            incumbent: false,
            predicted: None,
            error: val.is_none().then(|| "boom".to_string()),
            extras: val.map_or(vec![], |v| vec![("flops".to_string(), v / 10.0)]),
        }
    }

    #[test]
    fn answers_journaled_queries_and_nothing_after() {
        let r = Replay::new(0, vec![trial(1, 7, Some(90.0)), trial(2, 3, None)]);
        assert_eq!(r.len(), 2);
        let ok = r
            .result(1, Some(7), "cell7", None)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (ok.val_acc, ok.test_acc, ok.cost_seconds),
            (90.0, Some(89.0), 2.5)
        );
        assert_eq!(ok.extras, vec![("flops".to_string(), 9.0)]);
        let failed = r
            .result(2, Some(3), "cell3", None)
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!((failed.reason.as_str(), failed.cost_seconds), ("boom", 2.5));
        assert!(r.result(3, Some(1), "cell1", None).unwrap().is_none());
        assert!(r.result(0, Some(1), "cell1", None).unwrap().is_none());
        assert!(Replay::default()
            .result(1, None, "x", None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_different_cell_or_a_short_run_is_an_error() {
        let r = Replay::new(0, vec![trial(1, 7, Some(90.0)), trial(2, 3, Some(80.0))]);
        let e = r.result(2, Some(4), "cell4", None).unwrap_err().to_string();
        assert!(
            e.contains("journal line 2 holds cell 3 but the run proposes 4"),
            "{e}"
        );
        assert!(r.result(1, Some(7), "other", None).is_err());
        let e = r.finished(1).unwrap_err().to_string();
        assert!(
            e.contains("holds 2 trials but the run stops after 1"),
            "{e}"
        );
        assert!(r.finished(2).is_ok() && r.finished(5).is_ok());
        // Another run's journal.
        let e = Replay::new(1, vec![trial(1, 7, Some(90.0))])
            .result(1, Some(7), "cell7", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("belongs to run 0 but is replayed as run 1"),
            "{e}"
        );
    }
}
