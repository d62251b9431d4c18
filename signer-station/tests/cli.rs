//! The station's command line: help and version on every command, help never starts the
//! screen or touches an HSM, unknown flags are errors.

use std::process::{Command, Output};

fn station(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signer-station"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_and_version_on_every_command() {
    let v = station(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("signer-station "));
    for args in [
        &["--help"][..],
        &["tui", "--help"],
        &["ceremony", "--help"],
        &["ceremony", "init", "--help"],
        &["ceremony", "register", "--help"],
        &["ceremony", "reanchor", "--help"],
        &["ceremony", "rehearse", "--help"],
        &["ledger", "verify", "--help"],
        &["ledger", "repair", "--help"],
        &["bundle", "import", "--help"],
        &["keys", "show", "--help"],
    ] {
        let o = station(args);
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let tui = String::from_utf8_lossy(&station(&["tui", "--help"]).stdout).to_string();
    assert!(
        tui.contains("--rehearse") && tui.contains("--station"),
        "{tui}"
    );
}

#[test]
fn fail_unknown_flags_and_missing_values() {
    for args in [
        &["tui", "--hsm", "usb"][..],
        &["tui", "--hsm", "floppy", "--station", "x"],
        &["ceremony", "keys", "--station", "x"],
        &["ledger", "verify"],
        &["ledger", "verify", "--ledger", "a", "--extra"],
    ] {
        let o = station(args);
        assert_eq!(o.status.code(), Some(2), "{args:?} must be a usage error");
    }
}
