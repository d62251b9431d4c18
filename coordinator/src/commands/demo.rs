//! The transport demo: what crosses the air gap, rendered and read back.
//!
//! It writes real PNG frames, reads them back as a camera would (shuffled start, lost
//! frames, JPEG and blur damage), and checks the payload bit for bit. The envelope and
//! signing steps join this demo as their issues land.

use std::path::PathBuf;

use airgap_protocol::bbqr::{self, Encoding, FileType, SplitOptions};
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
use airgap_protocol::ur::UrEncoder;
use anyhow::{bail, Context, Result};

struct Options {
    out: PathBuf,
    version: u8,
    loss: f64,
    seed: u64,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        out: PathBuf::from("strongroom-demo"),
        version: 15,
        loss: 0.30,
        seed: 7,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--out" => o.out = PathBuf::from(val()?),
            "--version" => o.version = val()?.parse().context("--version takes 5..=40")?,
            "--loss" => {
                let p: f64 = val()?.parse().context("--loss takes a percentage")?;
                if !(0.0..90.0).contains(&p) {
                    bail!("--loss must be in 0..90 percent");
                }
                o.loss = p / 100.0;
            }
            "--seed" => o.seed = val()?.parse().context("--seed takes a number")?,
            other => bail!("unknown option `{other}`"),
        }
    }
    if !(5..=40).contains(&o.version) {
        bail!("--version must be in 5..=40");
    }
    Ok(o)
}

/// A deterministic stand-in payload of the size of a 20-input PSBT.
fn sample_payload(seed: u64) -> Vec<u8> {
    let mut rng = SplitMix::new(seed);
    let mut p =
        b"strongroom transport demo: this stands in for a signing request envelope. ".to_vec();
    while p.len() < 4000 {
        p.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    p
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let payload = sample_payload(o.seed);
    let ur_type = "bytes";
    let frag = qr::max_fragment_len_for_version(ur_type, o.version, payload.len())
        .context("no fragment length fits that QR version")?;
    let mut enc = UrEncoder::new(ur_type, &payload, frag)?;
    let k = enc.fragment_count();
    let renderer = FrameRenderer::new(o.version)?;
    let frames_dir = o.out.join("ur-frames");
    std::fs::create_dir_all(&frames_dir)
        .with_context(|| format!("cannot create {}", frames_dir.display()))?;

    // Show 3K frames, as a display loops; the reader joins at a random point.
    let shown = 3 * k;
    let mut rng = SplitMix::new(o.seed ^ 0x5eed);
    for i in 0..shown {
        let part = enc.next_part();
        let png = renderer.to_png(&part, 6)?;
        std::fs::write(frames_dir.join(format!("{:04}.png", i + 1)), png)?;
    }
    println!(
        "UR stream: {} bytes, {k} fragments of {frag} bytes, QR version {} (level L), {shown} frames in {}",
        payload.len(),
        o.version,
        frames_dir.display()
    );

    let damage = [
        Degradation::Clean,
        Degradation::Jpeg(30),
        Degradation::Blur(1),
        Degradation::Noise(20.0),
    ];
    let start = (rng.next_u64() % shown as u64) as usize;
    let mut scanner = Scanner::default();
    let (mut seen, mut lost) = (0usize, 0usize);
    let mut got = None;
    // A player loops over the frame files; the reader may need more than one pass.
    for step in 0..4 * shown {
        let idx = (start + step) % shown;
        seen += 1;
        if rng.next_f64() < o.loss {
            lost += 1;
            continue;
        }
        let path = frames_dir.join(format!("{:04}.png", idx + 1));
        let img = image::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let code = img.to_luma8();
        let side = 600;
        let canvas = place_on_canvas(&code, side);
        let d = damage[(rng.next_u64() % damage.len() as u64) as usize];
        let frame = degrade(&canvas, side, d, rng.next_u64());
        let gray = GrayFrame {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: frame.as_raw(),
        };
        for ev in scanner.push_frame(gray) {
            if let ScanEvent::Complete(p) = ev {
                got = Some(p);
            }
        }
        if got.is_some() {
            break;
        }
    }
    let p = scanner.progress();
    match got {
        Some(Payload::Ur { message, .. }) if message == payload => println!(
            "read back: complete after {seen} frames shown ({lost} lost, {} unreadable); optimum K/(1-loss) = {:.1}",
            p.frames_without_code,
            k as f64 / (1.0 - o.loss)
        ),
        Some(_) => bail!("read back a different payload"),
        None => bail!(
            "stream did not complete: {}/{} fragments after {seen} frames ({lost} lost, {} unreadable, {} rejected)",
            p.useful,
            p.total,
            p.frames_without_code,
            p.rejected
        ),
    }

    let split = bbqr::split(
        &payload,
        FileType::Binary,
        SplitOptions {
            encoding: Encoding::Zlib,
            max_version: o.version,
            ..Default::default()
        },
    )?;
    let bbqr_dir = o.out.join("bbqr-frames");
    std::fs::create_dir_all(&bbqr_dir)?;
    let bbqr_renderer = FrameRenderer::new(split.version)?;
    for (i, part) in split.parts.iter().enumerate() {
        std::fs::write(
            bbqr_dir.join(format!("{:04}.png", i + 1)),
            bbqr_renderer.to_png(part, 6)?,
        )?;
    }
    let mut scanner = Scanner::default();
    let mut done = false;
    for i in (0..split.parts.len()).rev() {
        let img = image::open(bbqr_dir.join(format!("{:04}.png", i + 1)))?.to_luma8();
        let gray = GrayFrame {
            width: img.width() as usize,
            height: img.height() as usize,
            data: img.as_raw(),
        };
        for ev in scanner.push_frame(gray) {
            if let ScanEvent::Complete(Payload::Bbqr { data, .. }) = ev {
                if data != payload {
                    bail!("BBQr read back a different payload");
                }
                done = true;
            }
        }
    }
    if !done {
        bail!("BBQr stream did not complete");
    }
    println!(
        "BBQr stream: {} parts ({:?}), QR version {}, read back in reverse order: intact; frames in {}",
        split.parts.len(),
        split.encoding,
        split.version,
        bbqr_dir.display()
    );
    Ok(())
}
