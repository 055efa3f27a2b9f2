//! Writes PowerDNS's GeoIP regression database (`testkit::mmdb::fixture`)
//! to the file named on the command line, for `benches/lua.sh` and manual
//! comparisons with PowerDNS:
//!
//! ```sh
//! cargo run -p testkit --example geoip_fixture -- /tmp/fixture.mmdb
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: geoip_fixture OUTPUT.mmdb");
        return ExitCode::from(2);
    };
    match std::fs::write(&path, testkit::mmdb::fixture()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot write {}: {error}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
