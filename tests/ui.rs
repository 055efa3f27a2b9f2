//! The operator page in a real browser: headless Chromium loads `/ui`
//! from a running server, is asked for the API key, shows the zones, the
//! pool allocations, the LUA records and the health checks, and draws a
//! check's flip from up to down on its timeline.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use testkit::browser::Browser;
use testkit::pool::{PoolOptions, PoolServer, OPERATOR_KEY, READER_KEY};

/// The page polls every five seconds; a probe fails within one.
const SEEN: Duration = Duration::from_secs(30);

/// A TCP port that accepts connections until stopped.
struct Port {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Port {
    fn open(address: SocketAddr) -> Port {
        let listener = TcpListener::bind(address).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let _ = listener.accept();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Port {
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the port: probes are refused from now on.
    fn close(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("port thread");
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.close();
    }
}

#[test]
fn the_operator_page_shows_the_server_and_a_check_that_flips() {
    let pool = PoolServer::start(
        "ui",
        PoolOptions {
            serve_parent: true,
            ..PoolOptions::default()
        },
    );
    let token = pool.reserve("alpha");
    pool.commit("alpha", &token, "192.0.2.10");
    pool.reserve("beta");

    let port = testkit::free_port();
    let _east = Port::open(([127, 0, 0, 2], port).into());
    let mut west = Port::open(([127, 0, 0, 3], port).into());
    let zone = pool.dir().join("app.zone");
    std::fs::write(
        &zone,
        format!(
            "$ORIGIN app.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 900 1209600 60\n@ NS ns1\nns1 A 127.0.0.1\n\
             www LUA A \"ifportup({port}, {{'127.0.0.2', '127.0.0.3'}}, {{selector = 'all', interval = 1, timeout = 1, minimumFailures = 1}})\"\n"
        ),
    )
    .expect("zone file");
    pool.server.cli_ok(&["zone", "import", zone.to_str().expect("path")]);

    let browser = Browser::start(1400, 2200);
    let page = format!("http://{}/ui", pool.server.api);
    browser.open(&page);

    // A key is configured, so the page asks for one; a wrong one is refused.
    browser.wait_for("the key form", SEEN, |b| {
        b.run("return !document.getElementById('login').hidden") == true
    });
    browser.type_into("#key", "not-the-key");
    browser.click("#login button");
    browser.wait_for("the refusal", SEEN, |b| {
        b.text("#login-error").is_some_and(|text| text.contains("refused"))
    });
    // A read-only key is enough.
    browser.type_into("#key", READER_KEY);
    browser.click("#login button");
    browser.wait_for("the overview", SEEN, |b| {
        b.run("return document.body.dataset.loaded") != serde_json::Value::Null
    });

    let pool_zone = format!("tr[data-zone='{}.']", pool.pool);
    browser.wait_for("the zones", SEEN, |b| {
        b.count(&pool_zone) == 1 && b.count("tr[data-zone='app.test.']") == 1
    });
    // Some traffic for the query counters.
    for _ in 0..20 {
        testkit::dig::short(pool.server.dns, "www.app.test", "A");
    }
    let zone_row = browser.text(&pool_zone).expect("pool zone row");
    assert!(
        zone_row.contains("signed") && zone_row.contains("alg 13 active"),
        "{zone_row}"
    );
    assert!(zone_row.contains("by pool"), "{zone_row}");
    let pools = browser.text("#pools tbody").expect("pools table");
    assert!(
        pools.contains("alpha") && pools.contains("active") && pools.contains("192.0.2.10"),
        "{pools}"
    );
    assert!(pools.contains("beta") && pools.contains("reserved"), "{pools}");
    let audit = browser.text("#audit tbody").expect("audit table");
    assert!(audit.contains("operator") && audit.contains("commit"), "{audit}");

    // Both regions up: the LUA record answers both.
    browser.wait_for("both checks up", SEEN, |b| b.count("#checks tr[data-status='up']") == 2);
    browser.wait_for("both answers", SEEN, |b| {
        b.text("#lua tr[data-owner='www.app.test.'] td:last-child")
            .is_some_and(|row| row.contains("127.0.0.2, 127.0.0.3"))
    });

    // West goes away: its row turns down, the timeline draws the flip, and
    // the record answers east only.
    west.close();
    browser.wait_for("the check down", SEEN, |b| {
        b.count("#checks tr[data-status='down']") == 1 && b.count("#timeline rect.down") == 1
    });
    browser.wait_for("east alone", SEEN, |b| {
        b.text("#lua tr[data-owner='www.app.test.'] td:last-child")
            .is_some_and(|row| row.contains("127.0.0.2") && !row.contains("127.0.0.3"))
    });
    let down = browser.text("#checks tr[data-status='down']").expect("down row");
    assert!(down.contains(&format!("127.0.0.3:{port}")), "{down}");
    let segments =
        browser.run("return [...document.querySelectorAll('#timeline rect')].map(r => r.getAttribute('class'))");
    assert!(
        segments
            .as_array()
            .is_some_and(|classes| classes.iter().any(|c| c == "up")),
        "{segments}"
    );

    // Everything the page loaded came from the server itself.
    let loaded = browser.run("return performance.getEntriesByType('resource').map(e => e.name)");
    let origin = format!("http://{}/", pool.server.api);
    assert!(
        loaded.as_array().is_some_and(|names| names
            .iter()
            .all(|name| name.as_str().is_some_and(|name| name.starts_with(&origin)))),
        "{loaded}"
    );

    browser.wait_for("the query rate", SEEN, |b| {
        b.text("#card-rcodes").is_some_and(|text| text.contains("NOERROR"))
    });
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("operator-page.png");
    browser.screenshot(&screenshot);
    println!("screenshot: {}", screenshot.display());

    // Forgetting the key asks for it again; the operator key works as well.
    browser.click("#forget");
    browser.wait_for("the key form again", SEEN, |b| {
        b.run("return !document.getElementById('login').hidden") == true
    });
    browser.type_into("#key", OPERATOR_KEY);
    browser.click("#login button");
    browser.wait_for("the overview again", SEEN, |b| {
        b.count("#checks tr[data-status='down']") == 1
    });
}
