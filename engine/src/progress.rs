//! Progress display. On a terminal: an indicatif bar with an ETA that ticks on time. Elsewhere
//! (nohup, a pipe, a cluster job): plain lines on stderr, one per evaluation for slow evaluators
//! (training, external commands) and, for table lookups, every [`LINE_EVERY`] queries (or every
//! tenth of the experiment, if that is more) and at the end, each with the incumbent of the run
//! that made the query and an ETA; no colour codes. `--quiet`: nothing but errors and
//! the final result.

use crate::pipeline::search::{ExperimentStart, Progress, QueryEnd};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed evaluations whose reason is printed in full; later ones are only counted.
pub const FAILURES_SHOWN: u64 = 3;

/// Outside a terminal, table lookups print a line at least this many queries apart (over all
/// runs), and at the last query.
pub const LINE_EVERY: u64 = 50;

static QUIET: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline to stderr. A stderr that cannot be written (a full disk, a closed
/// descriptor) is ignored: progress, warnings and log lines must never stop a run (`eprintln!`
/// would panic).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `--quiet`: no progress and no warnings, only errors and the final result.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

/// True under `--quiet`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::SeqCst)
}

enum Display {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

/// The experiment being run (a comparison runs several, one after another).
struct Current {
    label: String,
    queries_per_run: Option<u64>,
    total: Option<u64>,
    every: u64,
    done: u64,
    started: Instant,
    /// Each evaluation takes real time: each is shown.
    slow: bool,
    signal: emprox_benchmarks::Signal,
    /// Phases under way (by run; `None`: the experiment's), with their start and whether they
    /// ended (for a log line announced after [`PHASE_REPORTED`]).
    phases: Vec<(Option<u64>, String, Instant, Arc<AtomicBool>)>,
    /// Wall seconds during which some phase ran (left out of the evaluation rate; phases of
    /// parallel runs overlap and count once).
    phase_seconds: f64,
}

/// Phases shorter than this are not reported in logs: a longer one gets a line when it has run
/// this long, and one when it ends.
const PHASE_REPORTED: f64 = 1.0;

/// Progress over all runs of an experiment (or of each experiment of a comparison in turn).
pub struct Reporter {
    display: Display,
    current: Mutex<Current>,
    failed: AtomicU64,
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter {
    /// A reporter: a bar on a terminal, plain lines otherwise, nothing under `--quiet`.
    pub fn new() -> Self {
        let display = if quiet() {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(200));
            Display::Bar(b)
        } else {
            Display::Lines
        };
        Self {
            display,
            current: Mutex::new(Current {
                label: "emprox".into(),
                queries_per_run: None,
                total: None,
                every: LINE_EVERY,
                done: 0,
                started: Instant::now(),
                slow: false,
                signal: emprox_benchmarks::Signal::accuracy(),
                phases: Vec::new(),
                phase_seconds: 0.0,
            }),
            failed: AtomicU64::new(0),
        }
    }

    /// New failed evaluations reported so far.
    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Display::Bar(b) = &self.display {
            b.finish_and_clear();
        }
        let n = self.failures();
        if n > FAILURES_SHOWN && !matches!(self.display, Display::Quiet) {
            say(&format!(
                "warning: {} more evaluation(s) failed (reasons in the runs' trials.jsonl)",
                n - FAILURES_SHOWN
            ));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Seconds as `4.2s`, `3m 05s` or `2h 07m`.
pub fn human_secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    let whole = s.round() as u64;
    if s < 60.0 {
        format!("{s:.1}s")
    } else if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

/// A run's incumbent, as plain text.
fn incumbent(best: Option<(f64, f64)>, signal: &emprox_benchmarks::Signal) -> String {
    match best {
        Some((v, t)) if t.is_finite() => format!(
            "run's best val {} (test {})",
            signal.value(v),
            signal.value(t)
        ),
        Some((v, _)) => format!("run's best val {}", signal.value(v)),
        None => "no successful evaluation yet".into(),
    }
}

impl Current {
    /// `done/total queries in 4.2s, ETA 3m 05s` (or `done` at the end).
    fn overall(&self) -> String {
        let elapsed = human_secs(self.started.elapsed().as_secs_f64());
        match self.total {
            Some(total) => format!("{}/{total} queries in {elapsed}, {}", self.done, self.eta()),
            None => format!("{} queries in {elapsed}", self.done),
        }
    }

    /// `ETA 3m 05s` from the evaluation rate so far (phases left out); "ETA unknown" before the
    /// first result or while a phase runs; `done` when every query is made; empty without a
    /// query budget.
    fn eta(&self) -> String {
        let Some(total) = self.total else {
            return String::new();
        };
        let left = total.saturating_sub(self.done);
        if left == 0 {
            "done".to_string()
        } else if self.done == 0 || !self.phases.is_empty() {
            "ETA unknown".to_string()
        } else {
            let elapsed = self.started.elapsed().as_secs_f64();
            let rate = (elapsed - self.phase_seconds).max(0.0) / self.done as f64;
            match rate * left as f64 {
                t if t < 1.0 => "ETA under 1s".to_string(),
                t => format!("ETA {}", human_secs(t)),
            }
        }
    }

    /// `run 2: ` or nothing for the experiment's own phases.
    fn who(run: Option<u64>) -> String {
        run.map(|r| format!("run {r}: ")).unwrap_or_default()
    }
}

impl Reporter {
    /// Shows `line` above the bar, or as a log line.
    fn line(&self, line: &str) {
        match &self.display {
            Display::Bar(bar) => bar.suspend(|| say(line)),
            Display::Lines => say(line),
            Display::Quiet => {}
        }
    }

    /// The bar's message: the phases under way, else `text`; with the ETA.
    fn message(&self, c: &Current, text: String) {
        if let Display::Bar(bar) = &self.display {
            let now = match c.phases.last() {
                Some((run, what, _, _)) => format!("{}{what}...", Current::who(*run)),
                None => text,
            };
            bar.set_message(match c.eta() {
                eta if eta.is_empty() => now,
                eta => format!("{now}  [{eta}]"),
            });
        }
    }
}

impl Progress for Reporter {
    fn experiment(&self, start: &ExperimentStart) {
        let mut c = self.lock();
        c.label = format!("{} on {}", start.name, start.dataset);
        c.queries_per_run = start.queries_per_run;
        c.total = start.queries_per_run.map(|q| q.saturating_mul(start.runs));
        c.every = match (start.slow, c.total) {
            (true, _) => 1,
            (false, Some(t)) => (t / 10).max(LINE_EVERY),
            (false, None) => LINE_EVERY,
        };
        c.done = 0;
        c.started = Instant::now();
        c.slow = start.slow;
        c.signal = start.signal.clone();
        c.phase_seconds = 0.0;
        match &self.display {
            Display::Bar(bar) => {
                let template = match c.total {
                    Some(_) => "{prefix} {bar:30} {pos}/{len} queries in {elapsed}  {msg}",
                    None => "{prefix} {spinner} {pos} queries in {elapsed}  {msg}",
                };
                bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
                bar.set_prefix(c.label.clone());
                bar.set_length(c.total.unwrap_or(0));
                bar.reset();
                self.message(&c, String::new());
            }
            Display::Lines => say(&format!(
                "{}: {} run(s){} started",
                c.label,
                start.runs,
                c.queries_per_run
                    .map(|q| format!(" of {q} queries"))
                    .unwrap_or_default()
            )),
            Display::Quiet => {}
        }
    }

    fn phase(&self, run: Option<u64>, what: Option<&str>) {
        let mut c = self.lock();
        match what {
            Some(w) => {
                let ended = Arc::new(AtomicBool::new(false));
                c.phases
                    .push((run, w.to_string(), Instant::now(), ended.clone()));
                if matches!(self.display, Display::Lines) {
                    // Said once it has taken a second: quick phases (most refits) stay quiet.
                    let line = format!("{}: {}{w}...", c.label, Current::who(run));
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs_f64(PHASE_REPORTED));
                        if !ended.load(Ordering::SeqCst) {
                            say(&line);
                        }
                    });
                }
            }
            None => {
                let Some(i) = c.phases.iter().rposition(|p| p.0 == run) else {
                    return;
                };
                let (_, w, t, ended) = c.phases.remove(i);
                ended.store(true, Ordering::SeqCst);
                let secs = t.elapsed().as_secs_f64();
                // The time since the earliest phase still running (or this one) began, once.
                let since = c.phases.iter().map(|p| p.2).min().map_or(t, |m| m.min(t));
                if c.phases.is_empty() {
                    c.phase_seconds += since.elapsed().as_secs_f64();
                }
                if secs >= PHASE_REPORTED {
                    let line = format!(
                        "{}: {}{w}: done in {}",
                        c.label,
                        Current::who(run),
                        human_secs(secs)
                    );
                    self.message(&c, String::new());
                    drop(c);
                    self.line(&line);
                    return;
                }
            }
        }
        self.message(&c, String::new());
    }

    fn failed(&self, run: u64, query: u64, arch: &str, reason: &str) {
        let n = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= FAILURES_SHOWN {
            self.line(&format!(
                "warning: run {run} query {query} ({arch}) failed: {reason}"
            ));
        }
    }

    fn query(&self, end: &QueryEnd) {
        let mut c = self.lock();
        c.done += 1;
        let best = incumbent(end.best, &c.signal);
        // A slow evaluation is shown on its own: cell, score, time.
        let evaluated = (c.slow && !end.replayed).then(|| {
            let score = end.score.map_or("failed".to_string(), |v| {
                format!("{} {}", c.signal.metric, c.signal.value(v))
            });
            format!(
                "run {} query {}{}: {} {score} in {}",
                end.run,
                end.query,
                c.queries_per_run
                    .map(|q| format!("/{q}"))
                    .unwrap_or_default(),
                end.arch,
                human_secs(end.seconds)
            )
        });
        match &self.display {
            Display::Quiet => {}
            Display::Bar(bar) => {
                if let Some(e) = &evaluated {
                    bar.suspend(|| say(e));
                }
                bar.inc(1);
                self.message(&c, format!("run {}: {best}", end.run));
            }
            Display::Lines => {
                if !(c.done.is_multiple_of(c.every) || c.total == Some(c.done)) {
                    return;
                }
                let of = c
                    .queries_per_run
                    .map(|q| format!("/{q}"))
                    .unwrap_or_default();
                let what = match evaluated {
                    Some(e) => format!("{e}; {best}"),
                    None => format!("run {} query {}{of}: {best}", end.run, end.query),
                };
                say(&format!("{}: {what}; {}", c.label, c.overall()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(human_secs(4.24), "4.2s");
        assert_eq!(human_secs(185.0), "3m 05s");
        assert_eq!(human_secs(7620.0), "2h 07m");
        assert_eq!(human_secs(f64::NAN), "?");
        let acc = emprox_benchmarks::Signal::accuracy();
        assert_eq!(incumbent(None, &acc), "no successful evaluation yet");
        assert_eq!(
            incumbent(Some((91.5, f64::NAN)), &acc),
            "run's best val 91.50"
        );
    }
}
