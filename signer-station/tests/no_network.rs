//! The station opens no sockets: no crate that does may be in its dependency tree.

use std::process::Command;

/// Crates whose presence means networking code is linked into the station.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "hyper",
    "reqwest",
    "axum",
    "tower",
    "h2",
    "socket2",
    "ureq",
    "isahc",
    "curl",
    "tungstenite",
    "quinn",
    "rustls",
    "native-tls",
    "openssl",
];

#[test]
fn station_dependency_tree_has_no_networking_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "signer-station",
            "-e",
            "normal",
            "--all-features",
            "--prefix",
            "none",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"airgap-protocol"),
        "tree looks wrong:\n{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(f)).collect();
    assert!(
        found.is_empty(),
        "networking crates in the station: {found:?}"
    );
}
