//! The NAS-Bench-201 cell: 4 nodes, 6 edges, each edge one of 5 ops.

use crate::error::ArchParseError;
use std::fmt;

/// Number of edges in a cell.
pub const NUM_EDGES: usize = 6;
/// Number of candidate ops per edge.
pub const NUM_OPS: usize = 5;
/// Number of cells in the space (5^6).
pub const NUM_CELLS: usize = 15_625;
/// The edges in arch-string order, as (to, from): 1←0, 2←0, 2←1, 3←0, 3←1, 3←2.
pub const EDGES: [(usize, usize); NUM_EDGES] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// An operation on an edge. The discriminant is the op code of the data's `ops` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Zero: the edge is absent.
    None = 0,
    /// Identity.
    SkipConnect = 1,
    /// ReLU-Conv1x1-BN.
    NorConv1x1 = 2,
    /// ReLU-Conv3x3-BN.
    NorConv3x3 = 3,
    /// 3x3 average pooling.
    AvgPool3x3 = 4,
}

impl Op {
    /// All ops, by code.
    pub const ALL: [Op; NUM_OPS] = [
        Op::None,
        Op::SkipConnect,
        Op::NorConv1x1,
        Op::NorConv3x3,
        Op::AvgPool3x3,
    ];

    /// The op's name in NB201 arch strings.
    pub fn name(self) -> &'static str {
        match self {
            Op::None => "none",
            Op::SkipConnect => "skip_connect",
            Op::NorConv1x1 => "nor_conv_1x1",
            Op::NorConv3x3 => "nor_conv_3x3",
            Op::AvgPool3x3 => "avg_pool_3x3",
        }
    }

    /// The op with this code (0..5).
    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.get(code as usize).copied()
    }

    /// Parses an NB201 op name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A NAS-Bench-201 cell: the op on each of the 6 edges, in arch-string order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    /// Ops in edge order (see [`EDGES`]).
    pub ops: [Op; NUM_EDGES],
}

impl Cell {
    /// The cell whose ops are given as codes.
    pub fn from_codes(codes: [u8; NUM_EDGES]) -> Option<Cell> {
        let mut ops = [Op::None; NUM_EDGES];
        for (o, c) in ops.iter_mut().zip(codes) {
            *o = Op::from_code(c)?;
        }
        Some(Cell { ops })
    }

    /// The base-5 number of the op codes (edge 0 most significant): a dense id in `0..15625`.
    /// This is not the NB201 index (see [`crate::nb201::Nb201Data::index_of`]).
    pub fn code(&self) -> usize {
        self.ops
            .iter()
            .fold(0, |acc, op| acc * NUM_OPS + *op as usize)
    }

    /// The inverse of [`Cell::code`].
    pub fn from_code(mut code: usize) -> Option<Cell> {
        if code >= NUM_CELLS {
            return None;
        }
        let mut ops = [Op::None; NUM_EDGES];
        for o in ops.iter_mut().rev() {
            *o = Op::ALL[code % NUM_OPS];
            code /= NUM_OPS;
        }
        Some(Cell { ops })
    }

    /// True if some path from the input to the output has no `none` edge.
    pub fn is_connected(&self) -> bool {
        // reach[n]: node n is reachable from the input through non-zero edges.
        let mut reach = [true, false, false, false];
        for (e, &(to, from)) in EDGES.iter().enumerate() {
            if self.ops[e] != Op::None && reach[from] {
                reach[to] = true;
            }
        }
        reach[3]
    }

    /// Parses an NB201 arch string such as
    /// `|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|`.
    pub fn parse(s: &str) -> Result<Cell, ArchParseError> {
        let t = s.trim();
        let nodes: Vec<&str> = t.split('+').collect();
        if nodes.len() != 3 {
            return Err(ArchParseError::new(
                s,
                format!(
                    "expected 3 node groups separated by '+', found {}; example: \
                     |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
                    nodes.len()
                ),
            ));
        }
        let mut ops = [Op::None; NUM_EDGES];
        let mut e = 0;
        for (n, group) in nodes.iter().enumerate() {
            let node = n + 1;
            let inner = group
                .strip_prefix('|')
                .and_then(|g| g.strip_suffix('|'))
                .ok_or_else(|| {
                    ArchParseError::new(
                        s,
                        format!("node {node}: group {group:?} must start and end with '|'"),
                    )
                })?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != node {
                return Err(ArchParseError::new(
                    s,
                    format!(
                        "node {node} must have {node} incoming edge(s), found {}",
                        edges.len()
                    ),
                ));
            }
            for (from, edge) in edges.iter().enumerate() {
                let (name, src) = edge.split_once('~').ok_or_else(|| {
                    ArchParseError::new(s, format!("edge {edge:?}: expected OP~INPUT"))
                })?;
                let op = Op::from_name(name).ok_or_else(|| {
                    ArchParseError::new(
                        s,
                        format!(
                            "unknown op {name:?}; expected one of none, skip_connect, \
                             nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"
                        ),
                    )
                })?;
                if src != from.to_string() {
                    return Err(ArchParseError::new(
                        s,
                        format!(
                            "edge {edge:?} of node {node}: expected input ~{from}, found ~{src}"
                        ),
                    ));
                }
                ops[e] = op;
                e += 1;
            }
        }
        Ok(Cell { ops })
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = |i: usize| self.ops[i].name();
        write!(
            f,
            "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|",
            o(0),
            o(1),
            o(2),
            o(3),
            o(4),
            o(5)
        )
    }
}

impl std::str::FromStr for Cell {
    type Err = ArchParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cell::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";

    #[test]
    fn parses_the_example() {
        let c = Cell::parse(EXAMPLE).unwrap();
        assert_eq!(c.ops[0], Op::NorConv3x3);
        assert_eq!(c.ops[2], Op::AvgPool3x3);
        assert_eq!(c.ops[5], Op::SkipConnect);
        assert_eq!(c.to_string(), EXAMPLE);
    }

    #[test]
    fn rejects_malformed_strings() {
        for bad in [
            "",
            "|nor_conv_3x3~0|",
            "|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
            "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
            "nor_conv_3x3~0+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        ] {
            assert!(Cell::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn disconnected_cells() {
        assert!(!Cell::from_code(0).unwrap().is_connected());
        let all_conv = Cell {
            ops: [Op::NorConv3x3; 6],
        };
        assert!(all_conv.is_connected());
        // Only the direct edge 3<-0 open.
        let mut ops = [Op::None; 6];
        ops[3] = Op::SkipConnect;
        assert!(Cell { ops }.is_connected());
        let n = (0..NUM_CELLS)
            .filter(|&c| !Cell::from_code(c).unwrap().is_connected())
            .count();
        assert_eq!(n, 341, "the data README counts 341 disconnected cells");
    }

    proptest! {
        #[test]
        fn string_and_code_round_trip(code in 0usize..NUM_CELLS) {
            let c = Cell::from_code(code).unwrap();
            prop_assert_eq!(c.code(), code);
            prop_assert_eq!(Cell::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn garbage_never_panics(s in ".{0,120}") {
            let _ = Cell::parse(&s);
        }
    }
}
