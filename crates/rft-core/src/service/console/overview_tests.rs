//! The overview on fakes: its figures are the rollups', and reading them costs the same however
//! many clicks there were.

use std::time::Duration;

use super::{ConsoleOverview, Overview, RollupOverview};
use crate::jobs::Job;
use crate::service::redirect::Visit;
use crate::testing::World;

/// Computes the overview and says how many store calls it made.
async fn overview(w: &World) -> (Overview, usize) {
    let before = w.store.total_calls();
    let o = RollupOverview::new(w.services.stores.clone()).overview(w.clock_now()).await.unwrap();
    (o, w.store.total_calls() - before)
}

async fn clicks(w: &World, n: usize) {
    let redirector = w.redirector();
    for _ in 0..n {
        redirector.visit(Visit { code: "DAN234", channel: Some("sms"), ..Visit::default() }).await;
    }
}

#[tokio::test]
async fn the_overview_reads_the_counters_in_the_same_few_calls_whatever_the_clicks() {
    // GIVEN Dan's code, Mara's referral through it (counted as the attributor counts it), paid
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    crate::rollup::apply(w.store.as_ref(), &crate::rollup::signup_steps(&referral)).await;
    w.advance(Duration::from_secs(3600));
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // WHEN the overview is read after 10 clicks, and again after 1,000 more
    clicks(&w, 10).await;
    let (few, calls_at_few) = overview(&w).await;
    clicks(&w, 1_000).await;
    let (many, calls_at_many) = overview(&w).await;
    // THEN its figures follow the counters and the stats API, and its reads did not grow
    assert_eq!((few.totals.clicks, many.totals.clicks), (10, 1_010));
    assert_eq!(many.daily.last().unwrap().clicks, 1_010);
    let sms = many.channels.iter().find(|c| c.channel == "sms").unwrap();
    assert_eq!(sms.clicks, 1_010);
    let t = &many.totals;
    assert_eq!((t.signups, t.conversions, t.rewarded, t.pending, t.held), (1, 1, 1, 0, 0));
    assert_eq!((t.revenue[0].amount_minor, t.revenue[0].count), (3999, 1));
    assert_eq!(many.top_referrers.len(), 1);
    assert_eq!((many.top_referrers[0].clicks, many.top_referrers[0].rewarded), (1_010, 1));
    assert_eq!(calls_at_few, calls_at_many, "the same reads at 10 and 1,010 clicks");
    for scan in ["touches", "in_state", "latest_from_browser"] {
        assert_eq!(w.store.calls(scan), 0, "no {scan}: clicks and referrals are not listed");
    }
}
