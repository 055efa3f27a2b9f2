//! OVHcloud.

use registrars::{ChangeOutcome, DelegationProvider, DsSpec, Glue, OperationId};
use testkit::mocks::ovh;

use super::{ds, key, DS_A};
use crate::fixtures::OvhFixture;
use crate::{names, provider, Capture, Fixture, NEW};

/// Parses a domain.
fn domain(name: &str) -> registrars::DomainName {
    registrars::DomainName::new(name).expect("valid domain")
}

/// Finishes the mock's tasks and polls `outcome` to completion.
async fn finish(
    fixture: &OvhFixture,
    provider: &registrars::AnyProvider,
    capture: &Capture,
    name: &str,
    outcome: ChangeOutcome,
) {
    let ChangeOutcome::Pending { operation_id } = outcome else {
        panic!("expected Pending, got {outcome:?}");
    };
    fixture.0.complete_tasks();
    let done = capture.note(provider.poll(&domain(name), &operation_id).await);
    assert_eq!(done.ok(), Some(ChangeOutcome::Applied));
}

#[tokio::test]
async fn hosted_domains_switch_to_external_first() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let hosted = domain("hosted.example");
    let outcome = capture
        .note(provider.set_nameservers(&hosted, &names(&NEW)).await)
        .expect("accepted");
    assert_eq!(
        fixture.0.control.mutations(),
        [
            "PUT /domain/hosted.example",
            "POST /domain/hosted.example/nameServers/update"
        ]
    );
    assert_eq!(fixture.0.name_server_type("hosted.example"), "external");
    finish(&fixture, &provider, &capture, "hosted.example", outcome).await;
    assert_eq!(fixture.0.nameservers("hosted.example"), NEW);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn an_open_task_is_handed_back_instead_of_a_second_one() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let first = capture
        .note(provider.set_nameservers(&domain("example.com"), &names(&NEW)).await)
        .expect("accepted");
    let second = capture
        .note(provider.set_nameservers(&domain("example.com"), &names(&NEW)).await)
        .expect("still open");
    assert_eq!(first, second);
    assert_eq!(fixture.0.control.mutations().len(), 1);
    let error = capture
        .note(
            provider
                .poll(&domain("example.com"), &OperationId::new("not-a-task"))
                .await,
        )
        .expect_err("bad id");
    assert_eq!(error.code(), "invalid-request");
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn signature_and_server_clock() {
    // The mock's clock runs two hours ahead and it refuses timestamps more than 30 s off,
    // so every successful call here proves the offset from /auth/time is applied.
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    const { assert!(ovh::CLOCK_AHEAD > 30) };
    capture
        .note(provider.read(&domain("example.com")).await)
        .expect("signed and on time");

    let wrong_secret = format!("{}:not-the-secret-xyz:{}", ovh::APP_KEY, ovh::CONSUMER);
    let provider = crate::provider(&fixture, &wrong_secret);
    let error = capture
        .note(provider.read(&domain("example.com")).await)
        .expect_err("bad signature");
    assert_eq!(error.code(), "invalid-token");
    let mut secrets = fixture.secrets();
    secrets.push("not-the-secret-xyz");
    capture.finish(&secrets);
}

#[tokio::test]
async fn consumer_key_rules_are_reported() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let token = format!("{}:{}:{}", ovh::APP_KEY, ovh::APP_SECRET, ovh::READ_ONLY_CONSUMER);
    let provider = provider(&fixture, &token);
    capture
        .note(provider.read(&domain("example.com")).await)
        .expect("reading is granted");
    let error = capture
        .note(provider.set_nameservers(&domain("example.com"), &names(&NEW)).await)
        .expect_err("not granted");
    assert_eq!(error.code(), "invalid-token");
    assert!(error.to_string().contains("has not been granted"), "{error}");
    assert_eq!(fixture.0.nameservers("example.com"), crate::OLD);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_records_are_created_and_updated() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let example = domain("example.com");
    let glue = |ips: &[&str]| {
        [Glue {
            host: names(&["ns1.example.com"])[0].clone(),
            addresses: ips.iter().map(|ip| ip.parse().expect("ip")).collect(),
        }]
    };
    let outcome = capture
        .note(
            provider
                .ensure_glue(&example, &glue(&["192.0.2.1", "2001:db8::1"]))
                .await,
        )
        .expect("accepted");
    finish(&fixture, &provider, &capture, "example.com", outcome).await;
    assert_eq!(
        fixture.0.glue("example.com")["ns1.example.com"],
        ["192.0.2.1", "2001:db8::1"]
    );
    let again = capture.note(
        provider
            .ensure_glue(&example, &glue(&["2001:db8::1", "192.0.2.1"]))
            .await,
    );
    assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));
    let outcome = capture
        .note(provider.ensure_glue(&example, &glue(&["192.0.2.2"])).await)
        .expect("accepted");
    finish(&fixture, &provider, &capture, "example.com", outcome).await;
    assert_eq!(fixture.0.glue("example.com")["ns1.example.com"], ["192.0.2.2"]);
    assert_eq!(
        fixture.0.control.mutations(),
        [
            "POST /domain/example.com/glueRecord",
            "POST /domain/example.com/glueRecord/ns1.example.com/update"
        ]
    );
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn registries_without_hosts_or_dnssec_are_reported() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let noglue = domain("noglue.example");
    let glue = [Glue {
        host: names(&["ns1.noglue.example"])[0].clone(),
        addresses: vec!["192.0.2.1".parse().expect("ip")],
    }];
    let error = capture
        .note(provider.ensure_glue(&noglue, &glue).await)
        .expect_err("no hosts");
    assert_eq!(error.code(), "unsupported-operation");
    assert!(error.to_string().contains("hostSupported"), "{error}");
    let spec = DsSpec::from_dnskey(&noglue, key(), 2).expect("pair");
    let error = capture
        .note(provider.set_ds(&noglue, &[spec]).await)
        .expect_err("no DNSSEC");
    assert_eq!(error.code(), "unsupported-operation");
    assert_eq!(capture.note(provider.read(&noglue).await).expect("readable").ds, None);
    assert!(fixture.0.control.mutations().is_empty());
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn ds_is_published_from_the_dnskey() {
    let fixture = OvhFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let example = domain("example.com");

    let error = capture
        .note(provider.set_ds(&example, &[DsSpec::from(ds(DS_A))]).await)
        .expect_err("digest only");
    assert!(error.to_string().contains("give the DNSKEY"), "{error}");
    assert!(fixture.0.control.mutations().is_empty());

    let spec = DsSpec::from_dnskey(&example, key(), 2).expect("pair");
    let outcome = capture
        .note(provider.set_ds(&example, std::slice::from_ref(&spec)).await)
        .expect("accepted");
    finish(&fixture, &provider, &capture, "example.com", outcome).await;
    assert_eq!(fixture.0.keys("example.com"), [key().public_key_base64()]);
    let read = capture.note(provider.read(&example).await).expect("readable");
    assert_eq!(read.ds, Some(vec![spec.ds().clone()]));
    let again = capture.note(provider.set_ds(&example, &[spec]).await);
    assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));

    let outcome = capture.note(provider.set_ds(&example, &[]).await).expect("accepted");
    finish(&fixture, &provider, &capture, "example.com", outcome).await;
    assert!(fixture.0.keys("example.com").is_empty());
    capture.finish(&fixture.secrets());
}
