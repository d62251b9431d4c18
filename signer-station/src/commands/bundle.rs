//! `signer-station keys …` and `signer-station bundle …`: the station imports requests
//! and exports responses.

use usb_transfer::cli::{execute, Command, Side};
use usb_transfer::BundleKind;

pub fn run(command: &Command) -> Result<(), String> {
    let out = execute(
        Side {
            exports: BundleKind::Response,
        },
        command,
    )?;
    print!("{out}");
    Ok(())
}
