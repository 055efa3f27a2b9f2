//! Following a primary's catalog zone (RFC 9432, version 2): every member
//! becomes a secondary zone of the catalog's primaries, and leaves when
//! its entry does. Zones served here already, by hand or from another
//! catalog, are left alone.

use super::{absolute, create, primary_address};
use crate::change::{ChangeSet, ZoneChange};
use crate::config::CatalogSource;
use crate::store::{Primaries, Store, StoredRecord};

/// Brings the zones learned from `source` in line with its members.
pub async fn follow(store: &Store, source: &CatalogSource) -> Result<(), String> {
    let catalog = absolute(&source.zone);
    let records = store
        .zone_records_by_name(&catalog)
        .await
        .map_err(|error| error.to_string())?;
    let members = members(&catalog, &records)?;
    let zones = store.secondary_zones().await.map_err(|error| error.to_string())?;
    let author = format!("catalog:{catalog}");
    for member in &members {
        if zones.iter().any(|zone| &zone.name == member) {
            continue;
        }
        match create(store, member, primaries(source, Some(&catalog)), &author).await {
            Ok(()) => tracing::info!(zone = %member, %catalog, "zone added from the catalog"),
            Err(error) => tracing::warn!(zone = %member, %catalog, %error, "catalog member not added"),
        }
    }
    for zone in zones
        .iter()
        .filter(|zone| zone.learned_from.as_deref() == Some(catalog.as_str()))
        .filter(|zone| !members.contains(&zone.name))
    {
        match ChangeSet::new(&zone.name, ZoneChange::Delete, &author)
            .apply_alone(store)
            .await
        {
            Ok(_) => tracing::info!(zone = %zone.name, %catalog, "zone removed with its catalog entry"),
            Err(error) => tracing::warn!(zone = %zone.name, %catalog, %error, "catalog member not removed"),
        }
    }
    Ok(())
}

/// The primaries of `source`, which are also its members'; `learned_from`
/// names the catalog a member was learned from.
pub(super) fn primaries(source: &CatalogSource, learned_from: Option<&str>) -> Primaries {
    Primaries {
        addresses: source
            .primaries
            .iter()
            .map(|primary| primary_address(primary))
            .collect(),
        tsig_key: source.tsig_key.clone(),
        learned_from: learned_from.map(str::to_string),
    }
}

/// The member zones of `catalog` (absolute, lowercase), from its records:
/// the PTR targets at `<unique>.zones.<catalog>` (RFC 9432 §4.3), once
/// the version (§4.2) is 2.
fn members(catalog: &str, records: &[StoredRecord]) -> Result<Vec<String>, String> {
    let version_name = format!("version.{catalog}");
    let version = records
        .iter()
        .find(|record| record.rtype == "TXT" && record.name.eq_ignore_ascii_case(&version_name))
        .map(|record| record.content.trim_matches('"').to_string());
    if version.as_deref() != Some("2") {
        return Err(format!(
            "catalog zone {catalog} has version {}, not 2",
            version.unwrap_or_else(|| "none".into())
        ));
    }
    let suffix = format!(".zones.{catalog}");
    let mut members: Vec<String> = records
        .iter()
        .filter(|record| record.rtype == "PTR")
        .filter(|record| {
            let owner = record.name.to_ascii_lowercase();
            // Exactly one label before "zones": properties sit deeper.
            owner
                .strip_suffix(&suffix)
                .is_some_and(|label| !label.is_empty() && !label.contains('.'))
        })
        .map(|record| absolute(&record.content))
        .filter(|member| member.parse::<base::name::Name>().is_ok())
        .collect();
    members.sort();
    members.dedup();
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, rtype: &str, content: &str) -> StoredRecord {
        StoredRecord {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 0,
            content: content.into(),
        }
    }

    #[test]
    fn members_are_the_ptr_targets_of_a_version_2_catalog() {
        let mut records = vec![
            record("catalog.invalid.", "SOA", "invalid. invalid. 1 3600 600 86400 0"),
            record("version.catalog.invalid.", "TXT", "\"2\""),
            record("z1.zones.catalog.invalid.", "PTR", "Example.COM."),
            record("z2.zones.catalog.invalid.", "PTR", "example.net."),
            // A property of a member, not a member.
            record("group.z2.zones.catalog.invalid.", "PTR", "other.test."),
        ];
        assert_eq!(
            members("catalog.invalid.", &records).unwrap(),
            vec!["example.com.".to_string(), "example.net.".to_string()]
        );
        records[1].content = "\"1\"".into();
        assert!(members("catalog.invalid.", &records).is_err());
    }
}
