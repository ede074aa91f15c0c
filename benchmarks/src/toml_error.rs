//! Where a `toml` error points, and its message on one line: the one helper behind every
//! config error's `FILE:LINE:COL: message` (experiment, evaluation and table-description files).

/// Line and column (1-based, in characters) of byte `offset` of `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The line and column an error of parsing `text` points at. An unknown key or type found
/// while a whole table was being read (a tagged table: `[strategy]`, `[estimator]`) points at
/// the table; the key's (or the type's) own position inside it is given instead.
pub fn location(text: &str, e: &toml::de::Error) -> Option<(usize, usize)> {
    let span = e.span()?;
    let start = span.start.min(text.len());
    let ticked = |prefix: &str| {
        e.message()
            .strip_prefix(prefix)
            .and_then(|m| m.split('`').next())
    };
    let within = text.get(start..span.end.min(text.len())).unwrap_or("");
    let refined = match (ticked("unknown field `"), ticked("unknown variant `")) {
        (Some(key), _) => key_offset(within, key),
        (None, Some(v)) => within.find(&format!("\"{v}\"")),
        (None, None) => None,
    };
    let at = refined.map_or(start, |o| start + o);
    Some(line_col(text, at))
}

/// The offset in `table` of `key` written as a key (`key =` at the start of a line or after
/// `{` or `,`).
fn key_offset(table: &str, key: &str) -> Option<usize> {
    table.match_indices(key).map(|(i, _)| i).find(|&i| {
        let before = table[..i].trim_end_matches([' ', '\t']);
        let after = table[i + key.len()..].trim_start_matches([' ', '\t']);
        (before.is_empty() || before.ends_with(['\n', '{', ','])) && after.starts_with('=')
    })
}

/// The error's message on one line.
pub fn message(e: &toml::de::Error) -> String {
    e.message().split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    #[allow(dead_code)]
    enum T {
        A(A),
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct A {
        x: Option<u32>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct F {
        t: T,
        u: Option<T>,
    }

    #[test]
    fn unknown_keys_of_tagged_tables_point_at_the_key() {
        let text = "[t]\ntype = \"a\"\nx = 1\n  xx = 2\n";
        let e = toml::from_str::<F>(text).unwrap_err();
        assert_eq!(location(text, &e), Some((4, 3)));
        assert!(message(&e).starts_with("unknown field `xx`"));
        let text = "t = { type = \"a\", y = 2 }\n";
        let e = toml::from_str::<F>(text).unwrap_err();
        assert_eq!(location(text, &e), Some((1, 19)));
        // Other errors keep toml's own position.
        let text = "t = { type = \"a\" }\nu = { type = \"b\" }\n";
        let e = toml::from_str::<F>(text).unwrap_err();
        assert_eq!(location(text, &e), Some((2, 14)));
        assert_eq!(line_col("é\nab", 4), (2, 2));
    }
}
