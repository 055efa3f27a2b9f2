//! RFC 2136 UPDATE, signed with TSIG (RFC 8945), on the one change path.
//!
//! A request is checked in RFC 2136 §3's order: the zone (NOTAUTH when
//! not served here), the signature (REFUSED without one, NOTAUTH with a
//! bad one or outside the time fudge), the prerequisites (§3.2), the
//! updates' form (§3.4.1) and the grants of the key (REFUSED for anything
//! outside them). The updates are then applied in order (§3.4.2) to the
//! RRsets they touch and the difference is written in one transaction
//! with a serial bump and a journal entry; a request that fails anywhere
//! changes nothing. UDP workers hand UPDATE messages to the runtime, as
//! they wait on the database.

pub mod tsig;

use std::collections::HashMap;

use base::name::Name;
use base::{rdata, types};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Record, RecordData};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use crate::change::{ChangeError, ChangeSet, Removal, ZoneChange};
use crate::store::{Store, StoredRecord};
use tsig::{Signed, TsigKey};

/// RCODEs of UPDATE answers (RFC 1035, RFC 2136 §2.2).
mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const REFUSED: u8 = 5;
    pub const YXDOMAIN: u8 = 6;
    pub const YXRRSET: u8 = 7;
    pub const NXRRSET: u8 = 8;
    pub const NOTAUTH: u8 = 9;
    pub const NOTZONE: u8 = 10;
}

/// What a key may change: `[[update.grants]]`.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The key's name, lowercase, absolute.
    pub key: Name,
    /// The zone, lowercase, absolute.
    pub zone: Name,
    /// Owner patterns relative to the zone: labels, `@` for the apex, and
    /// `*` for one or more labels.
    pub names: Vec<String>,
    /// Type mnemonics; empty means any but SOA, apex NS and DNSSEC types.
    pub types: Vec<String>,
}

impl Grant {
    fn allows(&self, owner: &Name, rtype: u16) -> bool {
        let relative = relative_labels(owner, &self.zone);
        let name_ok = self.names.iter().any(|pattern| {
            let pattern: Vec<&str> = if pattern == "@" {
                Vec::new()
            } else {
                pattern.trim_end_matches('.').split('.').collect()
            };
            glob(&pattern, &relative)
        });
        let type_ok = if self.types.is_empty() {
            let apex = owner.eq_ignore_case(&self.zone);
            let reserved = matches!(
                rtype,
                types::SOA | types::DNSKEY | types::RRSIG | types::NSEC | types::NSEC3 | types::NSEC3PARAM
            );
            !reserved && (!apex || rtype != types::NS)
        } else {
            self.types
                .iter()
                .any(|wanted| types::type_from_str(wanted) == Some(rtype))
        };
        name_ok && type_ok
    }
}

/// `owner`'s labels below `zone`, lowercase.
fn relative_labels(owner: &Name, zone: &Name) -> Vec<String> {
    let text = owner.to_lowercase().to_string();
    let zone = zone.to_string();
    let relative = text.strip_suffix(&zone).unwrap_or(&text).trim_end_matches('.');
    if relative.is_empty() {
        Vec::new()
    } else {
        relative.split('.').map(str::to_string).collect()
    }
}

/// Label glob: `*` matches one or more labels.
fn glob(pattern: &[&str], labels: &[String]) -> bool {
    match pattern.split_first() {
        None => labels.is_empty(),
        Some((&"*", rest)) => (1..=labels.len()).any(|taken| glob(rest, &labels[taken..])),
        Some((first, rest)) => labels
            .split_first()
            .is_some_and(|(label, others)| label.eq_ignore_ascii_case(first) && glob(rest, others)),
    }
}

/// The TSIG keys of the server: those of `[[tsig]]`, and those made with
/// `pooldns tsig add`, read from the store when a message names them.
/// UPDATE and zone transfers share it.
pub struct Keyring {
    store: Store,
    keys: HashMap<Name, TsigKey>,
    kek: Option<std::sync::Arc<crate::dnssec::crypto::KeyEncryptionKey>>,
}

impl Keyring {
    /// A keyring of `keys`, and of the store's keys sealed with `kek`.
    pub fn new(
        store: Store,
        keys: Vec<TsigKey>,
        kek: Option<std::sync::Arc<crate::dnssec::crypto::KeyEncryptionKey>>,
    ) -> Keyring {
        Keyring {
            store,
            keys: keys.into_iter().map(|key| (key.name.clone(), key)).collect(),
            kek,
        }
    }

    /// The keys of `[[tsig]]`, secrets read from their files.
    pub fn from_config(
        store: Store,
        config: &crate::config::Config,
        kek: Option<std::sync::Arc<crate::dnssec::crypto::KeyEncryptionKey>>,
    ) -> Result<Keyring, String> {
        let mut keys = Vec::new();
        for key in &config.tsig {
            let algorithm = tsig::Algorithm::from_name(&key.algorithm).ok_or_else(|| {
                format!(
                    "[[tsig]] {}: unknown algorithm {:?} (hmac-sha256, hmac-sha512 or hmac-sha1)",
                    key.name, key.algorithm
                )
            })?;
            let secret = match (&key.secret, &key.secret_file) {
                (Some(secret), _) => secret.expose().to_string(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|error| format!("[[tsig]] {}: cannot read {}: {error}", key.name, path.display()))?,
                (None, None) => return Err(format!("[[tsig]] {}: no secret", key.name)),
            };
            keys.push(TsigKey::new(&key.name, algorithm, &secret)?);
        }
        Ok(Keyring::new(store, keys, kek))
    }

    /// Whether a TSIG key called `name` exists, configured or stored.
    pub async fn has_key(&self, name: &Name) -> bool {
        self.key(name).await.is_some()
    }

    /// The key called `name`: configured, or stored.
    pub async fn key(&self, name: &Name) -> Option<TsigKey> {
        if let Some(key) = self.keys.get(name) {
            return Some(key.clone());
        }
        let stored = match self.store.tsig_key(&name.to_string()).await {
            Ok(stored) => stored?,
            Err(error) => {
                tracing::warn!(%error, "cannot read TSIG keys");
                return None;
            }
        };
        let algorithm = tsig::Algorithm::from_name(&stored.algorithm)?;
        match tsig::open_secret(name, &stored.secret, self.kek.as_deref())
            .and_then(|secret| TsigKey::from_secret(&stored.name, algorithm, secret))
        {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::warn!(%error, "stored TSIG key unusable");
                None
            }
        }
    }
}

/// Answers UPDATE messages.
pub struct UpdateService {
    store: Store,
    keyring: std::sync::Arc<Keyring>,
    grants: Vec<Grant>,
}

/// One record of the prerequisite or update section.
struct Entry {
    name: Name,
    rtype: u16,
    class: DNSClass,
    ttl: u32,
    /// Presentation RDATA; `None` when the RDATA is empty.
    content: Option<String>,
}

impl UpdateService {
    /// A service with these keys and grants.
    pub fn new(store: Store, keyring: std::sync::Arc<Keyring>, grants: Vec<Grant>) -> UpdateService {
        UpdateService { store, keyring, grants }
    }

    /// The service of `[[update.grants]]` over `keyring`.
    pub fn from_config(
        store: Store,
        config: &crate::config::Config,
        keyring: std::sync::Arc<Keyring>,
    ) -> Result<UpdateService, String> {
        let absolute = |text: &str| {
            let text = if text.ends_with('.') {
                text.to_string()
            } else {
                format!("{text}.")
            };
            Name::parse(&text, None)
                .map(|name| name.to_lowercase())
                .map_err(|error| format!("[[update.grants]] {text:?}: {error}"))
        };
        let mut grants = Vec::new();
        for grant in &config.update.grants {
            grants.push(Grant {
                key: absolute(&grant.key)?,
                zone: absolute(&grant.zone)?,
                names: grant.names.clone(),
                types: grant.types.clone(),
            });
        }
        Ok(UpdateService::new(store, keyring, grants))
    }

    /// Whether `wire` is an UPDATE message (opcode 5).
    pub fn is_update(wire: &[u8]) -> bool {
        wire.len() >= 12 && (wire[2] >> 3) & 0x0f == 5 && wire[2] & 0x80 == 0
    }

    /// The answer to an UPDATE message; `None` for what deserves none.
    pub async fn answer(&self, wire: &[u8]) -> Option<Vec<u8>> {
        // Shorter than a header: not even an ID to answer.
        if wire.len() < 12 {
            return None;
        }
        let now = base::time::unix_now();
        let signed = match tsig::find(wire) {
            Ok(signed) => signed,
            Err(_) => return Some(reply(wire, rcode::FORMERR)),
        };
        let unsigned = match &signed {
            Some(signed) => tsig::unsigned_message(wire, signed),
            None => wire.to_vec(),
        };
        let Ok(message) = Message::from_vec(&unsigned) else {
            return Some(reply(wire, rcode::FORMERR));
        };
        // The key, and whether the signature holds.
        let found = match &signed {
            Some(signed) => self.keyring.key(&signed.key_name).await,
            None => None,
        };
        let key = match &signed {
            None => None,
            Some(signed) => match &found {
                None => return Some(tsig_error(wire, signed, now, tsig::BADKEY)),
                Some(key) => match tsig::verify(wire, signed, key, now) {
                    Ok(()) => Some((key, signed)),
                    Err(tsig::BADTIME) => {
                        let mut response = reply(&unsigned, rcode::NOTAUTH);
                        tsig::sign(&mut response, signed, key, now, tsig::BADTIME);
                        return Some(response);
                    }
                    Err(error) => return Some(tsig_error(wire, signed, now, error)),
                },
            },
        };
        let code = self.apply(&message, key.map(|(key, _)| key)).await;
        let mut response = reply(&unsigned, code);
        if let Some((key, signed)) = key {
            tsig::sign(&mut response, signed, key, now, 0);
        }
        Some(response)
    }

    async fn apply(&self, message: &Message, key: Option<&TsigKey>) -> u8 {
        let [zone_query] = message.queries.as_slice() else {
            return rcode::FORMERR;
        };
        if u16::from(zone_query.query_type()) != types::SOA {
            return rcode::FORMERR;
        }
        let Ok(zone) = Name::parse(&zone_query.name().to_string(), None).map(|name| name.to_lowercase()) else {
            return rcode::FORMERR;
        };
        let zone_text = zone.to_string();
        match self.store.zone_id(&zone_text).await {
            Ok(_) => {}
            Err(crate::store::StoreError::NoSuchZone(_)) => return rcode::NOTAUTH,
            Err(_) => return rcode::SERVFAIL,
        }
        let Some(key) = key else {
            return rcode::REFUSED;
        };
        let grants: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|grant| grant.key == key.name && grant.zone == zone)
            .collect();
        if grants.is_empty() {
            return rcode::REFUSED;
        }
        let (Ok(prerequisites), Ok(updates)) = (entries(&message.answers), entries(&message.authorities)) else {
            return rcode::FORMERR;
        };
        if prerequisites
            .iter()
            .chain(&updates)
            .any(|entry| !entry.name.ends_with(&zone))
        {
            return rcode::NOTZONE;
        }
        if let Some(code) = prescan(&updates) {
            return code;
        }
        if !updates
            .iter()
            .all(|update| grants.iter().any(|grant| grant.allows(&update.name, update.rtype)))
        {
            return rcode::REFUSED;
        }
        match self.write(&zone, &prerequisites, &updates, &key.name).await {
            Ok(code) => code,
            Err(error) => {
                tracing::error!(%error, zone = %zone_text, "UPDATE not applied");
                rcode::SERVFAIL
            }
        }
    }

    /// Checks the prerequisites and applies the updates in one transaction.
    async fn write(
        &self,
        zone: &Name,
        prerequisites: &[Entry],
        updates: &[Entry],
        key: &Name,
    ) -> Result<u8, ChangeError> {
        let zone_text = zone.to_string();
        let mut writer = self.store.writer().await?;
        let Some(locked) = writer.lock_zone(&zone_text).await? else {
            return Ok(rcode::NOTAUTH);
        };
        let mut names: Vec<String> = prerequisites
            .iter()
            .chain(updates)
            .map(|entry| entry.name.to_lowercase().to_string())
            .collect();
        names.sort();
        names.dedup();
        let mut current: Vec<StoredRecord> = Vec::new();
        for name in &names {
            current.extend(
                writer
                    .rows_at(&locked, name)
                    .await?
                    .into_iter()
                    .map(|(_, record)| record),
            );
        }
        if let Some(code) = check_prerequisites(prerequisites, &current) {
            return Ok(code);
        }
        let mut model = current.clone();
        for update in updates {
            apply_update(&mut model, update, zone);
        }
        let remove: Vec<Removal> = current
            .iter()
            .filter(|record| !model.contains(record))
            .cloned()
            .map(Removal::Record)
            .collect();
        let add: Vec<StoredRecord> = model.into_iter().filter(|record| !current.contains(record)).collect();
        ChangeSet::new(zone_text, ZoneChange::Edit { remove, add }, format!("update:{key}"))
            .apply(&mut writer)
            .await?;
        writer.commit().await?;
        Ok(rcode::NOERROR)
    }
}

/// The records of a section, RDATA in presentation format.
fn entries(records: &[Record]) -> Result<Vec<Entry>, ()> {
    records
        .iter()
        .map(|record| {
            let rtype = u16::from(record.record_type());
            let name = Name::parse(&record.name.to_string(), None).map_err(|_| ())?;
            let content = if record.data.is_update() {
                None
            } else {
                let mut wire = Vec::new();
                let mut encoder = BinEncoder::new(&mut wire);
                encoder.set_canonical_form(true);
                record.data.emit(&mut encoder).map_err(|_| ())?;
                if wire.is_empty() {
                    None
                } else {
                    Some(rdata::format_rdata(rtype, &wire).map_err(|_| ())?)
                }
            };
            Ok(Entry {
                name: name.to_lowercase(),
                rtype,
                class: record.dns_class,
                ttl: record.ttl,
                content,
            })
        })
        .collect()
}

fn same_name(record: &StoredRecord, name: &Name) -> bool {
    record
        .name
        .trim_end_matches('.')
        .eq_ignore_ascii_case(name.to_string().trim_end_matches('.'))
}

fn same_type(record: &StoredRecord, rtype: u16) -> bool {
    types::type_from_str(&record.rtype) == Some(rtype)
}

/// RFC 2136 §3.2.
fn check_prerequisites(prerequisites: &[Entry], records: &[StoredRecord]) -> Option<u8> {
    let mut value_dependent: Vec<&Entry> = Vec::new();
    for entry in prerequisites {
        if entry.ttl != 0 {
            return Some(rcode::FORMERR);
        }
        let at_name = || records.iter().filter(|record| same_name(record, &entry.name));
        match (entry.class, entry.rtype, &entry.content) {
            (DNSClass::ANY, types::ANY, None) if at_name().next().is_none() => return Some(rcode::NXDOMAIN),
            (DNSClass::ANY, types::ANY, None) => {}
            (DNSClass::ANY, rtype, None) if !at_name().any(|record| same_type(record, rtype)) => {
                return Some(rcode::NXRRSET)
            }
            (DNSClass::ANY, _, None) => {}
            (DNSClass::NONE, types::ANY, None) if at_name().next().is_some() => return Some(rcode::YXDOMAIN),
            (DNSClass::NONE, types::ANY, None) => {}
            (DNSClass::NONE, rtype, None) if at_name().any(|record| same_type(record, rtype)) => {
                return Some(rcode::YXRRSET)
            }
            (DNSClass::NONE, _, None) => {}
            (DNSClass::IN, _, Some(_)) => value_dependent.push(entry),
            _ => return Some(rcode::FORMERR),
        }
    }
    // Value-dependent prerequisites: each RRset named must equal, as a
    // set, the records given for it.
    let mut sets: Vec<(&Name, u16)> = value_dependent.iter().map(|entry| (&entry.name, entry.rtype)).collect();
    sets.dedup();
    for (name, rtype) in sets {
        let mut wanted: Vec<&str> = value_dependent
            .iter()
            .filter(|entry| entry.name == *name && entry.rtype == rtype)
            .filter_map(|entry| entry.content.as_deref())
            .collect();
        let mut have: Vec<&str> = records
            .iter()
            .filter(|record| same_name(record, name) && same_type(record, rtype))
            .map(|record| record.content.as_str())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        have.sort_unstable();
        if wanted != have {
            return Some(rcode::NXRRSET);
        }
    }
    None
}

/// RFC 2136 §3.4.1.
fn prescan(updates: &[Entry]) -> Option<u8> {
    for update in updates {
        let meta = types::is_meta_type(update.rtype);
        let ok = match update.class {
            // A TTL past 2^31 - 1 (RFC 2181 §8) would be stored and then
            // keep the zone from loading.
            DNSClass::IN => !meta && update.content.is_some() && update.ttl <= crate::zone::file::MAX_TTL,
            DNSClass::ANY => update.ttl == 0 && update.content.is_none() && (!meta || update.rtype == types::ANY),
            DNSClass::NONE => update.ttl == 0 && !meta && update.content.is_some(),
            _ => false,
        };
        if !ok {
            return Some(rcode::FORMERR);
        }
    }
    None
}

/// RFC 2136 §3.4.2, on the records at the touched names.
fn apply_update(model: &mut Vec<StoredRecord>, update: &Entry, zone: &Name) {
    let apex = update.name.eq_ignore_case(zone);
    let name = update.name.to_string();
    let protected = |record: &StoredRecord| apex && (same_type(record, types::SOA) || same_type(record, types::NS));
    match update.class {
        DNSClass::IN => {
            let Some(content) = &update.content else { return };
            if update.rtype == types::SOA {
                // The serial is the server's; other SOA fields come from zone files.
                return;
            }
            let dnssec = [types::RRSIG, types::NSEC, types::NSEC3];
            let here: Vec<&StoredRecord> = model.iter().filter(|record| same_name(record, &update.name)).collect();
            let has_cname = here.iter().any(|record| same_type(record, types::CNAME));
            let has_other = here
                .iter()
                .any(|record| !same_type(record, types::CNAME) && !dnssec.iter().any(|t| same_type(record, *t)));
            if update.rtype == types::CNAME && has_other {
                return;
            }
            if update.rtype != types::CNAME && has_cname && !dnssec.contains(&update.rtype) {
                return;
            }
            if update.rtype == types::CNAME {
                model.retain(|record| !(same_name(record, &update.name) && same_type(record, types::CNAME)));
            }
            // One TTL per RRset (RFC 2181 §5.2): the newest.
            for record in model.iter_mut() {
                if same_name(record, &update.name) && same_type(record, update.rtype) {
                    record.ttl = i64::from(update.ttl);
                }
            }
            let record = StoredRecord {
                name,
                rtype: types::type_to_string(update.rtype),
                ttl: i64::from(update.ttl),
                content: content.clone(),
            };
            if !model.contains(&record) {
                model.push(record);
            }
        }
        DNSClass::ANY if update.rtype == types::ANY => {
            model.retain(|record| !same_name(record, &update.name) || protected(record));
        }
        DNSClass::ANY => {
            if apex && (update.rtype == types::SOA || update.rtype == types::NS) {
                return;
            }
            model.retain(|record| !(same_name(record, &update.name) && same_type(record, update.rtype)));
        }
        DNSClass::NONE => {
            if update.rtype == types::SOA {
                return;
            }
            let apex_ns = model
                .iter()
                .filter(|record| apex && same_name(record, &update.name) && same_type(record, types::NS))
                .count();
            if apex && update.rtype == types::NS && apex_ns <= 1 {
                return;
            }
            let content = update.content.as_deref().unwrap_or_default();
            model.retain(|record| {
                !(same_name(record, &update.name) && same_type(record, update.rtype) && record.content == content)
            });
        }
        _ => {}
    }
}

/// A reply to `request` (header and zone section) with `code`; NOTIFY
/// answers the same way.
pub(crate) fn reply(request: &[u8], code: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&request[0..2]);
    // QR, the request's opcode, no other flags.
    out.push(0x80 | (request[2] & 0x78));
    out.push(code & 0x0f);
    // The zone section is echoed when it parses; counts otherwise zero.
    let zone = zone_section(request);
    out.extend_from_slice(&(u16::from(zone.is_some())).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    if let Some(zone) = zone {
        out.extend_from_slice(zone);
    }
    out
}

/// The first question of a message, as it is on the wire, if it is
/// uncompressed and whole.
fn zone_section(wire: &[u8]) -> Option<&[u8]> {
    if wire.len() < 12 || u16::from_be_bytes([wire[4], wire[5]]) == 0 {
        return None;
    }
    let (_, used) = Name::from_wire_prefix(&wire[12..]).ok()?;
    wire.get(12..12 + used + 4)
}

/// NOTAUTH with an unsigned TSIG record that carries `error`.
pub(crate) fn tsig_error(request: &[u8], signed: &Signed, now: u64, error: u16) -> Vec<u8> {
    let mut response = reply(request, rcode::NOTAUTH);
    tsig::append_unsigned(&mut response, signed, now, error);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns_glob_labels() {
        let labels = |text: &str| -> Vec<String> { text.split('.').map(str::to_string).collect() };
        assert!(glob(&["_acme-challenge", "*"], &labels("_acme-challenge.www")));
        assert!(!glob(&["_acme-challenge", "*"], &labels("_acme-challenge")));
        assert!(glob(&["*"], &labels("a.b.c")));
        assert!(glob(&[], &[]));
        assert!(!glob(&["www"], &labels("www.x")));
        assert!(glob(&["*", "apps"], &labels("x.y.apps")));
    }

    #[tokio::test]
    async fn messages_shorter_than_a_header_get_no_answer() {
        // Found by fuzzing: the reply echoed a header that was not there.
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&format!("sqlite://{}/update.db", dir.path().display()))
            .await
            .expect("store");
        let keyring = std::sync::Arc::new(Keyring::new(store.clone(), Vec::new(), None));
        let service = UpdateService::new(store, keyring, Vec::new());
        for length in 0..12 {
            assert_eq!(service.answer(&vec![0x28; length]).await, None, "{length} bytes");
        }
    }
}
