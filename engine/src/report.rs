//! `report.html`: one self-contained page of an experiment or a comparison folder, built from
//! the files the folder already holds (journals, trajectories, summaries, `comparison.md`), with
//! no network: its charts are SVG written here ([`chart`]), its style and script inline, and a
//! content security policy that lets the page load nothing.
//!
//! The page is a function of the folder: the same folder gives the same bytes. emprox
//! overwrites a `report.html` only if it wrote it (its second line says so); any other file of
//! that name is left as it is.

pub mod chart;

use crate::commands::show;
use crate::config::{parse_toml, Experiment};
use crate::journal::{self, Timing};
use crate::results::{Best, ExperimentSummary, TrajectoryPoint};
use crate::rundir::{self, FolderKind, Manifest, REPORT};
use chart::{esc, Chart, Line, Points};
use emprox_benchmarks::evaluator::decimals;
use emprox_benchmarks::Signal;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The first two lines of every report emprox writes: how it tells its own `report.html` from
/// another's.
pub(crate) const HEAD: &str =
    "<!DOCTYPE html>\n<!-- written by `emprox report`; rewritten from the folder's files -->\n";

/// Why a report could not be written, as one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

fn err(path: &Path, what: impl std::fmt::Display) -> ReportError {
    ReportError(format!("{}: {what}", path.display()))
}

/// Whether the file at `path` is a report emprox wrote (it starts with [`HEAD`]).
pub fn written_by_emprox(path: &Path) -> bool {
    use std::io::Read;
    let mut head = vec![0; HEAD.len()];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut head).is_ok())
        && head == HEAD.as_bytes()
}

/// Writes `report.html` into the experiment or comparison folder `dir` (the caller holds its
/// lock) and returns its path. A `report.html` emprox did not write is left as it is: an error.
pub fn write(dir: &Path) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT);
    rundir::refuse_link(&path).map_err(|e| ReportError(e.0))?;
    if path.exists() && !written_by_emprox(&path) {
        return Err(err(
            &path,
            "not written by emprox: left as it is (move it away to write the report)",
        ));
    }
    let html = page(dir)?;
    rundir::write_file(&path, html.as_bytes()).map_err(|e| ReportError(e.to_string()))?;
    Ok(path)
}

/// The kind of the folder `dir` by its manifest: an experiment or a comparison (a predictor
/// evaluation, or a folder emprox did not write, is refused).
pub fn kind(dir: &Path) -> Result<FolderKind, ReportError> {
    let kind = match Manifest::read(dir) {
        Ok(m) => m.kind,
        // Folders of emprox 0.1 have a summary but may lack a manifest: experiments.
        Err(_) if dir.join(rundir::SUMMARY).exists() => FolderKind::Experiment,
        Err(e) => {
            return Err(ReportError(format!(
                "{} is not an emprox output folder ({e})",
                dir.display()
            )))
        }
    };
    if kind == FolderKind::PredictorEvaluation {
        return Err(ReportError(format!(
            "{} holds a predictor evaluation: reports are written for experiments and \
             comparisons (its summary.md is the report)",
            dir.display()
        )));
    }
    Ok(kind)
}

/// The page of the folder `dir`, by the kind its manifest names.
pub fn page(dir: &Path) -> Result<String, ReportError> {
    match kind(dir)? {
        FolderKind::Comparison => comparison_page(dir),
        _ => experiment_page(dir),
    }
}

/// One journal line, as the report reads it: the fields it shows, any others (a newer emprox's)
/// passed over; `fidelity` where the run has several.
#[derive(Debug, Deserialize)]
struct Cell {
    run: u64,
    query: u64,
    #[serde(default)]
    index: Option<u64>,
    arch: String,
    val_acc: Option<f64>,
    test_acc: Option<f64>,
    #[serde(default)]
    predicted: Option<f64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, deserialize_with = "journal::extras_object::deserialize")]
    extras: Vec<(String, f64)>,
    #[serde(default)]
    fidelity: Option<serde_json::Value>,
}

/// One run of an experiment folder: its journal and its incumbent after each query.
struct Run {
    cells: Vec<Cell>,
    traj: Vec<TrajectoryPoint>,
    /// Its costs were measured, not simulated: `traj`'s `sim_seconds` hold the evaluations'
    /// cumulative wall seconds (from `timings.jsonl`).
    measured: bool,
}

fn read_text(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| err(path, e))
}

fn read_summary(dir: &Path) -> Result<ExperimentSummary, ReportError> {
    let path = dir.join(rundir::SUMMARY);
    if !path.exists() {
        return Err(err(
            &path,
            format!(
                "missing: the experiment has not finished (continue it with `emprox resume {}`)",
                dir.display()
            ),
        ));
    }
    ExperimentSummary::read(&path).map_err(ReportError)
}

fn read_trajectory(path: &Path) -> Result<Vec<TrajectoryPoint>, ReportError> {
    crate::results::read_trajectory(path).map_err(ReportError)
}

/// The runs of the experiment folder `dir` (as many as its summary lists).
fn read_runs(dir: &Path, s: &ExperimentSummary) -> Result<Vec<Run>, ReportError> {
    s.runs
        .iter()
        .map(|r| {
            let d = rundir::run_dir(dir, r.run);
            let cells = journal::read::<Cell>(&d.join(rundir::TRIALS))
                .map_err(|e| ReportError(e.to_string()))?
                .records;
            let mut traj = read_trajectory(&d.join(rundir::TRAJECTORY))?;
            // Measured costs (no simulated seconds): the time axis is the evaluations' wall time.
            let wall = traj
                .iter()
                .all(|p| p.sim_seconds == 0.0)
                .then(|| wall_clock(&d.join(rundir::TIMINGS)))
                .flatten();
            let measured = wall.is_some();
            for p in &mut traj {
                if let Some(w) = wall.as_ref().and_then(|w| w.get(&p.query)) {
                    p.sim_seconds = *w;
                }
            }
            Ok(Run {
                cells,
                traj,
                measured,
            })
        })
        .collect()
}

/// The cumulative wall seconds of a run's evaluations after each query, from its
/// `timings.jsonl` (`None` where it is missing or unreadable: no time axis to offer).
fn wall_clock(timings: &Path) -> Option<std::collections::HashMap<u64, f64>> {
    let records = journal::read::<Timing>(timings).ok()?.records;
    let mut sum = 0.0;
    let mut at = std::collections::HashMap::new();
    for t in records {
        if let Timing::Evaluation {
            query,
            wall_seconds,
            ..
        } = t
        {
            sum += wall_seconds;
            at.insert(query, sum);
        }
    }
    Some(at)
}

/// A value with four significant digits, the rule for a lone value of any metric.
fn num(v: f64) -> String {
    if v.is_nan() {
        return "—".into();
    }
    let d = decimals(v, f64::NAN);
    format!("{v:.d$}")
}

/// The tooltip of one evaluated cell.
fn tip(sig: &Signal, c: &Cell, extras: &[String]) -> String {
    let mut t = format!("{}\nrun {}, query {}", c.arch, c.run, c.query);
    if let Some(i) = c.index {
        let _ = write!(t, ", index {i}");
    }
    if let Some(f) = &c.fidelity {
        let _ = write!(t, "\nfidelity {f}");
    }
    match (&c.error, c.val_acc) {
        (Some(e), _) => {
            let _ = write!(t, "\nfailed: {e}");
        }
        (None, Some(v)) => {
            let b = Best {
                arch: c.arch.clone(),
                index: c.index,
                val_acc: v,
                test_acc: c.test_acc,
            };
            let _ = write!(t, "\n{}", show::scores_text(sig, &b));
        }
        (None, None) => t.push_str("\nno score"),
    }
    for (name, v) in c.extras.iter().filter(|(n, _)| extras.contains(n)) {
        let _ = write!(t, "\n{name} {}", num(*v));
    }
    if let Some(p) = c.predicted {
        let _ = write!(t, "\npredicted {}", sig.value(p));
    }
    t
}

/// The page's frame around `body`.
fn frame(title: &str, body: &str) -> String {
    format!(
        "{HEAD}<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}</style></head><body><main>\n{body}</main>\
         <div id=\"tip\" role=\"tooltip\" hidden></div><script>{}</script></body></html>\n",
        esc(title),
        include_str!("report/page.css"),
        include_str!("report/page.js")
    )
}

/// A numbered chart id, unique on the page.
struct Ids(usize);
impl Ids {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("c{}", self.0)
    }
}

/// "maximized: higher is better" or "minimized: lower is better": how to read the signal.
fn goal_note(sig: &Signal) -> &'static str {
    match sig.goal {
        emprox_benchmarks::Goal::Maximize => "maximized: higher is better",
        emprox_benchmarks::Goal::Minimize => "minimized: lower is better",
    }
}

/// An engine plot series as a report line.
fn line(s: crate::plot::Series) -> Line {
    Line {
        label: s.label.to_string(),
        points: s.points,
        band: s.band,
        ..Line::default()
    }
}

/// The faint step line of each run: `value` of the incumbent after each query.
fn faint(
    runs: &[Run],
    x: fn(&TrajectoryPoint) -> f64,
    value: fn(&TrajectoryPoint) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    runs.iter()
        .map(|r| {
            crate::plot::steps(
                &r.traj
                    .iter()
                    .filter_map(|p| Some((x(p), value(p)?)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn experiment_page(dir: &Path) -> Result<String, ReportError> {
    let s = read_summary(dir)?;
    let runs = read_runs(dir, &s)?;
    let cfg_path = dir.join(rundir::CONFIG);
    let config = read_text(&cfg_path)?;
    let exp: Experiment = parse_toml(&config, &cfg_path).map_err(|e| ReportError(e.to_string()))?;
    let sig = &s.objective;
    let mut ids = Ids(0);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{}</h1><p class=\"sub\">{} on {}{} · {} run(s) · search signal: {} ({})</p>",
        esc(&s.experiment),
        esc(&s.strategy),
        esc(&s.dataset),
        s.estimator
            .as_ref()
            .map(|e| format!(" with {}", esc(e)))
            .unwrap_or_default(),
        s.runs.len(),
        esc(&sig.with_unit(&sig.val_label())),
        goal_note(sig)
    );
    let _ = writeln!(
        b,
        "<h2>Runs</h2><pre>{}</pre>",
        esc(&show::summary_table(&s, Path::new("")))
    );
    // Every run's incumbent and every evaluated cell.
    let mo_names: Vec<String> = exp
        .objectives
        .iter()
        .skip(1)
        .map(|o| o.metric.clone())
        .collect();
    let series = vec![(
        String::new(),
        runs.iter().map(|r| r.traj.clone()).collect::<Vec<_>>(),
    )];
    let mut val = line(crate::compare::mean_bands(&series, |p| Some(p.val_acc)).remove(0));
    val.label = format!("incumbent {} (mean ± std over runs)", sig.val_label());
    val.faint = faint(&runs, |p| p.query as f64, |p| Some(p.val_acc));
    let mut lines = vec![val];
    if runs
        .iter()
        .all(|r| r.traj.iter().all(|p| p.test_acc.is_some()))
        && !runs.is_empty()
    {
        let mut test = line(crate::compare::mean_bands(&series, |p| p.test_acc).remove(0));
        test.label = format!("incumbent {} (mean ± std, reported only)", sig.test_label());
        test.faint = faint(&runs, |p| p.query as f64, |p| p.test_acc);
        lines.push(test);
    }
    let cells: Vec<&Cell> = runs.iter().flat_map(|r| &r.cells).collect();
    b.push_str(
        &Chart {
            id: ids.next(),
            title: format!(
                "Incumbent against queries, and every evaluated cell (a dot; a cross under the \
                 axis: failed) — {}",
                goal_note(sig)
            ),
            x_label: "queries".into(),
            y_label: sig.with_unit(sig.quantity()),
            whole_x: true,
            lines,
            points: Some(Points {
                class: "cells",
                xy: cells.iter().map(|c| (c.query as f64, c.val_acc)).collect(),
                tips: cells.iter().map(|c| tip(sig, c, &mo_names)).collect(),
            }),
            y_range: None,
        }
        .html(),
    );
    // Against time.
    let mut time = line(crate::compare::time_bands(&series, |p| p.val_acc).remove(0));
    time.label = format!("incumbent {} (mean ± std over runs)", sig.val_label());
    time.faint = faint(
        &runs,
        |p| (p.sim_seconds + p.estimator_seconds) / 3600.0,
        |p| Some(p.val_acc),
    );
    b.push_str(
        &Chart {
            id: ids.next(),
            title: format!("Incumbent against cost — {}", goal_note(sig)),
            x_label: if runs.iter().all(|r| r.measured) {
                "hours: the evaluations' wall time + estimator wall time"
            } else {
                "hours: simulated training time + estimator wall time"
            }
            .into(),
            y_label: sig.with_unit(&sig.val_label()),
            lines: vec![time],
            ..Chart::default()
        }
        .html(),
    );
    if exp.objectives.len() > 1 {
        b.push_str(&pareto_section(
            &exp, sig, &runs, &series, &mo_names, &mut ids,
        ));
    }
    b.push_str(&best_section(&s));
    b.push_str(&failures_section(&cells));
    let _ = writeln!(
        b,
        "<h2>Resolved configuration</h2><pre>{}</pre>",
        esc(&config)
    );
    Ok(frame(&format!("emprox report: {}", s.experiment), &b))
}

/// The true front of the experiment's table (its non-dominated rows by validation, one vector of
/// objectives each), where the benchmark is a table lookup that still loads.
struct TrueFront;

impl crate::benchmark::WithBenchmark for TrueFront {
    type Output = Option<Vec<Vec<f64>>>;
    fn with<S: emprox_benchmarks::SearchSpace + 'static>(
        self,
        bench: crate::benchmark::Benchmark<S>,
    ) -> Self::Output {
        Some(bench.objectives?.reference?.front)
    }
}

fn true_front(exp: &Experiment) -> Option<Vec<Vec<f64>>> {
    use emprox_benchmarks::config::BenchmarkKind;
    let table = matches!(
        exp.benchmark.kind,
        BenchmarkKind::Tabular | BenchmarkKind::NasBench201
    );
    if !table || exp.evaluator.is_some() {
        return None;
    }
    crate::benchmark::open(exp, &crate::pipeline::search::NoProgress, TrueFront)
        .ok()
        .flatten()
}

/// Several objectives: the signal against each other objective (evaluated cells, the front
/// over all runs as a step line, the table's true front where known) and the hypervolume after
/// each query.
fn pareto_section(
    exp: &Experiment,
    sig: &Signal,
    runs: &[Run],
    series: &[(String, Vec<Vec<TrajectoryPoint>>)],
    names: &[String],
    ids: &mut Ids,
) -> String {
    let mut b = String::from("<h2>Pareto front</h2>");
    let truth = true_front(exp);
    for (k, o) in exp.objectives.iter().enumerate().skip(1) {
        let goals = [o.goal, exp.objectives[0].goal];
        let cells: Vec<(&Cell, (f64, f64))> = runs
            .iter()
            .flat_map(|r| &r.cells)
            .filter_map(|c| {
                let x = c.extras.iter().find(|(n, _)| *n == o.metric)?.1;
                Some((c, (x, c.val_acc?)))
            })
            .collect();
        let pairs: Vec<(f64, f64)> = cells.iter().map(|c| c.1).collect();
        let front = crate::objectives::staircase(&pairs, goals);
        b.push_str(
            &Chart {
                id: ids.next(),
                title: format!(
                    "{} ({}) against {} ({}): evaluated cells of every run, and their front",
                    sig.val_label(),
                    exp.objectives[0].goal.name(),
                    o.metric,
                    o.goal.name()
                ),
                x_label: o.metric.clone(),
                y_label: sig.with_unit(&sig.val_label()),
                // The hypervolume's box in the signal, where the experiment sets it.
                y_range: exp.objectives[0].range.map(|[a, b]| (a, b)),
                lines: std::iter::once(Line {
                    label: "front of the evaluated cells (all runs)".into(),
                    points: front,
                    ..Line::default()
                })
                .chain(truth.as_ref().map(|t| {
                    let pairs: Vec<(f64, f64)> = t.iter().map(|v| (v[k], v[0])).collect();
                    Line {
                        label: "true front of the table".into(),
                        points: crate::objectives::staircase(&pairs, goals),
                        ..Line::default()
                    }
                }))
                .collect(),
                points: Some(Points {
                    class: "pcells",
                    xy: pairs.iter().map(|&(x, y)| (x, Some(y))).collect(),
                    tips: cells.iter().map(|(c, _)| tip(sig, c, names)).collect(),
                }),
                ..Chart::default()
            }
            .html(),
        );
    }
    let mut hv = line(crate::compare::mean_bands(series, |p| p.hypervolume).remove(0));
    hv.label = "hypervolume (mean ± std over runs)".into();
    hv.faint = faint(runs, |p| p.query as f64, |p| p.hypervolume);
    b.push_str(
        &Chart {
            id: ids.next(),
            title: "Hypervolume of the evaluated cells (validation) after each query".into(),
            x_label: "queries".into(),
            y_label: "hypervolume (normalised, 0 to 1)".into(),
            whole_x: true,
            lines: vec![hv],
            ..Chart::default()
        }
        .html(),
    );
    b
}

/// The best cell over all runs, with a drawing where it is a NAS-Bench-201 cell.
fn best_section(s: &ExperimentSummary) -> String {
    let Some((r, best)) = s.best() else {
        return "<h2>Best architecture</h2><p>No evaluation succeeded.</p>\n".into();
    };
    let mut b = format!(
        "<h2>Best architecture</h2><p><code class=\"arch\">{}</code>{}<br>{} · run {}, first \
         reached at query {}</p>",
        esc(&best.arch),
        best.index
            .map(|i| format!(" (index {i})"))
            .unwrap_or_default(),
        esc(&show::scores_text(&s.objective, best)),
        r.run,
        r.first_query_reaching_best
    );
    if let Ok(cell) = emprox_benchmarks::nb201::Cell::parse(&best.arch) {
        b.push_str(&cell_svg(&cell));
    }
    b.push('\n');
    b
}

/// A NAS-Bench-201 cell: nodes 0 to 3 in a row, each edge an arc labelled with its operation
/// (a `none` edge dashed and grey).
fn cell_svg(cell: &emprox_benchmarks::nb201::Cell) -> String {
    let x = |n: usize| 60.0 + n as f64 * 180.0;
    let y = 150.0;
    let mut s = String::from(
        "<figure class=\"cell\"><figcaption>The cell: nodes 0 (input) to 3 (output), \
         each edge labelled with its operation</figcaption>\
         <svg viewBox=\"0 0 660 200\" role=\"img\" aria-label=\"NAS-Bench-201 cell\">",
    );
    for (k, &(to, from)) in emprox_benchmarks::nb201::EDGES.iter().enumerate() {
        let op = cell.ops[k].name();
        let (x0, x1) = (x(from), x(to));
        let h = 38.0 * (to - from) as f64;
        // Edges of neighbouring nodes straight, longer ones as arcs above.
        let (d, lx, ly) = if to - from == 1 {
            (format!("M{x0} {y}L{x1} {y}"), (x0 + x1) / 2.0, y - 6.0)
        } else {
            let cy = y - 2.0 * h;
            (
                format!("M{x0} {y}Q{} {cy} {x1} {y}", (x0 + x1) / 2.0),
                (x0 + x1) / 2.0,
                y - h - 4.0,
            )
        };
        let class = if op == "none" { "edge none" } else { "edge" };
        let _ = write!(
            s,
            "<path class=\"{class}\" d=\"{d}\"/><text x=\"{lx}\" y=\"{ly}\" \
             text-anchor=\"middle\">{op}</text>"
        );
    }
    for n in 0..4 {
        let _ = write!(
            s,
            "<circle class=\"node\" cx=\"{}\" cy=\"{y}\" r=\"16\"/><text x=\"{}\" y=\"{}\" \
             text-anchor=\"middle\">{n}</text>",
            x(n),
            x(n),
            y + 5.0
        );
    }
    s.push_str("</svg></figure>");
    s
}

/// The failed evaluations with their reasons.
fn failures_section(cells: &[&Cell]) -> String {
    let failed: Vec<&&Cell> = cells.iter().filter(|c| c.error.is_some()).collect();
    if failed.is_empty() {
        return "<h2>Failures</h2><p>None: every evaluation succeeded.</p>\n".into();
    }
    let mut b = format!(
        "<h2>Failures</h2><p>{} of {} evaluations failed.</p><table><thead><tr><th>run</th>\
         <th>query</th><th>architecture</th><th>reason</th></tr></thead><tbody>",
        failed.len(),
        cells.len()
    );
    for c in failed {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            c.run,
            c.query,
            esc(&c.arch),
            esc(c.error.as_deref().unwrap_or_default())
        );
    }
    b.push_str("</tbody></table>\n");
    b
}

/// A Markdown file of pipe tables and paragraphs (what `comparison.md` holds) as HTML.
fn markdown_html(md: &str) -> String {
    let mut out = String::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let flush = |rows: &mut Vec<Vec<String>>, out: &mut String| {
        if rows.is_empty() {
            return;
        }
        out.push_str("<table><thead><tr>");
        for c in &rows[0] {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr></thead><tbody>");
        for r in &rows[1..] {
            out.push_str("<tr>");
            for c in r {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>\n");
        rows.clear();
    };
    for l in md.lines() {
        if l.trim_start().starts_with('|') {
            let r = cells(l);
            if !r
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                rows.push(r);
            }
            continue;
        }
        flush(&mut rows, &mut out);
        if !l.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", esc(l.trim()));
        }
    }
    flush(&mut rows, &mut out);
    out
}

/// A finished experiment of a comparison: its summary and its runs' trajectories.
type Finished = (ExperimentSummary, Vec<Vec<TrajectoryPoint>>);

fn comparison_page(dir: &Path) -> Result<String, ReportError> {
    let manifest = Manifest::read(dir).map_err(ReportError)?;
    let md_path = dir.join("comparison.md");
    if !md_path.exists() {
        return Err(err(
            &md_path,
            "missing: the comparison has not finished (continue it with `emprox compare FILE --resume`)",
        ));
    }
    let md = read_text(&md_path)?;
    let listed = manifest.experiments.unwrap_or_default();
    // Per dataset, in the manifest's order: each experiment's label and runs' trajectories.
    let mut datasets: Vec<(String, Vec<Finished>)> = Vec::new();
    for e in &listed {
        let d = dir.join(e);
        let s = read_summary(&d)?;
        let trajs = s
            .runs
            .iter()
            .map(|r| read_trajectory(&rundir::run_dir(&d, r.run).join(rundir::TRAJECTORY)))
            .collect::<Result<Vec<_>, _>>()?;
        let name = e.split_once('/').map_or(e.as_str(), |(d, _)| d).to_string();
        match datasets.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push((s, trajs)),
            None => datasets.push((name, vec![(s, trajs)])),
        }
    }
    // The hypervolume of each table's true front, where `comparison.json` knows it.
    let rows: Vec<serde_json::Value> = std::fs::read(dir.join("comparison.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut ids = Ids(0);
    let mut b = format!(
        "<h1>Comparison {}</h1><p class=\"sub\">{} experiment(s) on {} benchmark(s)</p>\
         <h2>Results</h2>{}",
        esc(&name),
        listed.len() / datasets.len().max(1),
        datasets.len(),
        markdown_html(&md)
    );
    for (dataset, exps) in &datasets {
        let sig = exps
            .first()
            .map_or_else(Signal::accuracy, |e| e.0.objective.clone());
        let series: Vec<(String, Vec<Vec<TrajectoryPoint>>)> = exps
            .iter()
            .map(|(s, t)| (s.experiment.clone(), t.clone()))
            .collect();
        let (value, what, y_label) = crate::compare::plotted(&series, &sig);
        let _ = write!(b, "<h2>{}</h2>", esc(dataset));
        let lines: Vec<Line> = crate::compare::mean_bands(&series, |p| Some(value(p)))
            .into_iter()
            .map(line)
            .collect();
        b.push_str(
            &Chart {
                id: ids.next(),
                title: format!(
                    "Mean incumbent {what} (± std over runs) against queries; the legend turns \
                     experiments on and off — {}",
                    goal_note(&sig)
                ),
                x_label: "queries".into(),
                y_label: y_label.clone(),
                whole_x: true,
                lines,
                ..Chart::default()
            }
            .html(),
        );
        b.push_str(
            &Chart {
                id: ids.next(),
                title: format!("Mean incumbent {what} (± std over runs) against cost"),
                x_label: "simulated training hours + estimator wall time (mean over runs)".into(),
                y_label,
                lines: crate::compare::time_bands(&series, value)
                    .into_iter()
                    .map(line)
                    .collect(),
                ..Chart::default()
            }
            .html(),
        );
        if series
            .iter()
            .any(|(_, t)| t.iter().flatten().any(|p| p.hypervolume.is_some()))
        {
            b.push_str(
                &Chart {
                    id: ids.next(),
                    title: "Mean hypervolume of the evaluated cells (± std over runs)".into(),
                    x_label: "queries".into(),
                    y_label: "hypervolume (normalised, 0 to 1)".into(),
                    whole_x: true,
                    lines: crate::compare::mean_bands(&series, |p| p.hypervolume)
                        .into_iter()
                        .map(line)
                        .chain(true_hv(&rows, dataset).map(|t| {
                            let n = series.iter().flat_map(|(_, t)| t).map(Vec::len).max();
                            Line {
                                label: "true front of the table".into(),
                                points: vec![(1.0, t), (n.unwrap_or(1).max(2) as f64, t)],
                                ..Line::default()
                            }
                        }))
                        .collect(),
                    ..Chart::default()
                }
                .html(),
            );
        }
        // The estimator's wall time of each run, for the experiments with a filter.
        let est: Vec<Line> = exps
            .iter()
            .filter(|(s, _)| s.estimator.is_some())
            .map(|(s, _)| Line {
                label: s.experiment.clone(),
                points: s
                    .runs
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.run as f64,
                            r.estimator_fit_seconds_total? + r.estimator_query_seconds_total?,
                        ))
                    })
                    .collect(),
                markers_only: true,
                ..Line::default()
            })
            .collect();
        if !est.is_empty() {
            b.push_str(
                &Chart {
                    id: ids.next(),
                    title: "Estimator time per run (fit + query)".into(),
                    x_label: "run".into(),
                    y_label: "estimator wall time (s)".into(),
                    whole_x: true,
                    lines: est,
                    ..Chart::default()
                }
                .html(),
            );
        }
    }
    let toml = dir.join("comparison.toml");
    if let Ok(text) = std::fs::read_to_string(&toml) {
        let _ = writeln!(b, "<h2>Comparison file</h2><pre>{}</pre>", esc(&text));
    }
    Ok(frame(&format!("emprox report: {name}"), &b))
}

/// The hypervolume of the true front of `dataset`'s table, from the rows of `comparison.json`.
fn true_hv(rows: &[serde_json::Value], dataset: &str) -> Option<f64> {
    rows.iter()
        .filter(|r| r["dataset"] == dataset)
        .find_map(|r| r["true_front_hypervolume"].as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_become_html_tables() {
        let h = markdown_html("| a | b |\n|---|---|\n| 1 | <2> |\n\nnote: x & y\n");
        assert_eq!(
            h,
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td>\
             <td>&lt;2&gt;</td></tr></tbody></table>\n<p>note: x &amp; y</p>\n"
        );
    }

    #[test]
    fn failures_are_listed_with_their_reasons_and_fidelity_shows_where_there_is_one() {
        let line = |l: &str| serde_json::from_str::<Cell>(l).unwrap();
        let failed = line(
            r#"{"run":1,"query":7,"arch":"a<b","val_acc":null,"test_acc":null,"cost_seconds":null,"sim_seconds":null,"incumbent":false,"error":"exit status 3"}"#,
        );
        let ok = line(
            r#"{"run":0,"query":2,"index":5,"arch":"x","val_acc":91.25,"test_acc":null,"cost_seconds":1.0,"sim_seconds":3.0,"incumbent":true,"fidelity":12,"extras":{"params_m":1.5}}"#,
        );
        let html = failures_section(&[&ok, &failed]);
        assert!(html.contains("1 of 2 evaluations failed"), "{html}");
        assert!(
            html.contains("<td>1</td><td>7</td><td><code>a&lt;b</code></td><td>exit status 3</td>"),
            "{html}"
        );
        let sig = Signal::accuracy();
        assert_eq!(
            tip(&sig, &failed, &[]),
            "a<b\nrun 1, query 7\nfailed: exit status 3"
        );
        assert_eq!(
            tip(&sig, &ok, &["params_m".into()]),
            "x\nrun 0, query 2, index 5\nfidelity 12\nval_acc 91.25 (no test value)\nparams_m 1.500"
        );
    }

    #[test]
    fn a_report_emprox_did_not_write_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join(rundir::SUMMARY), b"{}").unwrap();
        std::fs::write(d.join(REPORT), b"<html>mine</html>").unwrap();
        let e = write(d).unwrap_err().to_string();
        assert!(e.contains("report.html: not written by emprox"), "{e}");
        assert_eq!(std::fs::read(d.join(REPORT)).unwrap(), b"<html>mine</html>");
    }
}
