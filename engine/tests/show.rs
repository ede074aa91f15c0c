//! `emprox show` on every folder emprox writes: an experiment (finished or not), a comparison
//! and a predictor evaluation.

mod common;
use common::*;

fn stdout(args: &[&str]) -> String {
    String::from_utf8_lossy(&emprox_ok(args).stdout).to_string()
}

#[test]
fn show_reads_every_kind_of_folder() {
    let t = tempfile::tempdir().unwrap();

    // An experiment, then the same folder as if killed before its summary.
    let run = t.path().join("run");
    emprox_ok(&[
        "run",
        "examples/nb201_random.toml",
        "--out",
        s(&run),
        "--seeds",
        "2",
        "--set",
        "budget.max_queries=7",
    ]);
    assert!(stdout(&["show", s(&run)]).contains("overall best"));
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let unfinished = stdout(&["show", s(&run)]);
    assert!(
        unfinished.contains("run 1: 7 queries journaled")
            && unfinished.contains(&format!(
                "not finished: continue it with `emprox resume {}`",
                run.display()
            )),
        "{unfinished}"
    );

    // A comparison: its table and where its plots are.
    let cmp_file = t.path().join("cmp.toml");
    std::fs::write(
        &cmp_file,
        "name = \"c\"\nseeds = 2\ndatasets = [\"cifar10\"]\nreport_at = [5]\n\
         [budget]\nmax_queries = 5\n[[experiments]]\nlabel = \"RS\"\n\
         strategy = { type = \"random\" }\n",
    )
    .unwrap();
    let cmp = t.path().join("cmp");
    emprox_ok(&["compare", s(&cmp_file), "--out", s(&cmp)]);
    let shown = stdout(&["show", s(&cmp)]);
    let md = std::fs::read_to_string(cmp.join("comparison.md")).unwrap();
    assert!(shown.starts_with(&md), "{shown}");
    assert!(
        shown.contains("plots in") && shown.contains("incumbent_cifar10.svg"),
        "{shown}"
    );

    // A predictor evaluation: its summary.
    let ev_file = t.path().join("ev.toml");
    std::fs::write(
        &ev_file,
        "[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
         [evaluation]\ntrain_sizes = [20]\ntest_size = 30\ntrials = 2\n\
         [[estimators]]\ntype = \"random\"\n",
    )
    .unwrap();
    let ev = t.path().join("ev");
    emprox_ok(&["eval-predictors", s(&ev_file), "--out", s(&ev)]);
    let shown = stdout(&["show", s(&ev)]);
    assert_eq!(
        shown,
        std::fs::read_to_string(ev.join("summary.md")).unwrap()
    );

    // Not an emprox folder: one line.
    let o = emprox(&["show", s(t.path())]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("an emprox output folder"));
}
