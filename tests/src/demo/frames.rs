//! QR frames written to files and read back as a camera would, with loss and damage.

use super::*;

/// Writes an envelope as QR frames (PNG) and returns how many.
pub(super) fn write_frames(env: &Envelope, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    let (ur_type, message) = encode_envelope(env);
    let frag = qr::max_fragment_len_for_version(ur_type, QR_VERSION, message.len())
        .context("fragment length")?;
    let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)?;
    let r = FrameRenderer::new(QR_VERSION)?;
    let n = if enc.is_single_part() {
        1
    } else {
        enc.fragment_count() * 2 + 2
    };
    for i in 0..n {
        std::fs::write(
            dir.join(format!("{:04}.png", i + 1)),
            r.to_png(&enc.next_part(), 4)?,
        )?;
    }
    Ok(n)
}

pub(super) fn frame_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    Ok(files)
}

/// Reads frames as a camera would: joins at a random point of the loop, loses three
/// frames in ten (evenly, so even a short stream shows it), and every other frame is
/// JPEG-damaged or blurred.
pub(super) fn read_frames(dir: &Path, seed: u64) -> Result<(Envelope, usize, usize)> {
    let files = frame_files(dir)?;
    let mut rng = SplitMix::new(seed);
    let start = (rng.next_u64() % files.len() as u64) as usize;
    let mut scanner = Scanner::default();
    let (mut shown, mut lost) = (0, 0);
    for k in 0..files.len() * 4 {
        shown += 1;
        if (3 * (k + 1)) / 10 > (3 * k) / 10 {
            lost += 1;
            continue;
        }
        let code = image::open(&files[(start + k) % files.len()])?.to_luma8();
        let canvas = place_on_canvas(&code, 620);
        let d = match k % 4 {
            0 => Degradation::Jpeg(30),
            2 => Degradation::Blur(1),
            _ => Degradation::Clean,
        };
        let frame = degrade(&canvas, 620, d, k as u64);
        let g = GrayFrame::of(&frame);
        for ev in scanner.push_frame(g) {
            if let ScanEvent::Complete(Scanned::Ur { ur_type, message }) = ev {
                return Ok((decode_envelope(&ur_type, &message)?, shown, lost));
            }
        }
    }
    bail!("frames in {} never completed", dir.display())
}

/// The texts of QR frames (PNG files), as the console's camera would scan them.
pub(super) fn scan_texts(dir: &Path) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for f in frame_files(dir)? {
        let img = image::open(&f)?.to_luma8();
        let g = GrayFrame::of(&img);
        for t in qr::decode_gray(g, qr::DecoderKind::default()) {
            if !texts.contains(&t) {
                texts.push(t);
            }
        }
    }
    Ok(texts)
}
