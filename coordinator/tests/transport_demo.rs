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
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--loss must be in 0..90"));
    std::fs::remove_dir_all(&out).ok();
}
