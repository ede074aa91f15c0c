//! The EmProx / NAO encoder-decoder: token embedding → bidirectional LSTM → projection with a
//! residual → per-token L2 norm → mean pool → L2 norm (the architecture embedding); an LSTM
//! decoder started from the embedding, with attention over the encoder outputs, reconstructs the
//! sequence; an optional MLP head regresses accuracy from the embedding (NAO).

use crate::error::EstimatorError;
use candle_core::{DType, Device, Tensor, D};
use emprox_benchmarks::seed::Rng;
use emprox_kernels::lstm::{fast_tanh, lstm};
use emprox_kernels::ops::{l2norm, linear, softmax};
use emprox_kernels::{Init, ParamSpec, Params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The start-of-sequence token fed to the decoder (token 0 is reserved by the encodings).
pub const SOS: u32 = 0;
/// Sequences are embedded in batches of this size (large batches allocate more than they save).
const EMBED_BATCH: usize = 100;

/// Shape of the network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Vocabulary size of the token sequences.
    pub vocab: usize,
    /// Embedding size E (token embeddings, architecture embedding, decoder state).
    pub embedding_size: usize,
    /// Hidden size of each encoder direction.
    pub hidden_size: usize,
    /// Hidden layers of the regression head (0: no head).
    pub head_layers: usize,
    /// Width of the head's hidden layers.
    pub head_width: usize,
}

/// The network's parameters, by name (initialisation visits them in name order).
pub struct Seq2Seq {
    /// Its shape.
    pub shape: Shape,
    params: Params,
}

/// One forward pass's outputs.
pub struct Forward {
    /// Per-token encoder outputs `[B, L, E]`.
    pub enc: Tensor,
    /// Architecture embeddings `[B, E]`.
    pub emb: Tensor,
}

impl Seq2Seq {
    /// The parameters of a network of `shape`: names, shapes and initialisation (PyTorch's
    /// default schemes: uniform ±1/√fan-in for linear and LSTM weights, N(0, 1) for token
    /// embeddings). Allocates nothing but the list.
    pub fn specs(shape: Shape) -> Vec<ParamSpec> {
        let (v, e, h) = (shape.vocab, shape.embedding_size, shape.hidden_size);
        let mut specs: Vec<(String, Vec<usize>, f32)> = vec![
            ("enc_emb".into(), vec![v, e], 0.0),
            ("enc_proj_w".into(), vec![e, 2 * h], (2 * h) as f32),
            ("enc_proj_b".into(), vec![e], (2 * h) as f32),
            ("dec_emb".into(), vec![v, e], 0.0),
            ("dec_wih".into(), vec![4 * e, e], e as f32),
            ("dec_whh".into(), vec![4 * e, e], e as f32),
            ("dec_b".into(), vec![4 * e], e as f32),
            ("attn_w".into(), vec![e, 2 * e], (2 * e) as f32),
            ("attn_b".into(), vec![e], (2 * e) as f32),
            ("out_w".into(), vec![v, e], e as f32),
            ("out_b".into(), vec![v], e as f32),
        ];
        for dir in ["f", "b"] {
            specs.push((format!("enc_{dir}_wih"), vec![4 * h, e], h as f32));
            specs.push((format!("enc_{dir}_whh"), vec![4 * h, h], h as f32));
            specs.push((format!("enc_{dir}_b"), vec![4 * h], h as f32));
        }
        let mut fan_in = e;
        for i in 0..shape.head_layers {
            specs.push((
                format!("head_{i}_w"),
                vec![shape.head_width, fan_in],
                fan_in as f32,
            ));
            specs.push((format!("head_{i}_b"), vec![shape.head_width], fan_in as f32));
            fan_in = shape.head_width;
        }
        if shape.head_layers > 0 {
            specs.push(("head_out_w".into(), vec![1, fan_in], fan_in as f32));
            specs.push(("head_out_b".into(), vec![1], fan_in as f32));
        }
        specs
            .into_iter()
            .map(|(name, dims, fan)| {
                let init = if fan == 0.0 {
                    Init::Normal
                } else {
                    Init::Uniform(1.0 / fan.sqrt())
                };
                ParamSpec::new(name, &dims, init)
            })
            .collect()
    }

    /// A network initialised from `rng`. candle's CPU RNG cannot be seeded, so every value
    /// comes from `rng`, visiting parameters in name order.
    pub fn new(shape: Shape, rng: &mut Rng) -> Result<Self, EstimatorError> {
        let params = Params::init_sorted(Self::specs(shape), rng)?;
        Ok(Self { shape, params })
    }

    /// Rebuilds a network from saved tensors: every expected parameter must be present with its
    /// shape (checked before anything is allocated); nothing is drawn at random.
    pub fn from_tensors(
        shape: Shape,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self, EstimatorError> {
        let params = Params::from_tensors(&Self::specs(shape), tensors)?;
        Ok(Self { shape, params })
    }

    /// The parameters (iterated in name order).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Copies the weights (for saving or caching).
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>, EstimatorError> {
        Ok(self.params.tensors()?)
    }

    /// A deep copy with the same weights.
    pub fn duplicate(&self) -> Result<Self, EstimatorError> {
        Self::from_tensors(self.shape, &self.tensors()?)
    }

    fn p(&self, name: &str) -> candle_core::Result<&Tensor> {
        Ok(self.params.tensor(name)?)
    }

    /// Encodes a batch of token sequences `[B, L]` (u32).
    pub fn encode(&self, tokens: &Tensor, train: bool) -> candle_core::Result<Forward> {
        let (b, l) = tokens.dims2()?;
        let (e, h) = (self.shape.embedding_size, self.shape.hidden_size);
        let flat = tokens.flatten_all()?;
        let table = self.p("enc_emb")?;
        let x = table.index_select(&flat, 0)?.reshape((b, l, e))?;
        let zeros = Tensor::zeros((b, 2 * h), DType::F32, tokens.device())?;
        let mut dirs = Vec::with_capacity(2);
        for (dir, reverse) in [("f", false), ("b", true)] {
            // Input pre-activations as a [vocab, 4H] table: one gather instead of a matmul per step.
            let gates = linear(
                table,
                self.p(&format!("enc_{dir}_wih"))?,
                self.p(&format!("enc_{dir}_b"))?,
            )?;
            dirs.push(lstm(
                &gates,
                tokens,
                self.p(&format!("enc_{dir}_whh"))?,
                &zeros,
                reverse,
                train,
            )?);
        }
        let hcat = Tensor::cat(&dirs, 2)?.reshape((b * l, 2 * h))?;
        let proj =
            linear(&hcat, self.p("enc_proj_w")?, self.p("enc_proj_b")?)?.reshape((b, l, e))?;
        let enc = l2norm(&(proj + x)?)?;
        let emb = l2norm(&enc.mean(1)?)?;
        Ok(Forward { enc, emb })
    }

    /// Decoder logits `[B·L, V]` for teacher-forced inputs `dec_in` `[B, L]`.
    pub fn decode(
        &self,
        fwd: &Forward,
        dec_in: &Tensor,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        let (b, l) = dec_in.dims2()?;
        let e = self.shape.embedding_size;
        let gates = linear(self.p("dec_emb")?, self.p("dec_wih")?, self.p("dec_b")?)?;
        let s0 = Tensor::cat(&[&fwd.emb, &fwd.emb], 1)?;
        let dd = lstm(&gates, dec_in, self.p("dec_whh")?, &s0, false, train)?;
        let scores = dd.matmul(&fwd.enc.transpose(1, 2)?.contiguous()?)?;
        let attn = softmax(&scores)?;
        let ctx = attn.matmul(&fwd.enc)?;
        let comb = Tensor::cat(&[&ctx, &dd], 2)?.reshape((b * l, 2 * e))?;
        let comb = fast_tanh(&linear(&comb, self.p("attn_w")?, self.p("attn_b")?)?)?;
        linear(&comb, self.p("out_w")?, self.p("out_b")?)
    }

    /// The regression head's output in (0, 1), `[B]`, if the network has a head.
    pub fn head(&self, emb: &Tensor) -> candle_core::Result<Option<Tensor>> {
        if self.shape.head_layers == 0 {
            return Ok(None);
        }
        let mut x = emb.clone();
        for i in 0..self.shape.head_layers {
            x = linear(
                &x,
                self.p(&format!("head_{i}_w"))?,
                self.p(&format!("head_{i}_b"))?,
            )?
            .relu()?;
        }
        let out = linear(&x, self.p("head_out_w")?, self.p("head_out_b")?)?;
        Ok(Some(candle_nn::ops::sigmoid(&out)?.squeeze(1)?))
    }

    /// Embeddings of many sequences (evaluation mode, batches of 100).
    pub fn embed(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EstimatorError> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(EMBED_BATCH) {
            let t = tokens(chunk)?;
            let f = self.encode(&t, false)?;
            out.extend(f.emb.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// Head predictions in (0, 1) for many sequences (evaluation mode).
    pub fn predict_head(&self, seqs: &[Vec<u32>]) -> Result<Vec<f32>, EstimatorError> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(EMBED_BATCH) {
            let f = self.encode(&tokens(chunk)?, false)?;
            let h = self
                .head(&f.emb)?
                .ok_or_else(|| EstimatorError::Model("network has no regression head".into()))?;
            out.extend(h.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Greedy decoding from the embedding (no teacher forcing): the share of tokens, and of
    /// whole sequences, reconstructed exactly.
    pub fn reconstruction_accuracy(&self, seqs: &[Vec<u32>]) -> Result<(f64, f64), EstimatorError> {
        let (mut ok_tokens, mut ok_seqs, mut total) = (0usize, 0usize, 0usize);
        for chunk in seqs.chunks(EMBED_BATCH) {
            let t = tokens(chunk)?;
            let f = self.encode(&t, false)?;
            let (b, l) = t.dims2()?;
            let mut decoded: Vec<Vec<u32>> = vec![vec![SOS]; b];
            // The decoder is causal, so decoding prefix by prefix is exact greedy decoding.
            for step in 0..l {
                let inp = tokens(&decoded)?;
                let logits = self.decode(&f, &inp, false)?;
                let v = self.shape.vocab;
                let logits = logits
                    .reshape((b, step + 1, v))?
                    .narrow(1, step, 1)?
                    .squeeze(1)?;
                let best = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
                for (d, tok) in decoded.iter_mut().zip(best) {
                    d.push(tok);
                }
            }
            for (d, s) in decoded.iter().zip(chunk) {
                let ok = d[1..].iter().zip(s).filter(|(a, b)| a == b).count();
                ok_tokens += ok;
                ok_seqs += usize::from(ok == s.len());
                total += s.len();
            }
        }
        Ok((
            ok_tokens as f64 / total.max(1) as f64,
            ok_seqs as f64 / seqs.len().max(1) as f64,
        ))
    }
}

/// A `[B, L]` u32 tensor of equal-length sequences.
pub fn tokens(seqs: &[Vec<u32>]) -> candle_core::Result<Tensor> {
    let l = seqs.first().map_or(0, |s| s.len());
    let flat: Vec<u32> = seqs.iter().flat_map(|s| s.iter().copied()).collect();
    Tensor::from_vec(flat, (seqs.len(), l), &Device::Cpu)
}

/// The decoder's teacher-forced inputs: each sequence shifted right behind [`SOS`].
pub fn shifted(seqs: &[Vec<u32>]) -> Vec<Vec<u32>> {
    seqs.iter()
        .map(|s| {
            let mut d = Vec::with_capacity(s.len());
            d.push(SOS);
            d.extend_from_slice(&s[..s.len().saturating_sub(1)]);
            d
        })
        .collect()
}
