//! Checked parameter structs: each hyperparameter of a component is declared once, with its
//! name, default, range and description, by [`params!`](crate::params!). The macro writes a
//! plain serde struct (`deny_unknown_fields`, every key optional, defaults filled), its
//! `Default`, its range check and its documentation rows; `emprox list` and the resolved
//! configuration are generated from them. A component's own `check()` adds the rules that join
//! several keys and returns the validated type (linfa's checked-parameters idea).

use serde::Serialize;

/// The values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// Any value of the type.
    Any,
    /// An integer in `[lo, hi]`.
    Int(u64, u64),
    /// A finite number in `[lo, hi]` (`(lo, hi]` when `open_lo`).
    Real { lo: f64, hi: f64, open_lo: bool },
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Range::Any => write!(f, "any"),
            Range::Int(lo, hi) => write!(f, "[{lo}, {hi}]"),
            Range::Real { lo, hi, open_lo } => {
                write!(f, "{}{lo}, {hi}]", if open_lo { "(" } else { "[" })
            }
        }
    }
}

/// A value a [`Range`] can check.
pub trait InRange {
    /// True if the value lies in `r`.
    fn in_range(&self, r: &Range) -> bool;
    /// The value as written in an error message.
    fn shown(&self) -> String;
}

macro_rules! int_in_range {
    ($($t:ty),*) => {$(
        impl InRange for $t {
            fn in_range(&self, r: &Range) -> bool {
                match *r {
                    Range::Int(lo, hi) => (lo..=hi).contains(&(*self as u64)),
                    Range::Real { .. } | Range::Any => true,
                }
            }
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_in_range!(usize, u64);

impl InRange for f64 {
    fn in_range(&self, r: &Range) -> bool {
        match *r {
            Range::Real { lo, hi, open_lo } => {
                self.is_finite() && *self <= hi && *self >= lo && !(open_lo && *self == lo)
            }
            Range::Int(lo, hi) => self.is_finite() && *self >= lo as f64 && *self <= hi as f64,
            Range::Any => true,
        }
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl<T: InRange> InRange for Option<T> {
    fn in_range(&self, r: &Range) -> bool {
        match self {
            Some(v) => v.in_range(r),
            None => true,
        }
    }
    fn shown(&self) -> String {
        self.as_ref().map_or("none".into(), |v| v.shown())
    }
}

impl InRange for bool {
    fn in_range(&self, _: &Range) -> bool {
        true
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl InRange for crate::SeqEncoding {
    fn in_range(&self, _: &Range) -> bool {
        true
    }
    fn shown(&self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// One parameter, for `emprox list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDoc {
    /// The key.
    pub name: &'static str,
    /// The default, as TOML (`none` for an optional key without one).
    pub default: String,
    /// The accepted values.
    pub range: Range,
    /// What it does.
    pub doc: &'static str,
}

/// A value as TOML, for documentation rows (`none` when it has no TOML form).
pub fn toml_value<T: Serialize>(v: &T) -> String {
    toml::Value::try_from(v).map_or_else(|_| "none".to_string(), |v| v.to_string())
}

/// Checks that `value` of `key` lies in `range`: the one-line error names the key.
pub fn check_range<T: InRange>(key: &str, value: &T, range: &Range) -> Result<(), String> {
    if value.in_range(range) {
        Ok(())
    } else {
        Err(format!(
            "`{key}` = {} is out of range {range}",
            value.shown()
        ))
    }
}

/// Declares a parameter struct: each field once, as
/// `/// description` `name: Type = default, range;` (a [`Range`]).
///
/// Writes the struct (serde, `deny_unknown_fields`, missing keys take their defaults), its
/// `Default`, `check_ranges()` (one-line error naming the key) and `docs()` (the rows of
/// `emprox list`).
#[macro_export]
macro_rules! params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident;
        $(
            #[doc = $doc:literal]
            $field:ident : $ty:ty = $default:expr, $range:expr;
        )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        $vis struct $name {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl $name {
            /// Checks every value against its declared range.
            #[allow(unused_variables)]
            pub fn check_ranges(&self) -> Result<(), String> {
                $( $crate::params::check_range(stringify!($field), &self.$field, &$range)?; )*
                Ok(())
            }

            /// Each key with its default, range and description.
            pub fn docs() -> Vec<$crate::params::ParamDoc> {
                #[allow(unused_variables)]
                let d = Self::default();
                vec![$(
                    $crate::params::ParamDoc {
                        name: stringify!($field),
                        default: $crate::params::toml_value(&d.$field),
                        range: $range,
                        doc: $doc.trim(),
                    },
                )*]
            }
        }
    };
}

/// The rows of `emprox list` for one registry: each type with its parameters.
pub type Catalogue = Vec<(&'static str, Vec<ParamDoc>)>;

#[cfg(test)]
mod tests {
    use super::*;

    crate::params! {
        /// A test struct.
        pub struct P;
        /// a count
        n: usize = 3, Range::Int(1, 10);
        /// a rate
        r: f64 = 0.5, Range::Real { lo: 0.0, hi: 1.0, open_lo: true };
        /// optional
        s: Option<usize> = None, Range::Int(1, 5);
    }

    #[test]
    fn defaults_ranges_and_docs_come_from_one_declaration() {
        let p: P = toml::from_str("n = 4").unwrap();
        assert_eq!((p.n, p.r, p.s), (4, 0.5, None));
        assert!(p.check_ranges().is_ok());
        let p: P = toml::from_str("r = 0.0").unwrap();
        assert_eq!(
            p.check_ranges().unwrap_err(),
            "`r` = 0 is out of range (0, 1]"
        );
        let p: P = toml::from_str("s = 6").unwrap();
        assert!(p.check_ranges().unwrap_err().contains("`s` = 6"));
        let e = toml::from_str::<P>("m = 1").unwrap_err().to_string();
        assert!(e.contains("unknown field `m`"), "{e}");
        let d = P::docs();
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].name, d[0].default.as_str()), ("n", "3"));
        assert_eq!((d[1].doc, d[1].default.as_str()), ("a rate", "0.5"));
        assert_eq!(d[2].default, "none");
        // Every default is written out.
        assert_eq!(toml::to_string(&P::default()).unwrap(), "n = 3\nr = 0.5\n");
    }
}
