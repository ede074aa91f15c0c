//! The subcommands of the `emprox` binary.

pub mod arch;
pub mod compare;
pub mod export;
pub mod list;
pub mod pools;
pub mod predictors;
pub mod report;
pub mod run;
pub mod show;
pub mod train_one;

/// The final result could not be written to stdout (a full disk, a closed descriptor): the
/// results are on disk, but the command fails (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the result to stdout: {0}")]
pub struct StdoutFailed(#[source] pub std::io::Error);

/// Writes `text` to stdout. A reader that went away (`emprox run FILE | head -1`) ends the
/// output quietly, as Unix filters such as ripgrep do: the results are on disk already. Any
/// other failure is a [`StdoutFailed`] (`println!` would panic).
pub fn print_out(text: &str) -> Result<(), StdoutFailed> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(StdoutFailed),
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already holds
/// (what the binary prints after `error: `, and the Python package's exception messages).
pub fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg.replace('\n', " ")
}
