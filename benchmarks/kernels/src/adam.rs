//! Adam with L2 weight decay added to the gradient (PyTorch's `Adam(weight_decay)`, not AdamW),
//! on plain `f32` slices: a few hundred tiny tensor ops per step would cost more than the
//! arithmetic.

/// The optimiser state of a fixed list of parameter slots.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f32,
    weight_decay: f32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: i32,
    bc1: f32,
    bc2: f32,
}

const B1: f32 = 0.9;
const B2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl Adam {
    /// Adam (β = (0.9, 0.999), ε = 1e-8) for slots of the given sizes.
    pub fn new(sizes: impl IntoIterator<Item = usize>, lr: f32, weight_decay: f32) -> Self {
        let m: Vec<Vec<f32>> = sizes.into_iter().map(|n| vec![0.0; n]).collect();
        Self {
            lr,
            weight_decay,
            v: m.clone(),
            m,
            t: 0,
            bc1: 1.0,
            bc2: 1.0,
        }
    }

    /// Starts the next step (call once per step, before its [`Adam::update`]s).
    pub fn next_step(&mut self) {
        self.t += 1;
        self.bc1 = 1.0 - B1.powi(self.t);
        self.bc2 = 1.0 - B2.powi(self.t);
    }

    /// Updates slot `k`'s weights `w` with gradient `g · grad_scale` (1 for none; a gradient
    /// clipping factor otherwise) plus `weight_decay · w`.
    ///
    /// # Panics
    /// If `k` is not a slot or the lengths differ from the slot's size (a caller bug).
    pub fn update(&mut self, k: usize, w: &mut [f32], g: &[f32], grad_scale: f32) {
        let (m, v) = (&mut self.m[k], &mut self.v[k]);
        assert!(w.len() == m.len() && g.len() == m.len(), "adam slot {k}");
        let (lr, wd, bc1, bc2) = (self.lr, self.weight_decay, self.bc1, self.bc2);
        for i in 0..w.len() {
            let gi = g[i] * grad_scale + wd * w[i];
            m[i] = B1 * m[i] + (1.0 - B1) * gi;
            v[i] = B2 * v[i] + (1.0 - B2) * gi * gi;
            let mh = m[i] / bc1;
            let vh = v[i] / bc2;
            w[i] -= lr * mh / (vh.sqrt() + EPS);
        }
    }

    /// Steps taken.
    pub fn steps(&self) -> i32 {
        self.t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_lr_against_the_gradient() {
        let mut a = Adam::new([3], 0.1, 0.0);
        let mut w = [1.0f32, -1.0, 0.5];
        a.next_step();
        a.update(0, &mut w, &[2.0, -0.5, 0.0], 1.0);
        assert!(
            (w[0] - 0.9).abs() < 1e-6 && (w[1] + 0.9).abs() < 1e-6,
            "{w:?}"
        );
        assert_eq!(w[2], 0.5);
        assert_eq!(a.steps(), 1);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut a = Adam::new([2], 0.05, 0.0);
        let mut w = [3.0f32, -2.0];
        for _ in 0..500 {
            let g = [2.0 * w[0], 2.0 * w[1]];
            a.next_step();
            a.update(0, &mut w, &g, 1.0);
        }
        assert!(w.iter().all(|x| x.abs() < 1e-2), "{w:?}");
    }
}
