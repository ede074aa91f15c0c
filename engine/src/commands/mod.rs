//! The subcommands of the `emprox` binary.

pub mod arch;
pub mod compare;
pub mod list;
pub mod predictors;
pub mod run;
pub mod show;
pub mod train_one;

/// Writes `text` to stdout. A reader that went away (`emprox run FILE | head -1`) ends the
/// output quietly, as Unix filters such as ripgrep do: the results are on disk already.
pub fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
