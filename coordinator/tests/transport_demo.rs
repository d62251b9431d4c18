//! `coordinator demo` (transport only) completes and reads back what it wrote.

use std::process::Command;

/// Runs `coordinator demo` with `args`: whether it succeeded, its stdout and stderr.
fn demo(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .arg("demo")
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn transport_demo_reads_back_its_frames() {
    let out = std::env::temp_dir().join(format!("coord-demo-{}", std::process::id()));
    let (ok, stdout, stderr) = demo(&["--out", out.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("read back: complete"), "{stdout}");
    assert!(
        stdout.contains("read back in reverse order: intact"),
        "{stdout}"
    );
    let (ok, _, err) = demo(&["--loss", "95"]);
    assert!(!ok);
    assert!(
        err.contains("--loss") && err.contains("must be in 0..90"),
        "{err}"
    );
    std::fs::remove_dir_all(&out).ok();
}
