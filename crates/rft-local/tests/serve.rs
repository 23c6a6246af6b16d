//! `rft-local serve` as a process, driven over HTTP: mint, click, sign up; stop with SIGTERM;
//! start again on the same data directory and find everything still there.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rft_core::secrets::SecretSet;
use rft_core::signature::Signer;
use rft_core::time::{Clock, SystemClock};
use serde_json::{Value, json};

mod common;

use common::{free_port, wait_healthy};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../settings.example.toml");

fn start(dir: &Path, port: u16) -> Child {
    start_with(dir, port, EXAMPLE)
}

fn start_with(dir: &Path, port: u16, settings: &str) -> Child {
    common::serve(dir, port, Path::new(settings)).spawn().expect("rft-local starts")
}

fn signer(dir: &Path) -> Signer {
    let saved: Value = serde_json::from_slice(&std::fs::read(dir.join("data/secrets.json")).unwrap()).unwrap();
    let s = |k: &str| saved[k].as_str().unwrap().to_owned();
    Signer::new(
        &SecretSet::from_parts(&s("signing_secret"), &s("ops_secret"), &s("store_api_key"), &s("identity_key"))
            .unwrap()
            .signing,
    )
}

async fn signed(
    client: &reqwest::Client,
    signer: &Signer,
    method: reqwest::Method,
    url: &str,
    body: &str,
) -> (u16, Value) {
    let id = format!("msg_{}", rft_core::ids::random_base32());
    let mut request = client.request(method, url).body(body.to_owned()).header("content-type", "application/json");
    for (name, value) in signer.headers(&id, SystemClock.now(), body.as_bytes()).unwrap() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn stop(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "rft-local did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_mint_click_signup_stop_and_restart() {
    let dir = std::env::temp_dir().join(format!("rft-serve-{}", rft_core::ids::random_base32()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = rft_http::store_client::http_client().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let child = start(&dir, port);
    wait_healthy(&client, &base).await;
    let signer = signer(&dir);
    let (status, link) = signed(
        &client,
        &signer,
        reqwest::Method::POST,
        &format!("{base}/api/links"),
        &json!({"customer_id": "c_dan", "first_name": "Dan"}).to_string(),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    let code = link["code"].as_str().unwrap().to_owned();
    let click = client.get(format!("{base}/r/{code}")).header("user-agent", "Mozilla/5.0").send().await.unwrap();
    assert_eq!(click.status(), 302);
    let cookie = click.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie.trim_start_matches("rft=").split(';').next().unwrap().to_owned();
    let signup = json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token}).to_string();
    assert_eq!(
        signed(&client, &signer, reqwest::Method::POST, &format!("{base}/webhooks/signup"), &signup).await.0,
        202
    );
    let referral_url = format!("{base}/api/referrals/c_mara");
    let deadline = Instant::now() + Duration::from_secs(10);
    let referral = loop {
        let (status, body) = signed(&client, &signer, reqwest::Method::GET, &referral_url, "").await;
        if status == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "the sign-up worker did not attribute in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(referral["referrer_id"], "c_dan");
    assert!(stop(child).success(), "a clean exit on SIGTERM");

    let child = start(&dir, port);
    wait_healthy(&client, &base).await;
    let (status, again) = signed(&client, &signer, reqwest::Method::GET, &referral_url, "").await;
    assert_eq!((status, &again["referral_id"]), (200, &referral["referral_id"]), "data survives a restart");
    let (status, same) = signed(
        &client,
        &signer,
        reqwest::Method::POST,
        &format!("{base}/api/links"),
        &json!({"customer_id": "c_dan"}).to_string(),
    )
    .await;
    assert_eq!((status, same["code"].as_str()), (200, Some(code.as_str())), "the same secrets and code after restart");
    assert!(stop(child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}

/// Erase a friend who clicked, signed up and converted, stop the server, and search every byte
/// of the data directory for what identified them: nothing, plain or JSON-escaped.
#[tokio::test]
async fn an_erased_friend_leaves_nothing_in_the_data_directory_after_a_stop() {
    let dir = std::env::temp_dir().join(format!("rft-erase-{}", rft_core::ids::random_base32()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = rft_http::store_client::http_client().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let child = start(&dir, port);
    wait_healthy(&client, &base).await;
    let signer = signer(&dir);
    let post = |path: &str, body: Value| {
        let (client, signer, url) = (&client, &signer, format!("{base}{path}"));
        async move { signed(client, signer, reqwest::Method::POST, &url, &body.to_string()).await }
    };
    let (_, link) = post("/api/links", json!({"customer_id": "c_dan", "first_name": "Dan"})).await;
    let code = link["code"].as_str().unwrap().to_owned();
    let user_agent = "ErasureProbe/9.1 (Marabelle's phone; rft-test)";
    let click = client.get(format!("{base}/r/{code}")).header("user-agent", user_agent).send().await.unwrap();
    let cookie = click.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie.trim_start_matches("rft=").split(';').next().unwrap().to_owned();
    // She comes back to the link over a few days, as friends do: many click records to forget.
    for _ in 0..40 {
        let again = client
            .get(format!("{base}/r/{code}"))
            .header("user-agent", user_agent)
            .header("cookie", format!("rft={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 302);
    }
    let email = "marabelle.probe@example.com";
    let signup = json!({"customer_id": "c_marabelle", "email": email, "first_name": "Marabelle",
        "attribution_token": token, "identity": {"user_agent": user_agent}});
    assert_eq!(post("/webhooks/signup", signup).await.0, 202);
    let referral_url = format!("{base}/api/referrals/c_marabelle");
    let deadline = Instant::now() + Duration::from_secs(10);
    while signed(&client, &signer, reqwest::Method::GET, &referral_url, "").await.0 != 200 {
        assert!(Instant::now() < deadline, "the sign-up worker did not attribute in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conversion =
        json!({"customer_id": "c_marabelle", "order_id": "o_probe", "amount_minor": 3999, "currency": "GBP"});
    assert_eq!(post("/webhooks/conversion", conversion).await.0, 202);
    // The conversion is handled (held: it came within seconds of the click) before the erasure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while signed(&client, &signer, reqwest::Method::GET, &referral_url, "").await.1["state"] != "held" {
        assert!(Instant::now() < deadline, "the rewarder did not handle the conversion in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(post("/api/customers/c_marabelle/erase", json!({})).await.0, 200);
    assert!(stop(child).success(), "a clean exit on SIGTERM");

    let needles = [email, "Marabelle", token.as_str(), user_agent];
    let mut found = Vec::new();
    for file in files_under(&dir.join("data")) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles {
            let escaped = serde_json::to_string(needle).unwrap();
            for form in [needle, escaped.trim_matches('"')] {
                if let Some(at) = bytes.windows(form.len()).position(|w| w == form.as_bytes()) {
                    found.push(format!("{needle:?} in {} at byte {at}", file.display()));
                }
            }
        }
    }
    found.dedup();
    assert!(found.is_empty(), "the erased friend is still on disk:\n{}", found.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn kill(child: &mut Child) {
    Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
}

/// Every 302 is in the click log, whenever the process dies: clicks from 24 connections at a
/// time, a SIGKILL at a different moment in each of three rounds, a restart on the same data,
/// and the stats API counts at least every redirect served so far and no more than were asked
/// for (a click made durable whose answer the kill cut off counts; nothing counts twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_302_survives_a_sigkill_at_any_moment() {
    let dir = std::env::temp_dir().join(format!("rft-kill-{}", rft_core::ids::random_base32()));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = rft_http::store_client::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Every click comes from one address: lift the per-IP limit, or most would not be logged.
    std::fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("settings.toml");
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    std::fs::write(&settings, example.replace("[links]\n", "[links]\nmax_clicks_per_ip_per_hour = 1000000\n")).unwrap();
    let start = |dir: &Path, port| start_with(dir, port, settings.to_str().unwrap());
    let mut child = start(&dir, port);
    wait_healthy(&client, &base).await;
    let signer = signer(&dir);
    let body = json!({"customer_id": "c_dan"}).to_string();
    let (_, link) = signed(&client, &signer, reqwest::Method::POST, &format!("{base}/api/links"), &body).await;
    let code = link["code"].as_str().unwrap().to_owned();
    let stats_url = format!("{base}/api/referrers/c_dan/stats");
    let (mut served, mut asked) = (0u64, 0u64);
    for (round, lasting) in [(1, 150u64), (2, 400), (3, 900)] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clickers: Vec<_> = (0..24)
            .map(|_| {
                let (client, url, stop) = (client.clone(), format!("{base}/r/{code}"), stop.clone());
                tokio::spawn(async move {
                    let (mut ok, mut sent) = (0u64, 0u64);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        sent += 1;
                        let click =
                            client.get(&url).header("user-agent", "Mozilla/5.0").timeout(Duration::from_secs(10));
                        match click.send().await {
                            Ok(r) if r.status() == 302 => ok += 1,
                            Err(e) if e.is_timeout() => panic!("a click waited 10 s for its redirect"),
                            _ => break,
                        }
                    }
                    (ok, sent)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(lasting)).await;
        eprintln!("round {round}: killing after {lasting} ms");
        kill(&mut child);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clickers {
            let (ok, sent) = c.await.unwrap();
            served += ok;
            asked += sent;
        }
        eprintln!("round {round}: {served} served so far; restarting");
        child = start(&dir, port);
        wait_healthy(&client, &base).await;
        eprintln!("round {round}: restarted; reading the stats");
        let (status, stats) = signed(&client, &signer, reqwest::Method::GET, &stats_url, "").await;
        assert_eq!(status, 200, "{stats}");
        let counted = stats["stats"]["clicks"].as_u64().unwrap();
        assert!(served > 0, "round {round}: clicks were served");
        assert!(
            (served..=asked).contains(&counted),
            "round {round}: {served} redirects served, {asked} asked for, {counted} in the click log"
        );
    }
    assert!(stop(child).success());
    let _ = std::fs::remove_dir_all(&dir);
}
