//! Stable digests of configurations: canonical JSON and SHA-256, for config hashes, cache keys
//! and seeds derived from them.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of the canonical JSON of `value`: object keys sorted at every level, no
/// whitespace. Stable across runs, platforms and field order.
pub fn config_hash<T: Serialize>(value: &T) -> String {
    sha256_hex(canonical_json(value).as_bytes())
}

/// The canonical JSON text of `value` (keys sorted, compact).
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).expect("config values serialise to JSON");
    let mut out = String::new();
    write_canonical(&v, &mut out);
    out
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("string"));
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        assert_eq!(
            canonical_json(&serde_json::json!({"b": 1, "a": [true, {"d": 2, "c": 3}]})),
            r#"{"a":[true,{"c":3,"d":2}],"b":1}"#
        );
        assert_eq!(config_hash(&serde_json::json!({})).len(), 64);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
