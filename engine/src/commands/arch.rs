//! `emprox arch`: parse an NB201 architecture (string or index) and print what the benchmark
//! knows about it.

use clap::Args;
use emprox_benchmarks::nb201::{Cell, Dataset, Nb201Data};

/// Arguments of `emprox arch`.
#[derive(Debug, Args)]
pub struct ArchArgs {
    /// Architecture strings (`|nor_conv_3x3~0|+|...|`) or NB201 indices.
    #[arg(required = true)]
    pub archs: Vec<String>,
}

/// Runs `emprox arch`.
pub fn arch(args: &ArchArgs) -> anyhow::Result<()> {
    let data = Nb201Data::shipped()?;
    let mut o = Vec::new();
    for a in &args.archs {
        let cell = match a.trim().parse::<usize>() {
            Ok(i) => data.by_index(i).map(|r| r.cell).ok_or_else(|| {
                anyhow::anyhow!("index {i} is out of range: NAS-Bench-201 indices are 0..=15624")
            })?,
            Err(_) => Cell::parse(a)?,
        };
        let r = data.record(&cell);
        o.push(format!("{cell}"));
        o.push(format!(
            "  index {}  isomorphism class {}  connected {}",
            r.index,
            r.iso_rep_index,
            cell.is_connected()
        ));
        for d in Dataset::ALL {
            let m = r.metrics(d);
            o.push(format!(
                "  {:<15} val {:>8.4}  test {:>8.4}  params {:.3} M  FLOPs {:.2} M  train {:.0} s",
                d.name(),
                m.val_acc,
                m.test_acc,
                m.params_m,
                m.flops_m,
                m.train_time_s
            ));
        }
    }
    super::print_out(&(o.join("\n") + "\n"))?;
    Ok(())
}
