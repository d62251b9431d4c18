//! `signer-station keys …` and `signer-station bundle …`: the station imports requests
//! and exports responses.

use usb_transfer::cli::{run as run_cli, Side};
use usb_transfer::BundleKind;

pub fn run(args: &[String]) -> Result<(), String> {
    let out = run_cli(
        Side {
            exports: BundleKind::Response,
        },
        args,
    )?;
    print!("{out}");
    Ok(())
}
