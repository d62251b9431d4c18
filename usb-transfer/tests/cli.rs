//! The bundle CLI as both sides run it: keys, export, list, import, and its refusals.

use usb_transfer::cli::{run, Side};
use usb_transfer::BundleKind;

const COORD: Side = Side {
    exports: BundleKind::Request,
};
const STATION: Side = Side {
    exports: BundleKind::Response,
};

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn request_goes_from_coordinator_to_station() {
    let root = std::env::temp_dir().join(format!("srb-cli-{}", std::process::id()));
    let d = |p: &str| root.join(p).display().to_string();
    std::fs::create_dir_all(root.join("usb")).unwrap();
    std::fs::write(root.join("pass"), "correct horse\n").unwrap();
    std::fs::write(root.join("wrong"), "battery staple\n").unwrap();
    let pass = format!("--passphrase-file {} --work-factor 10", d("pass"));
    run(
        COORD,
        &args(&format!("keys generate --dir {} {pass}", d("coord"))),
    )
    .unwrap();
    run(
        STATION,
        &args(&format!("keys generate --dir {} {pass}", d("station"))),
    )
    .unwrap();
    // The secret file is encrypted: the hex seed is nowhere in it.
    let secret = std::fs::read(root.join("coord/keys.age")).unwrap();
    assert!(secret.starts_with(b"age-encryption.org/v1"));
    assert!(
        run(
            COORD,
            &args(&format!("keys generate --dir {} {pass}", d("coord")))
        )
        .is_err(),
        "never overwrites keys"
    );

    std::fs::write(root.join("envelope.bin"), b"an envelope").unwrap();
    let pass = format!("--passphrase-file {}", d("pass"));
    let out = run(
        COORD,
        &args(&format!(
            "bundle export --envelope {} --to {} --keys {} --out {} --label req-1 {pass}",
            d("envelope.bin"),
            d("station/keys.pub"),
            d("coord"),
            d("usb")
        )),
    )
    .unwrap();
    let bundle = out.rsplit(' ').next().unwrap().trim().to_string();
    assert!(bundle.ends_with(".srb"), "{out}");

    let listed = run(
        STATION,
        &args(&format!(
            "bundle list --dir {} --keys {} --trust {} {pass}",
            d("usb"),
            d("station"),
            d("coord/keys.pub")
        )),
    )
    .unwrap();
    assert!(listed.contains("valid request"), "{listed}");

    // `side` imports the bundle into `out`, trusting `trust`, with the passphrase args.
    let import = |side: Side, trust: &str, out: &str, pass: &str| {
        let line = format!(
            "bundle import --bundle {bundle} --keys {} --trust {} --out {} {pass}",
            d("station"),
            d(trust),
            d(out)
        );
        run(side, &args(&line))
    };
    let wrong = import(
        STATION,
        "coord/keys.pub",
        "in.bin",
        &format!("--passphrase-file {}", d("wrong")),
    );
    assert!(wrong.unwrap_err().contains("wrong passphrase"));

    let ok = import(STATION, "coord/keys.pub", "in.bin", &pass).unwrap();
    assert!(ok.contains("verified"), "{ok}");
    assert_eq!(std::fs::read(root.join("in.bin")).unwrap(), b"an envelope");

    // The coordinator does not import its own kind of bundle, and a foreign key is refused.
    let e = import(COORD, "coord/keys.pub", "x.bin", &pass).unwrap_err();
    assert!(e.contains("imports responses"), "{e}");
    let e = import(STATION, "station/keys.pub", "y.bin", &pass).unwrap_err();
    assert!(e.contains("unknown key"), "{e}");
    assert!(run(STATION, &args("bundle import --bundle")).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}
