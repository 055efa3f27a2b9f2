//! A flood of unique names over UDP, as a random-subdomain attack sends
//! it: every query asks a name never asked before, from one source
//! address, as fast as the senders go, without waiting for answers. Counts
//! what comes back: whole answers and truncated ones (rate limiting's
//! slips). For `benches/flood.sh`:
//!
//! ```sh
//! cargo run --release -p testkit --example flood -- 127.0.0.1:5300 example.test. 10 2
//! ```
//!
//! Arguments: server, zone, seconds, sender threads. Prints one JSON line.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    full: AtomicU64,
    truncated: AtomicU64,
}

fn query(id: u16, label: &str, zone: &str) -> Vec<u8> {
    let mut wire = vec![0; 12];
    wire[0..2].copy_from_slice(&id.to_be_bytes());
    wire[5] = 1;
    for part in std::iter::once(label).chain(zone.trim_end_matches('.').split('.')) {
        wire.push(part.len() as u8);
        wire.extend_from_slice(part.as_bytes());
    }
    wire.extend_from_slice(&[0, 0, 1, 0, 1]);
    wire
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, zone, seconds, senders] = args.as_slice() else {
        eprintln!("usage: flood SERVER ZONE SECONDS SENDERS");
        return ExitCode::from(2);
    };
    let (Ok(server), Ok(seconds), Ok(senders)) = (
        server.parse::<SocketAddr>(),
        seconds.parse::<u64>(),
        senders.parse::<u64>(),
    ) else {
        eprintln!("flood: SERVER is ADDRESS:PORT, SECONDS and SENDERS are numbers");
        return ExitCode::from(2);
    };
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..senders)
        .map(|thread| {
            let (counts, stop, zone) = (counts.clone(), stop.clone(), zone.clone());
            std::thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
                socket.connect(server).expect("connect");
                socket.set_nonblocking(true).expect("nonblocking");
                let mut buffer = [0u8; 4096];
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let label = format!("f{thread}x{n:x}");
                    if socket.send(&query(n as u16, &label, &zone)).is_ok() {
                        counts.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    while let Ok(len) = socket.recv(&mut buffer) {
                        let counter = if len >= 3 && buffer[2] & 0x02 != 0 {
                            &counts.truncated
                        } else {
                            &counts.full
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        let _ = thread.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = counts.sent.load(Ordering::Relaxed);
    println!(
        "{{\"sent\":{sent},\"sent_per_second\":{:.0},\"answered\":{},\"truncated\":{},\"seconds\":{elapsed:.1}}}",
        sent as f64 / elapsed,
        counts.full.load(Ordering::Relaxed),
        counts.truncated.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}
