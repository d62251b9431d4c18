//! Every command of the approver's tool answers `--help` (starting nothing), the tool
//! answers `--version`, and a mistyped flag is an error.

use std::process::Command;

fn approver(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_approver"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_version_and_unknown_flags() {
    for args in [
        &["--help"][..],
        &["new-key", "--help"],
        &["show", "--help"],
        &["approve", "--help"],
    ] {
        let o = approver(args);
        assert!(o.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: approver"));
    }
    let o = approver(&["--version"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("approver "));
    let o = approver(&["approve", "--kye", "x"]);
    assert!(!o.status.success());
    // Without a request source: a clear error, nothing signed.
    let o = approver(&["show"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("give --url and --request, or --file"));
}
