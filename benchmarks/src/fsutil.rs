//! File-system helpers shared by every crate that writes results.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest name that names a folder (an experiment's `name`, a tabular description's).
pub const MAX_NAME_CHARS: usize = 100;

/// Unicode's format characters (general category Cf, Unicode 15.1): invisible, and some reorder
/// the text around them on a terminal (U+202E RIGHT-TO-LEFT OVERRIDE).
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// True for a Unicode format character (general category Cf).
pub fn is_format_char(c: char) -> bool {
    FORMAT_CHARS.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Why `name` cannot be a plain folder name, if it cannot: empty, `.` or `..`, a path separator,
/// control or format characters, more than [`MAX_NAME_CHARS`] characters.
pub fn plain_name_problem(name: &str) -> Option<String> {
    let why = if name.trim().is_empty() {
        Some("must not be empty")
    } else if name == "." || name == ".." {
        Some("must not be `.` or `..`")
    } else if name.contains(['/', '\\']) {
        Some("must be a plain folder name, without `/` or `\\`")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if name.chars().any(is_format_char) {
        Some("must not contain Unicode format characters (such as U+202E, which reorders text)")
    } else if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("must be at most {MAX_NAME_CHARS} characters"));
    } else {
        None
    };
    why.map(String::from)
}

/// The temporary partner of `path` used by [`write_atomic`]: `NAME.tmp` beside it.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file beside it, synced and then renamed over
/// `path`: a crash or power loss leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let res = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_data()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if res.is_err() {
        // Only our own temporary file, never the target.
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_refuse_what_a_terminal_or_a_folder_would_misread() {
        assert_eq!(plain_name_problem("nb201-cifar10"), None);
        assert_eq!(plain_name_problem("ré-évolution 2"), None);
        assert_eq!(plain_name_problem(&"x".repeat(MAX_NAME_CHARS)), None);
        for (name, why) in [
            (" ", "empty"),
            ("..", "`..`"),
            ("a/b", "plain folder name"),
            ("a\u{1b}[31mred", "control characters"),
            ("abc\u{202E}gpj.exe", "format characters"),
            ("zero\u{200B}width", "format characters"),
            ("tag\u{E0041}", "format characters"),
        ] {
            assert!(plain_name_problem(name).unwrap().contains(why), "{name:?}");
        }
        assert!(plain_name_problem(&"x".repeat(MAX_NAME_CHARS + 1))
            .unwrap()
            .contains("at most 100"));
    }

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(tmp_path(&p), dir.path().join("summary.json.tmp"));
        assert!(!tmp_path(&p).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-folder").join("x.svg");
        assert!(write_atomic(&p, b"x").is_err());
        let q = dir.path().join("x.svg");
        write_atomic(&q, b"old").unwrap();
        // A folder in the way of the temporary file makes the write fail.
        std::fs::create_dir(tmp_path(&q)).unwrap();
        assert!(write_atomic(&q, b"new").is_err());
        assert_eq!(std::fs::read(&q).unwrap(), b"old");
    }
}
