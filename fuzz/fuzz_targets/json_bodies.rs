//! Every JSON body the HTTP surface parses, through the real router on an in-memory store, with
//! valid signatures so the body reaches its parser: no input makes a 5xx or a panic, and every
//! refusal is a JSON error naming what was wrong.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use axum::body::Body;
use http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use rft_core::signature::Signer;
use rft_core::time::SystemClock;
use rft_core::{CustomerId, Settings};
use rft_local::system::System;
use tower::ServiceExt;

struct World {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    signer: Signer,
    portal_query: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let settings = Settings::parse(include_str!("../../settings.example.toml")).expect("example settings");
    let (system, secrets) = System::in_memory(settings);
    let customer = CustomerId::parse("c_fuzz").expect("valid id");
    let portal = rft_http::portal::portal_path(&system.edge, &customer);
    let portal_query = portal.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let world = World { router: system.router(), signer: Signer::new(&secrets.signing), portal_query, runtime };
    // Give the portal's referrer a code so invites reach the minter.
    let mint = world.signed("/api/links", br#"{"customer_id":"c_fuzz","email":"fuzz@example.com"}"#);
    world.runtime.block_on(world.router.clone().oneshot(mint)).expect("router is infallible");
    world
});

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl World {
    fn signed(&self, path: &str, body: &[u8]) -> Request<Body> {
        let id = format!("msg_fuzz_{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let mut request = Request::builder().method(Method::POST).uri(path);
        // Bodies that are not UTF-8 cannot be signed; they must still be refused cleanly.
        let now = rft_core::Clock::now(&SystemClock);
        match self.signer.headers(&id, now, body) {
            Ok(headers) => {
                for (name, value) in headers {
                    request = request.header(name, value);
                }
            }
            Err(_) => request = request.header("webhook-id", id),
        }
        request.body(Body::from(body.to_vec())).expect("valid request")
    }
}

const ROUTES: [&str; 7] = [
    "/api/links",
    "/api/invites",
    "/api/customers/c_fuzz/erase",
    "/webhooks/signup",
    "/webhooks/conversion",
    "/webhooks/refund",
    "/me/invites",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let world = &*WORLD;
    let route = ROUTES[usize::from(selector) % ROUTES.len()];
    let request = if route == "/me/invites" {
        let uri = format!("{route}?{}", world.portal_query);
        Request::builder().method(Method::POST).uri(uri).body(Body::from(body.to_vec())).expect("valid request")
    } else {
        world.signed(route, body)
    };
    let response = world.runtime.block_on(world.router.clone().oneshot(request)).expect("router is infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{route} answered {status} to {:?}", String::from_utf8_lossy(body));
    let bytes = world
        .runtime
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("body reads");
    if status.is_client_error() {
        let error: serde_json::Value = serde_json::from_slice(&bytes).expect("errors are JSON");
        assert!(error["error"].is_string() && error["message"].is_string(), "{route}: {error}");
    }
});
