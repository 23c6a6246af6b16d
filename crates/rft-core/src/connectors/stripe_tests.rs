use super::*;
use crate::connectors::ProviderEvent;

const SECRET: &str = "whsec_test_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH";
const NOW: i64 = 1_767_225_600;

fn fixture(name: &str) -> &'static str {
    match name {
        "payment" => include_str!("../../fixtures/stripe/checkout_session_completed_payment.json"),
        "subscription" => include_str!("../../fixtures/stripe/checkout_session_completed_subscription.json"),
        "unpaid" => include_str!("../../fixtures/stripe/checkout_session_completed_unpaid.json"),
        "invoice" => include_str!("../../fixtures/stripe/invoice_paid_subscription_create.json"),
        "renewal" => include_str!("../../fixtures/stripe/invoice_paid_subscription_cycle.json"),
        "refund" => include_str!("../../fixtures/stripe/charge_refunded.json"),
        "customer" => include_str!("../../fixtures/stripe/customer_created.json"),
        "plan" => include_str!("../../fixtures/stripe/event_plan_created.json"),
        _ => unreachable!("no fixture {name}"),
    }
}

fn secret() -> SecretString {
    SecretString::new(SECRET.to_owned())
}

/// Signs as Stripe does: HMAC-SHA256 keyed with the secret's text over `{t}.{body}`.
fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn parse(name: &str) -> ProviderEvent {
    parse_event(fixture(name).as_bytes()).unwrap()
}

fn conversion(name: &str) -> ProviderConversion {
    match parse(name) {
        ProviderEvent::Conversion(c) => *c,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn a_signed_event_verifies_within_tolerance_both_ways() {
    let body = fixture("payment").as_bytes();
    let header = format!("t={NOW},v1={}", sign(SECRET, NOW, body));
    let now = Timestamp::from_secs(NOW);
    assert_eq!(verify(&secret(), &header, body, now), Ok(()));
    assert_eq!(verify(&secret(), &header, body, Timestamp::from_secs(NOW + 300)), Ok(()));
    assert_eq!(verify(&secret(), &header, body, Timestamp::from_secs(NOW - 300)), Ok(()));
    assert_eq!(verify(&secret(), &header, body, Timestamp::from_secs(NOW + 301)), Err(SignatureError::Stale));
    assert_eq!(verify(&secret(), &header, body, Timestamp::from_secs(NOW - 301)), Err(SignatureError::Future));
}

#[test]
fn any_v1_may_match_and_other_schemes_are_ignored() {
    let body = br#"{"id":"evt_1"}"#;
    let good = sign(SECRET, NOW, body);
    let other = sign("whsec_the_old_secret_still_rolling", NOW, body);
    let now = Timestamp::from_secs(NOW);
    let header = format!("t={NOW},v1={other},v0={good},v1={good}");
    assert_eq!(verify(&secret(), &header, body, now), Ok(()));
    assert_eq!(verify(&secret(), &format!("t={NOW},v0={good}"), body, now), Err(SignatureError::Mismatch));
    assert_eq!(verify(&secret(), &format!("t={NOW}, v1={good}"), body, now), Ok(()), "spaces after commas");
}

#[test]
fn tampering_wrong_secrets_and_malformed_headers_fail() {
    let body = fixture("payment").as_bytes();
    let now = Timestamp::from_secs(NOW);
    let sig = sign(SECRET, NOW, body);
    let tampered = fixture("payment").replace("4500", "9999");
    assert_eq!(
        verify(&secret(), &format!("t={NOW},v1={sig}"), tampered.as_bytes(), now),
        Err(SignatureError::Mismatch)
    );
    let wrong = SecretString::new("whsec_someone_elses_endpoint_secret".into());
    assert_eq!(verify(&wrong, &format!("t={NOW},v1={sig}"), body, now), Err(SignatureError::Mismatch));
    // The timestamp is signed: moving it breaks the signature.
    assert_eq!(verify(&secret(), &format!("t={},v1={sig}", NOW + 1), body, now), Err(SignatureError::Mismatch));
    assert_eq!(
        verify(&secret(), &format!("v1={sig}"), body, now),
        Err(SignatureError::MalformedHeader(SIGNATURE_HEADER))
    );
    assert_eq!(verify(&secret(), "t=soon,v1=00", body, now), Err(SignatureError::MalformedHeader(SIGNATURE_HEADER)));
    assert_eq!(verify(&secret(), &format!("t={NOW},v1=zz"), body, now), Err(SignatureError::Mismatch));
    assert_eq!(verify(&secret(), &format!("t={NOW},v1={}", &sig[..40]), body, now), Err(SignatureError::Mismatch));
    assert_eq!(verify(&secret(), "", body, now), Err(SignatureError::MalformedHeader(SIGNATURE_HEADER)));
}

#[test]
fn verify_and_parse_reads_the_header_and_names_what_is_missing() {
    let body = fixture("payment").as_bytes();
    let now = Timestamp::from_secs(NOW);
    let mut headers = HeaderMap::new();
    assert_eq!(
        verify_and_parse(&secret(), &headers, body, now),
        Err(ConnectorError::Signature(SignatureError::MissingHeader(SIGNATURE_HEADER)))
    );
    headers.insert("Stripe-Signature", format!("t={NOW},v1={}", sign(SECRET, NOW, body)).parse().unwrap());
    assert_eq!(verify_and_parse(&secret(), &headers, body, now).unwrap().kind(), "conversion");
}

#[test]
fn a_paid_one_off_checkout_is_a_conversion_keyed_by_its_payment_intent() {
    let c = conversion("payment");
    assert_eq!(c.event_id, "evt_1PgcPaymentCheckout0001");
    assert_eq!(c.source, ConversionSource::CheckoutSession);
    assert_eq!(c.order_id.as_str(), "pi_3PgafyB7WZ01zgkW1a2b3c4d");
    assert_eq!(c.customer_id, None, "a guest checkout");
    assert_eq!(c.email.unwrap().as_str(), "Mara.Jones@example.com");
    assert_eq!(c.first_name.unwrap().as_str(), "Mara");
    assert_eq!((c.amount_minor, c.currency.as_str()), (4500, "GBP"));
    assert_eq!(c.occurred_at, Timestamp::from_secs(1_767_225_600));
    assert_eq!(c.attribution_token.unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j");
    assert_eq!(c.discount_codes, vec!["7QK2A9".to_owned()]);
    assert_eq!(c.promotion_code_ids, vec!["promo_1Pgc79B7WZ01zgkWNy4mn5NX".to_owned()]);
    assert_eq!(c.earlier_orders, None);
}

#[test]
fn a_subscription_checkout_and_its_first_invoice_are_one_order() {
    let session = conversion("subscription");
    let invoice = conversion("invoice");
    assert_eq!(session.order_id.as_str(), "in_1Pgc6tB7WZ01zgkWu9fdqL6I");
    assert_eq!(invoice.order_id, session.order_id);
    assert_eq!(invoice.source, ConversionSource::Invoice);
    assert_eq!(session.customer_id.unwrap().as_str(), "cus_QXg1o8vcGmoR32");
    assert_eq!(session.attribution_token.unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j", "from metadata.rft");
    assert_eq!(invoice.attribution_token, None, "the invoice carries no touch");
    assert_eq!((invoice.amount_minor, invoice.currency.as_str()), (2500, "GBP"));
    assert_eq!(invoice.occurred_at, Timestamp::from_secs(1_767_225_595), "status_transitions.paid_at");
    assert!(invoice.discount_codes.is_empty(), "a bare di_ id names no code");
}

#[test]
fn unpaid_sessions_renewals_and_other_types_are_ignored() {
    for (name, ty) in [("unpaid", "checkout.session.completed"), ("renewal", "invoice.paid"), ("plan", "plan.created")]
    {
        match parse(name) {
            ProviderEvent::Ignored { event_type, reason, .. } => {
                assert_eq!(event_type, ty);
                assert!(!reason.is_empty());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_refund_names_the_payment_intent_and_asks_for_an_invoice_lookup_on_current_versions() {
    let ProviderEvent::Refund(r) = parse("refund") else { panic!("not a refund") };
    assert_eq!(r.order_id.as_str(), "pi_3PgafyB7WZ01zgkW1a2b3c4d");
    assert_eq!(r.order_id, conversion("payment").order_id, "a one-off refund matches its conversion");
    assert!(r.needs_invoice_lookup, "current API versions do not say whether the charge paid an invoice");
    assert_eq!((r.refunded_minor, r.fully_refunded), (Some(4500), Some(true)));
    assert_eq!(r.occurred_at, Timestamp::from_secs(1_767_312_000));
}

#[test]
fn an_older_versions_charge_names_its_invoice() {
    let mut v: Value = serde_json::from_str(fixture("refund")).unwrap();
    v["data"]["object"]["invoice"] = "in_1Pgc6tB7WZ01zgkWu9fdqL6I".into();
    v["data"]["object"]["refunded"] = false.into();
    let ProviderEvent::Refund(r) = parse_event(v.to_string().as_bytes()).unwrap() else { panic!() };
    assert_eq!(r.order_id, conversion("invoice").order_id);
    assert_eq!(r.order_aliases[0].as_str(), "pi_3PgafyB7WZ01zgkW1a2b3c4d");
    assert!(!r.needs_invoice_lookup);
    assert_eq!(r.fully_refunded, Some(false));
    v["data"]["object"]["invoice"] = Value::Null;
    let ProviderEvent::Refund(r) = parse_event(v.to_string().as_bytes()).unwrap() else { panic!() };
    assert!(!r.needs_invoice_lookup, "an explicit null says: not an invoice");
    v["data"]["object"]["payment_intent"] = Value::Null;
    assert_eq!(parse_event(v.to_string().as_bytes()).unwrap().kind(), "ignored", "legacy charges cannot match");
}

#[test]
fn an_invoice_that_lists_its_payment_gets_that_payment_intent_as_an_alias() {
    let mut v: Value = serde_json::from_str(fixture("invoice")).unwrap();
    v["data"]["object"]["payments"] = serde_json::json!({"object": "list", "data": [
        {"object": "invoice_payment", "payment": {"type": "payment_intent", "payment_intent": "pi_3Sub"}}]});
    let ProviderEvent::Conversion(c) = parse_event(v.to_string().as_bytes()).unwrap() else { panic!() };
    assert_eq!(c.order_aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["pi_3Sub"]);
}

#[test]
fn referral_codes_are_recovered_from_every_discount_shape() {
    let mut v: Value = serde_json::from_str(fixture("invoice")).unwrap();
    let obj = &mut v["data"]["object"];
    obj["discounts"] = serde_json::json!([
        "di_bare",
        {"object": "discount", "source": {"type": "coupon", "coupon": "rft_ABC234"}, "promotion_code": "promo_x"},
        {"object": "discount", "coupon": {"id": "rft_xyz789", "object": "coupon"}},
        {"object": "discount", "promotion_code": {"id": "promo_y", "code": "summer10", "promotion": {"coupon": "SUMMER"}}},
    ]);
    obj["discount"] = serde_json::json!({"coupon": {"id": "rft_ABC234"}});
    let ProviderEvent::Conversion(c) = parse_event(v.to_string().as_bytes()).unwrap() else { panic!() };
    assert_eq!(c.discount_codes, ["ABC234", "XYZ789", "SUMMER10"]);
    assert_eq!(c.promotion_code_ids, ["promo_x"]);
    let mut s: Value = serde_json::from_str(fixture("payment")).unwrap();
    s["data"]["object"]["discounts"] = Value::Null;
    s["data"]["object"]["total_details"]["breakdown"] = serde_json::json!({"discounts": [
        {"amount": 1000, "discount": {"object": "discount", "source": {"coupon": {"id": "rft_7QK2A9"}}}}]});
    let ProviderEvent::Conversion(c) = parse_event(s.to_string().as_bytes()).unwrap() else { panic!() };
    assert_eq!(c.discount_codes, ["7QK2A9"]);
}

#[test]
fn a_new_customer_is_a_signup() {
    let ProviderEvent::Signup(s) = parse("customer") else { panic!("not a signup") };
    assert_eq!(s.customer_id.as_str(), "cus_QXg1o8vcGmoR32");
    assert_eq!(s.email.unwrap().as_str(), "mara.jones@example.com");
    assert_eq!(s.attribution_token.unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j");
    assert_eq!(s.occurred_at, Timestamp::from_secs(1_234_567_890), "the customer's own created time");
}

#[test]
fn missing_or_mistyped_fields_name_their_path() {
    let edit = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(fixture(name)).unwrap();
        f(&mut v);
        parse_event(v.to_string().as_bytes()).unwrap_err()
    };
    let e = edit("payment", &|v| v["data"]["object"]["amount_total"] = Value::Null);
    assert_eq!((e.to_string().as_str(), e.status().as_u16()), ("data.object.amount_total: is missing", 422));
    let e = edit("payment", &|v| v["data"]["object"]["amount_total"] = "45".into());
    assert_eq!(e.to_string(), "data.object.amount_total: must be a whole number from 0");
    let e = edit("payment", &|v| v["data"]["object"]["currency"] = "pounds".into());
    assert!(e.to_string().starts_with("data.object.currency: "), "{e}");
    let e = edit("payment", &|v| v["data"]["object"]["payment_intent"] = Value::Null);
    assert_eq!(e.to_string(), "data.object.payment_intent: is missing");
    let e = edit("subscription", &|v| v["data"]["object"]["invoice"] = Value::Null);
    assert_eq!(e.to_string(), "data.object.invoice: is missing");
    let e = edit("payment", &|v| v["data"]["object"]["amount_total"] = 2_000_000_000u64.into());
    assert!(e.to_string().starts_with("data.object.amount_total"), "{e}");
    let e = edit("customer", &|v| v["data"]["object"]["id"] = " ".into());
    assert_eq!(e.to_string(), "data.object.id: must be a non-empty string");
    let e = edit("plan", &|v| v["id"] = "evt 1".into());
    assert_eq!(e.to_string(), "id: must be at most 256 visible ASCII characters");
    let e = edit("plan", &|v| v["created"] = Value::Null);
    assert_eq!(e.to_string(), "created: is missing");
    assert_eq!(parse_event(b"[1,2]").unwrap_err().status().as_u16(), 400);
    assert_eq!(parse_event(b"{not json").unwrap_err().code(), "malformed_body");
}

#[test]
fn a_foreign_client_reference_id_is_not_a_touch_and_not_an_error() {
    let mut v: Value = serde_json::from_str(fixture("payment")).unwrap();
    v["data"]["object"]["client_reference_id"] = "order-12345".into();
    let ProviderEvent::Conversion(c) = parse_event(v.to_string().as_bytes()).unwrap() else { panic!() };
    assert_eq!(c.attribution_token, None);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), header in "\\PC{0,120}") {
            let _ = parse_event(&body);
            let _ = verify(&secret(), &header, &body, Timestamp::from_secs(NOW));
        }

        #[test]
        fn arbitrary_json_in_a_known_event_never_panics(
            ty in prop::sample::select(vec!["checkout.session.completed", "invoice.paid", "customer.created", "charge.refunded"]),
            object in any_json(3),
        ) {
            let mut object = object;
            if let Value::Object(o) = &mut object {
                o.insert("payment_status".into(), "paid".into());
                o.insert("billing_reason".into(), "subscription_create".into());
            }
            let event = serde_json::json!({"id": "evt_1", "type": ty, "created": 1, "data": {"object": object}});
            let _ = parse_event(event.to_string().as_bytes());
        }
    }

    fn any_json(depth: u32) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z_]{0,12}".prop_map(Value::from),
            prop::sample::select(vec!["rft_7QK2A9", "promo_1", "pi_1", "in_1", "cus_1", "gbp", "subscription"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(depth, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "id",
                        "mode",
                        "invoice",
                        "payment_intent",
                        "customer",
                        "currency",
                        "amount_total",
                        "amount_paid",
                        "discounts",
                        "coupon",
                        "promotion_code",
                        "source",
                        "metadata",
                        "rft",
                        "client_reference_id",
                        "customer_details",
                        "email",
                        "payments",
                        "data",
                        "payment",
                        "refunded",
                        "amount_refunded",
                        "total_details",
                        "breakdown",
                        "discount",
                        "code",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..6,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
