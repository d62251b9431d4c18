//! `coordinator demo` (transport only) completes and reads back what it wrote.

use std::process::Command;

#[test]
fn transport_demo_reads_back_its_frames() {
    let out = std::env::temp_dir().join(format!("coord-demo-{}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["demo", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("read back: complete"), "{stdout}");
    assert!(
        stdout.contains("read back in reverse order: intact"),
        "{stdout}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["demo", "--loss", "95"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--loss") && err.contains("must be in 0..90"),
        "{err}"
    );
    std::fs::remove_dir_all(&out).ok();
}
