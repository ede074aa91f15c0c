//! `report.html` in a real browser: the reports of a run, a multi-objective run and a
//! comparison open in headless Chromium (no network: the page requests nothing but itself)
//! with no console error; every journal line is a point, a hover shows the right
//! architecture, a legend button hides its series, and a screenshot is not blank.
//!
//! Chromium must be installed (`.ci/run` installs it): without it these tests fail. With
//! `EMPROX_REPORT_SCREENSHOTS=DIR` they keep their screenshots there (docs/report-*.png).

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{drawn_share, Browser};
use common::*;
use std::path::Path;
use std::time::Duration;

/// The journal lines of an experiment folder, run by run (the order of the page's points).
fn journal(dir: &Path) -> Vec<serde_json::Value> {
    (0..)
        .map(|i| dir.join(format!("seed-{i}/trials.jsonl")))
        .take_while(|p| p.exists())
        .flat_map(|p| lines(&p))
        .collect()
}

/// Opens `report` and checks what every report must: it loads, with no console error and no
/// request besides itself, and its screenshot is not blank; returns the load time.
fn open_clean(b: &mut Browser, report: &Path, kind: &str) -> Duration {
    let took = b.open(report);
    assert_eq!(b.errors(), Vec::<String>::new(), "{kind}: console errors");
    assert_eq!(b.requests(report), Vec::<String>::new(), "{kind}: requests");
    took
}

fn screenshot(b: &mut Browser, kind: &str) {
    let png = b.screenshot();
    let share = drawn_share(&png);
    assert!(share > 0.03, "{kind}: the screenshot is blank ({share})");
    if let Ok(dir) = std::env::var("EMPROX_REPORT_SCREENSHOTS") {
        std::fs::write(Path::new(&dir).join(format!("report-{kind}.png")), png).unwrap();
    }
}

/// Hovers over a point of `group` (one in the middle that no other point covers) and checks
/// that the tooltip names its cell: the architecture and query of its journal line.
fn hover_shows_the_cell(b: &mut Browser, group: &str, journal: &[serde_json::Value]) {
    let found = b.eval(&format!(
        "(() => {{ const g = document.querySelector('g.{group}'); \
         const n = g.children.length; \
         for (let j = 0; j < n; j++) {{ const k = (Math.floor(n / 2) + j) % n; \
           const c = g.children[k]; c.scrollIntoView({{block: 'center'}}); \
           const r = c.getBoundingClientRect(); \
           const x = r.x + r.width / 2, y = r.y + r.height / 2; \
           if (document.elementFromPoint(x, y) === c) return [k, x, y]; }} \
         return null; }})()"
    ));
    let k = found[0].as_u64().expect("an uncovered point") as usize;
    b.hover(found[1].as_f64().unwrap(), found[2].as_f64().unwrap());
    let tip = b.eval(
        "[document.getElementById('tip').hidden, document.getElementById('tip').textContent]",
    );
    assert_eq!(tip[0], false, "the tooltip shows");
    let text = tip[1].as_str().unwrap();
    let line = &journal[k];
    assert_eq!(text.lines().next(), line["arch"].as_str(), "{text}");
    assert!(
        text.contains(&format!("run {}, query {}", line["run"], line["query"])),
        "{text} for {line}"
    );
}

/// `emprox run EXAMPLE` with `seeds` runs of `queries` queries into `out`, and `extra` flags.
fn run(example: &str, seeds: u64, queries: u64, out: &Path, extra: &[&str]) -> String {
    let (seeds, budget) = (seeds.to_string(), format!("budget.max_queries={queries}"));
    let mut args = vec![
        "run",
        example,
        "--seeds",
        &seeds,
        "--set",
        &budget,
        "--out",
        s(out),
    ];
    args.extend(extra);
    String::from_utf8_lossy(&emprox_ok(&args).stdout).into_owned()
}

#[test]
fn reports_open_in_chromium_with_every_cell_and_its_tooltip() {
    let t = tempfile::tempdir().unwrap();
    let mut b = Browser::start(1000, 1300);

    // A run: its report is written at the end, and its path printed.
    let dir = t.path().join("run");
    let out = run("examples/nb201_evolution.toml", 3, 25, &dir, &[]);
    let report = dir.join("report.html");
    assert!(
        out.contains(&format!("report in {}", report.display())),
        "{out}"
    );
    let first = std::fs::read(&report).unwrap();
    open_clean(&mut b, &report, "run");
    let cells = journal(&dir);
    assert_eq!(cells.len(), 75);
    let shown = b.eval("document.querySelectorAll('g.cells > *').length");
    assert_eq!(
        shown.as_u64(),
        Some(cells.len() as u64),
        "one point per journal line"
    );
    let nodes = b.eval("document.querySelectorAll('figure.cell circle.node').length");
    assert_eq!(nodes.as_u64(), Some(4), "the best NB201 cell drawn");
    hover_shows_the_cell(&mut b, "cells", &cells);
    screenshot(&mut b, "run");
    // The same folder gives the same page.
    emprox_ok(&["report", s(&dir)]);
    assert!(
        std::fs::read(&report).unwrap() == first,
        "report bytes changed"
    );

    // A run with two objectives: its front and hypervolume too.
    let mo = t.path().join("mo");
    run("examples/nb201_mo_random.toml", 2, 30, &mo, &["--quiet"]);
    let report = mo.join("report.html");
    open_clean(&mut b, &report, "mo");
    let cells = journal(&mo);
    let shown = b.eval("document.querySelectorAll('g.cells > *').length");
    assert_eq!(shown.as_u64(), Some(cells.len() as u64));
    let front = b.eval("document.querySelectorAll('g.pcells > *').length");
    assert_eq!(
        front.as_u64(),
        Some(cells.len() as u64),
        "every cell on the front chart"
    );
    hover_shows_the_cell(&mut b, "pcells", &cells);
    b.eval("document.querySelector('g.pcells').closest('figure').scrollIntoView()");
    screenshot(&mut b, "mo");

    // A comparison: its tables, and a legend that turns an experiment off.
    let file = t.path().join("cmp.toml");
    std::fs::write(
        &file,
        "name = \"c\"\nseeds = 3\ndatasets = [\"cifar10\"]\nreport_at = [10, 20]\n\
         [budget]\nmax_queries = 20\n\
         [[experiments]]\nlabel = \"RS\"\nstrategy = { type = \"random\" }\n\
         [[experiments]]\nlabel = \"RE\"\n\
         strategy = { type = \"regularized_evolution\", population_size = 10, sample_size = 3 }\n",
    )
    .unwrap();
    let cmp = t.path().join("cmp");
    let o = emprox_ok(&["compare", s(&file), "--out", s(&cmp)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("report in"));
    let report = cmp.join("report.html");
    open_clean(&mut b, &report, "comparison");
    let rows = b.eval("document.querySelectorAll('table tbody tr').length");
    assert_eq!(rows.as_u64(), Some(2), "the comparison.md table");
    let legend = b.eval(
        "(() => { const btn = document.querySelector('button[data-chart][data-s=\"1\"]'); \
         btn.scrollIntoView({block: 'center'}); const r = btn.getBoundingClientRect(); \
         return [btn.textContent, r.x + r.width / 2, r.y + r.height / 2]; })()",
    );
    assert_eq!(legend[0], "RE");
    let (x, y) = (legend[1].as_f64().unwrap(), legend[2].as_f64().unwrap());
    let shown = "getComputedStyle(document.querySelector('#c1 g[data-s=\"1\"]')).display";
    for expected in ["none", "inline"] {
        for kind in ["mousePressed", "mouseReleased"] {
            b.call(
                "Input.dispatchMouseEvent",
                serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
        assert_eq!(
            b.eval(shown),
            expected,
            "the legend button turns RE off and on"
        );
    }
    b.eval("window.scrollTo(0, 0)");
    screenshot(&mut b, "comparison");
}

#[test]
fn a_report_emprox_did_not_write_is_kept_and_no_report_writes_none() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("run");
    let example = "examples/nb201_random.toml";
    run(example, 1, 5, &dir, &["--no-report", "--quiet"]);
    let report = dir.join("report.html");
    assert!(!report.exists(), "--no-report");
    // Bad files: one line naming the file, exit 2, and no page.
    let journal = dir.join("seed-0/trials.jsonl");
    let good = std::fs::read(&journal).unwrap();
    std::fs::write(&journal, [&good[..], b"{\"query\": 6}\n"].concat()).unwrap();
    assert_refused(&emprox(&["report", s(&dir)]), "trials.jsonl:6");
    std::fs::write(&journal, good).unwrap();
    let trajectory = dir.join("seed-0/trajectory.csv");
    std::fs::rename(&trajectory, t.path().join("t.csv")).unwrap();
    assert_refused(&emprox(&["report", s(&dir)]), "trajectory.csv");
    std::fs::rename(t.path().join("t.csv"), &trajectory).unwrap();
    assert!(!report.exists());
    std::fs::write(&report, "my own notes").unwrap();
    assert_refused(
        &emprox(&["report", s(&dir)]),
        "report.html: not written by emprox",
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "my own notes");
    // --overwrite deletes only what emprox wrote: this report stays.
    run(example, 1, 5, &dir, &["--overwrite", "--quiet"]);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "my own notes");
    // --open without a browser opener: the report is written and the user told where it is.
    std::fs::remove_file(&report).unwrap();
    let o = bin()
        .args(["report", s(&dir), "--open"])
        .env("PATH", t.path())
        .output()
        .unwrap();
    assert!(o.status.success() && report.exists());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no browser opener") && err.contains("report.html"),
        "{err}"
    );
    // A folder emprox did not write.
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    assert_refused(
        &emprox(&["report", s(&mine)]),
        "not an emprox output folder",
    );
    assert!(!mine.join(".emprox.lock").exists() && !mine.join("report.html").exists());
}

/// The figures of docs/results.md: a comparison of 100 runs × 150 queries (three strategies on
/// three datasets) and one experiment of 100 runs × 150 queries (15,000 points with tooltips):
/// each report is under 5 MB and loads in Chromium in under 2 s. Slow to build: run with
/// `cargo test --release -p emprox-engine --test report -- --ignored --nocapture`.
#[test]
#[ignore]
fn reports_of_100_runs_of_150_queries_are_small_and_open_fast() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("big.toml");
    std::fs::write(
        &file,
        "name = \"big\"\nseeds = 100\ndatasets = [\"cifar10\", \"cifar100\", \"imagenet16-120\"]\n\
         [budget]\nmax_queries = 150\n\
         [[experiments]]\nlabel = \"RE\"\n\
         strategy = { type = \"regularized_evolution\", population_size = 30, sample_size = 10 }\n\
         [[experiments]]\nlabel = \"LS\"\nstrategy = { type = \"local_search\", num_init = 10 }\n\
         [[experiments]]\nlabel = \"RS\"\nstrategy = { type = \"random\" }\n",
    )
    .unwrap();
    let cmp = t.path().join("cmp");
    emprox_ok(&["compare", s(&file), "--out", s(&cmp), "--quiet"]);
    let re = cmp.join("cifar10/RE");
    emprox_ok(&["report", s(&re)]);
    for (kind, report) in [
        ("comparison", cmp.join("report.html")),
        ("run", re.join("report.html")),
    ] {
        let mut b = Browser::start(1000, 1300);
        // The first load in a fresh browser, then again (its code caches warm).
        let first = open_clean(&mut b, &report, kind);
        let again = open_clean(&mut b, &report, kind);
        let bytes = std::fs::metadata(&report).unwrap().len();
        println!(
            "{kind} report of 100 runs x 150 queries: {bytes} bytes, painted {:.3} s after the \
             request (first load), {:.3} s (again)",
            first.as_secs_f64(),
            again.as_secs_f64()
        );
        assert!(bytes < 5_000_000, "{kind}: {bytes} bytes");
        assert!(
            first.max(again) < Duration::from_secs(2),
            "{kind}: {first:?}, {again:?}"
        );
        if kind == "run" {
            let shown = b.eval("document.querySelectorAll('g.cells > *').length");
            assert_eq!(shown.as_u64(), Some(15_000));
        }
    }
}
