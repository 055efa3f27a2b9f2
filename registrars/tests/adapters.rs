//! Adapter tests against local mocks of each provider's API.
//!
//! One conformance suite ([`suite`]) is compiled once per adapter (through the
//! [`conformance!`] macro), the way a test suite runs once per backend; provider-specific
//! behaviour is tested in the modules after it. Every test captures all log lines and every
//! error it sees and checks that no credential appears in them ([`Capture`]).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mocks::Control;
use registrars::{
    parse_nameservers, provider_from_config, provider_from_token, AnyProvider, Backoff, ChangeOutcome, Credentials,
    Delegation, DelegationProvider, DomainName, Error, NameserverName, ProviderConfig, ProviderKind, RateLimit,
};
use testkit::mocks;

/// The NS set every mock starts with.
const OLD: [&str; 2] = ["ns1.old-host.net", "ns2.old-host.net"];
/// The NS set the tests move to.
const NEW: [&str; 2] = ["ns1.pool-dns.net", "ns2.pool-dns.net"];
/// How long one request may take in these tests.
const TIMEOUT: Duration = Duration::from_millis(600);
/// How late a delayed answer comes.
const DELAY: Duration = Duration::from_millis(1500);

/// Parses nameserver names.
fn names(list: &[&str]) -> Vec<NameserverName> {
    parse_nameservers(list).expect("valid names")
}

/// Returns the names as sorted strings.
fn sorted(list: &[NameserverName]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().map(ToString::to_string).collect();
    names.sort();
    names
}

/// Returns `OLD` or `NEW` as owned strings.
fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

/// Captures every log line of the current test and every error noted, and checks at the
/// end that none of them contains a credential.
struct Capture {
    /// The log output.
    buffer: Arc<Mutex<Vec<u8>>>,
    /// Errors seen, as `Display` and `Debug` text.
    notes: Mutex<Vec<String>>,
    /// Keeps the subscriber installed for this thread.
    _guard: tracing::subscriber::DefaultGuard,
}

/// Writes log lines into a shared buffer.
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Installs a TRACE-level subscriber for this thread (tests run on a current-thread
    /// runtime, so the adapters' tasks log here too).
    fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || BufferWriter(writer.clone()))
            .finish();
        Self {
            buffer,
            notes: Mutex::new(Vec::new()),
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Notes the error of `result`, if any, and returns the result.
    fn note<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(error) = &result {
            self.notes
                .lock()
                .expect("not poisoned")
                .push(format!("{error} | {error:?} | {}", error.code()));
        }
        result
    }

    /// Returns the captured log text.
    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().expect("not poisoned")).into_owned()
    }

    /// Asserts that no secret appears in the logs or the noted errors.
    fn finish(self, secrets: &[&str]) {
        let logs = self.logs();
        let notes = self.notes.lock().expect("not poisoned").join("\n");
        for secret in secrets {
            assert!(!logs.contains(secret), "a credential appears in the logs:\n{logs}");
            assert!(!notes.contains(secret), "a credential appears in an error:\n{notes}");
        }
    }
}

/// One provider's mock and the inputs the shared suite needs.
trait Fixture: Sized {
    /// The provider.
    const KIND: ProviderKind;
    /// Whether changes come back as pending operations.
    const ASYNC: bool;

    /// Starts the mock.
    async fn start() -> Self;
    /// The mock's control block.
    fn control(&self) -> &Control;
    /// The base URL of the mock.
    fn base_url(&self) -> String;
    /// A token the mock accepts.
    fn token(&self) -> String;
    /// A well-formed token the mock refuses.
    fn bad_token(&self) -> String;
    /// A token with the wrong shape.
    fn malformed_token(&self) -> &'static str;
    /// The domain whose delegation the suite changes (NS `OLD` at first).
    fn domain(&self) -> DomainName;
    /// A domain the account does not hold.
    fn foreign_domain(&self) -> DomainName;
    /// The NS set the mock holds for [`Fixture::domain`], sorted.
    fn nameservers_at_provider(&self) -> Vec<String>;
    /// Finishes the mock's open asynchronous operations.
    fn complete_tasks(&self) {}
    /// Every credential the fixture uses, good or bad.
    fn secrets(&self) -> Vec<&'static str>;
}

/// The configuration tests use: the mock's URL, short timeouts, fast retries and a
/// generous budget (keeping the provider's in-flight cap).
fn config<F: Fixture>(fixture: &F, token: &str) -> ProviderConfig {
    let mut config = ProviderConfig::new(Credentials::from_token(F::KIND, token).expect("well-formed token"));
    config.base_url = Some(fixture.base_url());
    config.timeout = Some(TIMEOUT);
    config.backoff = Some(Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_secs(2),
        max_attempts: 4,
    });
    config.rate_limit = Some(RateLimit {
        requests: 1000,
        per: Duration::from_secs(1),
        ..RateLimit::for_provider(F::KIND)
    });
    config
}

/// Builds the adapter for `token`.
fn provider<F: Fixture>(fixture: &F, token: &str) -> AnyProvider {
    provider_from_config(F::KIND, &config(fixture, token)).expect("valid configuration")
}

/// The shared conformance suite.
mod suite {
    use super::*;

    /// Drives an outcome to completion: polls pending operations and finishes them.
    async fn settle<F: Fixture>(fixture: &F, provider: &AnyProvider, capture: &Capture, outcome: ChangeOutcome) {
        match outcome {
            ChangeOutcome::Applied => assert!(!F::ASYNC, "an asynchronous provider answered Applied"),
            ChangeOutcome::Pending { operation_id } => {
                assert!(F::ASYNC, "a synchronous provider answered Pending");
                let first = capture.note(provider.poll(&fixture.domain(), &operation_id).await);
                assert!(matches!(first, Ok(ChangeOutcome::Pending { .. })), "{first:?}");
                fixture.complete_tasks();
                let done = capture.note(provider.poll(&fixture.domain(), &operation_id).await);
                assert_eq!(done.ok(), Some(ChangeOutcome::Applied));
            }
            ChangeOutcome::AlreadyInSync => panic!("expected a change"),
        }
    }

    /// Reads, changes the NS set, completes it, verifies, and repeats without effect.
    pub async fn happy_path<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        assert_eq!(provider.kind(), F::KIND);
        let before = capture.note(provider.read(&fixture.domain()).await).expect("readable");
        assert_eq!(sorted(&before.nameservers), owned(&OLD));

        let outcome = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect("accepted");
        settle(&fixture, &provider, &capture, outcome).await;
        assert_eq!(fixture.nameservers_at_provider(), owned(&NEW));
        assert_eq!(fixture.control().effective(), 1);

        let wanted = Delegation {
            nameservers: names(&["NS2.pool-dns.net.", "ns1.pool-dns.net"]),
            ds: None,
        };
        let check = capture
            .note(provider.verify(&fixture.domain(), &wanted).await)
            .expect("readable");
        assert!(check.is_in_sync(), "{check:?}");

        let again = capture.note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await);
        assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));
        assert_eq!(fixture.control().effective(), 1);
        assert!(capture.logs().contains("provider request"), "requests are logged");
        capture.finish(&fixture.secrets());
    }

    /// The same set in another order and spelling sends nothing.
    pub async fn nothing_to_change<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        let same = names(&["NS2.Old-Host.NET.", "ns1.old-host.net"]);
        let outcome = capture.note(provider.set_nameservers(&fixture.domain(), &same).await);
        assert_eq!(outcome.ok(), Some(ChangeOutcome::AlreadyInSync));
        assert_eq!(fixture.control().mutations(), Vec::<String>::new());
        assert_eq!(fixture.control().effective(), 0);
        capture.finish(&fixture.secrets());
    }

    /// Refused credentials are reported as such and change nothing.
    pub async fn bad_credentials<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.bad_token());
        let error = capture
            .note(provider.read(&fixture.domain()).await)
            .expect_err("refused");
        assert_eq!(error.code(), "invalid-token", "{error}");
        assert_eq!(error.http_status(), 401);
        let error = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect_err("refused");
        assert_eq!(error.code(), "invalid-token", "{error}");
        assert_eq!(fixture.control().mutations(), Vec::<String>::new());
        assert_eq!(fixture.nameservers_at_provider(), owned(&OLD));
        capture.finish(&fixture.secrets());
    }

    /// A token of the wrong shape fails before anything is sent.
    pub async fn malformed_token<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let token = fixture.malformed_token();
        let error = capture
            .note(provider_from_token(F::KIND.as_str(), token, Some(fixture.base_url())).map(|_| ()))
            .expect_err("malformed");
        assert_eq!(error.code(), "invalid-token");
        assert!(
            error
                .to_string()
                .starts_with(&format!("malformed {} credentials", F::KIND)),
            "{error}"
        );
        assert!(!error.to_string().contains(token), "{error}");
        assert_eq!(fixture.control().requests(), 0);
        capture.finish(&fixture.secrets());
    }

    /// A domain the account does not hold is reported as such and changes nothing.
    pub async fn domain_not_in_account<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        let foreign = fixture.foreign_domain();
        let error = capture.note(provider.read(&foreign).await).expect_err("not in account");
        assert_eq!(error.code(), "domain-not-in-account", "{error}");
        assert_eq!(error.http_status(), 403);
        let error = capture
            .note(provider.set_nameservers(&foreign, &names(&NEW)).await)
            .expect_err("not in account");
        assert_eq!(error.code(), "domain-not-in-account", "{error}");
        assert_eq!(fixture.control().mutations(), Vec::<String>::new());
        capture.finish(&fixture.secrets());
    }

    /// Throttled requests are retried and the change goes through once.
    pub async fn rate_limited_then_success<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        fixture.control().throttle_next(2);
        let outcome = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect("retried past the rate limit");
        assert_eq!(fixture.control().throttled(), 2);
        settle(&fixture, &provider, &capture, outcome).await;
        assert_eq!(fixture.nameservers_at_provider(), owned(&NEW));
        assert_eq!(fixture.control().effective(), 1);
        assert!(capture.logs().contains("retrying"), "retries are logged");
        capture.finish(&fixture.secrets());
    }

    /// A rate limit that does not lift ends in `rate-limited` after the retries.
    pub async fn rate_limit_exhausted<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        fixture.control().throttle_next(100);
        let error = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect_err("still limited");
        assert_eq!(error.code(), "rate-limited", "{error}");
        assert_eq!(error.http_status(), 429);
        assert_eq!(fixture.control().throttled(), 4, "max_attempts requests were sent");
        assert_eq!(fixture.control().effective(), 0);
        capture.finish(&fixture.secrets());
    }

    /// Asynchronous operations that succeed and fail; synchronous providers answer
    /// `Applied` to a poll.
    pub async fn async_operations<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        if !F::ASYNC {
            let outcome = capture.note(
                provider
                    .poll(&fixture.domain(), &registrars::OperationId::new("1"))
                    .await,
            );
            assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
            capture.finish(&fixture.secrets());
            return;
        }
        fixture
            .control()
            .fail_tasks
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let outcome = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect("accepted");
        let ChangeOutcome::Pending { operation_id } = outcome else {
            panic!("expected Pending, got {outcome:?}");
        };
        fixture.complete_tasks();
        let error = capture
            .note(provider.poll(&fixture.domain(), &operation_id).await)
            .expect_err("failed");
        assert_eq!(error.code(), "registrar-error", "{error}");
        assert!(matches!(error, Error::OperationFailed { .. }), "{error:?}");
        assert_eq!(fixture.nameservers_at_provider(), owned(&OLD));

        // A new attempt after the failure submits again and succeeds.
        fixture
            .control()
            .fail_tasks
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let outcome = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect("accepted");
        settle(&fixture, &provider, &capture, outcome).await;
        assert_eq!(fixture.nameservers_at_provider(), owned(&NEW));
        assert_eq!(fixture.control().effective(), 2);
        capture.finish(&fixture.secrets());
    }

    /// A change applied but answered too late: the retry converges without a second
    /// effective change.
    pub async fn timeout_then_retry<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        fixture.control().delay_next_change(DELAY);
        let error = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect_err("timed out");
        assert!(matches!(error, Error::Timeout), "{error:?}");
        assert_eq!(error.code(), "api-unavailable");
        // Let the late answer go out (Dynadot allows one request in flight per key).
        tokio::time::sleep(DELAY - TIMEOUT + Duration::from_millis(300)).await;

        let outcome = capture
            .note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await)
            .expect("converges");
        if F::ASYNC {
            settle(&fixture, &provider, &capture, outcome).await;
        } else {
            assert_eq!(outcome, ChangeOutcome::AlreadyInSync);
        }
        assert_eq!(fixture.nameservers_at_provider(), owned(&NEW));
        assert_eq!(fixture.control().effective(), 1, "exactly one effective change");
        let again = capture.note(provider.set_nameservers(&fixture.domain(), &names(&NEW)).await);
        assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));
        capture.finish(&fixture.secrets());
    }

    /// Bad input fails with a clear error before anything is sent.
    pub async fn bad_input<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let provider = provider(&fixture, &fixture.token());
        let domain = fixture.domain();

        let error = capture
            .note(provider_from_token("route53", &fixture.token(), None).map(|_| ()))
            .expect_err("unknown provider");
        assert_eq!(error.code(), "unsupported-registrar");
        assert!(
            error
                .to_string()
                .contains("cloudflare, namecheap, godaddy, ovh, dynadot"),
            "{error}"
        );

        let error = capture
            .note(provider.set_nameservers(&domain, &[]).await)
            .expect_err("empty");
        assert_eq!(error.code(), "invalid-request");
        assert!(error.to_string().contains("empty"), "{error}");

        for bad in [
            vec!["ns1.pool-dns.net", ""],
            vec!["ns1.pool-dns.net", "ns_2.pool-dns.net"],
            vec!["192.0.2.1"],
        ] {
            let error = capture.note(parse_nameservers(&bad)).expect_err("invalid name");
            assert_eq!(error.code(), "invalid-request", "{error}");
        }

        let caps = provider.capabilities();
        let too_many: Vec<String> = (0..=caps.max_nameservers)
            .map(|i| format!("ns{i}.pool-dns.net"))
            .collect();
        let error = capture
            .note(
                provider
                    .set_nameservers(&domain, &parse_nameservers(&too_many).expect("valid"))
                    .await,
            )
            .expect_err("too many");
        assert_eq!(error.code(), "invalid-request");
        assert!(
            error.to_string().contains(&format!("at most {}", caps.max_nameservers)),
            "{error}"
        );

        if caps.min_nameservers > 1 {
            let error = capture
                .note(provider.set_nameservers(&domain, &names(&["ns1.pool-dns.net"])).await)
                .expect_err("too few");
            assert!(error.to_string().contains("at least"), "{error}");
        }
        let error = capture
            .note(
                provider
                    .set_nameservers(&domain, &names(&["ns1.pool-dns.net", "NS1.pool-dns.net."]))
                    .await,
            )
            .expect_err("duplicate");
        assert!(error.to_string().contains("listed twice"), "{error}");

        assert_eq!(fixture.control().requests(), 0, "nothing reached the provider");
        assert_eq!(fixture.control().mutations(), Vec::<String>::new());
        capture.finish(&fixture.secrets());
    }

    /// Failures of every kind (including an unreachable API, whose transport error would
    /// carry the URL) keep credentials out of errors and logs.
    pub async fn secrets_stay_out_of_errors_and_logs<F: Fixture>() {
        let fixture = F::start().await;
        let capture = Capture::start();
        let good = provider(&fixture, &fixture.token());
        let bad = provider(&fixture, &fixture.bad_token());
        let _ = capture.note(bad.read(&fixture.domain()).await);
        let _ = capture.note(good.read(&fixture.foreign_domain()).await);
        fixture.control().throttle_next(100);
        let _ = capture.note(good.read(&fixture.domain()).await);
        fixture.control().throttle_next(0);

        let mut unreachable = config(&fixture, &fixture.token());
        unreachable.base_url = Some(format!("http://127.0.0.1:9/{}", fixture.token().replace(':', "/")));
        unreachable.backoff = Some(Backoff {
            max_attempts: 2,
            ..Backoff::default()
        });
        if let Ok(provider) = capture.note(provider_from_config(F::KIND, &unreachable)) {
            let error = capture
                .note(provider.read(&fixture.domain()).await)
                .expect_err("unreachable");
            assert_eq!(error.code(), "api-unavailable", "{error}");
        }
        let shown = format!("{good:?} {bad:?}");
        for secret in fixture.secrets() {
            assert!(!shown.contains(secret), "Debug output shows a credential: {shown}");
        }
        assert!(
            capture.logs().contains("provider request failed"),
            "failures are logged"
        );
        capture.finish(&fixture.secrets());
    }
}

/// Instantiates the conformance suite for each fixture.
macro_rules! conformance {
    ($($module:ident => $fixture:ty),* $(,)?) => {
        $(
            mod $module {
                use super::*;

                #[tokio::test]
                async fn happy_path() {
                    suite::happy_path::<$fixture>().await;
                }

                #[tokio::test]
                async fn nothing_to_change() {
                    suite::nothing_to_change::<$fixture>().await;
                }

                #[tokio::test]
                async fn bad_credentials() {
                    suite::bad_credentials::<$fixture>().await;
                }

                #[tokio::test]
                async fn malformed_token() {
                    suite::malformed_token::<$fixture>().await;
                }

                #[tokio::test]
                async fn domain_not_in_account() {
                    suite::domain_not_in_account::<$fixture>().await;
                }

                #[tokio::test]
                async fn rate_limited_then_success() {
                    suite::rate_limited_then_success::<$fixture>().await;
                }

                #[tokio::test]
                async fn rate_limit_exhausted() {
                    suite::rate_limit_exhausted::<$fixture>().await;
                }

                #[tokio::test]
                async fn async_operations() {
                    suite::async_operations::<$fixture>().await;
                }

                #[tokio::test]
                async fn timeout_then_retry() {
                    suite::timeout_then_retry::<$fixture>().await;
                }

                #[tokio::test]
                async fn bad_input() {
                    suite::bad_input::<$fixture>().await;
                }

                #[tokio::test]
                async fn secrets_stay_out_of_errors_and_logs() {
                    suite::secrets_stay_out_of_errors_and_logs::<$fixture>().await;
                }
            }
        )*
    };
}

conformance! {
    cloudflare => fixtures::CloudflareFixture,
    namecheap => fixtures::NamecheapFixture,
    godaddy_v1 => fixtures::GoDaddyV1Fixture,
    godaddy_v2 => fixtures::GoDaddyV2Fixture,
    ovh => fixtures::OvhFixture,
    dynadot => fixtures::DynadotFixture,
}

/// The fixtures: each mock with its credentials and domains.
mod fixtures {
    use super::*;
    use testkit::mocks::{cloudflare, dynadot, godaddy, namecheap, ovh};

    /// Parses a domain the test knows to be valid.
    fn domain(name: &str) -> DomainName {
        DomainName::new(name).expect("valid domain")
    }

    /// Cloudflare hosting `example.com`, delegating `pool.example.com`.
    pub struct CloudflareFixture(pub cloudflare::CloudflareMock);

    impl Fixture for CloudflareFixture {
        const KIND: ProviderKind = ProviderKind::Cloudflare;
        const ASYNC: bool = false;

        async fn start() -> Self {
            Self(cloudflare::CloudflareMock::start().await)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            cloudflare::TOKEN.into()
        }
        fn bad_token(&self) -> String {
            cloudflare::BAD_TOKEN.into()
        }
        fn malformed_token(&self) -> &'static str {
            "not a token"
        }
        fn domain(&self) -> DomainName {
            domain("pool.example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("pool.not-mine.example")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.contents("NS", "pool.example.com")
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![
                cloudflare::TOKEN,
                cloudflare::BAD_TOKEN,
                cloudflare::SCOPED_TOKEN,
                cloudflare::GLOBAL_KEY,
            ]
        }
    }

    /// Namecheap with `example.com`.
    pub struct NamecheapFixture(pub namecheap::NamecheapMock);

    impl Fixture for NamecheapFixture {
        const KIND: ProviderKind = ProviderKind::Namecheap;
        const ASYNC: bool = false;

        async fn start() -> Self {
            Self(namecheap::NamecheapMock::start().await)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            format!("{}:{}:{}", namecheap::USER, namecheap::KEY, namecheap::CLIENT_IP)
        }
        fn bad_token(&self) -> String {
            format!("{}:{}:{}", namecheap::USER, namecheap::BAD_KEY, namecheap::CLIENT_IP)
        }
        fn malformed_token(&self) -> &'static str {
            "nc-user:ncabcdef0123456789"
        }
        fn domain(&self) -> DomainName {
            domain("example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("someone-else.com")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.nameservers("example.com")
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![namecheap::KEY, namecheap::BAD_KEY]
        }
    }

    /// GoDaddy without a customer id (v1 `PATCH`).
    pub struct GoDaddyV1Fixture(pub godaddy::GoDaddyMock);

    impl Fixture for GoDaddyV1Fixture {
        const KIND: ProviderKind = ProviderKind::GoDaddy;
        const ASYNC: bool = false;

        async fn start() -> Self {
            Self(godaddy::GoDaddyMock::start().await)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            format!("{}:{}", godaddy::KEY, godaddy::SECRET)
        }
        fn bad_token(&self) -> String {
            format!("{}:gd-wrong-secret-000000", godaddy::KEY)
        }
        fn malformed_token(&self) -> &'static str {
            "gd-key-without-a-secret"
        }
        fn domain(&self) -> DomainName {
            domain("example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("not-mine.com")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.nameservers("example.com")
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![
                godaddy::KEY,
                godaddy::SECRET,
                "gd-wrong-secret-000000",
                godaddy::SMALL_SECRET,
            ]
        }
    }

    /// GoDaddy with a customer id (v2 `PUT` and actions).
    pub struct GoDaddyV2Fixture(pub godaddy::GoDaddyMock);

    impl Fixture for GoDaddyV2Fixture {
        const KIND: ProviderKind = ProviderKind::GoDaddy;
        const ASYNC: bool = true;

        async fn start() -> Self {
            Self(godaddy::GoDaddyMock::start().await)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            format!("{}:{}:{}", godaddy::KEY, godaddy::SECRET, godaddy::CUSTOMER)
        }
        fn bad_token(&self) -> String {
            format!("{}:gd-wrong-secret-000000:{}", godaddy::KEY, godaddy::CUSTOMER)
        }
        fn malformed_token(&self) -> &'static str {
            "gd-key:gd-secret:cust:extra"
        }
        fn domain(&self) -> DomainName {
            domain("example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("not-mine.com")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.nameservers("example.com")
        }
        fn complete_tasks(&self) {
            self.0.complete_actions();
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![
                godaddy::KEY,
                godaddy::SECRET,
                "gd-wrong-secret-000000",
                godaddy::SMALL_SECRET,
            ]
        }
    }

    /// OVHcloud with `example.com` on external DNS.
    pub struct OvhFixture(pub ovh::OvhMock);

    impl Fixture for OvhFixture {
        const KIND: ProviderKind = ProviderKind::Ovh;
        const ASYNC: bool = true;

        async fn start() -> Self {
            Self(ovh::OvhMock::start().await)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            format!("{}:{}:{}", ovh::APP_KEY, ovh::APP_SECRET, ovh::CONSUMER)
        }
        fn bad_token(&self) -> String {
            format!("{}:{}:ovh-consumer-revoked-000", ovh::APP_KEY, ovh::APP_SECRET)
        }
        fn malformed_token(&self) -> &'static str {
            "ovh-app-key:ovh-app-secret"
        }
        fn domain(&self) -> DomainName {
            domain("example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("not-mine.com")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.nameservers("example.com")
        }
        fn complete_tasks(&self) {
            self.0.complete_tasks();
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![
                ovh::APP_KEY,
                ovh::APP_SECRET,
                ovh::CONSUMER,
                ovh::READ_ONLY_CONSUMER,
                "ovh-consumer-revoked-000",
            ]
        }
    }

    /// Dynadot with `example.com`; the new nameserver hosts are already in the account.
    pub struct DynadotFixture(pub dynadot::DynadotMock);

    impl Fixture for DynadotFixture {
        const KIND: ProviderKind = ProviderKind::Dynadot;
        const ASYNC: bool = false;

        async fn start() -> Self {
            let mock = dynadot::DynadotMock::start().await;
            for host in NEW {
                mock.register_host(host);
            }
            Self(mock)
        }
        fn control(&self) -> &Control {
            &self.0.control
        }
        fn base_url(&self) -> String {
            self.0.base_url.clone()
        }
        fn token(&self) -> String {
            dynadot::KEY.into()
        }
        fn bad_token(&self) -> String {
            dynadot::BAD_KEY.into()
        }
        fn malformed_token(&self) -> &'static str {
            "dyn-key:dyn-secret:extra-part"
        }
        fn domain(&self) -> DomainName {
            domain("example.com")
        }
        fn foreign_domain(&self) -> DomainName {
            domain("not-mine.com")
        }
        fn nameservers_at_provider(&self) -> Vec<String> {
            self.0.nameservers("example.com")
        }
        fn secrets(&self) -> Vec<&'static str> {
            vec![dynadot::KEY, dynadot::BAD_KEY]
        }
    }
}

mod specific;
