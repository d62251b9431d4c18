//! Transport benchmarks; prints markdown tables (recorded in docs/PERFORMANCE.md).
//!
//!     cargo bench -p airgap-protocol --bench transport
//!
//! 1. frames shown until decode, this receiver vs the `ur` crate's decoder vs BBQr cycling
//! 2. bytes per frame by QR version
//! 3. decode time and rate on the degraded corpus, per decoder, with zbarimg as reference

use std::process::Command;
use std::time::Instant;

use airgap_protocol::bbqr::{self, Encoding, FileType, SplitOptions};
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, decode_gray, DecoderKind, FrameRenderer, GrayFrame};
use airgap_protocol::ur::{Received, UrEncoder, UrReceiver};

const TRIALS: usize = 300;

fn message(len: usize, seed: u64) -> Vec<u8> {
    let mut r = SplitMix::new(seed);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

/// Frames shown until our receiver completes.
fn frames_ours(msg: &[u8], frag: usize, loss: f64, rng: &mut SplitMix) -> usize {
    let mut enc = UrEncoder::new("bytes", msg, frag).unwrap();
    let k = enc.fragment_count() as u64;
    for _ in 0..rng.next_u64() % (3 * k) {
        enc.next_part();
    }
    let mut rx = UrReceiver::default();
    for shown in 1.. {
        let p = enc.next_part();
        if rng.next_f64() < loss {
            continue;
        }
        if let Ok(Received::Complete { .. }) = rx.receive(&p) {
            return shown;
        }
    }
    unreachable!()
}

/// Frames shown until the `ur` crate's own decoder completes, on the same kind of stream.
fn frames_ur_crate(msg: &[u8], frag: usize, loss: f64, rng: &mut SplitMix) -> usize {
    let mut enc = ur::Encoder::bytes(msg, frag).unwrap();
    let k = enc.fragment_count() as u64;
    for _ in 0..rng.next_u64() % (3 * k) {
        enc.next_part().unwrap();
    }
    let mut dec = ur::Decoder::default();
    for shown in 1.. {
        let p = enc.next_part().unwrap();
        if rng.next_f64() < loss {
            continue;
        }
        dec.receive(&p).unwrap();
        if dec.complete() {
            return shown;
        }
    }
    unreachable!()
}

/// Frames shown until every one of K cycling parts (BBQr) has been seen.
fn frames_cycling(k: usize, loss: f64, rng: &mut SplitMix) -> usize {
    let start = (rng.next_u64() % k as u64) as usize;
    let mut seen = vec![false; k];
    let mut left = k;
    for shown in 1.. {
        let i = (start + shown - 1) % k;
        if rng.next_f64() < loss {
            continue;
        }
        if !seen[i] {
            seen[i] = true;
            left -= 1;
            if left == 0 {
                return shown;
            }
        }
    }
    unreachable!()
}

fn mean(v: &[usize]) -> f64 {
    v.iter().sum::<usize>() as f64 / v.len() as f64
}

fn pct(v: &mut [usize], p: f64) -> usize {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn table_frames() {
    println!("## 1. Frames shown until decode ({TRIALS} trials each, random start, fragment 100 bytes)\n");
    println!("| K | loss | optimum K/(1-loss) | this receiver mean (p95) | ratio | `ur` crate decoder mean (p95) | ratio | BBQr cycling mean (p95) | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for k in [10usize, 20, 100] {
        let msg = message(k * 100, k as u64);
        for loss in [0.0, 0.1, 0.3] {
            let opt = k as f64 / (1.0 - loss);
            let mut rng = SplitMix::new(42 + k as u64);
            let mut a: Vec<usize> = (0..TRIALS)
                .map(|_| frames_ours(&msg, 100, loss, &mut rng))
                .collect();
            let mut b: Vec<usize> = (0..TRIALS)
                .map(|_| frames_ur_crate(&msg, 100, loss, &mut rng))
                .collect();
            let mut c: Vec<usize> = (0..TRIALS)
                .map(|_| frames_cycling(k, loss, &mut rng))
                .collect();
            let (ma, mb, mc) = (mean(&a), mean(&b), mean(&c));
            println!(
                "| {k} | {:.0} % | {opt:.1} | {ma:.1} ({}) | {:.2} | {mb:.1} ({}) | {:.2} | {mc:.1} ({}) | {:.2} |",
                loss * 100.0,
                pct(&mut a, 0.95),
                ma / opt,
                pct(&mut b, 0.95),
                mb / opt,
                pct(&mut c, 0.95),
                mc / opt
            );
        }
    }
    println!();
}

fn table_bytes() {
    let psbt = include_bytes!("../tests/vectors/bbqr/test_data/1in100out.psbt");
    println!("## 2. Bytes per frame by QR version (level L)\n");
    println!("Sample: `1in100out.psbt` ({} bytes). UR parts are upper case (alphanumeric mode), worst-case sequence numbers; BBQr Z carries deflated bytes in base32.\n", psbt.len());
    println!("| version | alnum capacity | UR `crypto-psbt` fragment bytes/frame | UR frames for sample (K) | BBQr Z compressed bytes/frame | BBQr Z frames for sample | BBQr Z effective sample bytes/frame |");
    println!("|---|---|---|---|---|---|---|");
    for v in [10u8, 15, 20, 25] {
        let cap = qr::capacity(v).unwrap();
        let frag = qr::max_fragment_len_for_version("crypto-psbt", v, psbt.len()).unwrap();
        let k = UrEncoder::new("crypto-psbt", psbt, frag)
            .unwrap()
            .fragment_count();
        let z_chars = (cap - 8) / 8 * 8;
        let split = bbqr::split(
            psbt,
            FileType::Psbt,
            SplitOptions {
                encoding: Encoding::Zlib,
                min_version: v,
                max_version: v,
                ..Default::default()
            },
        )
        .unwrap();
        println!(
            "| {v} | {cap} | {frag} | {k} | {} | {} | {:.0} |",
            z_chars * 5 / 8,
            split.parts.len(),
            psbt.len() as f64 / split.parts.len() as f64
        );
    }
    println!();
}

struct CorpusFrame {
    name: String,
    expected: String,
    img: image::GrayImage,
}

fn corpus() -> Vec<CorpusFrame> {
    let msg = message(3000, 9);
    let version = 15;
    let frag = qr::max_fragment_len_for_version("crypto-psbt", version, msg.len()).unwrap();
    let mut enc = UrEncoder::new("crypto-psbt", &msg, frag).unwrap();
    let r = FrameRenderer::new(version).unwrap();
    let mut out = Vec::new();
    for i in 0..6u64 {
        let text = enc.next_part();
        let code = r.to_gray(&text, 4).unwrap();
        let side = 420;
        let canvas = place_on_canvas(&code, side);
        for d in Degradation::standard_set() {
            for s in 0..3 {
                out.push(CorpusFrame {
                    name: d.name(),
                    expected: text.clone(),
                    img: degrade(&canvas, side, d, i * 100 + s),
                });
            }
        }
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn table_decoders() {
    let frames = corpus();
    let kinds = [
        ("rqrr", Some(DecoderKind::Rqrr)),
        ("rxing", Some(DecoderKind::Rxing)),
        ("rqrr then rxing", Some(DecoderKind::RqrrThenRxing)),
        (
            "rxing then rqrr (default)",
            Some(DecoderKind::RxingThenRqrr),
        ),
        ("zbarimg 0.23 (process per frame)", None),
    ];
    let degr: Vec<String> = Degradation::standard_set()
        .iter()
        .map(Degradation::name)
        .collect();
    let dir = std::env::temp_dir().join("strongroom-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, f) in frames.iter().enumerate() {
        f.img.save(dir.join(format!("{i:04}.png"))).unwrap();
    }
    println!("## 3. Decoding 1280x720 frames of the degraded corpus\n");
    println!("{} frames: 6 UR parts at QR version 15 (420 px on a 1280x720 canvas) x {} degradations x 3 seeds.\n", frames.len(), degr.len());
    let mut rows = Vec::new();
    for (label, kind) in kinds {
        let mut times = Vec::new();
        let mut ok_by = vec![0usize; degr.len()];
        let mut ok = 0;
        for (i, f) in frames.iter().enumerate() {
            let t = Instant::now();
            let texts = match kind {
                Some(k) => decode_gray(GrayFrame::of(&f.img), k),
                None => match Command::new("zbarimg")
                    .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
                    .arg(dir.join(format!("{i:04}.png")))
                    .output()
                {
                    Ok(o) => String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(str::to_string)
                        .collect(),
                    Err(_) => {
                        println!("(zbarimg not installed: skipped)");
                        break;
                    }
                },
            };
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if texts.iter().any(|t| t.eq_ignore_ascii_case(&f.expected)) {
                ok += 1;
                ok_by[degr.iter().position(|d| *d == f.name).unwrap()] += 1;
            }
        }
        if times.is_empty() {
            continue;
        }
        rows.push((
            label,
            ok,
            median(&mut times),
            times.iter().cloned().fold(0.0, f64::max),
            ok_by,
        ));
    }
    println!("| decoder | decoded | rate | median ms/frame | max ms/frame |");
    println!("|---|---|---|---|---|");
    for (label, ok, med, max, _) in &rows {
        println!(
            "| {label} | {ok}/{} | {:.1} % | {med:.1} | {max:.1} |",
            frames.len(),
            100.0 * *ok as f64 / frames.len() as f64
        );
    }
    println!("\nDecoded per degradation (of 18 frames each):\n");
    print!("| degradation |");
    for (label, ..) in &rows {
        print!(" {label} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(rows.len()));
    for (i, d) in degr.iter().enumerate() {
        print!("| {d} |");
        for (.., by) in &rows {
            print!(" {} |", by[i]);
        }
        println!();
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this with --test; only measure when asked.
    if args.iter().any(|a| a == "--test") {
        return;
    }
    let only =
        |t: &str| !args.iter().any(|a| a.starts_with("table")) || args.iter().any(|a| a == t);
    if only("table1") {
        table_frames();
    }
    if only("table2") {
        table_bytes();
    }
    if only("table3") {
        table_decoders();
    }
}
