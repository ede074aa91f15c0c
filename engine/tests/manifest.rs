//! The workspace's declared minimum Rust version is the one the code needs, and every crate
//! declares it (a member that does not inherit it declares none).

use std::process::Command;

#[test]
fn every_crate_declares_the_rust_version_the_code_needs() {
    let o = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let packages = m["packages"].as_array().unwrap();
    assert!(packages.len() >= 6, "{packages:?}");
    for p in packages {
        let v = p["rust_version"]
            .as_str()
            .unwrap_or_else(|| panic!("{} declares no rust-version", p["name"]));
        let parts: Vec<u32> = v.split('.').map(|x| x.parse().unwrap()).collect();
        // std::fs::File::lock / try_lock (run-folder and cache locks) are stable since 1.89.
        assert!(
            (parts[0], parts[1]) >= (1, 89),
            "{}: rust-version {v} is older than the 1.89 the code needs",
            p["name"]
        );
    }
}
