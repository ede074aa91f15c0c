//! Cells of `type = "cell"`: the edges j→i (j < i) of `nodes` nodes, and the isomorphism key.

/// What an operation does to the isomorphism key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpRole {
    /// `none`: the edge carries zero (no edge).
    Zero,
    /// `skip_connect`: the edge carries its input unchanged.
    Identity,
    /// Any other operation: a function of its input.
    Other,
}

/// The op name that means "no edge".
pub const ZERO_OP: &str = "none";
/// The op name that means "identity".
pub const IDENTITY_OP: &str = "skip_connect";

impl OpRole {
    /// The role of an op name.
    pub fn of(name: &str) -> OpRole {
        if name == ZERO_OP {
            OpRole::Zero
        } else if name == IDENTITY_OP {
            OpRole::Identity
        } else {
            OpRole::Other
        }
    }
}

/// The edges of a cell of `nodes` nodes as (to, from), in NAS-Bench-201's order: by `to`, then
/// by `from` (1←0, 2←0, 2←1, 3←0, …).
pub fn edges(nodes: usize) -> Vec<(usize, usize)> {
    (1..nodes)
        .flat_map(|to| (0..to).map(move |from| (to, from)))
        .collect()
}

/// The canonical expression of a cell's output: NAS-Bench-201's `to_unique_str(consider_zero =
/// True)`, generalised to any number of nodes. Node 0 is `0`; node i is the sorted, `+`-joined
/// terms of its incoming edges, where an edge j→i with op `o` is `#` (zero) if `o` is `none` or
/// node j is `#`, node j's expression itself if `o` is `skip_connect`, and `(node j)@o`
/// otherwise. A node none of whose edges leads anywhere thus drops out, a skip connection adds
/// nothing, and the order of a sum does not matter: two cells with the same expression compute
/// the same function. On NAS-Bench-201 (4 nodes, its 5 ops) the expressions partition the 15,625
/// cells exactly as the table's `iso_rep_index` (6,466 classes).
///
/// `ops[e]` is the op id of edge `e` (in [`edges`] order); `names` and `roles` are per op id.
pub fn canonical(nodes: usize, ops: &[u16], names: &[String], roles: &[OpRole]) -> String {
    let mut expr: Vec<String> = vec!["0".to_string()];
    let mut e = 0;
    for _to in 1..nodes {
        let mut terms: Vec<String> = Vec::with_capacity(expr.len());
        for input in &expr {
            let op = ops[e] as usize;
            e += 1;
            terms.push(match roles[op] {
                OpRole::Zero => "#".to_string(),
                _ if input == "#" => "#".to_string(),
                OpRole::Identity => input.clone(),
                OpRole::Other => format!("({input})@{}", names[op]),
            });
        }
        terms.sort();
        expr.push(terms.join("+"));
    }
    expr.pop().expect("a cell has at least 2 nodes")
}
