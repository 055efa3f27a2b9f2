//! GoDaddy.

use registrars::{ChangeOutcome, DelegationProvider, DsSpec, Glue, OperationId};
use testkit::mocks::godaddy;

use super::{ds, DS_A, DS_B};
use crate::fixtures::{GoDaddyV1Fixture, GoDaddyV2Fixture};
use crate::{names, provider, Capture, Fixture, NEW};

/// The test domain.
fn example() -> registrars::DomainName {
    registrars::DomainName::new("example.com").expect("valid domain")
}

#[tokio::test]
async fn access_denied_is_explained() {
    let fixture = GoDaddyV1Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &format!("{}:{}", godaddy::SMALL_KEY, godaddy::SMALL_SECRET));
    let error = capture
        .note(provider.read(&example()).await)
        .expect_err("small account");
    assert_eq!(error.code(), "invalid-token");
    let text = error.to_string();
    assert!(
        text.contains("ACCESS_DENIED") && text.contains("at least 10 domains"),
        "{text}"
    );
    assert!(text.contains("OTE"), "{text}");
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn v2_reuses_the_open_action_and_sends_a_request_id() {
    let fixture = GoDaddyV2Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let first = capture
        .note(provider.set_nameservers(&example(), &names(&NEW)).await)
        .expect("accepted");
    let second = capture
        .note(provider.set_nameservers(&example(), &names(&NEW)).await)
        .expect("still pending");
    assert_eq!(first, second);
    assert_eq!(
        first,
        ChangeOutcome::Pending {
            operation_id: OperationId::new("DOMAIN_UPDATE_NAME_SERVERS")
        }
    );
    assert_eq!(fixture.0.control.mutations(), ["PUT /v2/customers/domains/nameServers"]);
    let ids = fixture.0.request_ids("example.com");
    assert!(matches!(ids.as_slice(), [Some(id)] if id.len() == 36), "{ids:?}");
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn ds_through_v2_actions() {
    let fixture = GoDaddyV2Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let outcome = capture
        .note(provider.set_ds(&example(), &[DsSpec::from(ds(DS_A))]).await)
        .expect("accepted");
    assert_eq!(
        outcome,
        ChangeOutcome::Pending {
            operation_id: OperationId::new("DNSSEC_CREATE")
        }
    );
    fixture.0.complete_actions();
    let ChangeOutcome::Pending { operation_id } = outcome else {
        unreachable!()
    };
    assert_eq!(
        capture.note(provider.poll(&example(), &operation_id).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(
        capture.note(provider.read(&example()).await).expect("readable").ds,
        Some(vec![ds(DS_A)])
    );
    let again = capture.note(provider.set_ds(&example(), &[DsSpec::from(ds(DS_A))]).await);
    assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));

    // A rollover adds the new record and removes the old one.
    let outcome = capture
        .note(provider.set_ds(&example(), &[DsSpec::from(ds(DS_B))]).await)
        .expect("accepted");
    let ChangeOutcome::Pending { operation_id } = outcome else {
        panic!("expected Pending, got {outcome:?}");
    };
    assert_eq!(operation_id.as_str(), "DNSSEC_CREATE+DNSSEC_DELETE");
    fixture.0.complete_actions();
    assert_eq!(
        capture.note(provider.poll(&example(), &operation_id).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(
        fixture.0.ds("example.com"),
        [format!(
            "4242 {}",
            "00112233445566778899aabbccddeeff".repeat(2).to_uppercase()
        )]
    );
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn ds_needs_the_customer_id() {
    let fixture = GoDaddyV1Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let error = capture
        .note(provider.set_ds(&example(), &[DsSpec::from(ds(DS_A))]).await)
        .expect_err("v1 has no DNSSEC");
    assert_eq!(error.code(), "invalid-request");
    assert!(error.to_string().contains("key:secret:customerId"), "{error}");
    assert_eq!(fixture.0.control.requests(), 0);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_is_manual_only() {
    let fixture = GoDaddyV2Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let glue = [Glue {
        host: names(&["ns1.example.com"])[0].clone(),
        addresses: vec!["192.0.2.1".parse().expect("ip")],
    }];
    let error = capture
        .note(provider.ensure_glue(&example(), &glue).await)
        .expect_err("UI only");
    assert_eq!(error.code(), "unsupported-operation");
    assert_eq!(fixture.0.control.requests(), 0);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn full_replacements_are_retried_after_a_server_error() {
    let fixture = GoDaddyV1Fixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    // The read passes, the PATCH gets a 503 and is sent again.
    fixture.0.control.unavailable_after(1, 1);
    let outcome = capture.note(provider.set_nameservers(&example(), &names(&NEW)).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(
        fixture.0.control.mutations(),
        ["PATCH /v1/domains", "PATCH /v1/domains"]
    );
    assert_eq!(fixture.0.control.effective(), 1);
    assert_eq!(fixture.0.nameservers("example.com"), NEW);
    capture.finish(&fixture.secrets());
}
