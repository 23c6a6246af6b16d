//! The storage conformance suite: each function states one property of the ports and is run
//! against every implementation (see `tests/conformance.rs`). A store that passes here behaves
//! the same as every other, so the services above it cannot tell them apart.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityKey;
use rft_core::jobs::MAX_RECEIVES;
use rft_core::ports::{
    AppendError, Begin, ClaimError, CommitError, JobQueue, ListPosition, ListWindow, Opened, StoredResponse, Stores,
    WriteError,
};
use rft_core::{AuditKind, CodeStatus, IdentityHash, ReferralState, ReviewQueue, Timestamp, Token, rollup};

use crate::backends::Following;
use crate::fixtures::{audit, click, code_record, customer, referral, reward_commit, signup_job};
use rft_core::service::console::{ConsoleOverview, RollupOverview};

/// A fixed "now", years ahead of the wall clock: DynamoDB Local really deletes items whose
/// TTL attribute is in the (wall-clock) past, so test data must never look expired to it.
pub const T0: Timestamp = Timestamp::from_secs(1_900_000_000);

/// How many tasks race in the concurrency properties.
pub const RACERS: usize = 16;

/// N tasks claim one code for N different customers: exactly one wins, the rest are told the
/// code is taken, and the stored record is the winner's.
pub async fn racing_claims_of_one_code_have_one_winner(stores: Stores) {
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let codes = stores.codes.clone();
        set.spawn(async move { (i, codes.claim(&code_record("7QK2A9", &format!("c_{i}"), T0)).await) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, outcome) = joined.expect("task ran");
        match outcome {
            Ok(()) => winners.push(i),
            Err(ClaimError::CodeTaken) => {}
            Err(other) => panic!("unexpected claim outcome: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins: {winners:?}");
    let stored = stores.codes.get(&code_record("7QK2A9", "x", T0).code).await.unwrap().expect("stored");
    assert_eq!(stored.referrer_id, customer(&format!("c_{}", winners[0])));
}

/// N tasks claim N different codes for one customer: exactly one becomes the customer's
/// active code; the others are told which one.
pub async fn one_active_code_per_customer_under_concurrency(stores: Stores) {
    let alphabet = rft_core::code::ALPHABET;
    let codes: Vec<String> = (0..RACERS).map(|i| format!("ABCD2{}", alphabet[i] as char)).collect();
    let mut set = JoinSet::new();
    for c in codes.clone() {
        let store = stores.codes.clone();
        set.spawn(async move { (c.clone(), store.claim(&code_record(&c, "c_dan", T0)).await) });
    }
    let mut winners = Vec::new();
    let mut told = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined.expect("task ran") {
            (c, Ok(())) => winners.push(c),
            (_, Err(ClaimError::CustomerHasActiveCode(existing))) => told.push(existing),
            (_, Err(other)) => panic!("unexpected claim outcome: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one code wins: {winners:?}");
    assert!(told.iter().all(|c| c.as_str() == winners[0]), "losers are told the winner");
    let active = stores.codes.active_code_of(&customer("c_dan")).await.unwrap().expect("active code");
    assert_eq!(active.code.as_str(), winners[0]);
}

/// Retiring a code keeps it (retired) and frees the customer to claim a new one.
pub async fn retiring_frees_the_customer_for_a_new_code(stores: Stores) {
    let first = code_record("7QK2A9", "c_dan", T0);
    stores.codes.claim(&first).await.unwrap();
    let retired = stores.codes.retire(&first.code, T0.plus(Duration::from_secs(1))).await.unwrap().expect("exists");
    assert_eq!(retired.status, CodeStatus::Retired);
    assert!(stores.codes.active_code_of(&customer("c_dan")).await.unwrap().is_none());
    // Retiring again changes nothing.
    let again = stores.codes.retire(&first.code, T0.plus(Duration::from_secs(9))).await.unwrap().expect("exists");
    assert_eq!(again.retired_at, retired.retired_at);
    let second = code_record("8RM3B4", "c_dan", T0.plus(Duration::from_secs(2)));
    stores.codes.claim(&second).await.unwrap();
    assert_eq!(stores.codes.active_code_of(&customer("c_dan")).await.unwrap().unwrap().code, second.code);
    let history = eventually(
        || async {
            stores
                .codes
                .codes_of(&customer("c_dan"))
                .await
                .unwrap()
                .iter()
                .map(|c| c.code.to_string())
                .collect::<Vec<_>>()
        },
        |h| h.len() == 2,
    )
    .await;
    assert_eq!(history, ["7QK2A9", "8RM3B4"]);
    assert_eq!(stores.codes.get(&first.code).await.unwrap().unwrap().status, CodeStatus::Retired);
    assert!(stores.codes.retire(&code_record("ZZZZZZ", "x", T0).code, T0).await.unwrap().is_none());
}

/// N concurrent payouts of one referral: exactly one commits, and the ledger holds exactly
/// two rows (referrer and friend) with the pinned amounts.
pub async fn racing_payouts_of_one_referral_pay_once(stores: Stores) {
    let r = referral("c_mara", "c_dan", "7QK2A9", T0);
    let opened = stores
        .referrals
        .open(
            &r,
            &[IdentityKey::Customer(r.referred_id.clone())],
            &audit(AuditKind::Attributed, r.referral_id.as_str(), T0),
        )
        .await
        .unwrap();
    assert_eq!(opened, Opened::Created);
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let ledger = stores.ledger.clone();
        let commit = reward_commit(&r, 0, T0.plus(Duration::from_secs(5)));
        set.spawn(async move { ledger.commit_reward(&commit).await });
    }
    let mut committed = 0;
    while let Some(joined) = set.join_next().await {
        match joined.expect("task ran") {
            Ok(()) => committed += 1,
            Err(CommitError::Stale | CommitError::AlreadyPaid | CommitError::TallyMoved) => {}
            Err(other) => panic!("unexpected commit outcome: {other:?}"),
        }
    }
    assert_eq!(committed, 1, "exactly one payout commits");
    let rows = stores.ledger.rows(&r.referral_id).await.unwrap();
    assert_eq!(rows.len(), 2, "exactly two ledger rows");
    assert_eq!(rows[0].side, rft_core::Side::Referrer);
    assert_eq!(rows[1].side, rft_core::Side::Friend);
    assert_eq!(rows[0].reward.amount_minor, 1000);
    let stored = stores.referrals.get(&r.referral_id).await.unwrap().unwrap();
    assert_eq!(stored.state, ReferralState::Rewarded);
    assert_eq!(stores.ledger.tally(&customer("c_dan")).await.unwrap(), 1);
    assert_eq!(
        stores.counters.count(crate::fixtures::PAYOUTS_COUNTER, T0).await.unwrap(),
        1,
        "the payout's counter moved once, in the same transaction"
    );
    assert_eq!(stores.ledger.row(&r.referral_id, rft_core::Side::Friend).await.unwrap().as_ref(), rows.get(1));
    let paid = || async {
        let events = stores.audit.events_for(r.referral_id.as_str()).await.unwrap();
        events.iter().filter(|e| e.kind == AuditKind::Paid).count()
    };
    assert_eq!(eventually(paid, |n| *n >= 1).await, 1, "one paid audit row");
}

/// A refund is remembered per order whatever arrives first: a payout whose converting order was
/// refunded is refused as a whole, and a refund after a payout finds the referral by the order.
pub async fn refunds_are_remembered_per_order(stores: Stores) {
    let r = referral("c_mara", "c_dan", "7QK2A9", T0);
    let opened = stores
        .referrals
        .open(
            &r,
            &[IdentityKey::Customer(r.referred_id.clone())],
            &audit(AuditKind::Attributed, r.referral_id.as_str(), T0),
        )
        .await
        .unwrap();
    assert_eq!(opened, Opened::Created);
    let early = stores.orders.refund_order(&crate::fixtures::order_of(&r), T0).await.unwrap();
    assert_eq!((early.referral_id, early.refunded_at), (None, Some(T0)), "a refund before its conversion is kept");
    let again =
        stores.orders.refund_order(&crate::fixtures::order_of(&r), T0.plus(Duration::from_secs(9))).await.unwrap();
    assert_eq!(again.refunded_at, Some(T0), "the first refund's time stays");
    let commit = reward_commit(&r, 0, T0.plus(Duration::from_secs(5)));
    assert!(matches!(stores.ledger.commit_reward(&commit).await, Err(CommitError::Refunded)));
    assert!(stores.ledger.rows(&r.referral_id).await.unwrap().is_empty(), "nothing of the payout was written");
    assert_eq!(stores.referrals.get(&r.referral_id).await.unwrap().unwrap().state, ReferralState::Pending);
    assert_eq!(stores.counters.count(crate::fixtures::PAYOUTS_COUNTER, T0).await.unwrap(), 0);
    assert_eq!(stores.ledger.tally(&customer("c_dan")).await.unwrap(), 0);

    let mut fine = reward_commit(&r, 0, T0.plus(Duration::from_secs(5)));
    fine.order_id = Some("o_fine".into());
    stores.ledger.commit_reward(&fine).await.unwrap();
    let linked = stores.orders.order("o_fine").await.unwrap().unwrap();
    assert_eq!((linked.referral_id.as_ref(), linked.refunded_at), (Some(&r.referral_id), None));
    let later = stores.orders.refund_order("o_fine", T0.plus(Duration::from_secs(60))).await.unwrap();
    assert_eq!(later.referral_id.as_ref(), Some(&r.referral_id), "a later refund finds the referral by its order");
    let held = stores.orders.link_order("o_held", &r.referral_id).await.unwrap();
    assert_eq!((held.referral_id.as_ref(), held.refunded_at), (Some(&r.referral_id), None));
    assert!(stores.orders.order("o_never").await.unwrap().is_none());
}

/// A code is flagged once (the first flag stays), listed while active and flagged, and its
/// flag cleared.
pub async fn flagged_codes_are_listed_until_cleared(stores: Stores) {
    let record = code_record("7QK2A9", "c_dan", T0);
    stores.codes.claim(&record).await.unwrap();
    let flag = |secs| rft_core::code::CodeFlag { evidence: vec![], at: T0.plus(Duration::from_secs(secs)) };
    assert!(stores.codes.flag(&record.code, &flag(1)).await.unwrap(), "newly flagged");
    assert!(!stores.codes.flag(&record.code, &flag(2)).await.unwrap(), "flagged already");
    let listed = eventually(|| async { stores.codes.flagged(10).await.unwrap() }, |l| !l.is_empty()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].flag.as_ref().map(|f| f.at), Some(T0.plus(Duration::from_secs(1))), "the first flag stays");
    assert_eq!(stores.codes.get(&record.code).await.unwrap().unwrap().flag, listed[0].flag);
    let cleared = stores.codes.clear_flag(&record.code).await.unwrap().unwrap();
    assert_eq!(cleared.flag, None);
    assert!(eventually(|| async { stores.codes.flagged(10).await.unwrap() }, |l| l.is_empty()).await.is_empty());
    assert!(stores.codes.clear_flag(&code_record("ZZZZZZ", "x", T0).code).await.unwrap().is_none());
    // A retired code leaves the list even while flagged.
    assert!(stores.codes.flag(&record.code, &flag(3)).await.unwrap());
    stores.codes.retire(&record.code, T0).await.unwrap();
    assert!(eventually(|| async { stores.codes.flagged(10).await.unwrap() }, |l| l.is_empty()).await.is_empty());
}

/// Payouts of different referrals by one referrer step the tally one at a time: a commit that
/// read a stale tally is refused, so no two payouts get the same position on the ladder.
pub async fn the_referrer_tally_never_skips_or_repeats(stores: Stores) {
    let a = referral("c_a", "c_dan", "7QK2A9", T0);
    let b = referral("c_b", "c_dan", "7QK2A9", T0);
    for r in [&a, &b] {
        stores
            .referrals
            .open(
                r,
                &[IdentityKey::Customer(r.referred_id.clone())],
                &audit(AuditKind::Attributed, r.referral_id.as_str(), T0),
            )
            .await
            .unwrap();
    }
    stores.ledger.commit_reward(&reward_commit(&a, 0, T0)).await.unwrap();
    let stale = stores.ledger.commit_reward(&reward_commit(&b, 0, T0)).await;
    assert!(matches!(stale, Err(CommitError::TallyMoved)), "{stale:?}");
    stores.ledger.commit_reward(&reward_commit(&b, 1, T0)).await.unwrap();
    assert_eq!(stores.ledger.tally(&customer("c_dan")).await.unwrap(), 2);
    assert_eq!(stores.ledger.rows(&b.referral_id).await.unwrap()[0].nth, Some(2));
}

/// Opens and pays `n` referrals, each by its own referrer; returns their ids.
pub async fn paid_referrals(stores: &Stores, n: usize) -> Vec<rft_core::ReferralId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = referral(&format!("c_friend{i}"), &format!("c_ref{i}"), "7QK2A9", T0);
        let claims = [IdentityKey::Customer(r.referred_id.clone())];
        stores.referrals.open(&r, &claims, &audit(AuditKind::Attributed, r.referral_id.as_str(), T0)).await.unwrap();
        stores.ledger.commit_reward(&reward_commit(&r, 0, T0)).await.unwrap();
        ids.push(r.referral_id);
    }
    ids
}

/// The export's walk: every ledger row (both sides of every referral, never a tally) comes back
/// exactly once across pages of any size, each as `rows` reads it, and a row rewritten during
/// the walk is not read twice. An empty ledger is one empty page.
pub async fn the_whole_ledger_is_read_a_page_at_a_time(stores: Stores) {
    let empty = stores.ledger.page(None, 10).await.unwrap();
    assert!(empty.rows.is_empty() && empty.next.is_none(), "{empty:?}");
    let ids = paid_referrals(&stores, 7).await;
    let mut expected = Vec::new();
    for id in &ids {
        expected.extend(stores.ledger.rows(id).await.unwrap());
    }
    for limit in [1, 3, 14, 50] {
        let mut seen = Vec::new();
        let mut after = None;
        for page_no in 0.. {
            assert!(page_no < 100, "the walk ends");
            let page = stores.ledger.page(after.as_ref(), limit).await.unwrap();
            assert!(page.rows.len() <= limit, "a page holds at most {limit} rows");
            if page_no == 1 && limit == 3 {
                // A row written mid-walk (its thank-you claimed) is not read twice.
                let row = stores.ledger.row(&ids[6], rft_core::Side::Friend).await.unwrap().unwrap();
                let mut noted = row.successor();
                noted.note_sent_at = Some(T0);
                stores.ledger.save_row(&noted, row.version).await.unwrap();
                let i = expected.iter().position(|r| r == &row).unwrap();
                expected[i] = noted;
            }
            seen.extend(page.rows);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let key = |r: &rft_core::LedgerRow| (r.referral_id.to_string(), r.side);
        let mut keys: Vec<_> = seen.iter().map(key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!((seen.len(), keys.len()), (14, 14), "limit {limit}: each of the 14 rows once, no tally");
        if limit != 3 {
            for row in &expected {
                assert!(seen.contains(row), "limit {limit}: {row:?} as stored");
            }
        }
    }
}

fn hash(s: &str) -> IdentityHash {
    IdentityHash::from_stored(s.to_owned())
}

/// A second person sharing any one identity key (email, card, device) resolves to the first
/// person's referral; someone sharing none gets their own; the newcomer's keys then point to
/// the same referral.
pub async fn identity_claims_collapse_one_person_into_one_referral(stores: Stores) {
    let first = referral("c_mara", "c_dan", "7QK2A9", T0);
    let keys = [
        IdentityKey::Customer(first.referred_id.clone()),
        IdentityKey::Email(hash("email-mara")),
        IdentityKey::Payment(hash("card-mara")),
        IdentityKey::Device(hash("phone-mara")),
    ];
    let opened = stores
        .referrals
        .open(&first, &keys, &audit(AuditKind::Attributed, first.referral_id.as_str(), T0))
        .await
        .unwrap();
    assert_eq!(opened, Opened::Created);
    for (i, shared) in [
        IdentityKey::Email(hash("email-mara")),
        IdentityKey::Payment(hash("card-mara")),
        IdentityKey::Device(hash("phone-mara")),
    ]
    .into_iter()
    .enumerate()
    {
        let again = referral(&format!("c_mara_{i}"), "c_sam", "8RM3B4", T0);
        let newcomer = IdentityKey::Customer(again.referred_id.clone());
        let outcome = stores
            .referrals
            .open(
                &again,
                &[newcomer.clone(), shared, IdentityKey::Email(hash(&format!("other-{i}")))],
                &audit(AuditKind::Attributed, "x", T0),
            )
            .await
            .unwrap();
        match outcome {
            Opened::Existing(r) => assert_eq!(r.referral_id, first.referral_id),
            Opened::Created => panic!("a person sharing a key must collapse into the first referral"),
        }
        let via_newcomer = stores.referrals.find(&newcomer).await.unwrap().expect("newcomer maps to the referral");
        assert_eq!(via_newcomer.referral_id, first.referral_id);
        assert!(stores.referrals.get(&again.referral_id).await.unwrap().is_none(), "nothing new is stored");
    }
    let stranger = referral("c_kim", "c_dan", "7QK2A9", T0);
    let outcome = stores
        .referrals
        .open(
            &stranger,
            &[IdentityKey::Customer(stranger.referred_id.clone()), IdentityKey::Email(hash("email-kim"))],
            &audit(AuditKind::Attributed, "y", T0),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Opened::Created);
}

/// N people racing to open referrals that share one key end with exactly one referral.
pub async fn racing_sign_ups_of_one_person_open_one_referral(stores: Stores) {
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let referrals = stores.referrals.clone();
        set.spawn(async move {
            let r = referral(&format!("c_{i}"), "c_dan", "7QK2A9", T0);
            let keys = [IdentityKey::Customer(r.referred_id.clone()), IdentityKey::Payment(hash("one-card"))];
            let outcome =
                referrals.open(&r, &keys, &audit(AuditKind::Attributed, r.referral_id.as_str(), T0)).await.unwrap();
            (r.referral_id, outcome)
        });
    }
    let mut created = Vec::new();
    let mut joined_existing = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined.expect("task ran") {
            (id, Opened::Created) => created.push(id),
            (_, Opened::Existing(r)) => joined_existing.push(r.referral_id),
        }
    }
    assert_eq!(created.len(), 1, "one referral for one person");
    assert!(joined_existing.iter().all(|id| *id == created[0]));
    for i in 0..RACERS {
        let found = stores.referrals.find(&IdentityKey::Customer(customer(&format!("c_{i}")))).await.unwrap();
        assert_eq!(found.map(|r| r.referral_id), Some(created[0].clone()), "c_{i} resolves to the one referral");
    }
}

/// A referral changes only at the version it was read at; the losing writer is told.
pub async fn referral_updates_are_conditional_on_version(stores: Stores) {
    let r = referral("c_mara", "c_dan", "7QK2A9", T0);
    stores
        .referrals
        .open(&r, &[IdentityKey::Customer(r.referred_id.clone())], &audit(AuditKind::Attributed, "a", T0))
        .await
        .unwrap();
    let mut held = r.clone();
    held.apply(rft_core::StateEvent::Hold, T0).unwrap();
    held.version = 2;
    stores.referrals.save(&held, 1, Some(&audit(AuditKind::Held, r.referral_id.as_str(), T0))).await.unwrap();
    let mut expired = r.clone();
    expired.apply(rft_core::StateEvent::Expire, T0).unwrap();
    expired.version = 2;
    let lost = stores.referrals.save(&expired, 1, None).await;
    assert!(matches!(lost, Err(WriteError::Conflict)), "{lost:?}");
    assert_eq!(stores.referrals.get(&r.referral_id).await.unwrap().unwrap().state, ReferralState::Held);
    let missing = referral("c_nobody", "c_dan", "7QK2A9", T0);
    assert!(matches!(stores.referrals.save(&missing, 0, None).await, Err(WriteError::Conflict)));
}

/// Review queues list referrals by their queue time, oldest first, up to a bound, and a
/// referral leaves its queue when its state moves on.
pub async fn review_queues_follow_the_state(stores: Stores) {
    let day = Duration::from_secs(86_400);
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let mut r = referral(&format!("c_{i}"), "c_dan", "7QK2A9", T0);
        r.expires_at = T0.plus(day * (3 - i as u32));
        stores
            .referrals
            .open(&r, &[IdentityKey::Customer(r.referred_id.clone())], &audit(AuditKind::Attributed, "a", T0))
            .await
            .unwrap();
        ids.push(r);
    }
    let queue = |q: ReviewQueue, until: Timestamp, limit: usize| {
        let referrals = stores.referrals.clone();
        move || {
            let referrals = referrals.clone();
            async move { referrals.queue(q, until, limit).await.unwrap() }
        }
    };
    let due = eventually(queue(ReviewQueue::PendingExpiry, T0.plus(day * 2), 10), |d| d.len() == 2).await;
    let due_ids: Vec<_> = due.iter().map(|r| r.referral_id.clone()).collect();
    assert_eq!(due_ids, vec![ids[2].referral_id.clone(), ids[1].referral_id.clone()], "expiring first comes first");
    assert_eq!(queue(ReviewQueue::PendingExpiry, T0.plus(day * 9), 1)().await.len(), 1);
    let mut held = ids[2].clone();
    held.apply(rft_core::StateEvent::Hold, T0).unwrap();
    held.version = 2;
    stores.referrals.save(&held, 1, None).await.unwrap();
    let pending = eventually(queue(ReviewQueue::PendingExpiry, T0.plus(day * 9), 10), |p| p.len() == 2).await;
    assert_eq!(pending.len(), 2, "the held one left the pending queue");
    let held_queue = eventually(queue(ReviewQueue::Held, T0.plus(day * 9), 10), |h| h.len() == 1).await;
    assert_eq!(held_queue.len(), 1);
    assert_eq!(held_queue[0].referral_id, held.referral_id);
}

/// A token's clicks come back newest first, only while inside their window; an email's
/// invites apart from them.
pub async fn clicks_are_newest_first_and_expire(stores: Stores) {
    let token = Token::generate();
    let window = Duration::from_secs(60);
    let second = Duration::from_secs(1);
    stores.clicks.record(&click(&token, "7QK2A9", T0, window)).await.unwrap();
    stores.clicks.record(&click(&token, "8RM3B4", T0.plus(second * 10), window)).await.unwrap();
    stores.clicks.record(&click(&token, "9SN4C5", T0.plus(second * 20), window)).await.unwrap();
    stores.clicks.record(&click(&Token::generate(), "7QK2A9", T0.plus(second * 30), window)).await.unwrap();
    let codes = |cs: Vec<rft_core::Click>| cs.into_iter().map(|c| c.code.to_string()).collect::<Vec<_>>();
    assert_eq!(
        codes(stores.clicks.touches(&TouchKey::Token(token.clone()), T0.plus(second * 25)).await.unwrap()),
        ["9SN4C5", "8RM3B4", "7QK2A9"]
    );
    // At T0+60s the first click's window has closed: it no longer attributes.
    assert_eq!(
        codes(stores.clicks.touches(&TouchKey::Token(token.clone()), T0.plus(second * 60)).await.unwrap()),
        ["9SN4C5", "8RM3B4"]
    );
    assert!(stores.clicks.touches(&TouchKey::Token(token.clone()), T0.plus(second * 81)).await.unwrap().is_empty());
    assert!(stores.clicks.touches(&TouchKey::Token(Token::generate()), T0).await.unwrap().is_empty());
    // Email invites are filed under the address's hash, apart from browser tokens.
    let invited = TouchKey::Email(hash("friend-email"));
    stores.clicks.record(&crate::fixtures::touch(invited.clone(), "8RM3B4", T0, window)).await.unwrap();
    assert_eq!(codes(stores.clicks.touches(&invited, T0.plus(second)).await.unwrap()), ["8RM3B4"]);
    assert_eq!(stores.clicks.touches(&TouchKey::Token(token.clone()), T0.plus(second * 25)).await.unwrap().len(), 3);
}

/// A browser's newest unexpired click inside the lookback is found; older, expired or other
/// browsers' clicks are not.
pub async fn a_browsers_latest_click_is_found(stores: Stores) {
    let window = Duration::from_secs(600);
    let second = Duration::from_secs(1);
    let mine = hash("browser-mara");
    let mut old = click(&Token::generate(), "7QK2A9", T0, window);
    old.browser = Some(mine.clone());
    let mut new = click(&Token::generate(), "8RM3B4", T0.plus(second * 10), window);
    new.browser = Some(mine.clone());
    let mut other = click(&Token::generate(), "9SN4C5", T0.plus(second * 20), window);
    other.browser = Some(hash("browser-kim"));
    for c in [&old, &new, &other] {
        stores.clicks.record(c).await.unwrap();
    }
    let latest = |since: Timestamp, now: Timestamp| {
        let clicks = stores.clicks.clone();
        let mine = mine.clone();
        move || {
            let clicks = clicks.clone();
            let mine = mine.clone();
            async move { clicks.latest_from_browser(&mine, since, now).await.unwrap().map(|c| c.code.to_string()) }
        }
    };
    assert_eq!(eventually(latest(T0, T0.plus(second * 30)), |c| c.is_some()).await.as_deref(), Some("8RM3B4"));
    assert_eq!(latest(T0, T0.plus(second * 5))().await.as_deref(), Some("7QK2A9"), "clicks after `now` do not count");
    assert_eq!(latest(T0.plus(second * 11), T0.plus(second * 30))().await, None, "before the lookback");
    assert_eq!(latest(T0, T0.plus(second * 700))().await, None, "expired");
}

/// The listings the stats read by key: a referrer's referrals, a customer's ledger rows.
pub async fn listings_by_referrer_and_customer(stores: Stores) {
    let second = Duration::from_secs(1);
    let mut dans = Vec::new();
    for i in 0..3u32 {
        let r = referral(&format!("c_f{i}"), "c_dan", "7QK2A9", T0.plus(second * i));
        stores
            .referrals
            .open(&r, &[IdentityKey::Customer(r.referred_id.clone())], &audit(AuditKind::Attributed, "a", T0))
            .await
            .unwrap();
        dans.push(r.referral_id.clone());
    }
    let sams = referral("c_g", "c_sam", "8RM3B4", T0);
    stores
        .referrals
        .open(&sams, &[IdentityKey::Customer(sams.referred_id.clone())], &audit(AuditKind::Attributed, "a", T0))
        .await
        .unwrap();
    let listed = eventually(
        || async {
            stores
                .referrals
                .referrals_of(&customer("c_dan"))
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.referral_id)
                .collect::<Vec<_>>()
        },
        |l| l.len() == 3,
    )
    .await;
    assert_eq!(listed, dans, "Dan's three, oldest first, not Sam's");
    let first = stores.referrals.get(&dans[0]).await.unwrap().unwrap();
    stores.ledger.commit_reward(&reward_commit(&first, 0, T0)).await.unwrap();
    let dan_rows =
        eventually(|| async { stores.ledger.rows_of(&customer("c_dan")).await.unwrap() }, |r| r.len() == 1).await;
    assert_eq!((dan_rows.len(), dan_rows[0].side), (1, rft_core::Side::Referrer));
    let friend_rows =
        eventually(|| async { stores.ledger.rows_of(&customer("c_f0")).await.unwrap() }, |r| r.len() == 1).await;
    assert_eq!(friend_rows[0].side, rft_core::Side::Friend);
    assert!(stores.ledger.rows_of(&customer("c_sam")).await.unwrap().is_empty());
}

/// Every page of a newest-first listing, `limit` at a time, following each page's last item.
async fn all_pages<T, F, Fut>(
    limit: usize,
    since: Timestamp,
    until: Timestamp,
    position: impl Fn(&T) -> ListPosition,
    read: F,
) -> Vec<Vec<T>>
where
    F: Fn(ListWindow) -> Fut,
    Fut: std::future::Future<Output = Vec<T>>,
{
    let mut pages = Vec::new();
    let mut before = ListPosition::before_time(until);
    loop {
        let page = read(ListWindow { since, before: before.clone(), limit }).await;
        let Some(last) = page.last() else { return pages };
        before = position(last);
        let full = page.len() == limit;
        pages.push(page);
        if !full {
            return pages;
        }
    }
}

/// Referrals list by state, newest first by creation time then id, in pages that neither
/// skip nor repeat an item even when several share one millisecond; `since` bounds the oldest;
/// a referral moves to its new state's listing when its state changes.
pub async fn referrals_list_by_state_in_exact_pages(stores: Stores) {
    let ms = Duration::from_millis(1);
    // Seven pending referrals, four of them in one millisecond, and one held.
    let mut pending = Vec::new();
    for (i, offset) in [0u32, 5, 5, 5, 5, 9, 12].into_iter().enumerate() {
        let r = referral(&format!("c_l{i}"), "c_dan", "7QK2A9", T0.plus(ms * offset));
        stores
            .referrals
            .open(&r, &[IdentityKey::Customer(r.referred_id.clone())], &audit(AuditKind::Attributed, "a", T0))
            .await
            .unwrap();
        pending.push(r);
    }
    let mut held = referral("c_h", "c_dan", "7QK2A9", T0.plus(ms * 7));
    held.state = ReferralState::Held;
    stores
        .referrals
        .open(&held, &[IdentityKey::Customer(held.referred_id.clone())], &audit(AuditKind::Held, "h", T0))
        .await
        .unwrap();
    let position = |r: &rft_core::Referral| ListPosition::of(r.created_at, r.referral_id.as_str());
    let mut expected: Vec<_> = pending.iter().map(position).collect();
    expected.sort();
    expected.reverse();
    let until = T0.plus(Duration::from_secs(60));
    let read = |state: ReferralState| {
        let referrals = stores.referrals.clone();
        move |w: ListWindow| {
            let referrals = referrals.clone();
            async move { referrals.in_state(state, &w).await.unwrap() }
        }
    };
    let whole = eventually(
        || read(ReferralState::Pending)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 100 }),
        |l| l.len() == 7,
    )
    .await;
    assert_eq!(whole.iter().map(position).collect::<Vec<_>>(), expected, "newest first, then by id");
    for limit in [1, 2, 3] {
        let pages = all_pages(limit, T0, until, position, read(ReferralState::Pending)).await;
        let flat: Vec<_> = pages.iter().flatten().map(position).collect();
        assert_eq!(flat, expected, "pages of {limit} cover every item once, in order");
    }
    let since = read(ReferralState::Pending)(ListWindow {
        since: T0.plus(ms * 5),
        before: ListPosition::before_time(T0.plus(ms * 12)),
        limit: 100,
    })
    .await;
    assert_eq!(since.len(), 5, "from 5 ms (inclusive) to 12 ms (exclusive)");
    let held_list =
        read(ReferralState::Held)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 }).await;
    assert_eq!(held_list.iter().map(|r| r.referral_id.clone()).collect::<Vec<_>>(), vec![held.referral_id.clone()]);
    let mut expired = pending[0].successor(T0);
    expired.apply(rft_core::StateEvent::Expire, T0).unwrap();
    stores.referrals.save(&expired, pending[0].version, None).await.unwrap();
    let still_pending = eventually(
        || read(ReferralState::Pending)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 100 }),
        |l| l.len() == 6,
    )
    .await;
    assert!(still_pending.iter().all(|r| r.referral_id != expired.referral_id), "it left the pending listing");
    let expired_list = eventually(
        || read(ReferralState::Expired)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 }),
        |l| l.len() == 1,
    )
    .await;
    assert_eq!(expired_list[0].state, ReferralState::Expired);
    assert!(
        read(ReferralState::Rewarded)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 })
            .await
            .is_empty()
    );
}

/// Codes list by status, newest first by creation time then code; retiring moves a code from
/// the active listing to the retired one.
pub async fn codes_list_by_status_newest_first(stores: Stores) {
    let ms = Duration::from_millis(1);
    let owners = [("7QK2A9", "c_a", 0u32), ("8RM3B4", "c_b", 3), ("9SN4C5", "c_c", 3), ("ATP5D6", "c_d", 8)];
    for (c, owner, offset) in owners {
        stores.codes.claim(&code_record(c, owner, T0.plus(ms * offset))).await.unwrap();
    }
    let until = T0.plus(Duration::from_secs(60));
    let read = |status: CodeStatus| {
        let codes = stores.codes.clone();
        move |w: ListWindow| {
            let codes = codes.clone();
            async move { codes.in_status(status, &w).await.unwrap() }
        }
    };
    let names = |l: &[rft_core::CodeRecord]| l.iter().map(|c| c.code.to_string()).collect::<Vec<_>>();
    let whole = eventually(
        || read(CodeStatus::Active)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 }),
        |l| l.len() == 4,
    )
    .await;
    assert_eq!(names(&whole), ["ATP5D6", "9SN4C5", "8RM3B4", "7QK2A9"]);
    let pages = all_pages(
        1,
        T0,
        until,
        |c: &rft_core::CodeRecord| ListPosition::of(c.created_at, c.code.as_str()),
        read(CodeStatus::Active),
    )
    .await;
    assert_eq!(names(&pages.concat()), ["ATP5D6", "9SN4C5", "8RM3B4", "7QK2A9"], "one at a time, through the tie");
    stores.codes.retire(&crate::fixtures::code("8RM3B4"), T0.plus(ms * 20)).await.unwrap();
    let active = eventually(
        || read(CodeStatus::Active)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 }),
        |l| l.len() == 3,
    )
    .await;
    assert_eq!(names(&active), ["ATP5D6", "9SN4C5", "7QK2A9"]);
    let retired = eventually(
        || read(CodeStatus::Retired)(ListWindow { since: T0, before: ListPosition::before_time(until), limit: 10 }),
        |l| l.len() == 1,
    )
    .await;
    assert_eq!(names(&retired), ["8RM3B4"]);
}

/// The audit only ever appends: an event id is written once, never overwritten, and a
/// subject's events come back oldest first.
pub async fn the_audit_is_append_only(stores: Stores) {
    let first = audit(AuditKind::Held, "rf_x", T0);
    stores.audit.append(&first).await.unwrap();
    let mut forged = first.clone();
    forged.kind = AuditKind::Approved;
    forged.facts = serde_json::json!({ "rewritten": true });
    assert!(matches!(stores.audit.append(&forged).await, Err(AppendError::Duplicate)));
    let later = audit(AuditKind::Approved, "rf_x", T0.plus(Duration::from_secs(5)));
    stores.audit.append(&later).await.unwrap();
    stores.audit.append(&audit(AuditKind::Paid, "rf_other", T0)).await.unwrap();
    let events = eventually(|| async { stores.audit.events_for("rf_x").await.unwrap() }, |e| e.len() >= 2).await;
    assert_eq!(events, vec![first, later], "original kept, oldest first, other subjects excluded");
}

/// Processed webhook ids are remembered: a replay gets the stored answer, racing deliveries
/// have exactly one winner, an abandoned or lapsed claim can be taken again.
pub async fn processed_webhook_ids_are_remembered(stores: Stores) {
    let lease = Duration::from_secs(30);
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let log = stores.webhooks.clone();
        set.spawn(async move { log.begin("msg_1", T0, lease).await.unwrap() });
    }
    let mut fresh = 0;
    while let Some(joined) = set.join_next().await {
        match joined.expect("task ran") {
            Begin::Fresh => fresh += 1,
            Begin::InFlight => {}
            Begin::Done(r) => panic!("nothing was finished yet: {r:?}"),
        }
    }
    assert_eq!(fresh, 1, "exactly one delivery holds a new id");
    let answer = StoredResponse::new(202, r#"{"status":"queued"}"#);
    stores.webhooks.finish("msg_1", &answer, T0).await.unwrap();
    assert_eq!(
        stores.webhooks.begin("msg_1", T0.plus(Duration::from_secs(60)), lease).await.unwrap(),
        Begin::Done(answer.clone())
    );
    // A finished id is not released by a late abandon.
    stores.webhooks.abandon("msg_1").await.unwrap();
    assert_eq!(stores.webhooks.begin("msg_1", T0, lease).await.unwrap(), Begin::Done(answer));
    // Abandoned: the store's retry is processed afresh.
    assert_eq!(stores.webhooks.begin("msg_2", T0, lease).await.unwrap(), Begin::Fresh);
    stores.webhooks.abandon("msg_2").await.unwrap();
    assert_eq!(stores.webhooks.begin("msg_2", T0, lease).await.unwrap(), Begin::Fresh);
    // A crashed holder's claim lapses with its lease.
    assert_eq!(stores.webhooks.begin("msg_2", T0.plus(Duration::from_secs(5)), lease).await.unwrap(), Begin::InFlight);
    assert_eq!(stores.webhooks.begin("msg_2", T0.plus(Duration::from_secs(31)), lease).await.unwrap(), Begin::Fresh);
}

/// An unsubscribe is kept by the address's hash, for that hash only; recording it again is
/// harmless.
pub async fn unsubscribes_are_kept_by_hash(stores: Stores) {
    let kim = IdentityHash::from_stored("0123456789abcdef0123456789abcdef".into());
    let sam = IdentityHash::from_stored("fedcba9876543210fedcba9876543210".into());
    assert!(!stores.unsubscribes.is_unsubscribed(&kim).await.unwrap());
    stores.unsubscribes.unsubscribe(&kim, T0).await.unwrap();
    stores.unsubscribes.unsubscribe(&kim, T0.plus(Duration::from_secs(60))).await.unwrap();
    assert!(stores.unsubscribes.is_unsubscribed(&kim).await.unwrap());
    assert!(!stores.unsubscribes.is_unsubscribed(&sam).await.unwrap());
}

/// Counters count to their limit and no further, even when incremented concurrently, and
/// start again from zero once expired.
pub async fn counters_stop_at_their_limit_and_expire(stores: Stores) {
    let expires = T0.plus(Duration::from_secs(60));
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let counters = stores.counters.clone();
        set.spawn(async move { counters.increment("invites#c_dan#1", Some(5), expires, T0).await });
    }
    let mut granted = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined.expect("task ran") {
            Ok(n) => granted.push(n),
            Err(rft_core::ports::CountError::LimitReached { limit }) => assert_eq!(limit, 5),
            Err(other) => panic!("unexpected counter outcome: {other:?}"),
        }
    }
    granted.sort_unstable();
    assert_eq!(granted, [1, 2, 3, 4, 5], "exactly the limit is granted, each count once");
    assert_eq!(stores.counters.count("invites#c_dan#1", T0).await.unwrap(), 5);
    assert_eq!(stores.counters.count("invites#c_dan#1", expires).await.unwrap(), 0, "expired counters read zero");
    let later = T0.plus(Duration::from_secs(61));
    assert_eq!(
        stores
            .counters
            .increment("invites#c_dan#1", Some(5), later.plus(Duration::from_secs(60)), later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(stores.counters.increment("other", None, expires, T0).await.unwrap(), 1);
    assert_eq!(stores.counters.increment("other", None, expires, T0).await.unwrap(), 2);
    assert_eq!(stores.counters.count("never", T0).await.unwrap(), 0);
    let keys = ["other".to_owned(), "never".to_owned(), "invites#c_dan#1".to_owned()];
    assert_eq!(stores.counters.counts(&keys, T0).await.unwrap(), [2, 0, 1], "read together, in the order asked");
    assert_eq!(stores.counters.counts(&keys, later).await.unwrap(), [0, 0, 1], "expired ones read zero");
}

/// A job sent with a delay stays invisible until the delay has passed, then arrives as any
/// other (the fulfilment retries rely on it).
pub async fn delayed_jobs_arrive_after_their_delay(queue: Arc<dyn JobQueue>) {
    let visibility = Duration::from_secs(30);
    let delay = Duration::from_secs(5);
    let sent = tokio::time::Instant::now();
    queue.send_after(&signup_job(3), delay).await.unwrap();
    queue.send(&signup_job(4)).await.unwrap();
    let now = receive_all(&queue, 2, visibility).await;
    assert_eq!(now.iter().map(|d| d.job.clone()).collect::<Vec<_>>(), [signup_job(4)], "only the undelayed job");
    for d in &now {
        queue.ack(&d.receipt).await.unwrap();
    }
    tokio::time::sleep_until(sent + delay + Duration::from_millis(300)).await;
    let later = receive_all(&queue, 1, visibility).await;
    assert_eq!(later.len(), 1, "the delayed job arrives once its delay has passed");
    assert_eq!((later[0].job.clone(), later[0].receive_count), (signup_job(3), 1));
}

/// An unacknowledged job comes back after its visibility timeout; an acknowledged one never.
pub async fn unacknowledged_jobs_are_redelivered(queue: Arc<dyn JobQueue>) {
    let visibility = Duration::from_secs(1);
    queue.send(&signup_job(1)).await.unwrap();
    queue.send(&signup_job(2)).await.unwrap();
    let first = receive_all(&queue, 2, visibility).await;
    assert_eq!(first.len(), 2);
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "hidden while in flight");
    let acked = first.iter().find(|d| d.job == signup_job(1)).expect("job 1 delivered");
    queue.ack(&acked.receipt).await.unwrap();
    tokio::time::sleep(visibility + Duration::from_millis(300)).await;
    let again = receive_all(&queue, 1, visibility).await;
    assert_eq!(again.len(), 1, "only the unacknowledged job returns");
    assert_eq!(again[0].job, signup_job(2));
    assert_eq!(again[0].receive_count, 2);
}

/// A job received five times without an acknowledgement goes to the dead-letter queue.
pub async fn jobs_dead_letter_after_five_receives(queue: Arc<dyn JobQueue>) {
    let visibility = Duration::from_secs(1);
    queue.send(&signup_job(7)).await.unwrap();
    for n in 1..=MAX_RECEIVES {
        let got = receive_all(&queue, 1, visibility).await;
        assert_eq!(got.len(), 1, "receive {n} gets the job");
        assert_eq!(got[0].receive_count, n);
        tokio::time::sleep(visibility + Duration::from_millis(300)).await;
    }
    // The receive that would be the sixth moves the job to the dead-letter queue instead, once the
    // job is visible again (LocalStack puts it back up to a second late): for the next two
    // seconds, every receive gets nothing.
    for _ in 0..20 {
        assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "a sixth receive gets nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead, vec![signup_job(7)]);
}

/// Reads backed by a secondary index (DynamoDB GSIs) are eventually consistent: re-reads until
/// `check` holds or two seconds pass, and returns the last value for the caller to assert on.
pub async fn eventually<T: std::fmt::Debug, Fut>(mut read: impl FnMut() -> Fut, check: impl Fn(&T) -> bool) -> T
where
    Fut: std::future::Future<Output = T>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(10);
    loop {
        let value = read().await;
        if check(&value) || tokio::time::Instant::now() > deadline {
            if start.elapsed() > Duration::from_secs(1) {
                eprintln!("eventually: index read still {value:?} after {:?}", start.elapsed());
            }
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Receives until `n` jobs arrived or two seconds of polls passed: SQS may return fewer than
/// asked, and a job whose visibility lapsed may take a moment to come back (LocalStack puts
/// lapsed jobs back on the queue once a second, so up to a second late).
async fn receive_all(queue: &Arc<dyn JobQueue>, n: usize, visibility: Duration) -> Vec<rft_core::Delivery> {
    let mut out = Vec::new();
    for _ in 0..40 {
        out.extend(queue.receive(n - out.len(), visibility).await.unwrap());
        if out.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out
}

/// The rollups: every click (and email invite) counted once into its code's and the
/// programme's day, by channel and hour; a sign-up, a conversion and a payout counted where
/// they happen; erasure takes nothing from the counts; the velocity read, a referrer's stats
/// and the console's overview all read the same counts.
pub async fn rollups_count_every_click_once_and_agree(following: Following) {
    let stores = &following.stores;
    let hour = Duration::from_secs(3600);
    // Half past an hour, so the velocity read weighs the previous hour by a half.
    let now = Timestamp::from_millis((T0.as_millis() / 86_400_000) * 86_400_000 + 10 * 3_600_000 + 1_800_000);
    let window = Duration::from_secs(30 * 86_400);
    stores.codes.claim(&code_record("7QK2A9", "c_dan", T0)).await.unwrap();
    stores.codes.claim(&code_record("8RM3B4", "c_sam", T0)).await.unwrap();
    let mut set = JoinSet::new();
    for i in 0..150u32 {
        let clicks = stores.clicks.clone();
        let mut c =
            click(&Token::generate(), "7QK2A9", now.minus(hour).plus(Duration::from_secs(u64::from(i))), window);
        if i % 3 == 0 {
            c.channel = Some("whatsapp".into());
        }
        set.spawn(async move { clicks.record(&c).await.unwrap() });
    }
    while set.join_next().await.is_some() {}
    let erased = Token::generate();
    stores.clicks.record(&click(&erased, "7QK2A9", now, window)).await.unwrap();
    stores.clicks.record(&click(&Token::generate(), "8RM3B4", now, window)).await.unwrap();
    let mut invite = crate::fixtures::touch(TouchKey::Email(hash("kim")), "7QK2A9", now, window);
    invite.channel = Some("email".into());
    stores.clicks.record(&invite).await.unwrap();
    assert_eq!(stores.clicks.forget(&TouchKey::Token(erased)).await.unwrap(), 1);
    following.follow().await;

    let dan = crate::fixtures::code("7QK2A9");
    let rows = stores.counters.rows(&rollup::code_series(&dan), now.day() - 1, now.day()).await.unwrap();
    assert_eq!(rows.len(), 1, "one row for the day: {rows:?}");
    let day = &rows[0];
    assert_eq!(day.get("clicks"), 152, "150 clicks, the erased one still counted, and the invite");
    assert_eq!((day.get("clicks.whatsapp"), day.get("clicks.email"), day.get("clicks.direct")), (50, 1, 101));
    assert_eq!((day.get("h09"), day.get("h10")), (150, 2), "by hour");
    assert_eq!(rollup::code_clicks_last_hour(stores.counters.as_ref(), &dan, now).await.unwrap(), 2 + 75);
    let programme = stores.counters.rows(rollup::PROGRAMME, now.day(), now.day()).await.unwrap();
    assert_eq!(programme[0].get("clicks"), 153);
    assert_eq!(programme[0].get("h10"), 0, "hours are kept per code only");

    // A sign-up, a held conversion elsewhere, and a payout that records its conversion.
    let mut r = referral("c_mara", "c_dan", "7QK2A9", now);
    r.channel = Some("whatsapp".into());
    stores.counters.add(&rollup::signup_steps(&r)).await.unwrap();
    let mut paid = r.clone();
    paid.conversion = Some(rft_core::referral::ConversionFacts {
        order_id: "o_1".into(),
        amount_minor: 3999,
        currency: rft_core::Currency::parse("GBP").unwrap(),
        occurred_at: now,
        discount_code: None,
    });
    stores
        .referrals
        .open(&paid, &[IdentityKey::Customer(paid.referred_id.clone())], &audit(AuditKind::Attributed, "a", now))
        .await
        .unwrap();
    let mut commit = reward_commit(&paid, 0, now);
    commit.counters.extend(rollup::payout_steps(&paid, &commit.referral, &commit.rows, true));
    stores.ledger.commit_reward(&commit).await.unwrap();
    let day = stores.counters.rows(&rollup::code_series(&dan), now.day(), now.day()).await.unwrap().remove(0);
    assert_eq!(
        (day.get("signups"), day.get("signups.whatsapp"), day.get("conversions"), day.get("rewarded")),
        (1, 1, 1, 1)
    );
    assert_eq!((day.get("revenue.GBP"), day.get("earned.GBP")), (3999, 1000));
    let top = stores.counters.rows(&rollup::top_series(rollup::month_of_day(now.day())), 0, i64::MAX).await.unwrap();
    assert_eq!(top.len(), 1, "only codes with sign-ups or conversions rank");
    assert_eq!((top[0].slot, top[0].get("signups"), top[0].get("rewarded")), (rollup::code_slot(&dan), 1, 1));

    let overview = RollupOverview::new(stores.clone()).overview(now).await.unwrap();
    let t = &overview.totals;
    assert_eq!((t.clicks, t.signups, t.conversions, t.rewarded), (153, 1, 1, 1));
    assert_eq!((t.pending, t.held), (0, 0), "opened pending, then paid");
    assert_eq!((t.revenue[0].amount_minor, t.revenue[0].count), (3999, 1));
    assert_eq!((t.rewards_owed[0].amount_minor, t.rewards_owed[0].count), (2000, 2), "both sides");
    assert_eq!(overview.daily.last().unwrap().clicks, 153);
    assert_eq!(overview.top_referrers.len(), 1);
    assert_eq!(overview.top_referrers[0].customer_id, customer("c_dan"));
    assert_eq!(overview.top_referrers[0].clicks, 152, "the leader's clicks in the last 30 days");
    let whatsapp = overview.channels.iter().find(|c| c.channel == "whatsapp").unwrap();
    assert_eq!((whatsapp.clicks, whatsapp.signups, whatsapp.conversions), (50, 1, 1));
    let (_, stats) = rft_core::service::stats::referrer_stats(stores, &customer("c_dan"), now).await.unwrap().unwrap();
    assert_eq!(stats.clicks, overview.top_referrers[0].clicks, "the stats API and the console agree");
    assert_eq!(stats.daily.last().unwrap().clicks, 152);
}
