//! Small fused candle ops with hand-written backward passes. candle's backward allocates a
//! zero gradient and adds into it for every node, so a composed op over `[B, L, E]` tensors
//! (an L2 norm is five nodes, a softmax five) costs far more than its arithmetic.

use crate::storage::f32_slice;
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

fn last_dim(shape: &Shape) -> Result<usize> {
    match shape.dims().last() {
        Some(&d) if d > 0 => Ok(d),
        _ => bail!("fused op: empty last dimension"),
    }
}

/// `x / sqrt(Σ x² + 1e-12)` over the last dimension.
struct L2Norm;

impl CustomOp1 for L2Norm {
    fn name(&self) -> &'static str {
        "l2norm-last"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = last_dim(l.shape())?;
        let mut v = f32_slice(s, l, self.name())?.to_vec();
        for row in v.chunks_mut(d) {
            let inv = 1.0 / (row.iter().map(|x| x * x).sum::<f32>() + 1e-12).sqrt();
            row.iter_mut().for_each(|x| *x *= inv);
        }
        Ok((CpuStorage::F32(v), l.shape().clone()))
    }
    fn bwd(&self, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let d = last_dim(x.shape())?;
        let (xv, yv, gv) = (
            x.flatten_all()?.to_vec1::<f32>()?,
            y.flatten_all()?.to_vec1::<f32>()?,
            g.flatten_all()?.to_vec1::<f32>()?,
        );
        let mut dx = vec![0f32; xv.len()];
        for (((xr, yr), gr), dr) in xv
            .chunks(d)
            .zip(yv.chunks(d))
            .zip(gv.chunks(d))
            .zip(dx.chunks_mut(d))
        {
            let inv = 1.0 / (xr.iter().map(|x| x * x).sum::<f32>() + 1e-12).sqrt();
            let gy: f32 = gr.iter().zip(yr).map(|(a, b)| a * b).sum();
            for ((o, gi), yi) in dr.iter_mut().zip(gr).zip(yr) {
                *o = (gi - yi * gy) * inv;
            }
        }
        Ok(Some(Tensor::from_vec(dx, x.dims(), x.device())?))
    }
}

/// Softmax over the last dimension.
struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = last_dim(l.shape())?;
        let mut v = f32_slice(s, l, self.name())?.to_vec();
        for row in v.chunks_mut(d) {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            // Two passes: the exp pass vectorises; the sum keeps its sequential order.
            for x in row.iter_mut() {
                *x = crate::fastmath::exp(*x - m);
            }
            let sum: f32 = row.iter().sum();
            let inv = 1.0 / sum;
            row.iter_mut().for_each(|x| *x *= inv);
        }
        Ok((CpuStorage::F32(v), l.shape().clone()))
    }
    fn bwd(&self, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let d = last_dim(x.shape())?;
        let (yv, gv) = (
            y.flatten_all()?.to_vec1::<f32>()?,
            g.flatten_all()?.to_vec1::<f32>()?,
        );
        let mut dx = vec![0f32; yv.len()];
        for ((yr, gr), dr) in yv.chunks(d).zip(gv.chunks(d)).zip(dx.chunks_mut(d)) {
            let gy: f32 = gr.iter().zip(yr).map(|(a, b)| a * b).sum();
            for ((o, gi), yi) in dr.iter_mut().zip(gr).zip(yr) {
                *o = yi * (gi - gy);
            }
        }
        Ok(Some(Tensor::from_vec(dx, x.dims(), x.device())?))
    }
}

/// `x + b` with `x: [N, D]`, `b: [D]`.
struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "add-bias"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = last_dim(l1.shape())?;
        let b = f32_slice(s2, l2, self.name())?;
        if b.len() != d {
            bail!("add-bias: bias of {} for rows of {d}", b.len());
        }
        let mut v = f32_slice(s1, l1, self.name())?.to_vec();
        for row in v.chunks_mut(d) {
            row.iter_mut().zip(b).for_each(|(x, bi)| *x += bi);
        }
        Ok((CpuStorage::F32(v), l1.shape().clone()))
    }
    fn bwd(
        &self,
        _x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let d = b.elem_count();
        let gv = g.flatten_all()?.to_vec1::<f32>()?;
        let mut db = vec![0f32; d];
        for row in gv.chunks(d) {
            db.iter_mut().zip(row).for_each(|(o, gi)| *o += gi);
        }
        Ok((
            Some(g.clone()),
            Some(Tensor::from_vec(db, b.dims(), b.device())?),
        ))
    }
}

/// L2 normalisation over the last dimension, as one op.
pub fn l2norm(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(L2Norm)
}

/// Softmax over the last dimension, as one op.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Softmax)
}

/// `x·wᵀ + b` for `x: [N, in]`, `w: [out, in]`, `b: [out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.matmul(&w.t()?)?.contiguous()?.apply_op2(b, AddBias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grads_of_weighted_sum, max_diff};
    use candle_core::{Device, Var, D};

    #[test]
    fn fused_ops_match_composed_candle_ops() {
        let dev = Device::Cpu;
        let xv: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let x = Var::from_tensor(&Tensor::from_vec(xv, (2, 3, 4), &dev).unwrap()).unwrap();
        let probe = Tensor::from_vec(
            (0..24)
                .map(|i| (i as f32 * 0.37).sin())
                .collect::<Vec<f32>>(),
            (2, 3, 4),
            &dev,
        )
        .unwrap();
        let composed_norm = x
            .broadcast_div(
                &(x.sqr().unwrap().sum_keepdim(D::Minus1).unwrap() + 1e-12)
                    .unwrap()
                    .sqrt()
                    .unwrap(),
            )
            .unwrap();
        let composed_soft = candle_nn::ops::softmax(&x, D::Minus1).unwrap();
        for (ours, theirs) in [
            (l2norm(&x).unwrap(), composed_norm),
            (softmax(&x).unwrap(), composed_soft),
        ] {
            assert!(max_diff(&ours, &theirs) < 1e-6);
            let g1 = grads_of_weighted_sum(&ours, &probe);
            let g2 = grads_of_weighted_sum(&theirs, &probe);
            let d = max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap());
            assert!(d < 1e-5, "gradient differs by {d}");
        }
        let x2 = Var::from_tensor(&x.reshape((6, 4)).unwrap()).unwrap();
        let w = Var::from_tensor(&probe.reshape((6, 4)).unwrap().narrow(0, 0, 3).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::new(&[0.5f32, -1.0, 2.0], &dev).unwrap()).unwrap();
        let ours = linear(&x2, &w, &b).unwrap();
        let theirs = x2
            .matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-6);
        let p = Tensor::from_vec(
            (0..18).map(|i| i as f32).collect::<Vec<f32>>(),
            (6, 3),
            &dev,
        )
        .unwrap();
        let g1 = grads_of_weighted_sum(&ours, &p);
        let g2 = grads_of_weighted_sum(&theirs, &p);
        for v in [&x2, &w, &b] {
            assert!(max_diff(g1.get(v).unwrap(), g2.get(v).unwrap()) < 1e-4);
        }
    }
}
