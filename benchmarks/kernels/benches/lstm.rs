//! The fused LSTM op against candle-nn's `LSTM::seq`, side by side, forward + backward, at the
//! decoder's training shape (batch 100, 35 steps, input and hidden 32, vocabulary 9):
//! `RAYON_NUM_THREADS=1 cargo bench -p emprox-kernels --bench lstm`.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::rnn::{LSTMConfig, RNN};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use emprox_kernels::lstm::lstm;

const B: usize = 100;
const L: usize = 35;
const H: usize = 32;
const V: usize = 9;

fn tensor(n: usize, dims: &[usize], k: f32) -> Tensor {
    let v: Vec<f32> = (0..n).map(|i| ((i as f32 * k).sin()) * 0.3).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

fn bench(c: &mut Criterion) {
    let toks: Vec<u32> = (0..B * L).map(|i| (i * 7 % V) as u32).collect();
    let toks = Tensor::from_vec(toks, (B, L), &Device::Cpu).unwrap();
    let probe = tensor(B * L * H, &[B, L, H], 0.37);
    let emb = Var::from_tensor(&tensor(V * H, &[V, H], 0.11)).unwrap();
    let wih = Var::from_tensor(&tensor(4 * H * H, &[4 * H, H], 0.13)).unwrap();
    let whh = Var::from_tensor(&tensor(4 * H * H, &[4 * H, H], 0.17)).unwrap();
    let bias = Var::from_tensor(&tensor(4 * H, &[4 * H], 0.19)).unwrap();
    let s0 = Tensor::zeros((B, 2 * H), DType::F32, &Device::Cpu).unwrap();
    let mut g = c.benchmark_group("lstm_fwd_bwd_b100_l35_h32");
    g.sample_size(20);
    g.bench_function("fused_op", |b| {
        b.iter(|| {
            let table = emb
                .matmul(&wih.t().unwrap())
                .unwrap()
                .broadcast_add(&bias)
                .unwrap();
            let out = lstm(&table, &toks, &whh, &s0, false, true).unwrap();
            (out * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let layer = candle_nn::rnn::lstm(H, H, LSTMConfig::default(), vb).unwrap();
    g.bench_function("candle_nn_lstm_seq", |b| {
        b.iter(|| {
            let x = emb
                .index_select(&toks.flatten_all().unwrap(), 0)
                .unwrap()
                .reshape((B, L, H))
                .unwrap();
            let states = layer.seq(&x).unwrap();
            let out = layer.states_to_tensor(&states).unwrap();
            (out * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
