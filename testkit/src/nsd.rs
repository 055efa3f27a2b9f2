//! NSD (NLnet Labs) as a secondary: it takes zones by AXFR from a primary
//! and answers from them, a second opinion beside Knot.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::knot::serves_soa;
use crate::process::{free_port, log_stdio, require, stop_and_report};
use crate::STARTUP_TIMEOUT;

/// A running NSD, killed when dropped.
pub struct Nsd {
    child: Child,
    _dir: TempDir,
    log: PathBuf,
    /// Address NSD answers on (UDP and TCP).
    pub addr: SocketAddr,
}

impl Nsd {
    /// A secondary of `zones`, transferred by AXFR from `primary`, which
    /// may also NOTIFY it. Waits until every zone answers its SOA.
    pub fn secondary(zones: &[&str], primary: SocketAddr) -> Nsd {
        let binary = require("nsd", "nsd");
        let dir = tempfile::Builder::new()
            .prefix("nsd-test-")
            .tempdir()
            .expect("create temporary directory");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let state = dir.path().display().to_string();
        let mut config = String::new();
        writeln!(config, "server:").unwrap();
        writeln!(config, "    ip-address: {}@{}", addr.ip(), addr.port()).unwrap();
        writeln!(config, "    zonesdir: \"{state}\"").unwrap();
        writeln!(config, "    pidfile: \"{state}/nsd.pid\"").unwrap();
        writeln!(config, "    database: \"\"").unwrap();
        writeln!(config, "    xfrdfile: \"{state}/xfrd.state\"").unwrap();
        writeln!(config, "    zonelistfile: \"{state}/zone.list\"").unwrap();
        writeln!(config, "    xfrdir: \"{state}\"").unwrap();
        writeln!(config, "    username: \"\"").unwrap();
        writeln!(config, "    chroot: \"\"").unwrap();
        writeln!(config, "    server-count: 1").unwrap();
        writeln!(config, "    verbosity: 2").unwrap();
        writeln!(config, "remote-control:\n    control-enable: no").unwrap();
        for zone in zones {
            writeln!(config, "zone:\n    name: \"{zone}\"\n    zonefile: \"{zone}.zone\"").unwrap();
            writeln!(
                config,
                "    request-xfr: AXFR {}@{} NOKEY",
                primary.ip(),
                primary.port()
            )
            .unwrap();
            writeln!(config, "    allow-notify: {} NOKEY", primary.ip()).unwrap();
        }
        let config_path = dir.path().join("nsd.conf");
        fs::write(&config_path, config).expect("write nsd.conf");
        let log = dir.path().join("nsd.log");
        let (stdout, stderr) = log_stdio(&log);
        let child = Command::new(&binary)
            .arg("-d")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut nsd = Nsd {
            child,
            _dir: dir,
            log,
            addr,
        };
        for zone in zones {
            nsd.wait_for_zone(zone);
        }
        nsd
    }

    fn wait_for_zone(&mut self, zone: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll nsd") {
                panic!(
                    "nsd exited with {status} (where AppArmor confines /usr/sbin/nsd it cannot read a \
                     temporary directory: point $NSD at a copy of the binary):\n{}",
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if serves_soa(self.addr, zone) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nsd did not serve {zone} within {STARTUP_TIMEOUT:?}:\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        stop_and_report(&mut self.child, "nsd", &self.log, 20);
    }
}
