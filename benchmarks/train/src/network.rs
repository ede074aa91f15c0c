//! The NAS-Bench-201 network: the published macro skeleton around a searched cell.
//!
//! Stem (3×3 conv + BN) → N cells with C channels → residual reduction block → N cells with 2C
//! → residual reduction block → N cells with 4C → BN + ReLU → global average pooling → linear
//! classifier. A cell has `nodes` nodes (NAS-Bench-201: 4); node j is the sum of op(node i)
//! over its incoming edges i < j ([`cell::edges`] order); the cell's output is the last node.

use crate::ops::{BatchNorm, Conv2d, EdgeOp, Linear, Params, ReluConvBn};
use candle_core::{DType, Device, Result, Tensor};
use emprox_benchmarks::declared::cell;
use emprox_benchmarks::nb201::{Cell, Op};

/// A cell the network builds: `nodes` nodes (at least 2), one op on every edge j→i (j < i), in
/// [`cell::edges`] order (1←0, 2←0, 2←1, 3←0, …). A NAS-Bench-201 [`Cell`] is one of 4 nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellGraph {
    /// The number of nodes: input 0, output `nodes - 1`.
    pub nodes: usize,
    /// The op of each edge, in [`cell::edges`] order.
    pub ops: Vec<Op>,
}

impl From<&Cell> for CellGraph {
    fn from(c: &Cell) -> Self {
        CellGraph {
            nodes: 4,
            ops: c.ops.to_vec(),
        }
    }
}

impl std::fmt::Display for CellGraph {
    /// NAS-Bench-201's arch string, for any number of nodes: node i's incoming edges as
    /// `|op~j|`, the nodes joined by `+`. On 4 nodes it is the [`Cell`]'s own string, so that
    /// training seeds (derived from it) agree for the same cell.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (e, (to, from)) in cell::edges(self.nodes).into_iter().enumerate() {
            match (to, from) {
                (1, 0) => f.write_str("|")?,
                (_, 0) => f.write_str("+|")?,
                _ => {}
            }
            write!(f, "{}~{from}|", self.ops[e].name())?;
        }
        Ok(())
    }
}

/// One cell with its parameters.
pub struct CellModule {
    nodes: usize,
    edges: Vec<EdgeOp>,
}

impl CellModule {
    /// The cell `cell` on `channels` channels.
    pub fn new(p: &mut Params, name: &str, cell: &CellGraph, channels: usize) -> Result<Self> {
        let edges = cell
            .ops
            .iter()
            .zip(cell::edges(cell.nodes))
            .map(|(&op, (to, from))| {
                EdgeOp::new(p, &format!("{name}.edge{to}{from}"), op, channels)
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            nodes: cell.nodes,
            edges,
        })
    }

    /// Applies the cell; the output has the input's shape.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let shape = x.dims().to_vec();
        let mut nodes: Vec<Option<Tensor>> = vec![Some(x.clone())];
        let mut edges = self.edges.iter();
        for _to in 1..self.nodes {
            let mut acc: Option<Tensor> = None;
            // Node `to`'s incoming edges, from 0, 1, …, to - 1: the nodes computed so far.
            for (input, edge) in nodes.iter().zip(edges.by_ref()) {
                if let Some(y) = edge.forward(input.as_ref(), &shape, train)? {
                    acc = Some(match acc {
                        None => y,
                        Some(a) => (a + y)?,
                    });
                }
            }
            nodes.push(acc);
        }
        match nodes.pop().flatten() {
            Some(out) => Ok(out),
            None => Tensor::zeros(shape, DType::F32, &Device::Cpu),
        }
    }
}

/// NAS-Bench-201's residual reduction block: ReLU-Conv3×3(stride 2)-BN → ReLU-Conv3×3-BN, plus
/// a shortcut of 2×2 average pooling and a 1×1 convolution.
pub struct ReductionBlock {
    conv_a: ReluConvBn,
    conv_b: ReluConvBn,
    shortcut: Conv2d,
}

impl ReductionBlock {
    /// Halves the resolution and goes from `c_in` to `c_out` channels.
    pub fn new(p: &mut Params, name: &str, c_in: usize, c_out: usize) -> Result<Self> {
        Ok(Self {
            conv_a: ReluConvBn::new(p, &format!("{name}.conv_a"), c_in, c_out, 3, 2)?,
            conv_b: ReluConvBn::new(p, &format!("{name}.conv_b"), c_out, c_out, 3, 1)?,
            shortcut: Conv2d::new(p, &format!("{name}.downsample"), c_in, c_out, 1, 1, 0)?,
        })
    }

    /// Applies the block.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let main = self
            .conv_b
            .forward(&self.conv_a.forward(x, train)?, train)?;
        let short = self.shortcut.forward(&x.avg_pool2d(2)?)?;
        main + short
    }
}

enum Block {
    Cell(CellModule),
    Reduction(ReductionBlock),
}

/// The whole network for one architecture.
pub struct Network {
    stem: Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<Block>,
    last_bn: BatchNorm,
    classifier: Linear,
    params: Params,
}

impl Network {
    /// Builds the network for `cell` with `channels` (C) and `cells_per_stage` (N), for images
    /// with `in_channels` channels and `classes` classes; weights drawn from `params`' RNG.
    pub fn new(
        mut params: Params,
        cell: &CellGraph,
        channels: usize,
        cells_per_stage: usize,
        in_channels: usize,
        classes: usize,
    ) -> Result<Self> {
        let p = &mut params;
        let c = channels;
        let stem = Conv2d::new(p, "stem.conv", in_channels, c, 3, 1, 1)?;
        let stem_bn = BatchNorm::new(p, "stem.bn", c)?;
        let mut blocks = Vec::new();
        let mut c_prev = c;
        for stage in 0..3 {
            let c_stage = c << stage;
            if stage > 0 {
                blocks.push(Block::Reduction(ReductionBlock::new(
                    p,
                    &format!("reduce{stage}"),
                    c_prev,
                    c_stage,
                )?));
            }
            for i in 0..cells_per_stage {
                blocks.push(Block::Cell(CellModule::new(
                    p,
                    &format!("stage{stage}.cell{i}"),
                    cell,
                    c_stage,
                )?));
            }
            c_prev = c_stage;
        }
        let last_bn = BatchNorm::new(p, "lastact.bn", c_prev)?;
        let classifier = Linear::new(p, "classifier", c_prev, classes)?;
        Ok(Self {
            stem,
            stem_bn,
            blocks,
            last_bn,
            classifier,
            params,
        })
    }

    /// The logits (N, classes) of images (N, in_channels, H, W).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = self.stem_bn.forward(&self.stem.forward(x)?, train)?;
        for b in &self.blocks {
            h = match b {
                Block::Cell(c) => c.forward(&h, train)?,
                Block::Reduction(r) => r.forward(&h, train)?,
            };
        }
        let h = self.last_bn.forward(&h, train)?.relu()?.mean((2, 3))?;
        self.classifier.forward(&h)
    }

    /// The trainable parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The whole state under PyTorch's names: every parameter, and each batch norm's
    /// `running_mean`, `running_var` and `num_batches_tracked` (`steps`, the training steps
    /// taken), as `model.load_state_dict` of the exported `model.py` expects.
    pub fn state(&self, steps: usize) -> Result<Vec<(String, Tensor)>> {
        let mut out: Vec<(String, Tensor)> = self
            .params
            .params()
            .in_creation_order()
            .map(|(n, v)| (n.to_string(), v.as_tensor().detach()))
            .collect();
        for (name, v) in self.params.buffer_names().iter().zip(self.params.buffers()) {
            out.push((name.clone(), v.as_tensor().detach()));
            if let Some(bn) = name.strip_suffix(".running_var") {
                let n = Tensor::new(steps as i64, &Device::Cpu)?;
                out.push((format!("{bn}.num_batches_tracked"), n));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::Op;
    use emprox_benchmarks::seed;
    use rand::Rng as _;

    fn input(shape: &[usize], s: u64) -> Tensor {
        let mut rng = seed::stream(s, "input");
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn a_cell_of_none_edges_gives_a_constant_output() {
        let none = CellGraph::from(&Cell { ops: [Op::None; 6] });
        let mut p = Params::new(seed::stream(0, "w"));
        let cell = CellModule::new(&mut p, "c", &none, 4).unwrap();
        let (a, b) = (input(&[2, 4, 6, 6], 1), input(&[2, 4, 6, 6], 2));
        for train in [true, false] {
            let (ya, yb) = (
                cell.forward(&a, train).unwrap(),
                cell.forward(&b, train).unwrap(),
            );
            assert_eq!(ya.dims(), a.dims());
            assert_eq!(values(&ya), values(&yb));
            assert!(values(&ya).iter().all(|&v| v == 0.0));
        }
        // The whole network's logits then do not depend on the image either.
        let net = Network::new(Params::new(seed::stream(0, "w")), &none, 4, 1, 1, 10).unwrap();
        let (a, b) = (input(&[3, 1, 8, 8], 3), input(&[3, 1, 8, 8], 4));
        let (la, lb) = (
            net.forward(&a, true).unwrap(),
            net.forward(&b, true).unwrap(),
        );
        assert_eq!(la.dims(), &[3, 10]);
        assert_eq!(values(&la), values(&lb));
        // A cell with a convolution does depend on it.
        let conv = CellGraph::from(&Cell {
            ops: [Op::NorConv3x3; 6],
        });
        let net = Network::new(Params::new(seed::stream(0, "w")), &conv, 4, 1, 1, 10).unwrap();
        let (la, lb) = (
            net.forward(&a, true).unwrap(),
            net.forward(&b, true).unwrap(),
        );
        assert_ne!(values(&la), values(&lb));
    }

    #[test]
    fn network_shapes_and_parameter_count() {
        let cell: Cell = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
            .parse()
            .unwrap();
        assert_eq!(CellGraph::from(&cell).to_string(), cell.to_string());
        let cell = CellGraph::from(&cell);
        for (hw, n) in [(8, 1), (28, 2)] {
            let net = Network::new(Params::new(seed::stream(0, "w")), &cell, 8, n, 1, 10).unwrap();
            let y = net.forward(&input(&[2, 1, hw, hw], 5), false).unwrap();
            assert_eq!(y.dims(), &[2, 10]);
        }
        // C=8, N=1, hand count: stem 72+16; per cell on c channels: two 3x3 (9c²+2c each) and
        // one 1x1 (c²+2c); reductions c→2c: 9c·2c + 2·2c + 9·(2c)² + 2·2c + c·2c; head 2·32 + 32·10+10.
        let cell_params = |c: usize| 2 * (9 * c * c + 2 * c) + c * c + 2 * c;
        let red = |c: usize| 18 * c * c + 4 * c + 36 * c * c + 4 * c + 2 * c * c;
        let expect = 72
            + 16
            + cell_params(8)
            + red(8)
            + cell_params(16)
            + red(16)
            + cell_params(32)
            + 64
            + 330;
        let net = Network::new(Params::new(seed::stream(0, "w")), &cell, 8, 1, 1, 10).unwrap();
        assert_eq!(net.params().count(), expect);
    }
}
