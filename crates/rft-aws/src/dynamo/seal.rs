//! Personal fields sealed under a key per owner, kept in `rft-keys`, a table that is never
//! backed up. A record's personal fields ([`rft_core::personal::split`]) leave its `doc` and are
//! stored in `p`: a random nonce and their AES-256-GCM ciphertext, bound to the key's owner
//! (`ko`) and generation (`kg`). Erasure rewrites the live records without personal fields and
//! then deletes the owners' keys ([`PersonalKeys::destroy`]), so every older copy of those items
//! (a point-in-time restore, an on-demand backup) holds them unreadable. An item whose key is
//! gone reads as erased. See docs/reliability.md, "What a backup holds".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use rft_core::CustomerId;
use rft_core::personal::{self, PersonalPart};
use rft_core::ports::{PersonalKeys, StoreError};

use super::requests::conditional;
use super::{DynamoStore, unavailable};
use crate::item::{Item, get_s, item, s};

type KeyBytes = [u8; 32];

/// Keys read, by owner and generation (a generation's key never changes, so a cached one is
/// never wrong), and each owner's current generation as last read, which writes reuse for
/// [`CURRENT_FOR`] only: a write that misses an erasure's destruction of its owner's key seals
/// fields nobody can read again, which only an erasure's own subjects can meet.
#[derive(Debug, Default)]
pub(crate) struct KeyCache(Mutex<Cached>);

#[derive(Debug, Default)]
struct Cached {
    keys: HashMap<(String, String), KeyBytes>,
    current: HashMap<String, (String, Instant)>,
}

/// Bounds the cache of a long-lived function reading many owners.
const CACHE_LIMIT: usize = 10_000;

/// How long a write trusts the current generation it last read (one job's reads and writes).
const CURRENT_FOR: Duration = Duration::from_secs(2);

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, owner: &str, generation: &str) -> Option<KeyBytes> {
        self.lock().keys.get(&(owner.to_owned(), generation.to_owned())).copied()
    }

    /// The owner's current key, if read within [`CURRENT_FOR`].
    fn current(&self, owner: &str) -> Option<OwnerKey> {
        let cache = self.lock();
        let (generation, at) = cache.current.get(owner)?;
        let key = cache.keys.get(&(owner.to_owned(), generation.clone()))?;
        (at.elapsed() < CURRENT_FOR).then(|| OwnerKey {
            owner: owner.to_owned(),
            generation: generation.clone(),
            key: *key,
        })
    }

    /// Forgets an owner's keys (this function destroyed them).
    fn forget(&self, owner: &str) {
        let mut cache = self.lock();
        cache.current.remove(owner);
        cache.keys.retain(|(o, _), _| o != owner);
    }

    /// A key as read from (or written to) `rft-keys`; `current` when it was read alone, just
    /// now, as its owner's current one (a batch read for opening items is not trusted for
    /// writes, so that which calls a write makes does not depend on how long the batch took).
    fn put(&self, key: &OwnerKey, current: bool) {
        let mut cache = self.lock();
        if cache.keys.len() >= CACHE_LIMIT {
            cache.keys.clear();
            cache.current.clear();
        }
        cache.keys.insert((key.owner.clone(), key.generation.clone()), key.key);
        if current {
            cache.current.insert(key.owner.clone(), (key.generation.clone(), Instant::now()));
        }
    }
}

/// An owner's key as stored.
struct OwnerKey {
    owner: String,
    generation: String,
    key: KeyBytes,
}

impl OwnerKey {
    fn from_item(it: &Item) -> Option<OwnerKey> {
        let key = it.get("k")?.as_b().ok()?.as_ref().try_into().ok()?;
        Some(OwnerKey { owner: get_s(it, "owner")?.to_owned(), generation: get_s(it, "kg")?.to_owned(), key })
    }

    fn aad(&self) -> Aad<Vec<u8>> {
        Aad::from(format!("{}\0{}", self.owner, self.generation).into_bytes())
    }
}

/// A record as stored: its public `doc` and, when it has personal fields, their seal.
pub(super) struct Sealed {
    doc: AttributeValue,
    seal: Option<[(&'static str, AttributeValue); 3]>,
}

impl Sealed {
    /// A record stored whole, nothing sealed.
    pub(super) fn plain<T: Serialize>(record: &T) -> Sealed {
        Sealed { doc: crate::item::doc(record), seal: None }
    }

    /// Adds `doc` (and `p`, `ko`, `kg`) to an item.
    pub(super) fn put_into(self, it: &mut Item) {
        self.put_as(it, "doc");
    }

    /// Adds the record as attribute `name` (and `p`, `ko`, `kg`) to an item.
    pub(super) fn put_as(self, it: &mut Item, name: &str) {
        it.insert(name.to_owned(), self.doc);
        for (name, value) in self.seal.into_iter().flatten() {
            it.insert(name.to_owned(), value);
        }
    }

    /// Whether it has personal fields sealed (else it is stored whole).
    pub(super) fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// Stores it in place of an item's `doc` and seal: the update's SET and REMOVE actions
    /// (`#doc` names `doc`) and the values they name.
    pub(super) fn update(self) -> SealUpdate {
        let mut values = vec![(":doc".to_owned(), self.doc)];
        let mut set = vec!["#doc = :doc".to_owned()];
        let mut remove = Vec::new();
        for (name, value) in self.seal.into_iter().flatten() {
            set.push(format!("{name} = :{name}"));
            values.push((format!(":{name}"), value));
        }
        if set.len() == 1 {
            remove.extend(["p", "ko", "kg"].map(str::to_owned));
        }
        SealUpdate { set, remove, values }
    }
}

/// [`Sealed::update`]'s actions, to join with the update's own.
pub(super) struct SealUpdate {
    pub set: Vec<String>,
    pub remove: Vec<String>,
    pub values: Vec<(String, AttributeValue)>,
}

impl SealUpdate {
    /// The update expression with `set` and `remove` actions of its own added.
    pub(super) fn expression(&self, set: &[&str], remove: &[&str]) -> String {
        let sets: Vec<&str> = self.set.iter().map(String::as_str).chain(set.iter().copied()).collect();
        let removes: Vec<&str> = self.remove.iter().map(String::as_str).chain(remove.iter().copied()).collect();
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        expression
    }
}

pub(super) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| StoreError::unavailable("seal", "no randomness"))?;
    Ok(bytes)
}

fn cipher(key: &KeyBytes) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32 bytes is an AES-256 key"))
}

impl DynamoStore {
    /// `record` as stored, its personal fields sealed under `owner`'s current key (created if
    /// the owner has none).
    pub(super) async fn seal<T: Serialize>(&self, record: &T, owner: &str) -> Result<Sealed, StoreError> {
        let mut value = serde_json::to_value(record).expect("domain records serialise to JSON");
        let parts = personal::split(&mut value);
        self.seal_parts(&value, parts, owner).await
    }

    /// `public` as stored, with `parts` (taken out of it) sealed under `owner`'s current key.
    pub(super) async fn seal_parts(
        &self,
        public: &Value,
        parts: Vec<PersonalPart>,
        owner: &str,
    ) -> Result<Sealed, StoreError> {
        let doc = s(public.to_string());
        if parts.is_empty() {
            return Ok(Sealed { doc, seal: None });
        }
        let key = self.current_key(owner).await?;
        let nonce: [u8; NONCE_LEN] = random()?;
        let mut blob = serde_json::to_vec(&parts).expect("JSON values serialise");
        cipher(&key.key)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), key.aad(), &mut blob)
            .map_err(|_| StoreError::unavailable("seal", "encryption failed"))?;
        blob.splice(0..0, nonce);
        Ok(Sealed {
            doc,
            seal: Some([("p", AttributeValue::B(Blob::new(blob))), ("ko", s(key.owner)), ("kg", s(key.generation))]),
        })
    }

    /// The record an item stores, its sealed fields put back (absent if their key was
    /// destroyed: the record reads as erased). `id` names the item in a decoding error.
    pub(super) async fn open<T: DeserializeOwned>(&self, it: &Item, id: &str) -> Result<T, StoreError> {
        self.open_as(it, "doc", id).await
    }

    /// [`Self::open`] for a record stored as attribute `name`.
    pub(super) async fn open_as<T: DeserializeOwned>(&self, it: &Item, name: &str, id: &str) -> Result<T, StoreError> {
        let doc = get_s(it, name).ok_or_else(|| StoreError::corrupt(id, format!("item has no {name} attribute")))?;
        let mut value: Value = serde_json::from_str(doc).map_err(|e| StoreError::corrupt(id, e))?;
        if let (Some(blob), Some(owner), Some(generation)) =
            (it.get("p").and_then(|v| v.as_b().ok()), get_s(it, "ko"), get_s(it, "kg"))
            && let Some(key) = self.key_of(owner, generation).await?
        {
            let owner_key = OwnerKey { owner: owner.to_owned(), generation: generation.to_owned(), key };
            let (nonce, sealed) =
                blob.as_ref().split_at_checked(NONCE_LEN).ok_or_else(|| StoreError::corrupt(id, "short seal"))?;
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::corrupt(id, "bad nonce"))?;
            let mut sealed = sealed.to_vec();
            let plain = cipher(&key)
                .open_in_place(nonce, owner_key.aad(), &mut sealed)
                .map_err(|_| StoreError::corrupt(id, "seal does not open under its key"))?;
            let parts: Vec<PersonalPart> = serde_json::from_slice(plain).map_err(|e| StoreError::corrupt(id, e))?;
            personal::restore(&mut value, parts);
        }
        serde_json::from_value(value).map_err(|e| StoreError::corrupt(id, e))
    }

    /// What can be read of any item with the keys as they are now: its record (`doc`, or a
    /// webhook's `response`) with its sealed fields opened; empty for an item with neither. For
    /// inspecting a table, or a restored copy of one, the way the store itself would read it.
    pub async fn readable(&self, it: &Item) -> Result<String, StoreError> {
        let Some(name) = ["doc", "response"].into_iter().find(|name| it.contains_key(*name)) else {
            return Ok(String::new());
        };
        Ok(self.open_as::<Value>(it, name, "an inspected item").await?.to_string())
    }

    /// Every item's record ([`Self::open`]), their keys read in batches first.
    pub(super) async fn open_all<T: DeserializeOwned>(&self, items: &[Item], id: &str) -> Result<Vec<T>, StoreError> {
        self.read_keys(items).await?;
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            out.push(self.open(it, id).await?);
        }
        Ok(out)
    }

    /// Caches the keys these items were sealed under, 100 owners per request.
    async fn read_keys(&self, items: &[Item]) -> Result<(), StoreError> {
        let mut owners: Vec<&str> = items
            .iter()
            .filter_map(|it| Some((get_s(it, "ko")?, get_s(it, "kg")?)))
            .filter(|(owner, generation)| self.keys.get(owner, generation).is_none())
            .map(|(owner, _)| owner)
            .collect();
        owners.sort_unstable();
        owners.dedup();
        for chunk in owners.chunks(100) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            for owner in chunk {
                wanted = wanted.keys(item([("owner", s(*owner))]));
            }
            let mut request = Some(wanted.build().map_err(unavailable("read sealing keys"))?);
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.keys, keys)
                    .send()
                    .await
                    .map_err(unavailable("read sealing keys"))?;
                for found in out.responses.unwrap_or_default().remove(&self.tables.keys).unwrap_or_default() {
                    if let Some(k) = OwnerKey::from_item(&found) {
                        self.keys.put(&k, false);
                    }
                }
                request = out.unprocessed_keys.unwrap_or_default().remove(&self.tables.keys);
            }
        }
        Ok(())
    }

    /// `owner`'s key of `generation`, or `None` if it was destroyed.
    async fn key_of(&self, owner: &str, generation: &str) -> Result<Option<KeyBytes>, StoreError> {
        if let Some(key) = self.keys.get(owner, generation) {
            return Ok(Some(key));
        }
        let Some(key) = self.read_current_key(owner).await? else { return Ok(None) };
        Ok((key.generation == generation).then_some(key.key))
    }

    /// `owner`'s key as `rft-keys` holds it now (a consistent read), cached as current.
    async fn read_current_key(&self, owner: &str) -> Result<Option<OwnerKey>, StoreError> {
        let found = self.get_item("read a sealing key", &self.tables.keys, item([("owner", s(owner))])).await?;
        let key = found.as_ref().and_then(OwnerKey::from_item);
        if let Some(key) = &key {
            self.keys.put(key, true);
        }
        Ok(key)
    }

    /// `owner`'s current key, created if it has none.
    async fn current_key(&self, owner: &str) -> Result<OwnerKey, StoreError> {
        if let Some(key) = self.keys.current(owner) {
            return Ok(key);
        }
        for _ in 0..3 {
            if let Some(key) = self.read_current_key(owner).await? {
                return Ok(key);
            }
            let fresh = OwnerKey { owner: owner.to_owned(), generation: hex::encode(random::<16>()?), key: random()? };
            let row = item([
                ("owner", s(owner)),
                ("kg", s(fresh.generation.as_str())),
                ("k", AttributeValue::B(Blob::new(fresh.key.to_vec()))),
            ]);
            let put = self
                .client
                .put_item()
                .table_name(&self.tables.keys)
                .set_item(Some(row))
                .condition_expression("attribute_not_exists(#owner)")
                .expression_attribute_names("#owner", "owner");
            if conditional("create a sealing key", put.send()).await?.is_some() {
                self.keys.put(&fresh, true);
                return Ok(fresh);
            }
        }
        Err(StoreError::unavailable("create a sealing key", "the key kept changing"))
    }
}

#[async_trait]
impl PersonalKeys for DynamoStore {
    async fn destroy(&self, owners: &[String]) -> Result<(), StoreError> {
        for owner in owners {
            self.client
                .delete_item()
                .table_name(&self.tables.keys)
                .key("owner", s(owner.as_str()))
                .send()
                .await
                .map_err(unavailable("destroy a sealing key"))?;
            self.keys.forget(owner);
        }
        Ok(())
    }

    async fn remember_erasure(&self, opaque: &CustomerId) -> Result<(), StoreError> {
        self.put_item("remember an erasure", &self.tables.keys, item([("owner", s(erasure_key(opaque)))])).await
    }

    async fn was_erased(&self, opaque: &CustomerId) -> Result<bool, StoreError> {
        let key = item([("owner", s(erasure_key(opaque)))]);
        Ok(self.get_item("read an erasure", &self.tables.keys, key).await?.is_some())
    }
}

/// An erasure's row in `rft-keys` (beside the keys: the one table a restore does not roll
/// back), named by the customer's opaque id.
fn erasure_key(opaque: &CustomerId) -> String {
    format!("erased#{}", opaque.as_str())
}
