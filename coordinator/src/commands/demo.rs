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

/// `coordinator demo`: encode a payload as an animated UR QR stream and a BBQr stream,
/// write the frames as PNG files, read them back through frame loss and damage.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to write the frames.
    #[arg(long, value_name = "DIR", default_value = "strongroom-demo")]
    out: PathBuf,
    /// QR version of every frame (5 to 40).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(5..=40))]
    version: u8,
    /// Frames lost on the way, percent (0 to 90).
    #[arg(long, value_name = "PERCENT", default_value_t = 30.0, value_parser = loss_percent)]
    loss: f64,
    /// Seed of the stand-in payload and of the damage.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn loss_percent(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| "a percentage".to_string())?;
    if (0.0..90.0).contains(&p) {
        Ok(p)
    } else {
        Err("must be in 0..90 percent".into())
    }
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

pub fn run(o: &DemoArgs) -> Result<()> {
    let loss = o.loss / 100.0;
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
        if rng.next_f64() < loss {
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
        let gray = GrayFrame::of(&frame);
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
            k as f64 / (1.0 - loss)
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
        let gray = GrayFrame::of(&img);
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
