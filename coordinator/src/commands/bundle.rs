//! `coordinator keys …` and `coordinator bundle …`: the coordinator exports requests and
//! imports responses.

use anyhow::{anyhow, Result};
use usb_transfer::cli::{run as run_cli, Side};
use usb_transfer::BundleKind;

pub fn run(args: &[String]) -> Result<()> {
    let out = run_cli(
        Side {
            exports: BundleKind::Request,
        },
        args,
    )
    .map_err(|e| anyhow!(e))?;
    print!("{out}");
    Ok(())
}
