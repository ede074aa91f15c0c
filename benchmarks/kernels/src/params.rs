//! A registry of named trainable parameters with seeded initialisation.
//!
//! candle's CPU RNG cannot be seeded, so every initial value comes from the caller's RNG, in a
//! defined order: [`Params::init_sorted`] declares every parameter first and draws them in name
//! order (adding a parameter shifts only those named after it); [`SeededParams`] draws each
//! parameter when it is declared (creation order, for networks built layer by layer). Lookups
//! by name return [`ParamError::Unknown`] rather than panicking.

use candle_core::{Device, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::BTreeMap;

/// How a parameter's initial values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in `[-bound, bound)`.
    Uniform(f32),
    /// Standard normal.
    Normal,
    /// Every value equal (draws nothing).
    Constant(f32),
}

impl Init {
    /// `n` values drawn from `rng`.
    pub fn draw<R: Rng + ?Sized>(self, n: usize, rng: &mut R) -> Vec<f32> {
        match self {
            Init::Uniform(b) => (0..n).map(|_| rng.random_range(-b..b)).collect(),
            Init::Normal => (0..n).map(|_| StandardNormal.sample(rng)).collect(),
            Init::Constant(c) => vec![c; n],
        }
    }
}

/// A parameter to create: its name, shape and initialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Unique name.
    pub name: String,
    /// Shape.
    pub dims: Vec<usize>,
    /// Initialisation.
    pub init: Init,
}

impl ParamSpec {
    /// A spec.
    pub fn new(name: impl Into<String>, dims: &[usize], init: Init) -> Self {
        Self {
            name: name.into(),
            dims: dims.to_vec(),
            init,
        }
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// No parameter has this name.
    #[error("no parameter named `{0}`")]
    Unknown(String),
    /// A parameter of this name exists already.
    #[error("parameter `{0}` declared twice")]
    Duplicate(String),
    /// A tensor given for a parameter has the wrong shape.
    #[error("parameter `{name}` has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The parameter.
        name: String,
        /// Its declared shape.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// candle failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

impl From<ParamError> for candle_core::Error {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::Candle(e) => e,
            other => candle_core::Error::Msg(other.to_string()),
        }
    }
}

/// Named parameters (CPU, `f32`), iterated in name order; creation order is kept as well.
#[derive(Default)]
pub struct Params {
    vars: BTreeMap<String, Var>,
    order: Vec<String>,
}

impl Params {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates every parameter of `specs`, drawing initial values from `rng` in name order
    /// (whatever the order of `specs`).
    pub fn init_sorted<R: Rng + ?Sized>(
        mut specs: Vec<ParamSpec>,
        rng: &mut R,
    ) -> Result<Self, ParamError> {
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut p = Self::new();
        for s in specs {
            p.create(&s.name, &s.dims, s.init, rng)?;
        }
        Ok(p)
    }

    /// Creates one parameter now, drawing its values from `rng`.
    pub fn create<R: Rng + ?Sized>(
        &mut self,
        name: &str,
        dims: &[usize],
        init: Init,
        rng: &mut R,
    ) -> Result<Var, ParamError> {
        if self.vars.contains_key(name) {
            return Err(ParamError::Duplicate(name.into()));
        }
        let n: usize = dims.iter().product();
        let var = Var::from_vec(init.draw(n, rng), dims, &Device::Cpu)?;
        self.insert(name, var.clone())?;
        Ok(var)
    }

    /// Adds an existing variable (e.g. loaded weights) under `name`.
    pub fn insert(&mut self, name: &str, var: Var) -> Result<(), ParamError> {
        if self.vars.contains_key(name) {
            return Err(ParamError::Duplicate(name.into()));
        }
        self.vars.insert(name.to_string(), var);
        self.order.push(name.to_string());
        Ok(())
    }

    /// Builds the parameters of `specs` from saved `tensors` (converted to `f32`), checking
    /// that each is present with its declared shape before anything is copied. Draws nothing.
    pub fn from_tensors(
        specs: &[ParamSpec],
        tensors: &std::collections::HashMap<String, Tensor>,
    ) -> Result<Self, ParamError> {
        for s in specs {
            let t = tensors
                .get(&s.name)
                .ok_or_else(|| ParamError::Unknown(s.name.clone()))?;
            if t.dims() != s.dims.as_slice() {
                return Err(ParamError::Shape {
                    name: s.name.clone(),
                    expected: s.dims.clone(),
                    got: t.dims().to_vec(),
                });
            }
        }
        let mut sorted: Vec<&ParamSpec> = specs.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut p = Self::new();
        for s in sorted {
            let t = tensors[&s.name].to_dtype(candle_core::DType::F32)?;
            p.insert(&s.name, Var::from_tensor(&t)?)?;
        }
        Ok(p)
    }

    /// The parameter `name`.
    pub fn get(&self, name: &str) -> Result<&Var, ParamError> {
        self.vars
            .get(name)
            .ok_or_else(|| ParamError::Unknown(name.into()))
    }

    /// The current value of parameter `name`.
    pub fn tensor(&self, name: &str) -> Result<&Tensor, ParamError> {
        Ok(self.get(name)?.as_tensor())
    }

    /// (name, parameter) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// (name, parameter) in creation order.
    pub fn in_creation_order(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.order.iter().map(|k| (k.as_str(), &self.vars[k]))
    }

    /// Number of parameters (tensors).
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Copies of the current values, by name (for saving or duplicating).
    pub fn tensors(&self) -> Result<std::collections::HashMap<String, Tensor>, ParamError> {
        self.vars
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().copy()?)))
            .collect()
    }

    /// The name of the first parameter (name order) holding a NaN or infinite value.
    pub fn first_non_finite(&self) -> Result<Option<&str>, ParamError> {
        for (name, v) in self.iter() {
            let values = v.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            if values.iter().any(|x| !x.is_finite()) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

/// A registry that owns its RNG and draws each parameter's values when it is declared
/// (creation order), for networks built layer by layer.
pub struct SeededParams<R> {
    params: Params,
    rng: R,
    /// Non-trainable state (batch norms' running estimates), in registration order.
    buffers: Vec<Var>,
    buffer_names: Vec<String>,
}

impl<R: Rng> SeededParams<R> {
    /// An empty registry drawing from `rng`.
    pub fn new(rng: R) -> Self {
        Self {
            params: Params::new(),
            rng,
            buffers: Vec::new(),
            buffer_names: Vec::new(),
        }
    }

    /// Registers `var` under `name` as non-trainable state that a checkpoint must keep and an
    /// export writes (a batch norm's running mean); returns it (a handle to the same storage).
    pub fn buffer(&mut self, name: &str, var: Var) -> Var {
        self.buffers.push(var.clone());
        self.buffer_names.push(name.to_string());
        var
    }

    /// The non-trainable state, in registration order.
    pub fn buffers(&self) -> &[Var] {
        &self.buffers
    }

    /// The names of [`SeededParams::buffers`], in the same order.
    pub fn buffer_names(&self) -> &[String] {
        &self.buffer_names
    }

    /// A new parameter, uniform in `[-bound, bound)` (`bound` rounded to `f32`).
    pub fn uniform(&mut self, name: &str, dims: &[usize], bound: f64) -> Result<Var, ParamError> {
        self.params
            .create(name, dims, Init::Uniform(bound as f32), &mut self.rng)
    }

    /// A new parameter filled with `value`.
    pub fn constant(&mut self, name: &str, dims: &[usize], value: f32) -> Result<Var, ParamError> {
        self.params
            .create(name, dims, Init::Constant(value), &mut self.rng)
    }

    /// The registry.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.params.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("b", &[2, 3], Init::Uniform(0.5)),
            ParamSpec::new("a", &[4], Init::Normal),
            ParamSpec::new("c", &[2], Init::Constant(1.0)),
        ]
    }

    fn values(p: &Params, name: &str) -> Vec<f32> {
        p.tensor(name)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn sorted_initialisation_ignores_declaration_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = Params::init_sorted(specs(), &mut rng).unwrap();
        let mut rev = specs();
        rev.reverse();
        let b = Params::init_sorted(rev, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        for n in ["a", "b", "c"] {
            assert_eq!(values(&a, n), values(&b, n));
        }
        // Name order: `a` draws first.
        let mut r = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(values(&a, "a"), Init::Normal.draw(4, &mut r));
        assert_eq!(values(&a, "b"), Init::Uniform(0.5).draw(6, &mut r));
        assert_eq!(values(&a, "c"), vec![1.0; 2]);
        assert!(values(&a, "b").iter().all(|x| x.abs() <= 0.5));
        assert_eq!(a.count(), 12);
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn unknown_names_and_duplicates_are_errors_not_panics() {
        let mut p = Params::init_sorted(specs(), &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        let e = p.get("enc_embb").unwrap_err();
        assert!(
            matches!(e, ParamError::Unknown(ref n) if n == "enc_embb"),
            "{e}"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(matches!(
            p.create("a", &[1], Init::Normal, &mut rng),
            Err(ParamError::Duplicate(_))
        ));
        let mut dup = specs();
        dup.push(ParamSpec::new("a", &[1], Init::Normal));
        assert!(Params::init_sorted(dup, &mut rng).is_err());
        // Converts into a candle error for code that returns candle results.
        let c: candle_core::Error = e.into();
        assert!(c.to_string().contains("enc_embb"));
    }

    #[test]
    fn from_tensors_checks_presence_and_shape_first() {
        let p = Params::init_sorted(specs(), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let saved = p.tensors().unwrap();
        let q = Params::from_tensors(&specs(), &saved).unwrap();
        assert_eq!(values(&p, "b"), values(&q, "b"));
        let mut missing = saved.clone();
        missing.remove("c");
        assert!(matches!(
            Params::from_tensors(&specs(), &missing),
            Err(ParamError::Unknown(_))
        ));
        let mut huge = specs();
        huge[0].dims = vec![1_000_000_000_000, 3];
        assert!(matches!(
            Params::from_tensors(&huge, &saved),
            Err(ParamError::Shape { .. })
        ));
    }

    #[test]
    fn seeded_params_draw_in_creation_order() {
        let mut s = SeededParams::new(ChaCha8Rng::seed_from_u64(5));
        s.uniform("z", &[3], 0.25).unwrap();
        s.constant("y", &[2], 0.0).unwrap();
        s.uniform("x", &[2], 1.0).unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(values(s.params(), "z"), Init::Uniform(0.25).draw(3, &mut r));
        assert_eq!(values(s.params(), "x"), Init::Uniform(1.0).draw(2, &mut r));
        let order: Vec<&str> = s.params().in_creation_order().map(|(n, _)| n).collect();
        assert_eq!(order, ["z", "y", "x"]);
        assert_eq!(s.count(), 7);
    }
}
