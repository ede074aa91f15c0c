//! The README stays true: the files it points to exist, the quick-start example is a real
//! experiment file, and the requirements it states match the manifests.

mod common;
use common::*;

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

#[test]
fn every_file_the_readme_names_exists() {
    let text = readme();
    // Markdown links to files of the repository.
    let mut checked = 0;
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let target = &rest[..rest.find(')').unwrap()];
        if target.starts_with("http") {
            continue;
        }
        let path = target.split('#').next().unwrap();
        assert!(root().join(path).exists(), "README links to missing {path}");
        checked += 1;
    }
    // Example files named in the text.
    for (i, _) in text.match_indices("examples/") {
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/_.-".contains(c)))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches('.');
        if path.ends_with(".toml") || path.ends_with(".py") {
            let found = root().join(path).exists() || root().join("benchmarks").join(path).exists();
            assert!(found, "README names missing {path}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} references checked");
}

#[test]
fn the_quick_start_runs_a_real_experiment_file() {
    let text = readme();
    let cmd = "cargo run --release -- run ";
    let i = text.find(cmd).expect("quick-start command");
    let file = text[i + cmd.len()..].split_whitespace().next().unwrap();
    let t = tempfile::tempdir().unwrap();
    // The same file, cut short: it parses, runs and writes a summary.
    emprox_ok(&[
        "run",
        file,
        "--out",
        s(&t.path().join("out")),
        "--seeds",
        "2",
        "--set",
        "budget.max_queries=20",
    ]);
    assert!(t.path().join("out/summary.json").exists());
    assert!(text.contains("cargo test --release --workspace"));
}

#[test]
fn the_stated_rust_version_is_the_manifest_one() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let v = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        readme().contains(&format!("Rust {v} or newer")),
        "README must state Rust {v}"
    );
}

/// The keys of the TOML blocks of the README's experiment-file reference (from "## Experiment
/// files" to "## Outputs"), commented-out ones included.
fn reference_keys(text: &str) -> Vec<String> {
    let start = text
        .find("## Experiment files")
        .expect("the reference section");
    let end = start
        + text[start..]
            .find("## Outputs")
            .expect("the section after it");
    let mut keys = std::collections::BTreeSet::new();
    for block in text[start..end].split("```toml").skip(1) {
        let block = block.split("```").next().unwrap();
        for line in block.lines() {
            let l = line.trim_start().trim_start_matches('#').trim_start();
            // `key = ...` at the start of a line, and `{ key = ...` / `, key = ...` inside one.
            let mut candidates = vec![l];
            candidates.extend(line.split(['{', ',']).skip(1));
            for c in candidates {
                let c = c.trim_start();
                let name: String = c
                    .chars()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                    .collect();
                // Keys are snake_case; an `env` table's variables are the user's.
                let key = !name.is_empty() && !name.chars().any(|ch| ch.is_ascii_uppercase());
                if key && c[name.len()..].trim_start().starts_with('=') {
                    keys.insert(name);
                }
            }
        }
    }
    keys.into_iter().collect()
}

#[test]
fn every_key_of_the_readme_reference_is_in_emprox_list() {
    let keys = reference_keys(&readme());
    assert!(keys.len() >= 40, "only {} keys found: {keys:?}", keys.len());
    let list = String::from_utf8(emprox_ok(&["list"]).stdout).unwrap();
    let words: std::collections::HashSet<&str> = list
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !words.contains(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "`emprox list` lacks {missing:?}");
}

#[test]
fn the_readme_has_no_duplicated_paragraph_and_no_issue_reference() {
    let text = readme();
    let lines = text.lines().count();
    assert!(
        lines <= 440,
        "the README has {lines} lines; keep it a user's document"
    );
    // Paragraphs: blank-line separated, outside fenced code blocks.
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line.trim());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    let mut seen = std::collections::HashSet::new();
    for p in paragraphs.iter().filter(|p| p.chars().count() > 60) {
        assert!(
            seen.insert(p.as_str()),
            "the README repeats the paragraph:\n{p}"
        );
    }
    // No "issue 12"-style reference a reader cannot follow.
    let lower = text.to_ascii_lowercase();
    for (i, _) in lower.match_indices("issue ") {
        let next = lower[i + "issue ".len()..].chars().next();
        assert!(
            !next.is_some_and(|c| c.is_ascii_digit()),
            "the README refers to an issue by number: {:?}",
            text[i..].chars().take(20).collect::<String>()
        );
    }
}

#[test]
fn the_sections_emprox_list_names_are_readme_headings() {
    let readme = readme();
    let headings: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("### ").or_else(|| l.strip_prefix("## ")))
        .collect();
    let list = String::from_utf8(emprox_ok(&["list"]).stdout).unwrap();
    let named: Vec<&str> = list
        .split("README: \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(named.contains(&"Your own search space"), "{named:?}");
    for n in named {
        assert!(
            headings.contains(&n),
            "emprox list names the README section {n:?}"
        );
    }
}
