//! Encodings of NAS-Bench-201 cells for estimators.

use super::cell::{Cell, Op, EDGES, NUM_EDGES, NUM_OPS};

/// Vocabulary of the NAO sequence: 0 start/pad, 1 no edge, 2 edge, 3..=7 ops, 8 output.
pub const NAO_VOCAB: usize = 9;
/// Length of the NAO sequence: 7 columns of an 8-node DAG, each its adjacency bits then its op.
pub const NAO_LEN: usize = 35;
/// Vocabulary of the compact sequence: edge position × op.
pub const COMPACT_VOCAB: usize = NUM_EDGES * NUM_OPS;
/// Length of the path encoding: op sequences of length 1, 2 and 3.
pub const PATH_LEN: usize = NUM_OPS + NUM_OPS * NUM_OPS + NUM_OPS * NUM_OPS * NUM_OPS;

const NO_EDGE: u32 = 1;
const EDGE: u32 = 2;
const OP_BASE: u32 = 3;
const OUTPUT: u32 = 8;

/// The NAO / SemiNAS sequence. The cell becomes an 8-node DAG: node 0 is the input, nodes 1..=6
/// are the edges' ops (in arch-string order), node 7 is the output. An op node of edge (to ← from)
/// reads the input if `from == 0`, else every op node whose edge ends at `from`; the op nodes of
/// edges ending at node 3 feed the output. Each column j = 1..=7 emits the adjacency bits of rows
/// 0..j, then the node's token.
pub fn nao_sequence(cell: &Cell) -> Vec<u32> {
    let mut adj = [[false; 8]; 8];
    for (e, &(to, from)) in EDGES.iter().enumerate() {
        let node = e + 1;
        if from == 0 {
            adj[0][node] = true;
        } else {
            for (p, &(pto, _)) in EDGES.iter().enumerate() {
                if pto == from {
                    adj[p + 1][node] = true;
                }
            }
        }
        if to == 3 {
            adj[node][7] = true;
        }
    }
    let mut seq = Vec::with_capacity(NAO_LEN);
    for j in 1..8 {
        for row in adj.iter().take(j) {
            seq.push(if row[j] { EDGE } else { NO_EDGE });
        }
        seq.push(if j == 7 {
            OUTPUT
        } else {
            OP_BASE + cell.ops[j - 1] as u32
        });
    }
    seq
}

/// One token per edge: `edge * 5 + op`.
pub fn compact_sequence(cell: &Cell) -> Vec<u32> {
    cell.ops
        .iter()
        .enumerate()
        .map(|(e, op)| (e * NUM_OPS + *op as usize) as u32)
        .collect()
}

/// One-hot of each edge's op: 30 values.
pub fn one_hot(cell: &Cell) -> Vec<f32> {
    let mut v = vec![0.0; NUM_EDGES * NUM_OPS];
    for (e, op) in cell.ops.iter().enumerate() {
        v[e * NUM_OPS + *op as usize] = 1.0;
    }
    v
}

/// The input-to-output paths, as edge indices: 3←0; 1←0,3←1; 2←0,3←2; 1←0,2←1,3←2.
const PATHS: [&[usize]; 4] = [&[3], &[0, 4], &[1, 5], &[0, 2, 5]];

/// BANANAS path encoding: one feature per op sequence of length 1-3; a feature is 1 when a path
/// from input to output carries that sequence and no `none` op.
pub fn path_encoding(cell: &Cell) -> Vec<f32> {
    let mut v = vec![0.0; PATH_LEN];
    for path in PATHS {
        if path.iter().any(|&e| cell.ops[e] == Op::None) {
            continue;
        }
        let offset: usize = (0..path.len())
            .map(|l| NUM_OPS.pow(l as u32))
            .sum::<usize>()
            - 1;
        let code = path
            .iter()
            .fold(0, |acc, &e| acc * NUM_OPS + cell.ops[e] as usize);
        v[offset + code] = 1.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nb201::cell::NUM_CELLS;
    use std::collections::HashSet;

    #[test]
    fn nao_sequence_shape_and_vocab() {
        let mut seen = HashSet::new();
        for code in (0..NUM_CELLS).step_by(97) {
            let c = Cell::from_code(code).unwrap();
            let s = nao_sequence(&c);
            assert_eq!(s.len(), NAO_LEN);
            assert!(s.iter().all(|&t| t > 0 && (t as usize) < NAO_VOCAB));
            assert!(seen.insert(s), "sequences must be distinct");
        }
        // The structure (adjacency bits) is the same for every cell: 35 - 7 node tokens.
        let s = nao_sequence(&Cell::from_code(0).unwrap());
        // input→3 edges, 1→{2←1, 3←1}, 2←0 and 2←1 → 3←2, and 3 edges → output.
        assert_eq!(s.iter().filter(|&&t| t == EDGE).count(), 3 + 2 + 2 + 3);
    }

    #[test]
    fn compact_and_one_hot_are_injective() {
        let mut a = HashSet::new();
        let mut b = HashSet::new();
        for code in 0..NUM_CELLS {
            let c = Cell::from_code(code).unwrap();
            assert!(a.insert(compact_sequence(&c)));
            let oh = one_hot(&c);
            assert_eq!(oh.iter().sum::<f32>(), 6.0);
            assert!(b.insert(oh.iter().map(|x| *x as u8).collect::<Vec<_>>()));
        }
    }

    #[test]
    fn path_encoding_counts_open_paths() {
        let all_conv = Cell {
            ops: [Op::NorConv3x3; 6],
        };
        assert_eq!(path_encoding(&all_conv).iter().sum::<f32>(), 3.0); // lengths 1, 2 (twice: same feature), 3
        let empty = Cell { ops: [Op::None; 6] };
        assert_eq!(path_encoding(&empty).iter().sum::<f32>(), 0.0);
        assert_eq!(path_encoding(&all_conv).len(), PATH_LEN);
    }
}
