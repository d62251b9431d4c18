//! `coordinator keys …` and `coordinator bundle …`: the coordinator exports requests and
//! imports responses.

use anyhow::{anyhow, Result};
use usb_transfer::cli::{execute, Command, Side};
use usb_transfer::BundleKind;

pub fn run(command: &Command) -> Result<()> {
    let out = execute(
        Side {
            exports: BundleKind::Request,
        },
        command,
    )
    .map_err(|e| anyhow!(e))?;
    print!("{out}");
    Ok(())
}
