//! The hot paths on an in-memory store: the redirect handler (alone, and through the router
//! with its click commit), signature verification, minting, the screen over a code with many
//! clicks, and attribution over 100 touches. `make bench` reads the results from
//! target/criterion into docs/benchmarks.md.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request};
use tower::ServiceExt;

use rft_bench::{DiscardClicks, system};
use rft_core::identity::{HashedIdentity, IdentityHasher};
use rft_core::ports::{MintRequest, Minter, ScreenCase, Screener};
use rft_core::referral::Method;
use rft_core::screen::Stage;
use rft_core::service::attribute::{Touch, last_touch};
use rft_core::service::redirect::{Redirector, Visit};
use rft_core::signature::Signer;
use rft_core::time::SystemClock;
use rft_core::{Clock, Code, CodeRecord, CustomerId, Timestamp};

const UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A live code minted on `system`'s store.
fn minted(rt: &tokio::runtime::Runtime, system: &rft_local::system::System, customer: &str) -> CodeRecord {
    let request = MintRequest {
        customer_id: CustomerId::parse(customer).expect("valid id"),
        first_name: Some("Dan".into()),
        email: None,
        phone: None,
        identity: HashedIdentity::default(),
    };
    rt.block_on(system.minter.mint(&request)).expect("mints").record
}

fn redirect(c: &mut Criterion) {
    let rt = runtime();
    let (system, secrets) = system();
    let code = minted(&rt, &system, "c_dan").code;
    // The handler alone: cached code, a click store that keeps nothing.
    let handler = Redirector::new(
        system.edge.stores.codes.clone(),
        Arc::new(DiscardClicks),
        system.edge.settings.clone(),
        IdentityHasher::new(secrets.identity.clone()),
        Arc::new(SystemClock),
    );
    let visit = Visit {
        code: code.as_str(),
        head: false,
        cookie_token: None,
        user_agent: Some(UA),
        ip: Some("198.51.100.23"),
        channel: Some("whatsapp"),
    };
    rt.block_on(handler.visit(visit));
    c.bench_function("redirect/handler (cached code, click discarded)", |b| {
        b.iter(|| rt.block_on(handler.visit(black_box(visit))))
    });
    // Through the router, with the click committed to the in-memory store (group commit).
    let router = system.router();
    let path = format!("/r/{code}?ch=whatsapp");
    c.bench_function("redirect/router (click committed in memory)", |b| {
        b.iter(|| {
            let request = Request::builder().uri(&path).header("user-agent", UA).body(axum::body::Body::empty());
            rt.block_on(router.clone().oneshot(request.expect("valid"))).expect("infallible")
        })
    });
}

fn signature(c: &mut Criterion) {
    let (_, secrets) = system();
    let signer = Signer::new(&secrets.signing);
    let body = format!(r#"{{"customer_id":"c_mara","email":"mara@example.com","padding":"{}"}}"#, "x".repeat(900));
    let now = SystemClock.now();
    let mut headers = HeaderMap::new();
    for (name, value) in signer.headers("msg_bench_0001", now, body.as_bytes()).expect("signs") {
        headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
    }
    c.bench_function("signature/verify (1 KiB body)", |b| {
        b.iter(|| signer.verify(black_box(&headers), black_box(body.as_bytes()), now).expect("verifies"))
    });
}

fn mint(c: &mut Criterion) {
    let rt = runtime();
    let (system, _) = system();
    let n = AtomicU64::new(0);
    c.bench_function("mint/new code (template invite, in-memory store)", |b| {
        b.iter(|| {
            let request = MintRequest {
                customer_id: CustomerId::parse(&format!("c_{}", n.fetch_add(1, Ordering::Relaxed))).expect("id"),
                first_name: Some("Dan".into()),
                email: None,
                phone: None,
                identity: HashedIdentity::default(),
            };
            rt.block_on(system.minter.mint(&request)).expect("mints")
        })
    });
}

fn screen(c: &mut Criterion) {
    let rt = runtime();
    let (system, _) = system();
    let code = minted(&rt, &system, "c_dan").code;
    // 1,000 clicks on the code in the last hour: the velocity rule counts them all.
    let router = system.router();
    for _ in 0..1_000 {
        let request =
            Request::builder().uri(format!("/r/{code}")).header("user-agent", UA).body(axum::body::Body::empty());
        rt.block_on(router.clone().oneshot(request.expect("valid"))).expect("infallible");
    }
    let now = SystemClock.now();
    let case = ScreenCase {
        stage: Stage::Conversion,
        friend_id: CustomerId::parse("c_mara").expect("id"),
        referrer_id: CustomerId::parse("c_dan").expect("id"),
        code,
        friend: HashedIdentity::default(),
        referrer: HashedIdentity::default(),
        email_domain: Some("example.com".into()),
        method: Method::Token,
        touched_at: now.minus(Duration::from_secs(3600)),
        at: now,
    };
    c.bench_function("screen/conversion (code with 1,000 clicks this hour)", |b| {
        b.iter(|| rt.block_on(system.screen.screen(black_box(&case))).expect("screens"))
    });
}

fn attribution(c: &mut Criterion) {
    let rt = runtime();
    let (system, _) = system();
    let codes: HashMap<Code, CodeRecord> = (0..10)
        .map(|i| minted(&rt, &system, &format!("c_ref{i}")))
        .map(|record| (record.code.clone(), record))
        .collect();
    let live: Vec<Code> = codes.keys().cloned().collect();
    let now = Timestamp::from_secs(SystemClock.now().as_secs());
    let touches: Vec<Touch> = (0..100)
        .map(|i| Touch {
            code: live[i % live.len()].clone(),
            at: now.minus(Duration::from_secs(60 * (i as u64 + 1))),
            method: Method::Token,
            channel: None,
        })
        .collect();
    c.bench_function("attribution/last touch over 100 touches", |b| {
        b.iter(|| last_touch(black_box(touches.clone()), &codes, now).expect("attributes"))
    });
}

criterion_group!(benches, redirect, signature, mint, screen, attribution);
criterion_main!(benches);
