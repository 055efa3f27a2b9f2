//! The health checker over real sockets: TCP probes against local
//! listeners, HTTP and HTTPS probes against a small axum server on
//! 127.0.0.1 reached through a pinned name, thresholds, sharing,
//! persistence in a SQLite file, forgetting unused checks, and the
//! `/api/v1/health-checks` route.
//!
//! Nothing asserts after a fixed sleep: each test polls for the state it
//! expects, with a generous deadline, since the machines running the tests
//! are shared and may be busy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use pooldns::health::{Check, CheckReport, CheckSpec, HealthChecker, HttpProbe, Probe, Status, Timing};
use pooldns::store::Store;

/// How long a test waits for an expected state.
const DEADLINE: Duration = Duration::from_secs(10);

/// The name HTTP checks use; it resolves nowhere, so a probe that reaches
/// the local server proves the pinning.
const HOST: &str = "check.example.test";

/// The header `/token` wants, and its value.
const TOKEN_HEADER: &str = "X-Check-Token";
const TOKEN: &str = "s3cret-token-5d41";

/// An address from TEST-NET-3 that is never connected to: where the
/// address is not part of the probe, or the probe is pinned elsewhere.
const ELSEWHERE: &str = "203.0.113.7";

//------------ Helpers -------------------------------------------------------

/// A started checker and the means to stop it.
struct Running {
    checker: HealthChecker,
    shutdown: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(store: Option<Store>) -> Running {
        let checker = HealthChecker::new(store, Duration::from_secs(5))
            .await
            .expect("checker created");
        let shutdown = Arc::new(AtomicBool::new(false));
        let task = checker.start(shutdown.clone());
        Running {
            checker,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.store(true, Ordering::Relaxed);
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("checker stops in time")
            .expect("checker task ends cleanly");
    }
}

fn timing(interval: Duration) -> Timing {
    Timing {
        timeout: Duration::from_secs(2),
        interval,
        minimum_failures: 1,
        minimum_successes: 1,
        source: None,
    }
}

fn tcp(target: SocketAddr, timing: Timing) -> CheckSpec {
    CheckSpec {
        address: target.ip(),
        probe: Probe::Tcp { port: target.port() },
        timing,
    }
}

/// An `ifurlup` spec for `http(s)://check.example.test:<port><path>`
/// pinned to 127.0.0.1.
fn pinned(scheme: &str, port: u16, path: &str, timing: Timing, tune: impl FnOnce(&mut HttpProbe)) -> CheckSpec {
    let mut probe = HttpProbe::new(format!("{scheme}://{HOST}:{port}{path}"), true);
    tune(&mut probe);
    CheckSpec {
        address: IpAddr::from([127, 0, 0, 1]),
        probe: Probe::Http(probe),
        timing,
    }
}

/// Polls `condition` until it holds; panics with `what` after [`DEADLINE`].
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `check` has `status`; returns its report then.
async fn wait_status(checker: &HealthChecker, check: &Check, status: Status) -> CheckReport {
    wait_for(&format!("{} to be {status}", check.spec().address), || {
        check.status() == status
    })
    .await;
    report(checker, check)
}

/// The report of `check`.
fn report(checker: &HealthChecker, check: &Check) -> CheckReport {
    let id = check.id();
    checker
        .list()
        .into_iter()
        .find(|report| report.id == id)
        .unwrap_or_else(|| panic!("{:?} not listed", check.spec()))
}

/// A loopback port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

//------------ The HTTP server -----------------------------------------------

/// What the test server counts and what tests can switch.
#[derive(Clone, Default)]
struct Backend {
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// Status `/toggle` answers with (200 when 0).
    toggle: Arc<AtomicU16>,
}

impl Backend {
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// `/ok`, `/weight` (" 42\n"), `/status/<code>`, `/toggle`, `/big` (a
/// marker, 200 kB, another marker), `/huge` (3 MiB, a marker), `/token` (403 without the header),
/// `/echo` (Host and User-Agent), `/hang` (answers after a minute),
/// `/redirect` (to `/ok`); any other path answers 200.
async fn handle(State(backend): State<Backend>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    *backend
        .hits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.clone())
        .or_default() += 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (host, user_agent, token) = (header("host"), header("user-agent"), header(TOKEN_HEADER));
    match path.as_str() {
        "/ok" => "all good\n".into_response(),
        "/weight" => " 42\n".into_response(),
        "/toggle" => {
            let code = match backend.toggle.load(Ordering::Relaxed) {
                0 => 200,
                code => code,
            };
            (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), "toggle\n").into_response()
        }
        "/big" => format!("HEAD-MARKER{}TAIL-MARKER", "x".repeat(200_000)).into_response(),
        "/huge" => format!("{}TAIL-MARKER", "x".repeat(3 << 20)).into_response(),
        "/token" if token == TOKEN => "token accepted\n".into_response(),
        "/token" => (StatusCode::FORBIDDEN, "no token\n").into_response(),
        "/echo" => format!("Host={host} UA={user_agent}\n").into_response(),
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late\n".into_response()
        }
        "/redirect" => (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response(),
        _ => match path.strip_prefix("/status/").and_then(|code| code.parse().ok()) {
            Some(code) => StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
            None => "counted\n".into_response(),
        },
    }
}

fn app(backend: &Backend) -> Router {
    Router::new().fallback(handle).with_state(backend.clone())
}

/// Serves the test app over plain HTTP; returns its port.
async fn http_server(backend: &Backend) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let app = app(backend);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// TLS over a TCP listener, for `axum::serve`.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            let Ok((stream, peer)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects the certificate ends the handshake.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Serves the test app over HTTPS with a self-signed certificate for
/// [`HOST`]; returns its port.
async fn https_server(backend: &Backend) -> u16 {
    use tokio_rustls::rustls;
    let certified = rcgen::generate_simple_self_signed(vec![HOST.to_string()]).expect("certificate");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key.into())
        .expect("server config");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("address").port();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let app = app(backend);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

//------------ TCP -----------------------------------------------------------

#[tokio::test]
async fn tcp_probe_is_up_while_a_listener_accepts() {
    let running = Running::start(None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = listener.local_addr().expect("address");
    let check = running.checker.register(tcp(target, timing(Duration::from_secs(60))));
    let report = wait_status(&running.checker, &check, Status::Up).await;
    assert_eq!(report.kind, "tcp");
    assert_eq!(report.target, target.to_string());
    assert_eq!(report.consecutive_successes, 1);
    assert!(report.last_probe.is_some() && report.latency_ms.is_some(), "{report:?}");
    assert_eq!(check.weight(), None, "TCP checks carry no weight");

    // From a given source address, too.
    let mut from_loopback = timing(Duration::from_secs(60));
    from_loopback.source = Some(IpAddr::from([127, 0, 0, 1]));
    let check = running.checker.register(tcp(target, from_loopback));
    wait_status(&running.checker, &check, Status::Up).await;
    running.stop().await;
}

#[tokio::test]
async fn tcp_probe_is_down_on_a_closed_port() {
    let running = Running::start(None).await;
    let target = closed_port().await;
    let check = running.checker.register(tcp(target, timing(Duration::from_secs(60))));
    let report = wait_status(&running.checker, &check, Status::Down).await;
    let error = report.last_error.expect("reason");
    assert!(
        error.contains(&target.to_string()) && error.contains("refused"),
        "{error}"
    );

    // A source of the other address family cannot reach the target.
    let mut from_v6 = timing(Duration::from_secs(60));
    from_v6.source = Some("::1".parse().expect("address"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let open = listener.local_addr().expect("address");
    let check = running.checker.register(tcp(open, from_v6));
    let report = wait_status(&running.checker, &check, Status::Down).await;
    let error = report.last_error.expect("reason");
    assert!(error.contains("address family"), "{error}");
    running.stop().await;
}

#[tokio::test]
async fn tcp_probe_times_out_when_the_handshake_gets_no_answer() {
    // A listener whose accept queue is full: Linux drops further SYNs,
    // so connections neither succeed nor fail until the client gives up.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&bind.into()).expect("bind");
    socket.listen(0).expect("listen");
    let target = socket.local_addr().expect("address").as_socket().expect("inet");
    let mut queued = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&target, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break,
        }
        assert!(queued.len() < 64, "the accept queue never fills");
    }

    let running = Running::start(None).await;
    let mut short = timing(Duration::from_secs(60));
    short.timeout = Duration::from_millis(300);
    let check = running.checker.register(tcp(target, short));
    let report = wait_status(&running.checker, &check, Status::Down).await;
    let error = report.last_error.expect("reason");
    assert_eq!(error, "no answer within 300ms");
    running.stop().await;
    drop(queued);
}

//------------ HTTP ----------------------------------------------------------

#[tokio::test]
async fn http_probe_checks_status_body_and_headers() {
    let backend = Backend::default();
    let port = http_server(&backend).await;
    let running = Running::start(None).await;
    let checker = &running.checker;
    let every = timing(Duration::from_secs(60));

    // Pinned: the name resolves nowhere, the probe still reaches 127.0.0.1
    // with the URL's host in the Host header and PowerDNS's user agent.
    let echo = checker.register(pinned("http", port, "/echo", every.clone(), |probe| {
        probe.stringmatch = Some(format!("Host={HOST}:{port} UA=PowerDNS Authoritative Server\n"));
    }));
    let report = wait_status(checker, &echo, Status::Up).await;
    assert_eq!(report.kind, "http");
    assert_eq!(report.target, format!("http://{HOST}:{port}/echo via 127.0.0.1"));
    assert_eq!(report.port, Some(port));

    let ok = checker.register(pinned("http", port, "/ok", every.clone(), |_| {}));
    wait_status(checker, &ok, Status::Up).await;

    // Status: exactly httpcode; a redirect is a status, never followed.
    let unavailable = checker.register(pinned("http", port, "/status/503", every.clone(), |_| {}));
    let report = wait_status(checker, &unavailable, Status::Down).await;
    assert_eq!(report.last_error.as_deref(), Some("HTTP status 503, expected 200"));
    let expected = checker.register(pinned("http", port, "/status/503", every.clone(), |probe| {
        probe.httpcode = 503;
    }));
    wait_status(checker, &expected, Status::Up).await;
    let no_content = checker.register(pinned("http", port, "/status/204", every.clone(), |_| {}));
    wait_status(checker, &no_content, Status::Down).await;
    let redirected = checker.register(pinned("http", port, "/redirect", every.clone(), |_| {}));
    let report = wait_status(checker, &redirected, Status::Down).await;
    assert_eq!(report.last_error.as_deref(), Some("HTTP status 302, expected 200"));
    let moved = checker.register(pinned("http", port, "/redirect", every.clone(), |probe| {
        probe.httpcode = 302;
    }));
    wait_status(checker, &moved, Status::Up).await;
    assert_eq!(backend.hits("/ok"), 1, "no redirect was followed");

    // stringmatch.
    let absent = checker.register(pinned("http", port, "/ok", every.clone(), |probe| {
        probe.stringmatch = Some("all bad".into());
    }));
    let report = wait_status(checker, &absent, Status::Down).await;
    assert_eq!(
        report.last_error.as_deref(),
        Some("the body does not contain \"all bad\"")
    );

    // byteslimit: a cut body counts; stringmatch sees only what was read.
    let head = checker.register(pinned("http", port, "/big", every.clone(), |probe| {
        probe.byteslimit = 1000;
        probe.stringmatch = Some("HEAD-MARKER".into());
    }));
    wait_status(checker, &head, Status::Up).await;
    let tail = checker.register(pinned("http", port, "/big", every.clone(), |probe| {
        probe.byteslimit = 1000;
        probe.stringmatch = Some("TAIL-MARKER".into());
    }));
    let report = wait_status(checker, &tail, Status::Down).await;
    assert_eq!(
        report.last_error.as_deref(),
        Some("the first 1000 bytes of the body do not contain \"TAIL-MARKER\"")
    );
    let whole = checker.register(pinned("http", port, "/big", every.clone(), |probe| {
        probe.stringmatch = Some("TAIL-MARKER".into());
    }));
    wait_status(checker, &whole, Status::Up).await;
    // Without a byteslimit a body is still read only so far.
    let huge = checker.register(pinned("http", port, "/huge", every.clone(), |probe| {
        probe.stringmatch = Some("TAIL-MARKER".into());
    }));
    let report = wait_status(checker, &huge, Status::Down).await;
    assert_eq!(
        report.last_error.as_deref(),
        Some(
            format!(
                "the first {} bytes of the body do not contain \"TAIL-MARKER\"",
                pooldns::health::MAX_BODY
            )
            .as_str()
        )
    );

    // A header the server requires; its value never shows.
    let without = checker.register(pinned("http", port, "/token", every.clone(), |_| {}));
    wait_status(checker, &without, Status::Down).await;
    let with = checker.register(pinned("http", port, "/token", every.clone(), |probe| {
        probe.headers = vec![(TOKEN_HEADER.into(), TOKEN.into())];
    }));
    let report = wait_status(checker, &with, Status::Up).await;
    assert_eq!(
        report.http.as_ref().expect("http options").header_names,
        vec![TOKEN_HEADER.to_string()]
    );
    let listed = serde_json::to_string(&checker.list()).expect("json");
    assert!(!listed.contains(TOKEN), "a header value leaked: {listed}");
    for check in checker.stats().checks {
        assert!(
            !check.target.contains(TOKEN) && !check.target.contains("/token"),
            "a header value or URL path in a metric label: {}",
            check.target
        );
    }

    // The body as a weight, while up.
    let weighted = checker.register(pinned("http", port, "/weight", every.clone(), |_| {}));
    wait_status(checker, &weighted, Status::Up).await;
    assert_eq!(weighted.weight(), Some(42));
    assert_eq!(ok.weight(), None, "\"all good\" is no number");

    // The whole probe is bounded by the timeout.
    let mut short = every.clone();
    short.timeout = Duration::from_millis(300);
    let hang = checker.register(pinned("http", port, "/hang", short, |_| {}));
    let report = wait_status(checker, &hang, Status::Down).await;
    assert_eq!(report.last_error.as_deref(), Some("no answer within 300ms"));
    running.stop().await;
}

#[tokio::test]
async fn http_probe_pinning_and_unpinned_urls() {
    let backend = Backend::default();
    let port = http_server(&backend).await;
    let running = Running::start(None).await;
    let checker = &running.checker;
    let every = timing(Duration::from_secs(60));

    // ifurlextup: the URL's own host is connected to; the address is only
    // what the check stands for, so two addresses share the check.
    let url = format!("http://127.0.0.1:{port}/count/extup");
    let spec = |address: &str| CheckSpec {
        address: address.parse().expect("address"),
        probe: Probe::Http(HttpProbe::new(url.clone(), false)),
        timing: every.clone(),
    };
    let first = checker.register(spec(ELSEWHERE));
    let second = checker.register(spec("198.51.100.9"));
    let report = wait_status(checker, &first, Status::Up).await;
    assert_eq!(second.status(), Status::Up);
    assert_eq!(report.address, None);
    assert_eq!(report.target, url);
    assert_eq!(
        checker.list().iter().filter(|r| r.url.as_deref() == Some(&url)).count(),
        1
    );

    // ifurlup with an address literal in the URL: the candidate address
    // is what gets probed.
    let literal = CheckSpec {
        address: IpAddr::from([127, 0, 0, 1]),
        probe: Probe::Http(HttpProbe::new(format!("http://{ELSEWHERE}:{port}/count/literal"), true)),
        timing: every.clone(),
    };
    let check = checker.register(literal);
    wait_status(checker, &check, Status::Up).await;
    assert_eq!(backend.hits("/count/literal"), 1);

    // Pinned to an address where nothing listens: down, although the
    // same URL is up elsewhere.
    let closed = closed_port().await;
    let elsewhere = CheckSpec {
        address: closed.ip(),
        probe: Probe::Http(HttpProbe::new(format!("http://{HOST}:{}/ok", closed.port()), true)),
        timing: every,
    };
    let check = checker.register(elsewhere);
    let report = wait_status(checker, &check, Status::Down).await;
    let error = report.last_error.expect("reason");
    assert!(error.contains("refused"), "{error}");
    running.stop().await;
}

#[tokio::test]
async fn https_probe_verifies_certificates_only_when_asked() {
    let backend = Backend::default();
    let port = https_server(&backend).await;
    let running = Running::start(None).await;
    let checker = &running.checker;
    let every = timing(Duration::from_secs(60));

    let unverified = checker.register(pinned("https", port, "/echo", every.clone(), |probe| {
        probe.stringmatch = Some(format!("Host={HOST}:{port}"));
    }));
    let report = wait_status(checker, &unverified, Status::Up).await;
    assert_eq!(report.kind, "https");
    assert!(!report.http.as_ref().expect("http options").verify_tls);

    let verified = checker.register(pinned("https", port, "/echo", every, |probe| {
        probe.verify_tls = true;
    }));
    let report = wait_status(checker, &verified, Status::Down).await;
    let error = report.last_error.expect("reason");
    assert!(error.to_ascii_lowercase().contains("certificate"), "{error}");
    assert_eq!(
        backend.hits("/echo"),
        1,
        "the verifying probe never got to send its request"
    );
    running.stop().await;
}

/// LUA checks that send a header verify TLS unless `verifyTLS = false`
/// says otherwise: the token goes only to a peer that proves its name.
#[tokio::test(flavor = "multi_thread")]
async fn lua_checks_with_headers_verify_tls_unless_told_not_to() {
    let backend = Backend::default();
    let port = https_server(&backend).await;
    let zones = tempfile::tempdir().expect("temp dir");
    let header = TOKEN_HEADER.replace('-', "_");
    let check = |extra: &str| {
        format!(
            "\"ifurlup('https://{HOST}:{port}/token', {{'127.0.0.1'}}, {{headers = {{{header} = '{TOKEN}'}}, interval = 3600{extra}}})\""
        )
    };
    let zone = format!(
        "$ORIGIN tls.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         verified LUA A {}\nunverified LUA A {}\n",
        check(""),
        check(", verifyTLS = false")
    );
    std::fs::write(zones.path().join("tls.test.zone"), zone).expect("zone written");
    let path = zones.path().to_path_buf();
    let server = tokio::task::spawn_blocking(move || testkit::Pooldns::start(&path))
        .await
        .expect("pooldns started");
    let deadline = Instant::now() + DEADLINE;
    let checks = loop {
        let api = server.api;
        let list = tokio::task::spawn_blocking(move || testkit::http_get(api, "/api/v1/health-checks"))
            .await
            .expect("joined")
            .expect("health checks listed");
        let body: serde_json::Value = serde_json::from_str(&list.body).expect("JSON");
        let checks = body["checks"].as_array().cloned().unwrap_or_default();
        if checks.len() == 2 && checks.iter().all(|check| check["status"] != "unknown") {
            break checks;
        }
        assert!(Instant::now() < deadline, "checks not probed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_verification = |verify: bool| {
        checks
            .iter()
            .find(|check| check["http"]["verify_tls"] == verify)
            .unwrap_or_else(|| panic!("no check with verify_tls {verify}: {checks:?}"))
    };
    let verified = by_verification(true);
    assert_eq!(verified["status"], "down", "{verified}");
    assert!(
        verified["last_error"]
            .as_str()
            .is_some_and(|error| error.to_ascii_lowercase().contains("certificate")),
        "{verified}"
    );
    assert_eq!(by_verification(false)["status"], "up");
    assert_eq!(
        backend.hits("/token"),
        1,
        "the token reached the server once, unverified"
    );
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .expect("stopped");
}

//------------ State -----------------------------------------------------------

#[tokio::test]
async fn thresholds_decide_when_the_status_changes() {
    let backend = Backend::default();
    let port = http_server(&backend).await;
    let running = Running::start(None).await;
    let checker = &running.checker;
    let mut strict = timing(Duration::from_millis(100));
    strict.minimum_failures = 2;
    strict.minimum_successes = 3;

    // Unknown: the first result decides at once.
    let check = checker.register(pinned("http", port, "/toggle", strict.clone(), |_| {}));
    let report = wait_status(checker, &check, Status::Up).await;
    assert_eq!(report.history.len(), 1);
    assert_eq!(report.history[0].from, Status::Unknown);

    backend.toggle.store(503, Ordering::Relaxed);
    let report = wait_status(checker, &check, Status::Down).await;
    let down = report.history.last().expect("transition");
    assert!(
        down.reason
            .starts_with("2 consecutive failed probes, the last: HTTP status 503"),
        "{down:?}"
    );

    backend.toggle.store(200, Ordering::Relaxed);
    let report = wait_status(checker, &check, Status::Up).await;
    let up = report.history.last().expect("transition");
    assert_eq!(up.reason, "3 consecutive successful probes");
    assert_eq!(report.history.len(), 3);

    // A target that was never reachable is down after its first probe,
    // whatever minimum_failures says (PowerDNS would call it up).
    let closed = closed_port().await;
    let check = checker.register(tcp(closed, strict));
    let report = wait_status(checker, &check, Status::Down).await;
    assert_eq!(report.history.len(), 1);
    assert_eq!(report.consecutive_failures, 1);
    assert_eq!(report.history[0].from, Status::Unknown);
    running.stop().await;
}

#[tokio::test]
async fn equal_specs_share_one_check_and_one_probe() {
    let backend = Backend::default();
    let port = http_server(&backend).await;
    // Registered before the checker runs, like the zones loaded at start.
    let checker = HealthChecker::new(None, Duration::from_secs(5)).await.expect("checker");
    let spec = pinned("http", port, "/count/shared", timing(Duration::from_secs(60)), |_| {});
    let first = checker.register(spec.clone());
    let second = checker.register(spec.clone());
    assert_eq!(first.status(), Status::Unknown);
    assert_eq!(checker.list().len(), 1);
    assert_eq!(checker.list()[0].status, Status::Unknown);

    let shutdown = Arc::new(AtomicBool::new(false));
    let task = checker.start(shutdown.clone());
    wait_status(&checker, &first, Status::Up).await;
    assert_eq!(second.status(), Status::Up);
    let third = checker.register(spec);
    assert_eq!(third.status(), Status::Up, "a later registration finds the state");
    // Time for a second probe to arrive if there were one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(backend.hits("/count/shared"), 1);
    assert_eq!(checker.list().len(), 1);
    shutdown.store(true, Ordering::Relaxed);
    task.await.expect("stopped");
}

#[tokio::test]
async fn unreferenced_checks_stop_and_are_forgotten() {
    let backend = Backend::default();
    let port = http_server(&backend).await;
    let running = Running::start(None).await;
    let checker = &running.checker;
    let spec = pinned(
        "http",
        port,
        "/count/dropped",
        timing(Duration::from_millis(100)),
        |_| {},
    );
    let check = checker.register(spec.clone());
    wait_for("repeated probes", || backend.hits("/count/dropped") >= 3).await;
    assert!(report(checker, &check).in_use);

    drop(check);
    wait_for("the check to be forgotten", || checker.list().is_empty()).await;
    let hits = backend.hits("/count/dropped");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(backend.hits("/count/dropped"), hits, "an unreferenced check was probed");

    // Registered again, it starts from what it knew, and is probed again.
    let check = checker.register(spec);
    assert_eq!(check.status(), Status::Up);
    wait_for("probes to resume", || backend.hits("/count/dropped") > hits).await;
    running.stop().await;
}

#[tokio::test]
async fn states_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/pooldns.db", dir.path().display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let up = tcp(listener.local_addr().expect("address"), timing(Duration::from_secs(60)));
    let down = tcp(closed_port().await, timing(Duration::from_secs(60)));

    let store = Store::open(&url).await.expect("store");
    let running = Running::start(Some(store.clone())).await;
    let first_up = running.checker.register(up.clone());
    let first_down = running.checker.register(down.clone());
    wait_status(&running.checker, &first_up, Status::Up).await;
    wait_status(&running.checker, &first_down, Status::Down).await;
    running.stop().await;
    let rows = store.health_checks().await.expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    store.close().await;

    // A new process on the same file answers from the stored states
    // before probing anything.
    let store = Store::open(&url).await.expect("store");
    let checker = HealthChecker::new(Some(store), Duration::from_secs(5))
        .await
        .expect("checker");
    let again_up = checker.register(up);
    let again_down = checker.register(down);
    assert_eq!(again_up.status(), Status::Up);
    assert_eq!(again_down.status(), Status::Down);
    let report = report(&checker, &again_down);
    assert_eq!(report.consecutive_failures, 1);
    assert!(report.last_probe.is_some());
    assert!(report.last_error.expect("reason").contains("refused"));
}

#[tokio::test]
async fn a_failing_store_does_not_stop_probing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&format!("sqlite://{}/pooldns.db", dir.path().display()))
        .await
        .expect("store");
    let checker = HealthChecker::new(Some(store.clone()), Duration::from_secs(5))
        .await
        .expect("checker");
    store.close().await;
    let shutdown = Arc::new(AtomicBool::new(false));
    let task = checker.start(shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let check = checker.register(tcp(
        listener.local_addr().expect("address"),
        timing(Duration::from_millis(100)),
    ));
    wait_status(&checker, &check, Status::Up).await;
    drop(listener);
    wait_status(&checker, &check, Status::Down).await;
    shutdown.store(true, Ordering::Relaxed);
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("stops in time")
        .expect("stopped");
}

//------------ HTTP API --------------------------------------------------------

#[tokio::test]
async fn route_and_metrics_show_every_check_without_header_values() {
    const KEY: &str = "ops-key-77aa";
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&format!("sqlite://{}/pooldns.db", dir.path().display()))
        .await
        .expect("store");
    let running = Running::start(None).await;
    let checker = &running.checker;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = listener.local_addr().expect("address");
    let up = checker.register(tcp(target, timing(Duration::from_secs(60))));
    let closed = closed_port().await;
    let mut probe = HttpProbe::new(
        format!("https://{HOST}:{}/health/private?key=query-secret", closed.port()),
        true,
    );
    probe.headers = vec![(TOKEN_HEADER.into(), TOKEN.into())];
    let down = checker.register(CheckSpec {
        address: closed.ip(),
        probe: Probe::Http(probe),
        timing: timing(Duration::from_secs(60)),
    });
    wait_status(checker, &up, Status::Up).await;
    wait_status(checker, &down, Status::Down).await;

    let pools = pooldns::pool::Pools::new(
        store.clone(),
        pooldns::pool::Settings::from_config(&pooldns::config::Config::default()).expect("pool settings"),
        None,
    );
    let app = pooldns::api::router(pooldns::api::AppState {
        store: store.clone(),
        catalog: Arc::new(arc_swap::ArcSwap::from_pointee(pooldns::catalog::Catalog::new())),
        metrics: pooldns::metrics::Metrics::new(),
        status: Arc::new(pooldns::loader::LoadStatus::default()),
        rolls: Arc::new(pooldns::roller::RollStatus::default()),
        keys: pooldns::api::auth::ApiKeys::new(vec![pooldns::api::auth::ApiKey::new("ops", KEY, false)]),
        nameservers: Arc::new(Vec::new()),
        ds_retire_delay: Duration::from_secs(172_800),
        registrars: Arc::new(std::collections::BTreeMap::new()),
        health: checker.clone(),
        pools,
        lua_enabled: true,
        kek: None,
        aliases: None,
        propagation_delay: 300,
        keyring: Arc::new(pooldns::update::Keyring::new(store.clone(), Vec::new(), None)),
        notify: None,
    });
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = http.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(http, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let url = format!("http://{api}/api/v1/health-checks");

    let refused = client.get(&url).send().await.expect("answer");
    assert_eq!(refused.status(), 401);
    let answer = client.get(&url).header("X-API-Key", KEY).send().await.expect("answer");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("body");
    assert!(!text.contains(TOKEN), "a header value leaked: {text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let checks = body["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 2);
    // By target: "127.0.0.1:<port>" sorts before "https://...".
    assert_eq!(checks[0]["kind"], "tcp");
    assert_eq!(checks[0]["status"], "up");
    assert_eq!(checks[0]["id"], up.id());
    assert_eq!(checks[1]["kind"], "https");
    assert_eq!(checks[1]["status"], "down");
    assert_eq!(checks[1]["http"]["header_names"], serde_json::json!([TOKEN_HEADER]));
    assert_eq!(checks[1]["history"][0]["from"], "unknown");
    assert_eq!(checks[1]["history"][0]["to"], "down");
    assert!(
        checks[1]["last_error"].as_str().expect("reason").contains("refused"),
        "{text}"
    );

    let metrics = client
        .get(format!("http://{api}/metrics"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(!metrics.contains(TOKEN), "a header value leaked: {metrics}");
    assert!(
        !metrics.contains("query-secret") && !metrics.contains("/health/private"),
        "a URL path or query leaked: {metrics}"
    );
    let expected = [
        format!(
            "pooldns_health_check_up{{id=\"{}\",target=\"{target}\",kind=\"tcp\"}} 1",
            up.id()
        ),
        format!(
            "pooldns_health_check_up{{id=\"{}\",target=\"https://{HOST}:{} via 127.0.0.1\",kind=\"https\"}} 0",
            down.id(),
            closed.port()
        ),
        "pooldns_health_checks{status=\"up\"} 1".to_string(),
        "pooldns_health_checks{status=\"down\"} 1".to_string(),
        "pooldns_health_checks{status=\"unknown\"} 0".to_string(),
        "pooldns_health_check_transitions_total{to=\"up\"} 1".to_string(),
        "pooldns_health_check_transitions_total{to=\"down\"} 1".to_string(),
    ];
    for line in expected {
        assert!(metrics.lines().any(|l| l == line), "no line {line} in\n{metrics}");
    }
    assert!(
        metrics.contains("pooldns_health_check_latency_seconds{id="),
        "{metrics}"
    );
    running.stop().await;
}

//------------ Logging -----------------------------------------------------------

/// A log sink tests can read.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn transitions_are_logged_with_target_and_reason_but_no_header_value() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    // The test runtime has one thread: every probe logs through this.
    let _guard = tracing::subscriber::set_default(subscriber);

    let backend = Backend::default();
    let port = http_server(&backend).await;
    let running = Running::start(None).await;
    let check = running.checker.register(pinned(
        "http",
        port,
        "/toggle",
        timing(Duration::from_millis(100)),
        |probe| probe.headers = vec![(TOKEN_HEADER.into(), TOKEN.into())],
    ));
    wait_status(&running.checker, &check, Status::Up).await;
    backend.toggle.store(500, Ordering::Relaxed);
    wait_status(&running.checker, &check, Status::Down).await;
    running.stop().await;

    let text = logs.text();
    let target = format!("http://{HOST}:{port}/toggle via 127.0.0.1");
    let up = text
        .lines()
        .find(|line| line.contains("health check up"))
        .unwrap_or_else(|| panic!("no up transition logged:\n{text}"));
    assert!(
        up.contains(" INFO ") && up.contains(&target) && up.contains("probe succeeded"),
        "{up}"
    );
    let down = text
        .lines()
        .find(|line| line.contains("health check down"))
        .unwrap_or_else(|| panic!("no down transition logged:\n{text}"));
    assert!(
        down.contains(&target) && down.contains("HTTP status 500, expected 200"),
        "{down}"
    );
    assert!(!text.contains(TOKEN), "a header value was logged:\n{text}");
}
