//! Times the owner's console's overview on a data directory `rft-local` has left (it must not
//! be running: redb takes the file): `overview <data dir> [runs]` opens the store, computes
//! the console's overview (`rft_core::service::console::RollupOverview`) `runs` times and
//! prints the median and some figures as JSON. The store's opening (reading the click log back)
//! is timed apart.

use std::sync::Arc;
use std::time::Instant;

use rft_core::Clock;
use rft_core::ports::Stores;
use rft_core::service::console::{ConsoleOverview, RollupOverview};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: overview <data dir> [runs]");
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let opened = Instant::now();
    let store = rft_local::LocalStore::open(std::path::Path::new(&dir)).expect("the data directory opens");
    let open_ms = opened.elapsed().as_secs_f64() * 1000.0;
    let stores = Stores::from_backend(Arc::new(store));
    let now = rft_core::time::SystemClock.now();
    let console = RollupOverview::new(stores);
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        last = Some(console.overview(now).await.expect("the overview reads"));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let overview = last.expect("one run");
    println!(
        "{}",
        serde_json::json!({
            "median_ms": times[times.len() / 2],
            "open_ms": open_ms,
            "clicks_30d": overview.totals.clicks,
            "signups": overview.totals.signups,
            "top_referrers": overview.top_referrers.len(),
        })
    );
}
