//! The worker pool: all results come back, at most `workers` run at once, completion order is
//! asynchronous; and the result cache prevents re-evaluation.

use emprox_benchmarks::evaluator::{EvalFailure, Evaluator, Outcome};
use emprox_benchmarks::nb201::Cell;
use emprox_benchmarks::workers::{cache_key, ResultCache, WorkerPool};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sleeps for `10 ms × (cell code % 7 + 1)`, or 800 ms for cell 0; records concurrency.
#[derive(Default)]
struct Sleepy {
    running: AtomicUsize,
    max_running: AtomicUsize,
    calls: AtomicUsize,
    threads: Mutex<HashSet<String>>,
}

impl Evaluator<Cell> for Sleepy {
    fn evaluate(&self, cell: &Cell, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let name = std::thread::current().name().unwrap_or("?").to_string();
        self.threads.lock().unwrap().insert(name);
        let code = cell.code();
        let ms = if code == 0 {
            800
        } else {
            10 * (code % 7 + 1) as u64
        };
        std::thread::sleep(Duration::from_millis(ms));
        let draw = rng.next_u32();
        self.running.fetch_sub(1, Ordering::SeqCst);
        if code == 13 {
            return Err(EvalFailure {
                reason: "thirteen".into(),
                cost_seconds: 1.0,
            });
        }
        if code == 14 {
            panic!("fourteen");
        }
        Ok(Outcome {
            val_acc: code as f64,
            test_acc: Some(draw as f64),
            cost_seconds: ms as f64 / 1000.0,
            extras: vec![],
        })
    }
}

#[test]
fn pool_returns_every_result_and_respects_the_worker_count() {
    let ev = Arc::new(Sleepy::default());
    let mut pool = WorkerPool::new(3, ev.clone()).unwrap();
    let n = 20u64;
    for i in 0..n {
        pool.submit(i, Cell::from_code(i as usize).unwrap(), 100 + i);
    }
    assert_eq!(pool.in_flight(), n as usize);
    let mut seen = Vec::new();
    let mut order = Vec::new();
    while let Some(f) = pool.recv() {
        assert_eq!(f.cell.code() as u64, f.job_id);
        assert_eq!(f.seed, 100 + f.job_id);
        assert!(f.worker < 3);
        match f.job_id {
            13 => assert_eq!(f.result.unwrap_err().reason, "thirteen"),
            14 => assert!(f.result.unwrap_err().reason.contains("panicked: fourteen")),
            id => assert_eq!(f.result.unwrap().val_acc, id as f64),
        }
        seen.push(f.job_id);
        order.push(f.job_id);
    }
    assert!(pool.recv().is_none());
    seen.sort();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    assert_eq!(ev.calls.load(Ordering::SeqCst), n as usize);
    assert_eq!(
        ev.max_running.load(Ordering::SeqCst),
        3,
        "exactly 3 at once"
    );
    let threads = ev.threads.lock().unwrap();
    assert!(threads.len() <= 3, "{threads:?}");
    assert!(
        threads.iter().all(|t| t.starts_with("emprox-worker-")),
        "{threads:?}"
    );
    // Asynchronous: job 0 takes 800 ms; the other workers went on without waiting for it.
    let pos0 = order.iter().position(|&j| j == 0).unwrap();
    assert!(pos0 >= 10, "job 0 finished at position {pos0}: {order:?}");
}

#[test]
fn equal_seeds_give_equal_rng_streams_through_the_pool() {
    let ev = Arc::new(Sleepy::default());
    let mut pool = WorkerPool::new(2, ev).unwrap();
    let cell = Cell::from_code(5).unwrap();
    pool.submit(0, cell, 42);
    pool.submit(1, cell, 42);
    pool.submit(2, cell, 43);
    let mut draws = [0.0; 3];
    while let Some(f) = pool.recv() {
        draws[f.job_id as usize] = f.result.unwrap().test_acc.unwrap();
    }
    assert_eq!(draws[0], draws[1]);
    assert_ne!(draws[0], draws[2]);
}

#[test]
fn zero_workers_is_an_error() {
    assert!(WorkerPool::new(0, Arc::new(Sleepy::default())).is_err());
}

#[test]
fn the_cache_prevents_re_evaluation() {
    let ev = Arc::new(Sleepy::default());
    let mut pool = WorkerPool::new(2, ev.clone()).unwrap();
    let mut cache = ResultCache::new();
    // A search that proposes some cells several times, and one that fails (13).
    let proposals = [1usize, 2, 1, 3, 2, 13, 1, 13, 3];
    let key = |c: &Cell| cache_key("nasbench201", &c.to_string(), "digits", "cfg", 0);
    let mut results = Vec::new();
    for (i, &code) in proposals.iter().enumerate() {
        let cell = Cell::from_code(code).unwrap();
        if let Some(o) = cache.get(&key(&cell)) {
            results.push(o.val_acc);
            continue;
        }
        pool.submit(i as u64, cell, 0);
        let f = pool.recv().unwrap();
        cache.insert(key(&f.cell), &f.result);
        results.push(f.result.map(|o| o.val_acc).unwrap_or(f64::NAN));
    }
    // 1, 2, 3 once each; 13 fails, is not cached, and is retried.
    assert_eq!(ev.calls.load(Ordering::SeqCst), 5);
    assert_eq!(cache.len(), 3);
    assert_eq!(results[2], 1.0);
    assert_eq!(results[8], 3.0);
}
