//! Properties of declared spaces drawn at random (categorical, `range`, `log_range`, repeats,
//! cells, conditions on earlier dimensions), each checked against the `[space]` as written, not
//! against the space's own idea of which dimensions are active: samples are valid members (an
//! inactive position with a token of its own in the encoding), a member's string parses back to
//! it, a mutation changes exactly one active position (and only the dimensions whose condition
//! that change toggles), and a neighbourhood holds distinct valid members one step away.

use emprox_benchmarks::declared::{
    DeclaredCell, DeclaredSpace, DimensionConfig, DimensionType, Scalar, SpaceConfig, INACTIVE,
};
use emprox_benchmarks::{SearchSpace, SeqEncoding};
use proptest::prelude::*;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One dimension as drawn: its kind and size, `repeat`, and a condition on an earlier dimension
/// (its index, drawn modulo the dimensions before it, and a mask over that one's values).
#[derive(Debug, Clone)]
struct Drawn {
    kind: u8,
    n: usize,
    repeat: Option<u32>,
    when: Option<(usize, Vec<bool>)>,
}

fn drawn() -> impl Strategy<Value = Drawn> {
    (
        0u8..4,
        1usize..5,
        prop::option::of(1u32..4),
        prop::option::of((any::<usize>(), prop::collection::vec(any::<bool>(), 4))),
    )
        .prop_map(|(kind, n, repeat, when)| Drawn {
            kind,
            n,
            repeat,
            when,
        })
}

/// The dimension `i` of a drawn space: `values` (strings or integers), `range` with a step,
/// `log_range`, or a cell of 2 to 4 nodes.
fn dimension(i: usize, d: &Drawn) -> DimensionConfig {
    let mut c = DimensionConfig {
        name: format!("d{i}"),
        kind: None,
        values: None,
        range: None,
        step: None,
        log_range: None,
        levels: None,
        repeat: d.repeat,
        when: None,
        nodes: None,
        ops: None,
    };
    match d.kind {
        0 if i.is_multiple_of(2) => {
            c.values = Some((0..d.n).map(|v| Scalar::Str(format!("v{v}"))).collect())
        }
        0 => c.values = Some((0..d.n).map(|v| Scalar::Int(v as i64 * 3 - 2)).collect()),
        1 => {
            c.range = Some([-1.0, -1.0 + 0.5 * (d.n - 1) as f64]);
            c.step = Some(0.5);
        }
        2 => {
            c.log_range = Some([1e-3, 1.0]);
            c.levels = Some(d.n.max(2) as u32);
        }
        _ => {
            c.kind = Some(DimensionType::Cell);
            c.repeat = None;
            c.nodes = Some(2 + (d.n as u32 % 3));
            let ops = ["none", "skip_connect", "conv", "pool"];
            c.ops = Some(ops[..d.n].iter().map(|o| o.to_string()).collect());
        }
    }
    c
}

/// The values a dimension's positions may take, as the architecture string writes them.
fn values_of(c: &DimensionConfig) -> Vec<String> {
    let toml = toml::to_string(&SpaceConfig {
        name: None,
        dimension: vec![DimensionConfig {
            when: None,
            ..c.clone()
        }],
    })
    .unwrap();
    let levels = match (&c.values, c.range, c.levels, &c.ops) {
        (Some(v), ..) => return v.iter().map(Scalar::to_string).collect(),
        (_, Some([lo, hi]), ..) => {
            let step = c.step.unwrap();
            let n = ((hi - lo) / step).round() as usize + 1;
            return (0..n)
                .map(|i| format!("{}", lo + step * i as f64))
                .collect();
        }
        (_, _, Some(l), _) => l,
        (.., Some(ops)) => return ops.clone(),
        _ => unreachable!("every drawn dimension has values"),
    };
    // A log_range's values are rounded to 6 digits: read them off the strings of the space of
    // this dimension alone.
    let alone = DeclaredSpace::new(&toml::from_str(&toml).unwrap()).unwrap();
    (0..levels as u16)
        .map(|v| {
            let cell = DeclaredCell(vec![v; c.repeat.unwrap_or(1) as usize]);
            alone.components(&cell)[0].1.clone()
        })
        .collect()
}

/// A random space: each dimension may depend on an earlier single-valued one (not a cell, not
/// repeated), so the conditions form no cycle. `None` where the space has a single member.
fn space_of(dims: &[Drawn]) -> Option<(SpaceConfig, DeclaredSpace)> {
    let mut config = SpaceConfig {
        name: Some("random".into()),
        dimension: Vec::new(),
    };
    for (i, d) in dims.iter().enumerate() {
        let mut c = dimension(i, d);
        let parents: Vec<usize> = (0..i)
            .filter(|&j| {
                let p = &config.dimension[j];
                p.kind.is_none() && p.repeat.is_none()
            })
            .collect();
        if let (Some((pick, mask)), false) = (&d.when, parents.is_empty()) {
            let p = parents[pick % parents.len()];
            let values = values_of(&config.dimension[p]);
            let mut allowed: Vec<Scalar> = values
                .iter()
                .zip(mask.iter().cycle())
                .filter(|(_, &m)| m)
                .map(|(v, _)| Scalar::Str(v.clone()))
                .collect();
            if allowed.is_empty() {
                allowed.push(Scalar::Str(values[0].clone()));
            }
            c.when = Some(BTreeMap::from([(format!("d{p}"), allowed)]));
        }
        config.dimension.push(c);
    }
    match DeclaredSpace::new(&config) {
        Ok(s) => Some((config, s)),
        Err(e) => {
            assert!(e.message.contains("one member"), "{e}");
            None
        }
    }
}

/// Which dimensions of `config` are active in `cell`, from the conditions as written (parents
/// come before their children), and the value each active single position holds.
fn active_as_written(
    config: &SpaceConfig,
    space: &DeclaredSpace,
    cell: &DeclaredCell,
) -> Vec<bool> {
    let held: HashMap<String, String> = space.components(cell).into_iter().collect();
    let mut active: Vec<bool> = Vec::new();
    for d in &config.dimension {
        let on = d.when.iter().flatten().all(|(parent, allowed)| {
            let p: usize = parent[1..].parse().unwrap();
            active[p]
                && held
                    .get(parent)
                    .is_some_and(|v| allowed.iter().any(|a| a.to_string() == *v))
        });
        active.push(on);
    }
    active
}

/// The dimension (its index in the config) of each position.
fn dim_of_positions(space: &DeclaredSpace) -> Vec<usize> {
    space
        .position_names()
        .map(|n| n[1..].split('[').next().unwrap().parse().unwrap())
        .collect()
}

/// Checks that `cell` is a member: every active dimension's positions hold one of its values
/// (and appear in the string), every inactive one's hold [`INACTIVE`] (and do not).
fn check_member(
    config: &SpaceConfig,
    space: &DeclaredSpace,
    cell: &DeclaredCell,
) -> Result<(), TestCaseError> {
    let active = active_as_written(config, space, cell);
    let dims = dim_of_positions(space);
    prop_assert_eq!(cell.0.len(), dims.len());
    let values: Vec<Vec<String>> = config.dimension.iter().map(values_of).collect();
    let held: HashMap<String, String> = space.components(cell).into_iter().collect();
    for ((p, name), &d) in space.position_names().enumerate().zip(&dims) {
        if active[d] {
            let v = held.get(name);
            prop_assert!(v.is_some_and(|v| values[d].contains(v)), "{name}: {v:?}");
            prop_assert_eq!(&values[d][cell.0[p] as usize], v.unwrap());
        } else {
            prop_assert_eq!(cell.0[p], INACTIVE, "{} is inactive", name);
            prop_assert!(!held.contains_key(name));
        }
    }
    prop_assert!(space.is_valid(cell));
    prop_assert_eq!(&space.parse(&space.format(cell)).unwrap(), cell);
    Ok(())
}

/// The positions active in both `a` and `b` whose values differ, and the dimensions whose
/// activity differs.
fn difference(
    config: &SpaceConfig,
    space: &DeclaredSpace,
    a: &DeclaredCell,
    b: &DeclaredCell,
) -> (Vec<usize>, Vec<usize>) {
    let changed = (0..a.0.len())
        .filter(|&p| a.0[p] != INACTIVE && b.0[p] != INACTIVE && a.0[p] != b.0[p])
        .collect();
    let (x, y) = (
        active_as_written(config, space, a),
        active_as_written(config, space, b),
    );
    let toggled = (0..x.len()).filter(|&d| x[d] != y[d]).collect();
    (changed, toggled)
}

/// A one-step change: one position changed, and a dimension toggled only where it depends,
/// directly or through toggled parents, on the changed position's dimension.
fn check_one_step(
    config: &SpaceConfig,
    space: &DeclaredSpace,
    from: &DeclaredCell,
    to: &DeclaredCell,
) -> Result<(), TestCaseError> {
    let (changed, toggled) = difference(config, space, from, to);
    prop_assert_eq!(
        changed.len(),
        1,
        "{} -> {}",
        space.format(from),
        space.format(to)
    );
    let mut moved: HashSet<usize> = HashSet::from([dim_of_positions(space)[changed[0]]]);
    for d in toggled {
        let parents: Vec<usize> = config.dimension[d]
            .when
            .iter()
            .flatten()
            .map(|(p, _)| p[1..].parse().unwrap())
            .collect();
        prop_assert!(parents.iter().any(|p| moved.contains(p)), "d{d} toggled");
        moved.insert(d);
    }
    Ok(())
}

/// Spaces of 1 to 6 drawn dimensions (those with one member left out).
fn spaces() -> impl Strategy<Value = (SpaceConfig, DeclaredSpace)> {
    prop::collection::vec(drawn(), 1..7).prop_filter_map("a single member", |d| space_of(&d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn samples_are_members_and_their_strings_parse_back(
        (config, space) in spaces(),
        seed in any::<u64>(),
    ) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let samples: Vec<DeclaredCell> = (0..10).map(|_| space.sample(&mut rng)).collect();
        for c in &samples {
            check_member(&config, &space, c)?;
        }
        // The encoders' tokens: an inactive position has one token of its own, which no value
        // of that position shares.
        let seqs: Vec<Vec<u32>> =
            samples.iter().map(|c| space.sequence(c, SeqEncoding::Compact)).collect();
        for (a, sa) in samples.iter().zip(&seqs) {
            for (b, sb) in samples.iter().zip(&seqs) {
                for p in 0..a.0.len() {
                    let both_off = a.0[p] == INACTIVE && b.0[p] == INACTIVE;
                    prop_assert_eq!(sa[p] == sb[p], both_off || a.0[p] == b.0[p], "position {}", p);
                }
            }
        }
    }

    #[test]
    fn a_mutation_changes_exactly_one_active_position(
        (config, space) in spaces(),
        seed in any::<u64>(),
    ) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut cell = space.sample(&mut rng);
        for _ in 0..10 {
            let m = space.mutate(&cell, &mut rng);
            check_member(&config, &space, &m)?;
            check_one_step(&config, &space, &cell, &m)?;
            cell = m;
        }
    }

    #[test]
    fn neighbourhoods_are_distinct_members_one_step_away(
        (config, space) in spaces(),
        seed in any::<u64>(),
    ) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let cell = space.sample(&mut rng);
        let near = space.neighbours(&cell);
        prop_assert!(!near.is_empty(), "a space of several members: {}", space.format(&cell));
        let distinct: HashSet<&DeclaredCell> = near.iter().collect();
        prop_assert_eq!(distinct.len(), near.len(), "duplicates");
        prop_assert!(!distinct.contains(&cell));
        // At most every other value of every position: bounded by the space's description.
        let bound: usize = dim_of_positions(&space)
            .iter()
            .map(|&d| values_of(&config.dimension[d]).len() - 1)
            .sum();
        prop_assert!(near.len() <= bound);
        for n in &near {
            check_member(&config, &space, n)?;
            check_one_step(&config, &space, &cell, n)?;
        }
    }
}

/// The drawn spaces exercise what the properties are about: most are accepted, and among them
/// are cells, repeats, and conditions that hold in some samples and not in others.
#[test]
fn the_drawn_spaces_have_cells_repeats_and_conditions_both_ways() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(drawn(), 1..7);
    let (mut accepted, mut cells, mut repeats, mut on, mut off) = (0, 0, 0, 0, 0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for _ in 0..200 {
        let dims = strategy.new_tree(&mut runner).unwrap().current();
        let Some((config, space)) = space_of(&dims) else {
            continue;
        };
        accepted += 1;
        cells += config.dimension.iter().filter(|d| d.kind.is_some()).count();
        repeats += config
            .dimension
            .iter()
            .filter(|d| d.repeat.is_some())
            .count();
        for _ in 0..10 {
            let active = active_as_written(&config, &space, &space.sample(&mut rng));
            for (d, a) in config.dimension.iter().zip(active) {
                if d.when.is_some() {
                    *if a { &mut on } else { &mut off } += 1;
                }
            }
        }
    }
    assert!(accepted > 150, "{accepted} of 200 spaces accepted");
    assert!(
        cells > 20 && repeats > 20,
        "{cells} cells, {repeats} repeats"
    );
    assert!(
        on > 100 && off > 100,
        "conditions held {on} times, failed {off}"
    );
}
