//! The deploy smoke test (`scripts/smoke.sh`, docs/deploy.md section 8) run against `rft-local
//! serve`, which serves the same HTTP surface: it passes, its one email goes to SES's mailbox
//! simulator (not to a domain that bounces or that the SES sandbox refuses), and it erases the
//! customers it made; a later run with another friend address passes too, and one with an
//! address already referred says why it cannot.

use std::process::Command;

use rft_core::secrets::SecretSet;

mod common;

#[tokio::test]
async fn the_smoke_test_passes_mails_only_the_simulator_and_erases_its_customers() {
    let dir = std::env::temp_dir().join(format!("rft-smoke-{}", rft_core::ids::random_base32()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // settings.local.toml points links and the store's reward endpoint at rft-local itself on
    // port 3000 (make run); here, at this instance's port.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let settings = std::fs::read_to_string(format!("{root}/settings.local.toml"))
        .unwrap()
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.join("settings.toml"), settings).unwrap();
    let [signing, ..] = SecretSet::generate_parts();
    let mut server = common::serve(&dir, port, &dir.join("settings.toml"))
        .env("RFT_SIGNING_SECRET", &signing)
        .spawn()
        .expect("rft-local starts");
    let client = rft_http::store_client::http_client().build().unwrap();
    common::wait_healthy(&client, &base).await;

    let smoke = |friend: &'static str| {
        let (base, signing) = (base.clone(), signing.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .arg(format!("{root}/scripts/smoke.sh"))
                .arg(&base)
                .env("RFT_SIGNING_SECRET", signing)
                // settings.local.toml holds conversions sooner than 5 s after their click.
                .env("RFT_SMOKE_MIN_CLICK_AGE", "6")
                .env("RFT_SMOKE_TIMEOUT", "30")
                .env("RFT_SMOKE_EMAIL", friend)
                .output()
                .expect("bash runs")
        })
    };
    // A friend address can be referred once: erasure keeps that memory, so the second run uses
    // another of the simulator's addresses, and a third with the first address is refused
    // with a message that says why.
    let first = smoke("success@simulator.amazonses.com").await.unwrap();
    let second = smoke("ooto@simulator.amazonses.com").await.unwrap();
    let again = smoke("success+again@simulator.amazonses.com").await.unwrap();
    let out = String::from_utf8_lossy(&again.stdout).into_owned() + &String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && out.contains("referred (and paid) in an earlier run"), "{out}");
    let _ = server.kill();
    let _ = server.wait();
    for run in [first, second] {
        let out = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "the smoke test failed:\n{out}");
        assert!(out.contains("smoke test passed"), "{out}");
        assert_eq!(out.matches("    erased smoke_").count(), 2, "both customers erased:\n{out}");
    }

    let recipients: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .filter(|m| m["channel"] == "email")
                .map(|m| m["to"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(recipients.len(), 2, "each passing run's friend was thanked by email, and nobody else");
    assert!(recipients.iter().all(|to| to.ends_with("@simulator.amazonses.com")), "{recipients:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
