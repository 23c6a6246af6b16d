use super::*;
use crate::connectors::ProviderEvent;

const SECRET: &str = "hush-this-is-the-shopify-webhook-secret";
const ORDER: &str = include_str!("../../fixtures/shopify/orders_paid.json");
const CUSTOMER: &str = include_str!("../../fixtures/shopify/customers_create.json");
const REFUND: &str = include_str!("../../fixtures/shopify/refunds_create.json");
const WEBHOOK_ID: &str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";

fn secret() -> SecretString {
    SecretString::new(SECRET.to_owned())
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

fn headers(topic: &str, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Shopify-Hmac-Sha256", sign(SECRET, body).parse().unwrap());
    h.insert("X-Shopify-Topic", topic.parse().unwrap());
    h.insert("X-Shopify-Webhook-Id", WEBHOOK_ID.parse().unwrap());
    h.insert("X-Shopify-Shop-Domain", "freshbox.myshopify.com".parse().unwrap());
    h
}

fn order(json: &str) -> ProviderConversion {
    match parse("orders/paid", WEBHOOK_ID, json.as_bytes()).unwrap() {
        ProviderEvent::Conversion(c) => *c,
        other => panic!("{other:?}"),
    }
}

fn edited(f: impl Fn(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(ORDER).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn the_hmac_of_the_raw_body_verifies_and_nothing_else_does() {
    let body = ORDER.as_bytes();
    assert_eq!(verify(&secret(), &sign(SECRET, body), body), Ok(()));
    let tampered = ORDER.replace("39.95", "3.95");
    assert_eq!(verify(&secret(), &sign(SECRET, body), tampered.as_bytes()), Err(SignatureError::Mismatch));
    assert_eq!(verify(&secret(), &sign("another-shops-secret", body), body), Err(SignatureError::Mismatch));
    assert_eq!(verify(&secret(), "not base64!", body), Err(SignatureError::MalformedHeader(HMAC_HEADER)));
    assert_eq!(verify(&secret(), "", body), Err(SignatureError::Mismatch));
    let sig = sign(SECRET, body);
    assert_eq!(verify(&secret(), &sig[..20], body), Err(SignatureError::Mismatch));
}

#[test]
fn headers_carry_the_signature_topic_and_event_id() {
    let body = ORDER.as_bytes();
    let event = verify_and_parse(&secret(), &headers("orders/paid", body), body).unwrap();
    assert_eq!((event.kind(), event.event_id()), ("conversion", WEBHOOK_ID));
    let mut h = headers("orders/paid", body);
    h.remove("X-Shopify-Hmac-Sha256");
    assert_eq!(
        verify_and_parse(&secret(), &h, body),
        Err(ConnectorError::Signature(SignatureError::MissingHeader(HMAC_HEADER)))
    );
    let mut h = headers("orders/paid", body);
    h.remove("X-Shopify-Topic");
    assert_eq!(verify_and_parse(&secret(), &h, body).unwrap_err().status().as_u16(), 400);
    let mut h = headers("orders/paid", body);
    h.remove("X-Shopify-Webhook-Id");
    assert_eq!(verify_and_parse(&secret(), &h, body).unwrap_err().code(), "malformed_body");
    // Signature first: a forged request learns nothing about its headers.
    let mut h = headers("orders/paid", body);
    h.remove("X-Shopify-Topic");
    h.insert("X-Shopify-Hmac-Sha256", sign("wrong", body).parse().unwrap());
    assert_eq!(verify_and_parse(&secret(), &h, body).unwrap_err().status().as_u16(), 401);
}

#[test]
fn a_paid_order_is_a_conversion() {
    let c = order(ORDER);
    assert_eq!(c.event_id, WEBHOOK_ID);
    assert_eq!(c.source, ConversionSource::Order);
    assert_eq!(c.order_id.as_str(), "820982911946154508");
    assert_eq!(c.customer_id.unwrap().as_str(), "115310627314723954");
    assert_eq!(c.email.unwrap().as_str(), "mara.jones@example.com");
    assert_eq!(c.first_name.unwrap().as_str(), "Mara");
    assert_eq!((c.amount_minor, c.currency.as_str()), (3995, "GBP"));
    assert_eq!(c.occurred_at, Timestamp::parse_rfc3339("2026-01-01T10:15:04+00:00").unwrap());
    assert_eq!(c.discount_codes, ["7QK2A9"]);
    assert_eq!(c.attribution_token.unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j", "inside redirect=");
    assert_eq!(c.earlier_orders, None, "current versions send no order count");
    assert_eq!(c.identity.ip.as_deref(), Some("203.0.113.24"));
    assert!(c.identity.user_agent.as_deref().unwrap().starts_with("Mozilla/5.0"));
    assert_eq!(c.identity.address.as_deref(), Some("10 Acacia Avenue, Flat 2, Bristol, BS1 4DJ, GB"));
}

#[test]
fn a_guest_order_has_no_customer_and_falls_back_for_email_and_name() {
    let c = order(&edited(|v| {
        v["customer"] = Value::Null;
        v["email"] = "".into();
    }));
    assert_eq!(c.customer_id, None);
    assert_eq!(c.email.unwrap().as_str(), "mara.jones@example.com", "contact_email");
    assert_eq!(c.first_name.unwrap().as_str(), "Mara", "billing_address.first_name");
}

#[test]
fn a_note_attribute_or_a_plain_landing_site_carries_the_token() {
    let c = order(&edited(|v| {
        v["note_attributes"] = serde_json::json!([{"name": "rft", "value": "ABCDEFGHJKMNPQRSTVWXYZ0123"}]);
    }));
    assert_eq!(c.attribution_token.unwrap().as_str(), "abcdefghjkmnpqrstvwxyz0123");
    let c = order(&edited(|v| v["landing_site"] = "/?rft=7k3m9q2x4v6b8n1c5d0f2g4h6j&utm_source=referral".into()));
    assert_eq!(c.attribution_token.unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j");
    let c = order(&edited(|v| v["landing_site"] = "https://freshbox.uk/?utm_source=ig".into()));
    assert_eq!(c.attribution_token, None);
    assert_eq!(landing_token("/x?rft=not-a-token"), None);
    assert_eq!(landing_token("/x#rft=7k3m9q2x4v6b8n1c5d0f2g4h6j"), None, "a fragment is not a query");
}

#[test]
fn an_older_payloads_order_count_says_whether_there_were_earlier_orders() {
    assert_eq!(order(&edited(|v| v["customer"]["orders_count"] = 3.into())).earlier_orders, Some(true));
    assert_eq!(order(&edited(|v| v["customer"]["orders_count"] = 1.into())).earlier_orders, Some(false));
    assert_eq!(order(&edited(|v| v["customer"]["number_of_orders"] = "2".into())).earlier_orders, Some(true));
}

#[test]
fn amounts_follow_the_currencys_exponent() {
    let c = order(&edited(|v| {
        v["currency"] = "JPY".into();
        v["total_price"] = "4500".into();
    }));
    assert_eq!((c.amount_minor, c.currency.as_str()), (4500, "JPY"));
    let c = order(&edited(|v| {
        v["currency"] = "KWD".into();
        v["total_price"] = "12.345".into();
    }));
    assert_eq!(c.amount_minor, 12_345);
    let e = parse("orders/paid", WEBHOOK_ID, edited(|v| v["total_price"] = "39.955".into()).as_bytes()).unwrap_err();
    assert_eq!(e.status().as_u16(), 422);
    assert!(e.to_string().starts_with("total_price: \"39.955\" is not an amount in GBP"), "{e}");
}

#[test]
fn missing_fields_are_named() {
    let err = |f: &dyn Fn(&mut Value)| parse("orders/paid", WEBHOOK_ID, edited(f).as_bytes()).unwrap_err().to_string();
    assert_eq!(err(&|v| v["id"] = Value::Null), "id: is missing");
    assert_eq!(err(&|v| v["id"] = true.into()), "id: must be a numeric id");
    assert_eq!(err(&|v| v["currency"] = Value::Null), "currency: is missing");
    assert_eq!(err(&|v| v["total_price"] = Value::Null), "total_price: is missing");
    assert_eq!(
        err(&|v| {
            v["processed_at"] = Value::Null;
            v["created_at"] = Value::Null;
        }),
        "created_at: is missing"
    );
    assert!(err(&|v| v["processed_at"] = "yesterday".into()).starts_with("processed_at: "));
    assert!(err(&|v| v["customer"]["id"] = (-5).into()).starts_with("customer.id: "));
}

#[test]
fn a_new_customer_is_a_signup() {
    let ProviderEvent::Signup(s) = parse("customers/create", WEBHOOK_ID, CUSTOMER.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(s.customer_id.as_str(), "706405506930370084");
    assert_eq!(s.email.unwrap().as_str(), "bob@example.com");
    assert_eq!(s.first_name.unwrap().as_str(), "Bob");
    assert_eq!(s.occurred_at, Timestamp::parse_rfc3339("2026-01-01T14:00:00Z").unwrap());
}

#[test]
fn a_refund_names_its_order_and_amount() {
    let ProviderEvent::Refund(r) = parse("refunds/create", WEBHOOK_ID, REFUND.as_bytes()).unwrap() else { panic!() };
    assert_eq!(r.order_id, order(ORDER).order_id);
    assert_eq!(r.refunded_minor, Some(3995));
    assert_eq!((r.customer_id, r.fully_refunded, r.needs_invoice_lookup), (None, None, false));
}

#[test]
fn other_topics_are_ignored() {
    let e = parse("orders/create", WEBHOOK_ID, ORDER.as_bytes()).unwrap();
    assert!(matches!(e, ProviderEvent::Ignored { ref event_type, .. } if event_type == "orders/create"));
    assert_eq!(parse("orders/paid", WEBHOOK_ID, b"[]").unwrap_err().status().as_u16(), 400);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), header in "\\PC{0,64}") {
            for topic in ["customers/create", "orders/paid", "refunds/create"] {
                let _ = parse(topic, WEBHOOK_ID, &body);
            }
            let _ = verify(&secret(), &header, &body);
            let _ = landing_token(&header);
        }

        #[test]
        fn arbitrary_values_in_an_order_never_panic(
            key in prop::sample::select(vec![
                "id", "currency", "total_price", "customer", "email", "landing_site", "note_attributes",
                "discount_codes", "processed_at", "shipping_address", "client_details", "browser_ip",
            ]),
            value in prop_oneof![
                Just(Value::Null),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "\\PC{0,40}".prop_map(Value::from),
                Just(serde_json::json!([{"code": 5}, {"name": "rft", "value": null}, "x"])),
                Just(serde_json::json!({"id": "x", "orders_count": "many", "first_name": 1})),
            ],
        ) {
            let body = edited(|v| v[key] = value.clone());
            let _ = parse("orders/paid", WEBHOOK_ID, body.as_bytes());
        }
    }
}
