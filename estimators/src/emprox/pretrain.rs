//! An encoder pre-trained on unlabelled architectures sampled from the space, cached in-process
//! per (space, encoding, hyperparameters, sample size, seed): refits during a search then cost
//! only embedding + kNN.

use super::model::Seq2Seq;
use super::{train, EmProxParams};
use crate::error::EstimatorError;
use emprox_benchmarks::{seed, SearchSpace};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

type Slot = Arc<Mutex<Option<Arc<Seq2Seq>>>>;

fn cache() -> &'static Mutex<HashMap<String, Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The cache key of a pre-trained encoder.
pub fn key<S: SearchSpace>(space: &S, p: &EmProxParams) -> String {
    let mut net = p.net.clone();
    net.train.trade_off = 0.0; // pre-training is reconstruction only
    net.train.steps = None; // and runs `pretrain_epochs`
    format!(
        "{}|{}|n={}|epochs={}|seed={}",
        space.name(),
        serde_json::to_string(&net).expect("params serialise"),
        p.pretrain,
        p.pretrain_epochs,
        p.pretrain_seed
    )
}

/// Number of encoders trained so far in this process (for tests and reports).
pub fn trained_count() -> usize {
    TRAINED.load(std::sync::atomic::Ordering::Relaxed)
}
static TRAINED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The pre-trained encoder for `p`, training it on first use (concurrent callers of one key wait
/// for a single training).
pub fn cached<S: SearchSpace>(space: &S, p: &EmProxParams) -> Result<Arc<Seq2Seq>, EstimatorError> {
    let k = key(space, p);
    let slot = cache()
        .lock()
        .expect("cache lock")
        .entry(k)
        .or_default()
        .clone();
    let mut guard = slot.lock().expect("slot lock");
    if let Some(net) = guard.as_ref() {
        return Ok(net.clone());
    }
    let net = Arc::new(pretrain(space, p)?);
    TRAINED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    *guard = Some(net.clone());
    Ok(net)
}

/// Trains an encoder on `p.pretrain` architectures sampled uniformly from the space (seeded by
/// `p.pretrain_seed`), with the reconstruction loss only.
pub fn pretrain<S: SearchSpace>(space: &S, p: &EmProxParams) -> Result<Seq2Seq, EstimatorError> {
    let mut rng = seed::stream(p.pretrain_seed, "emprox-pretrain");
    let enc = p.net.encoding;
    let seqs: Vec<Vec<u32>> = (0..p.pretrain)
        .map(|_| space.sequence(&space.sample(&mut rng), enc))
        .collect();
    let mut net_p = p.net.clone();
    net_p.train.trade_off = 0.0;
    net_p.train.epochs = p.pretrain_epochs;
    net_p.train.steps = None;
    let net = Seq2Seq::new(net_p.shape(space.vocab_size(enc)), &mut rng)?;
    train::train(&net, &seqs, None, &net_p.train, &mut rng)?;
    Ok(net)
}
