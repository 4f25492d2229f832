//! The people a load test finds: synthetic members the embedded reference provider holds (so
//! that every matching find is a fresh person with a fresh registration), the pack's matching
//! cases against an organisation's solution, and synthetic people nobody holds.

use std::collections::BTreeSet;

use toml::Spanned;

use crate::harness::testpack::{Address, ExpectedMatch, Persona, TestPack};
use crate::protocol::contract::FindData;

/// The embedded default holds at most this many synthetic members: beyond it, matching finds
/// repeat people (and a correct provider registers a person's pensions only once).
pub const MAX_SYNTHETIC_MEMBERS: usize = 20_000;

/// A person whose find matches, and the pensions a correct provider registers for them.
#[derive(Debug, Clone)]
pub struct MatchingPerson {
    pub find: FindData,
    pub assets: BTreeSet<String>,
}

/// Synthetic names are letters only: `n` in base 26.
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    while out.len() < 4 {
        out.push(b'A');
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Distinct dates of birth (1930 onwards, one day apart) let the provider reject all but one
/// member on the first field it compares.
fn date_of_birth(n: usize) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default();
    let days = (n % 27_000) as u64;
    start
        .checked_add_days(chrono::Days::new(days))
        .unwrap_or(start)
        .format("%Y-%m-%d")
        .to_string()
}

fn synthetic_person(id: String, given: &str, n: usize, postcode: &str) -> Persona {
    Persona {
        id: Spanned::new(0..0, id),
        given_name: given.to_owned(),
        family_name: format!("SYNTHETIC{}", letters(n)),
        previous_family_names: Vec::new(),
        date_of_birth: date_of_birth(n),
        national_insurance_number: None,
        address: Address {
            lines: vec![format!("{} LOAD STREET", n + 1), "TESTTOWN".to_owned()],
            postcode: postcode.to_owned(),
        },
        previous_addresses: Vec::new(),
        // The CDA's find request always includes an email address.
        email: Some(format!("{}@load.example", letters(n).to_ascii_lowercase())),
        mobile_number: None,
    }
}

/// Add `n` synthetic members to the pack, each with one pension modelled on a pension of a
/// case that expects `match-yes`; returns them as matching people. `None` when the pack has no
/// such pension to model them on.
pub fn add_synthetic_members(pack: &mut TestPack, n: usize) -> Option<Vec<MatchingPerson>> {
    let template = pack
        .cases
        .iter()
        .filter(|c| c.expect == ExpectedMatch::MatchYes)
        .flat_map(|c| c.pensions.iter())
        .filter_map(|asset| pack.pension(asset.get_ref()))
        .find(|p| !p.new_member && !p.temporary_error)?
        .clone();
    let n = n.min(MAX_SYNTHETIC_MEMBERS);
    let mut people = Vec::with_capacity(n);
    for i in 0..n {
        let person = synthetic_person(format!("P-LOAD-{i}"), "LOADTEST", i, "ZZ0 0LD");
        let asset = uuid::Uuid::new_v4().to_string();
        let mut pension = template.clone();
        pension.asset_guid = Spanned::new(0..0, asset.clone());
        pension.member = Spanned::new(0..0, person.id.get_ref().clone());
        pension.pension_reference = format!("LOAD-{i:06}");
        people.push(MatchingPerson {
            find: FindData::of(&person),
            assets: BTreeSet::from([asset]),
        });
        pack.personas.push(person);
        pack.pensions.push(pension);
    }
    Some(people)
}

/// The pack's cases that expect a match, one per persona, with the pensions each expects.
pub fn pack_matches(pack: &TestPack) -> Vec<MatchingPerson> {
    let mut seen = BTreeSet::new();
    pack.cases
        .iter()
        .filter(|c| c.expect != ExpectedMatch::None && !c.pensions.is_empty())
        .filter(|c| seen.insert(c.persona.get_ref().clone()))
        .filter_map(|c| {
            pack.persona(c.persona.get_ref()).map(|p| MatchingPerson {
                find: FindData::of(p),
                assets: c.expected_assets(),
            })
        })
        .collect()
}

/// Someone no provider holds: a synthetic name and date of birth, a postcode in no pack.
pub fn non_matching(n: u64) -> FindData {
    let person = synthetic_person(
        String::new(),
        "NOMATCH",
        (n % 1_000_000) as usize,
        "ZZ9 9NM",
    );
    FindData::of(&person)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> TestPack {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testpacks/integration/pack.toml");
        TestPack::load(&path).expect("the shipped pack loads")
    }

    /// Each synthetic member matches exactly its own pension, as `match-yes`; the non-matching
    /// people match nothing.
    #[test]
    fn synthetic_members_match_only_themselves() {
        let mut pack = pack();
        let people = add_synthetic_members(&mut pack, 50).expect("a template pension");
        assert_eq!(people.len(), 50);
        for person in &people {
            let found = crate::provider::matching::find_matches(&pack, &person.find);
            let assets: BTreeSet<String> = found.iter().map(|(a, _)| a.clone()).collect();
            assert_eq!(assets, person.assets);
            assert!(
                found
                    .iter()
                    .all(|(_, o)| *o == crate::provider::matching::MatchOutcome::Yes)
            );
        }
        for n in 0..50 {
            assert!(crate::provider::matching::find_matches(&pack, &non_matching(n)).is_empty());
        }
    }

    #[test]
    fn the_pack_has_matching_people() {
        let people = pack_matches(&pack());
        assert!(!people.is_empty());
        assert!(people.iter().all(|p| !p.assets.is_empty()));
    }
}
