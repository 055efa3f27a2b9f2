//! The DNSSEC half of a zone snapshot: its denial chain and the
//! signatures of its RRsets.
//!
//! [`SignedZone::new`] turns a built [`Zone`] into a secured one: it adds
//! the NSEC records to the zone's nodes (or builds the NSEC3 chain beside
//! it). [`SignedZone::presign`] then signs every RRset before the snapshot
//! is served, so answers only copy signatures. The RRSIGs of a node's
//! RRsets are kept in the node itself: a change that copies a few nodes
//! keeps the signatures of all others ([`SignedZone::with_changes`]).

use std::sync::Arc;

use base::rdata::lua;
use base::types;

use super::cache::SignatureCache;
use super::denial::{nsec_rdata, Nsec3Chain, Nsec3Params, NsecOrder};
use super::signer::ZoneSigner;
use super::window::Window;
use super::ZoneKey;
use crate::zone::{soa_minimum, Edited, Node, RRset, Zone};

/// The DNSSEC state of a secured zone snapshot.
pub struct SignedZone {
    signer: ZoneSigner,
    denial: Denial,
    /// TTL of NSEC and NSEC3 records: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3).
    negative_ttl: u32,
    computed: Computed,
}

/// How the zone proves that names and types do not exist.
pub enum Denial {
    /// NSEC records sit in the zone's nodes; this is their order.
    Nsec(NsecOrder),
    /// NSEC3 records, signed in the signer's slots.
    Nsec3(Nsec3Chain),
}

/// Which denial a zone uses.
pub enum DenialKind {
    Nsec,
    Nsec3(Nsec3Params),
}

impl SignedZone {
    /// Secures `zone`: adds its NSEC records (or builds the NSEC3 chain).
    ///
    /// The zone must already hold its DNSKEY, CDS, CDNSKEY (and
    /// NSEC3PARAM) records; see [`super::prepare_records`]. With
    /// `computed` says which records the answer path computes: LUA
    /// records count in denial records as the types they produce, or as
    /// nothing when LUA is off; ALIAS names have A and AAAA when ALIAS
    /// records are resolved.
    pub fn new(
        zone: &mut Zone,
        keys: Vec<ZoneKey>,
        denial: DenialKind,
        computed: Computed,
        window: Window,
        cache: Arc<SignatureCache>,
    ) -> SignedZone {
        let negative_ttl = negative_ttl(zone);
        let denial = match denial {
            DenialKind::Nsec => Denial::Nsec(add_nsec_records(zone, computed, negative_ttl)),
            DenialKind::Nsec3(params) => {
                let names = nsec3_names(zone, computed, params.opt_out);
                Denial::Nsec3(Nsec3Chain::build(zone.apex().as_wire(), names, params))
            }
        };
        SignedZone {
            signer: ZoneSigner::new(zone.apex().as_wire(), keys, window, cache),
            denial,
            negative_ttl,
            computed,
        }
    }

    /// The secured state of a zone signed elsewhere (see
    /// [`super::presigned`]): no keys, the denial chain its records make.
    pub fn presigned(
        apex: &[u8],
        denial: Denial,
        negative_ttl: u32,
        window: Window,
        cache: Arc<SignatureCache>,
    ) -> SignedZone {
        SignedZone {
            signer: ZoneSigner::new(apex, Vec::new(), window, cache),
            denial,
            negative_ttl,
            computed: Computed::default(),
        }
    }

    /// The secured form of `zone`, this snapshot's zone with the changes
    /// `edited` reports applied: the NSEC records of the changed names and
    /// of their neighbours in the chain are made again, and only their
    /// RRsets are signed again. `None` when the change touches more than
    /// that (an NSEC3 chain, or a new negative TTL); the zone is then
    /// secured from scratch.
    pub fn with_changes(&self, before: &Zone, zone: &mut Zone, edited: &Edited) -> Option<SignedZone> {
        // A zone signed elsewhere changes with its signatures.
        if negative_ttl(zone) != self.negative_ttl || self.signer.keys().is_empty() {
            return None;
        }
        let order = match &self.denial {
            Denial::Nsec(order) => order,
            Denial::Nsec3(chain) => return Some(self.with_nsec3_changes(chain, zone, edited)),
        };
        let is_member =
            |zone: &Zone, node: &Node| zone.owns(node) && node.rrsets().any(|rrset| rrset.rtype != types::NSEC);
        let mut order = order.clone();
        // Leaving the chain; the chain is still ordered by the names
        // before the change.
        let leaving: Vec<(u32, &[u8])> = edited
            .removed
            .iter()
            .map(|(index, name)| (*index, &name[..]))
            .chain(
                edited
                    .changed
                    .iter()
                    .map(|&index| (index, zone.node_at(index)))
                    .filter(|(_, node)| !is_member(zone, node))
                    .map(|(index, node)| (index, node.name_wire())),
            )
            .collect();
        let mut gaps = Vec::new();
        for (index, name) in leaving {
            if order.remove(index, name, |index| before.node_at(index).name_wire()) {
                gaps.push(name);
            }
        }
        // Joining or staying in the chain.
        let new_name = |index: u32| zone.node_at(index).name_wire();
        let mut renew = Vec::new();
        for &index in &edited.changed {
            let node = zone.node_at(index);
            if is_member(zone, node) {
                order.insert(index, new_name);
                renew.push(index);
            }
        }
        // The neighbours before every change to the chain point elsewhere now.
        let mut neighbours: Vec<u32> = gaps
            .iter()
            .copied()
            .chain(renew.iter().map(|&index| new_name(index)))
            .filter_map(|name| order.before(name, new_name))
            .collect();
        neighbours.retain(|index| !renew.contains(index));
        neighbours.sort_unstable();
        neighbours.dedup();
        let chain = order.nodes();
        let mut updates = Vec::new();
        for index in renew.iter().chain(&neighbours).copied() {
            let position = order.position(new_name(index), new_name)?;
            let next = chain[(position + 1) % chain.len()];
            let rdata = nsec_of(zone.node_at(index), new_name(next), self.computed);
            let current = zone.node_at(index).rrset(types::NSEC).and_then(|nsec| nsec.first());
            if current != Some(rdata.as_slice()) {
                updates.push((index, rdata));
            }
        }
        let mut touched = edited.changed.clone();
        for (index, rdata) in updates {
            zone.set_rrset(index, types::NSEC, Some((self.negative_ttl, &rdata)));
            touched.push(index);
        }
        let signed = self.next(Denial::Nsec(order));
        signed.sign_nodes(zone, &touched);
        Some(signed)
    }

    /// [`SignedZone::with_changes`] for an NSEC3 zone.
    fn with_nsec3_changes(&self, chain: &Nsec3Chain, zone: &Zone, edited: &Edited) -> SignedZone {
        let opt_out = chain.params().opt_out;
        let mut leaving: Vec<&[u8]> = edited.removed.iter().map(|(_, name)| &name[..]).collect();
        let mut present = Vec::new();
        for &index in &edited.changed {
            let node = zone.node_at(index);
            match nsec3_types(zone, node, self.computed, opt_out) {
                Some(types) => present.push((node.name_wire(), types)),
                None => leaving.push(node.name_wire()),
            }
        }
        let (chain, new_records) = chain.with_changes(zone.apex().as_wire(), &leaving, &present);
        let signed = self.next(Denial::Nsec3(chain));
        signed.sign_nodes(zone, &edited.changed);
        for position in new_records {
            signed.nsec3_rrsigs(position);
        }
        signed
    }

    /// The secured state of the next snapshot: same keys, window and
    /// negative TTL, this denial.
    fn next(&self, denial: Denial) -> SignedZone {
        SignedZone {
            signer: self.signer.clone(),
            denial,
            negative_ttl: self.negative_ttl,
            computed: self.computed,
        }
    }

    /// Signs the RRsets of the nodes `indexes` that belong to the zone;
    /// every other node keeps its signatures.
    fn sign_nodes(&self, zone: &Zone, indexes: &[u32]) {
        for &index in indexes {
            let node = zone.node_at(index);
            if let Some(rrset) = node.rrsets().next().filter(|_| zone.owns(node)) {
                self.rrsigs(node, rrset);
            }
        }
    }

    /// When the signatures this server makes for the zone expire (Unix
    /// time); `None` for a zone signed elsewhere, whose signatures are
    /// served as they came.
    pub fn signatures_expire(&self) -> Option<u32> {
        (!self.signer.keys().is_empty()).then(|| self.signer.window().expiration)
    }

    /// The signer of this snapshot.
    pub fn signer(&self) -> &ZoneSigner {
        &self.signer
    }

    /// The denial chain.
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// TTL of the zone's NSEC or NSEC3 records.
    pub fn negative_ttl(&self) -> u32 {
        self.negative_ttl
    }

    /// The RRSIGs of an RRset of `node` (its stored owner is signed), as
    /// an RDATA list ([`base::rdata::list`]); every RRset of the node this
    /// zone signs is signed on first use.
    pub fn rrsigs<'z>(&self, node: &'z Node, rrset: RRset<'_>) -> &'z [u8] {
        let mut signatures: &[u8] = node.signatures().get_or_init(|| Box::new(self.sign_node(node)));
        for _ in 0..rrset.index {
            let len = u16::from_be_bytes([signatures[0], signatures[1]]) as usize;
            signatures = &signatures[2 + len..];
        }
        let len = u16::from_be_bytes([signatures[0], signatures[1]]) as usize;
        &signatures[2..2 + len]
    }

    /// The RRSIGs of every RRset of `node`, each as a 2-octet length and
    /// an RDATA list; none for RRsets at a cut other than DS and NSEC,
    /// which are the child's.
    fn sign_node(&self, node: &Node) -> Box<[u8]> {
        let mut out = Vec::new();
        let mut records = Vec::new();
        for rrset in node.rrsets() {
            let at = out.len();
            out.extend_from_slice(&[0, 0]);
            if !node.is_cut() || matches!(rrset.rtype, types::DS | types::NSEC) {
                records.clear();
                records.extend(rrset.rdata());
                self.signer
                    .sign_into(node.name_wire(), rrset.rtype, rrset.ttl, &records, &mut out);
            }
            let len = (out.len() - at - 2) as u16;
            out[at..at + 2].copy_from_slice(&len.to_be_bytes());
        }
        out.into_boxed_slice()
    }

    /// The RRSIGs of NSEC3 record `index` of the chain, signed on first use.
    pub fn nsec3_rrsigs(&self, index: usize) -> &[u8] {
        let Denial::Nsec3(chain) = &self.denial else {
            return &[];
        };
        let Some(entry) = chain.entries().get(index) else {
            return &[];
        };
        entry.signatures().get_or_init(|| {
            let mut out = Vec::new();
            self.signer
                .sign_into(&entry.owner, types::NSEC3, self.negative_ttl, &[&entry.rdata], &mut out);
            Box::new(out.into_boxed_slice())
        })
    }

    /// Signs every RRset of `zone` (the zone this was made for) that
    /// answers can carry, so that answers copy signatures instead of
    /// making them. The loader runs it before a snapshot is published, on
    /// every core: signing a large zone from nothing takes a while, and
    /// even finding a million signatures in the cache takes seconds.
    /// Nodes signed before (kept from the previous snapshot) cost nothing.
    pub fn presign(&self, zone: &Zone) {
        let blocks: Vec<&[Node]> = zone.blocks().collect();
        let nodes: usize = blocks.iter().map(|block| block.len()).sum();
        // Threads pay off for large zones only; a fleet has many small ones.
        let threads = if nodes < 10_000 {
            1
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        };
        let nsec3 = match &self.denial {
            Denial::Nsec3(chain) => chain.entries().len(),
            Denial::Nsec(_) => 0,
        };
        let nsec3_chunk = nsec3.div_ceil(threads).max(1);
        let sign_part = |part: usize| {
            for block in blocks.iter().skip(part).step_by(threads) {
                for node in block.iter().filter(|node| node.is_live() && zone.owns(node)) {
                    if let Some(rrset) = node.rrsets().next() {
                        self.rrsigs(node, rrset);
                    }
                }
            }
            let first = part * nsec3_chunk;
            for index in first..(first + nsec3_chunk).min(nsec3) {
                self.nsec3_rrsigs(index);
            }
        };
        if threads == 1 {
            return sign_part(0);
        }
        std::thread::scope(|scope| {
            for part in 0..threads {
                let sign_part = &sign_part;
                scope.spawn(move || sign_part(part));
            }
        });
    }

    /// The node of `zone` whose NSEC matches or covers `name` (NSEC zones
    /// only).
    pub fn nsec_covering<'z>(&self, zone: &'z Zone, name: &[u8]) -> Option<&'z Node> {
        let Denial::Nsec(order) = &self.denial else {
            return None;
        };
        order
            .covering(name, |index| zone.node_at(index).name_wire())
            .map(|index| zone.node_at(index))
    }
}

/// The TTL of a zone's NSEC and NSEC3 records: min(SOA TTL, SOA MINIMUM)
/// (RFC 9077 §3).
fn negative_ttl(zone: &Zone) -> u32 {
    let soa_ttl = zone.soa().map_or(0, |soa| soa.ttl);
    let minimum = zone
        .soa()
        .and_then(|soa| soa.first())
        .and_then(soa_minimum)
        .unwrap_or(soa_ttl);
    soa_ttl.min(minimum)
}

/// Which records the answer path computes per query.
#[derive(Clone, Copy, Debug, Default)]
pub struct Computed {
    /// LUA records are answered.
    pub lua: bool,
    /// ALIAS records answer A and AAAA queries.
    pub aliases: bool,
}

/// The types present at a node as a denial record shows them: at a cut
/// only NS and DS; LUA records as the types they produce, or nothing when
/// LUA records are not answered; ALIAS with A and AAAA when answered.
fn present_types(node: &Node, computed: Computed) -> Vec<u16> {
    let mut present = Vec::new();
    for rrset in node.rrsets() {
        if node.is_cut() && !matches!(rrset.rtype, types::NS | types::DS) {
            continue;
        }
        if rrset.rtype == types::LUA {
            // `LUA LUA` snippets produce nothing.
            if computed.lua {
                present.extend(
                    rrset
                        .rdata()
                        .filter_map(lua::produced_type)
                        .filter(|&t| t != types::LUA),
                );
            }
        } else {
            present.push(rrset.rtype);
            if rrset.rtype == types::ALIAS && computed.aliases {
                present.extend([types::A, types::AAAA]);
            }
        }
    }
    present.sort_unstable();
    present.dedup();
    present
}

/// Adds an NSEC RRset (RFC 4034 §4) to every name of `zone` with data,
/// in canonical order; returns that order.
fn add_nsec_records(zone: &mut Zone, computed: Computed, ttl: u32) -> NsecOrder {
    let members: Vec<u32> = zone
        .indexed_nodes()
        .filter(|(_, node)| zone.owns(node) && node.rrsets().next().is_some())
        .map(|(index, _)| index)
        .collect();
    let order = NsecOrder::new(members, |index| zone.node_at(index).name_wire());
    let chain = order.nodes();
    zone.add_rrsets(types::NSEC, chain, |zone, position| {
        let next = chain[(position + 1) % chain.len()];
        (
            ttl,
            nsec_of(zone.node_at(chain[position]), zone.node_at(next).name_wire(), computed),
        )
    });
    order
}

/// The NSEC RDATA of `node`, pointing at `next`.
fn nsec_of(node: &Node, next: &[u8], computed: Computed) -> Vec<u8> {
    let mut present = present_types(node, computed);
    present.retain(|&rtype| rtype != types::NSEC);
    present.extend([types::NSEC, types::RRSIG]);
    nsec_rdata(next, present)
}

/// Names of the NSEC3 chain with their types (RFC 5155 §7.1).
fn nsec3_names(zone: &Zone, computed: Computed, opt_out: bool) -> Vec<(Vec<u8>, Vec<u16>)> {
    zone.nodes()
        .filter_map(|node| Some((node.name_wire().to_vec(), nsec3_types(zone, node, computed, opt_out)?)))
        .collect()
}

/// The types of `node` as its NSEC3 record shows them; `None` when it has
/// none: every authoritative name and empty non-terminal has one, and
/// delegations unless opt-out leaves out those without DS.
fn nsec3_types(zone: &Zone, node: &Node, computed: Computed, opt_out: bool) -> Option<Vec<u16>> {
    if !zone.owns(node) {
        return None;
    }
    let mut present = present_types(node, computed);
    let unsigned_cut = node.is_cut() && !present.contains(&types::DS);
    if unsigned_cut && opt_out {
        return None;
    }
    if !present.is_empty() && !unsigned_cut {
        present.push(types::RRSIG);
    }
    Some(present)
}

#[cfg(test)]
mod tests {
    use base::name::Name;

    use super::*;
    use crate::catalog::Snapshot;
    use crate::dnssec::crypto::Algorithm;
    use crate::dnssec::keys::{new_keys, open_key};
    use crate::zone::{Change, Record};

    const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@        SOA   ns1 hostmaster 1 7200 3600 1209600 300
@        NS    ns1
ns1      A     192.0.2.53
www      A     192.0.2.80
a.b.c    TXT   deep
*.w      TXT   wild
deleg    NS    ns.deleg
ns.deleg A     192.0.2.201
zz       A     192.0.2.99
";

    fn records(text: &str) -> Vec<Record> {
        let apex: Name = "example.test.".parse().expect("name");
        crate::import::parse_and_check(text, "test", Some(&apex))
            .expect("parses")
            .1
    }

    fn record(line: &str) -> Record {
        let soa = if line.contains(" SOA ") {
            ""
        } else {
            "@ SOA ns1 hostmaster 1 7200 3600 1209600 300"
        };
        let text = format!("$ORIGIN example.test.\n$TTL 3600\n{soa}\n@ NS ns1\n{line}\n");
        records(&text).pop().expect("one record")
    }

    /// Secures `records` as the loader does, with the keys `sealed` and a
    /// shared cache, so that equal RRsets carry equal signatures.
    fn secure(
        mut records: Vec<Record>,
        sealed: &[crate::dnssec::keys::SealedKey],
        cache: &Arc<SignatureCache>,
        nsec3: Option<&Nsec3Params>,
    ) -> Snapshot {
        let apex: Name = "example.test.".parse().expect("name");
        let keys: Vec<ZoneKey> = sealed
            .iter()
            .enumerate()
            .map(|(id, key)| open_key(&apex, id as i64, key, None).expect("opens"))
            .collect();
        crate::dnssec::prepare_records(&apex, &mut records, &keys, nsec3);
        let mut zone = Zone::build(&apex, records);
        let denial = nsec3.map_or(DenialKind::Nsec, |params| DenialKind::Nsec3(params.clone()));
        let signed = SignedZone::new(
            &mut zone,
            keys,
            denial,
            Computed::default(),
            Window::at(1_800_000_000),
            cache.clone(),
        );
        signed.presign(&zone);
        Snapshot {
            zone,
            signed: Some(signed),
            programs: None,
            loading: false,
        }
    }

    fn transfer(snapshot: &Snapshot) -> Vec<String> {
        let mut lines = Vec::new();
        snapshot.for_each_record(|owner, rtype, ttl, rdata| {
            let owner = Name::from_wire(owner).expect("name");
            lines.push(format!("{owner} {ttl} {rtype} {rdata:02x?}"));
        });
        lines
    }

    #[test]
    fn a_change_in_place_signs_as_a_full_build_does() {
        let nsec3 = |opt_out| Nsec3Params {
            iterations: 0,
            salt: Vec::new(),
            opt_out,
        };
        for denial in [None, Some(nsec3(false)), Some(nsec3(true))] {
            changes_in_place(denial.as_ref());
        }
    }

    fn changes_in_place(nsec3: Option<&Nsec3Params>) {
        let apex: Name = "example.test.".parse().expect("name");
        let sealed = new_keys(&apex, Algorithm::EcdsaP256Sha256, false, None).expect("keys");
        let cache = Arc::new(SignatureCache::new(10_000));
        let served = secure(records(ZONE), &sealed, &cache, nsec3);
        let soa = |serial: u32| record(&format!("@ SOA ns1 hostmaster {serial} 7200 3600 1209600 300"));
        let cases: Vec<Vec<Change>> = vec![
            // A new name between two others, with empty non-terminals.
            vec![Change::Add(record("x.y.www A 192.0.2.1"))],
            // The last name of the chain goes; the first one is renamed.
            vec![Change::Remove(record("zz A 192.0.2.99"))],
            vec![
                Change::Remove(record("ns1 A 192.0.2.53")),
                Change::Add(record("ns1 AAAA 2001:db8::53")),
            ],
            // A name below a cut is glue: no NSEC, no signature.
            vec![Change::Add(record("x.deleg A 192.0.2.202"))],
            vec![Change::Add(record(
                "deleg DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000",
            ))],
            vec![
                Change::Remove(record("a.b.c TXT deep")),
                Change::Add(record("*.b TXT other")),
            ],
            vec![Change::Add(record("new NS ns.other.test."))],
        ];
        for changes in cases {
            let mut changes = changes;
            changes.insert(0, Change::Remove(soa(1)));
            changes.push(Change::Add(soa(2)));
            let (mut zone, edited) = served.zone.with_changes(&changes).expect("applies in place");
            let signed = served
                .signed
                .as_ref()
                .expect("secured")
                .with_changes(&served.zone, &mut zone, &edited)
                .expect("signs in place");
            let changed = Snapshot {
                zone,
                signed: Some(signed),
                programs: None,
                loading: false,
            };
            let mut expected = records(ZONE);
            for change in &changes {
                match change {
                    Change::Remove(gone) => expected.retain(|record| record != gone),
                    Change::Add(new) => expected.push(new.clone()),
                }
            }
            let rebuilt = secure(expected, &sealed, &cache, nsec3);
            assert_eq!(transfer(&changed), transfer(&rebuilt), "{nsec3:?} {changes:?}");
        }
    }
}
