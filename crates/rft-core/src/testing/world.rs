//! A world of fakes on a manual clock, with the sample people the tests talk about: Dan refers,
//! Mara is his friend.

use std::sync::Arc;
use std::time::Duration;

use super::{MemoryQueue, MemoryStore, RecordingMessenger, ScriptedScreener, ScriptedStore, ScriptedWriter};
use crate::audit::AuditKind;
use crate::code::{Code, CodeRecord, CodeStatus, ReferrerProfile};
use crate::email::Email;
use crate::identity::{IdentityHasher, IdentityKey};
use crate::ids::{CustomerId, ReferralId};
use crate::jobs::{ConversionJob, Job};
use crate::ledger::LedgerRow;
use crate::links::LinkSigner;
use crate::money::Currency;
use crate::ports::{CodeStore, ReferralStore, Stores};
use crate::referral::{FriendProfile, Method, Referral, ReferralState};
use crate::secrets::SecretBytes;
use crate::service::erase::Eraser;
use crate::service::{FriendDiscount, FulfilPolicy, MintService, Redirector, Rewarder, RewarderClients, Services};
use crate::settings::Settings;
use crate::time::{Clock, ManualClock, Timestamp};

/// The example settings file every test starts from.
const EXAMPLE_SETTINGS: &str = include_str!("../../../../settings.example.toml");

/// When every test world starts: 2026-07-01T10:00:00Z.
pub(crate) const START: Timestamp = Timestamp::from_secs(1_782_900_000);

/// The example settings with some `key = value` lines replaced (by key, first occurrence).
pub(crate) fn settings_with(overrides: &[(&str, &str)]) -> Settings {
    let mut text = EXAMPLE_SETTINGS.to_owned();
    for (key, value) in overrides {
        let start = text.find(&format!("\n{key} = ")).expect("the example has the key") + 1;
        let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
        text.replace_range(start..end, &format!("{key} = {value}"));
    }
    Settings::parse(&text).expect("test settings are valid")
}

/// A customer id.
pub(crate) fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).expect("a valid customer id")
}

/// Every port faked, and the services built over them as the real wiring builds them.
pub(crate) struct World {
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    /// The reward queue.
    pub queue: Arc<MemoryQueue>,
    pub messenger: Arc<RecordingMessenger>,
    pub writer: Arc<ScriptedWriter>,
    /// The store's reward endpoint.
    pub endpoint: Arc<ScriptedStore>,
    pub screener: Arc<ScriptedScreener>,
    pub services: Services,
}

impl World {
    /// A world on the example settings.
    pub fn new() -> Self {
        Self::with_settings(&[])
    }

    /// A world on the example settings with `overrides`.
    pub fn with_settings(overrides: &[(&str, &str)]) -> Self {
        let clock = Arc::new(ManualClock::at(START));
        let store = Arc::new(MemoryStore::default());
        let services =
            Services::new(Arc::new(settings_with(overrides)), clock.clone(), Stores::from_backend(store.clone()));
        World {
            queue: Arc::new(MemoryQueue::new(clock.clone())),
            clock,
            store,
            messenger: Arc::default(),
            writer: Arc::default(),
            endpoint: Arc::default(),
            screener: Arc::default(),
            services,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.services.settings
    }

    pub fn hasher(&self) -> IdentityHasher {
        IdentityHasher::new(SecretBytes::new(b"unit-test identity key".to_vec()))
    }

    pub fn links(&self) -> LinkSigner {
        LinkSigner::new(SecretBytes::new(b"unit-test ops key".to_vec()))
    }

    /// The clock's time.
    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the clock on.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn rewarder(&self) -> Rewarder {
        self.rewarder_with(FulfilPolicy::default())
    }

    pub fn rewarder_with(&self, policy: FulfilPolicy) -> Rewarder {
        let clients = RewarderClients {
            screener: self.screener.clone(),
            store: self.endpoint.clone(),
            discounts: FriendDiscount::none(),
            messenger: self.messenger.clone(),
            writer: self.writer.clone(),
            links: self.links(),
            queue: self.queue.clone(),
            hasher: self.hasher(),
        };
        self.services.rewarder(clients, policy)
    }

    /// The attributor, queueing conversions and enrolments on the one test queue, minting with
    /// [`World::minter`].
    pub fn attributor(&self) -> crate::service::Attributor {
        self.services.attributor(crate::service::AttributorClients {
            screener: self.screener.clone(),
            reward_jobs: self.queue.clone(),
            signup_jobs: self.queue.clone(),
            minter: Arc::new(self.minter()),
            messenger: self.messenger.clone(),
            hasher: self.hasher(),
            links: self.links(),
        })
    }

    pub fn minter(&self) -> MintService {
        self.services.minter(self.writer.clone(), self.messenger.clone(), FriendDiscount::none(), self.hasher())
    }

    pub fn eraser(&self) -> Eraser {
        self.services.eraser(self.hasher(), FriendDiscount::none())
    }

    pub fn redirector(&self) -> Redirector {
        self.services.redirector(self.hasher())
    }

    /// Dan's live code `DAN234`, minted now with the settings' terms.
    pub async fn given_code(&self) -> CodeRecord {
        let hasher = self.hasher();
        let record = CodeRecord {
            code: Code::parse("DAN234").unwrap(),
            referrer_id: customer("c_dan"),
            status: CodeStatus::Active,
            terms: self.settings().terms(),
            referrer: ReferrerProfile {
                first_name: Some("Dan".into()),
                email: Some(Email::parse("dan@example.com").unwrap()),
                phone: None,
                identity: crate::identity::HashedIdentity {
                    payment: hasher.hash(crate::identity::Field::Payment, "card_dan"),
                    ..Default::default()
                },
            },
            invite: "Try FreshBox: {{link}}".into(),
            created_at: self.clock.now(),
            retired_at: None,
            flag: None,
        };
        self.store.claim(&record).await.expect("a fresh store takes the code");
        record
    }

    /// Mara's pending referral through `code`, her click just now.
    pub async fn given_referral(&self, code: &CodeRecord) -> Referral {
        let now = self.clock.now();
        let email = Email::parse("mara@example.com").unwrap();
        let friend = FriendProfile {
            first_name: Some("Mara".into()),
            identity: self.hasher().hash_all(&Default::default(), Some(&email)),
            email: Some(email),
            phone: None,
        };
        let referral = Referral {
            referral_id: ReferralId::generate(),
            referred_id: customer("c_mara"),
            referrer_id: code.referrer_id.clone(),
            code: code.code.clone(),
            state: ReferralState::Pending,
            method: Method::Token,
            terms: code.terms.clone(),
            evidence: Vec::new(),
            flags: Vec::new(),
            touched_at: now,
            channel: None,
            attribution_token: None,
            conversion: None,
            refunded: None,
            created_at: now,
            updated_at: now,
            expires_at: now.plus(code.terms.window()),
            review_notified_at: None,
            cleared_rules: Vec::new(),
            referrer_forfeited_at: None,
            confirms_at: None,
            version: 1,
            friend,
        };
        let claims = IdentityKey::all_for(&referral.referred_id, &referral.friend.identity);
        let opened = crate::audit::AuditEvent::new(
            AuditKind::Attributed,
            referral.referral_id.as_str(),
            now,
            serde_json::json!({}),
        );
        self.store.open(&referral, &claims, &opened).await.expect("a fresh store opens it");
        referral
    }

    /// Mara's first order, `o_1`, placed now.
    pub fn conversion(&self) -> ConversionJob {
        ConversionJob {
            webhook_id: "msg_conversion".into(),
            customer_id: customer("c_mara"),
            order_id: "o_1".into(),
            amount_minor: 3999,
            currency: Currency::parse("GBP").unwrap(),
            identity: Default::default(),
            occurred_at: self.clock.now(),
            discount_code: None,
        }
    }

    /// The referral as stored now.
    pub fn referral(&self, id: &ReferralId) -> Referral {
        self.store.state().referrals.get(id).cloned().expect("the referral is stored")
    }

    /// A referral's ledger rows as stored now, referrer first.
    pub fn rows(&self, id: &ReferralId) -> Vec<LedgerRow> {
        self.store.state().ledger.values().filter(|r| r.referral_id == *id).cloned().collect()
    }

    /// The kinds of audit event about `subject`, in the order written.
    pub fn audit_kinds(&self, subject: &str) -> Vec<AuditKind> {
        self.store.state().audit.iter().filter(|e| e.subject == subject).map(|e| e.kind).collect()
    }

    /// The jobs sent to the reward queue so far, with their delays.
    pub fn jobs_sent(&self) -> Vec<(Job, Duration)> {
        self.queue.sent()
    }

    /// The orders handed to the rewarder as conversions so far, in order.
    pub fn conversions_sent(&self) -> Vec<String> {
        self.jobs_sent()
            .into_iter()
            .filter_map(|(job, _)| match job {
                Job::Conversion(c) => Some(c.order_id),
                _ => None,
            })
            .collect()
    }
}
