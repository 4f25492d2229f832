//! Test packs: synthetic personas, their pensions at the reference provider, and the expected
//! outcome of each find case. A pack is one TOML file under `testpacks/<pack>/pack.toml`.
//!
//! The same file feeds the reference provider (its members) and the harness (what to send and
//! what to expect), and tells a real provider exactly which test data to provision.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("could not read test pack {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("test pack {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("test pack {path} has {} problem(s):\n{}", .problems.len(), .problems.join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

use crate::harness::config::TargetConfig;
use crate::protocol::contract::FindData;
pub use crate::protocol::members::{
    Address, Illustration, IllustrationComponent, Pension, Persona, ProviderInfo, SplitArrangement,
};
use crate::record::redact::Redactor;

mod problems;

/// What a find case should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedMatch {
    MatchYes,
    MatchPossible,
    /// No match: nothing registered, find still acknowledged.
    None,
}

impl ExpectedMatch {
    pub fn match_status(self) -> Option<&'static str> {
        match self {
            ExpectedMatch::MatchYes => Some("match-yes"),
            ExpectedMatch::MatchPossible => Some("match-possible"),
            ExpectedMatch::None => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: Spanned<String>,
    pub title: String,
    pub persona: Spanned<String>,
    pub expect: ExpectedMatch,
    /// Asset GUIDs expected to be registered.
    #[serde(default)]
    pub pensions: Vec<Spanned<String>>,
    /// What each registered PeI's view data must show beyond the pack's pension record.
    #[serde(default)]
    pub view: ViewExpectation,
}

impl Case {
    /// The asset GUIDs the case expects registered, lower-cased.
    pub fn expected_assets(&self) -> std::collections::BTreeSet<String> {
        self.pensions
            .iter()
            .map(|p| p.get_ref().to_ascii_lowercase())
            .collect()
    }
}

/// Expectations of a case's view data.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewExpectation {
    /// Arrangements in each PeI's view response (default 1; more for split administration).
    pub arrangements: Option<usize>,
    /// Components that must carry an unavailable code, as "ERI:DBC" / "AP:DCC".
    #[serde(default)]
    pub unavailable: Vec<String>,
    /// Arrangement flags that must be true, e.g. "administrativeDetailsNotAvailable".
    #[serde(default)]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    pub id: String,
    pub version: String,
    pub title: String,
}

pub use crate::protocol::match_updates::UpdateAction;

/// One planned match update: applied between stage 1 and stage 2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedUpdate {
    pub id: Spanned<String>,
    /// The stage-1 case whose registration is updated.
    pub case: Spanned<String>,
    pub asset: Spanned<String>,
    pub action: UpdateAction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestPack {
    pub pack: PackInfo,
    pub provider: ProviderInfo,
    #[serde(default)]
    pub personas: Vec<Persona>,
    /// The provider's member records. A pension whose `member` is not listed here belongs to
    /// the persona of that id, recorded exactly as the persona presents.
    #[serde(default)]
    pub members: Vec<Persona>,
    #[serde(default)]
    pub updates: Vec<PlannedUpdate>,
    #[serde(default)]
    pub pensions: Vec<Pension>,
    #[serde(default)]
    pub cases: Vec<Case>,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    index: IndexCache,
}

/// Where a member record lives in the pack.
#[derive(Debug, Clone, Copy)]
enum MemberSource {
    Member(usize),
    Persona(usize),
}

/// Each member record with the indices of its pensions, in member id order: matching walks it
/// for every find, and a load test's pack holds thousands of synthetic members.
#[derive(Debug)]
pub struct MemberIndex {
    /// The pack's (personas, members, pensions) counts when it was built.
    shape: (usize, usize, usize),
    entries: Vec<(MemberSource, Vec<usize>)>,
}

impl MemberIndex {
    fn build(pack: &TestPack) -> MemberIndex {
        use std::collections::{BTreeMap, HashMap};
        let mut sources: HashMap<&str, MemberSource> = HashMap::new();
        for (i, p) in pack.personas.iter().enumerate() {
            sources
                .entry(p.id.get_ref().as_str())
                .or_insert(MemberSource::Persona(i));
        }
        // A `[[members]]` entry wins over the persona of the same id.
        let mut seen_members = HashSet::new();
        for (i, m) in pack.members.iter().enumerate() {
            if seen_members.insert(m.id.get_ref().as_str()) {
                sources.insert(m.id.get_ref().as_str(), MemberSource::Member(i));
            }
        }
        let mut by_member: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in pack.pensions.iter().enumerate() {
            by_member
                .entry(p.member.get_ref().as_str())
                .or_default()
                .push(i);
        }
        MemberIndex {
            shape: TestPack::shape(pack),
            entries: by_member
                .into_iter()
                .filter_map(|(id, pensions)| sources.get(id).map(|s| (*s, pensions)))
                .collect(),
        }
    }

    /// Each member record with its pensions.
    pub fn iter<'a>(
        &'a self,
        pack: &'a TestPack,
    ) -> impl Iterator<Item = (&'a Persona, impl Iterator<Item = &'a Pension>)> {
        self.entries.iter().filter_map(move |(source, pensions)| {
            let member = match *source {
                MemberSource::Member(i) => pack.members.get(i),
                MemberSource::Persona(i) => pack.personas.get(i),
            }?;
            Some((
                member,
                pensions.iter().filter_map(move |&i| pack.pensions.get(i)),
            ))
        })
    }
}

/// The cached [`MemberIndex`]; rebuilt when the pack's shape has changed since.
#[derive(Debug, Default)]
struct IndexCache(std::sync::Mutex<Option<std::sync::Arc<MemberIndex>>>);

impl Clone for IndexCache {
    fn clone(&self) -> Self {
        IndexCache::default()
    }
}

/// A name as the identity service writes it: `^[A-Z0-9 .'-]*$`.
pub fn is_identity_name(name: &str) -> bool {
    name.chars().all(|c| {
        c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, ' ' | '.' | '\'' | '-')
    })
}

impl TestPack {
    pub fn load(path: &Path) -> Result<TestPack, PackError> {
        let text = std::fs::read_to_string(path).map_err(|source| PackError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<TestPack, PackError> {
        let mut pack: TestPack = toml::from_str(text).map_err(|e| PackError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        pack.path = path.to_owned();
        let problems = pack.problems(text);
        if problems.is_empty() {
            Ok(pack)
        } else {
            Err(PackError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    /// The pack at `path` under the organisation's holdername GUID and scheme name when the
    /// target file's `[organisation]` gives them: what every command runs on.
    pub fn load_for(path: &Path, config: &TargetConfig) -> Result<TestPack, PackError> {
        let mut pack = TestPack::load(path)?;
        let o = &config.organisation;
        pack.apply_organisation(o.holdername_guid.as_deref(), o.scheme_name.as_deref());
        Ok(pack)
    }

    /// The redaction policy: the personas' personal data and the target file's further values,
    /// revealed only when asked (`reveal`, from the command line, or the target file).
    pub fn redactor(&self, config: &TargetConfig, reveal: bool) -> Redactor {
        Redactor::new(
            self.personal_values(),
            reveal || config.redaction.reveal_personal_data,
        )
        .with_masks(config.redaction.mask.iter().cloned())
    }

    pub fn holdername_guid(&self) -> &str {
        self.provider.holdername_guid.get_ref()
    }

    /// The organisation's own holdername GUID and scheme name, from the target file's
    /// `[organisation]`, in place of the pack's: the same personas, under its name.
    pub fn apply_organisation(&mut self, holdername_guid: Option<&str>, scheme_name: Option<&str>) {
        if let Some(guid) = holdername_guid {
            let span = self.provider.holdername_guid.span();
            self.provider.holdername_guid = Spanned::new(span, guid.to_owned());
        }
        if let Some(name) = scheme_name {
            self.provider.scheme_name = name.to_owned();
        }
    }

    pub fn persona(&self, id: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.id.get_ref() == id)
    }

    pub fn pension(&self, asset_guid: &str) -> Option<&Pension> {
        self.pensions
            .iter()
            .find(|p| p.asset_guid.get_ref().eq_ignore_ascii_case(asset_guid))
    }

    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id.get_ref() == id)
    }

    pub fn pensions_of(&self, member_id: &str) -> impl Iterator<Item = &Pension> {
        self.pensions
            .iter()
            .filter(move |p| p.member.get_ref() == member_id)
    }

    /// The provider's record of a member: a `[[members]]` entry, else the persona of that id.
    pub fn member(&self, id: &str) -> Option<&Persona> {
        self.members
            .iter()
            .find(|m| m.id.get_ref() == id)
            .or_else(|| self.persona(id))
    }

    fn shape(&self) -> (usize, usize, usize) {
        (self.personas.len(), self.members.len(), self.pensions.len())
    }

    /// Every member record with its pensions (what [`TestPack::member_records`] and
    /// [`TestPack::pensions_of`] give), built once per shape of the pack.
    pub fn member_index(&self) -> std::sync::Arc<MemberIndex> {
        let mut slot = self
            .index
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*slot {
            Some(index) if index.shape == self.shape() => index.clone(),
            _ => {
                let index = std::sync::Arc::new(MemberIndex::build(self));
                *slot = Some(index.clone());
                index
            }
        }
    }

    /// Every member record the provider holds (members, and personas that own pensions).
    pub fn member_records(&self) -> Vec<&Persona> {
        let mut ids: Vec<&str> = self
            .pensions
            .iter()
            .map(|p| p.member.get_ref().as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().filter_map(|id| self.member(id)).collect()
    }

    /// Every personal value in the pack, for redaction.
    pub fn personal_values(&self) -> Vec<String> {
        self.personas
            .iter()
            .chain(self.members.iter())
            .flat_map(Persona::personal_values)
            .collect()
    }

    pub fn update(&self, id: &str) -> Option<&PlannedUpdate> {
        self.updates.iter().find(|u| u.id.get_ref() == id)
    }
}

/// The pack's member records and pensions are the reference provider's member data.
impl crate::provider::members::MemberRecords for TestPack {
    fn provider(&self) -> &ProviderInfo {
        &self.provider
    }

    fn holdername_guid(&self) -> &str {
        TestPack::holdername_guid(self)
    }

    fn pensions(&self) -> &[Pension] {
        &self.pensions
    }

    fn pension(&self, asset_guid: &str) -> Option<&Pension> {
        TestPack::pension(self, asset_guid)
    }

    fn member(&self, id: &str) -> Option<&Persona> {
        TestPack::member(self, id)
    }

    fn each_member(&self, visit: &mut dyn FnMut(&Persona, &mut dyn Iterator<Item = &Pension>)) {
        let index = self.member_index();
        for (member, mut pensions) in index.iter(self) {
            visit(member, &mut pensions);
        }
    }
}

/// A persona's find data is everything the pack gives about them.
impl FindData {
    pub fn of(persona: &Persona) -> FindData {
        FindData {
            given_name: Some(persona.given_name.clone()),
            family_name: Some(persona.family_name.clone()),
            previous_family_names: persona.previous_family_names.clone(),
            date_of_birth: Some(persona.date_of_birth.clone()),
            national_insurance_number: persona.national_insurance_number.clone(),
            address: Some(persona.address.clone()),
            previous_addresses: persona.previous_addresses.clone(),
            email: persona.email.clone(),
            mobile_number: persona.mobile_number.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_integration_pack_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testpacks/integration/pack.toml");
        let pack = TestPack::load(&path).expect("shipped pack loads");
        assert!(!pack.cases.is_empty());
    }

    #[test]
    fn a_command_runs_the_pack_under_the_organisation_and_its_redaction() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testpacks/integration/pack.toml");
        let config: TargetConfig = toml::from_str(
            "[organisation]\nholdername_guid = \"0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a\"\n\
             scheme_name = \"Acme Pension Scheme\"\n[redaction]\nmask = [\"ACME-REF-1\"]\n",
        )
        .expect("a target file");
        let pack = TestPack::load_for(&path, &config).expect("shipped pack loads");
        assert_eq!(
            pack.holdername_guid(),
            "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
        );
        assert_eq!(pack.provider.scheme_name, "Acme Pension Scheme");
        let persona = pack.personas.first().expect("a persona");
        let redactor = pack.redactor(&config, false);
        assert!(!redactor.reveals_personal_data());
        let masked = redactor.text(&format!("{} ACME-REF-1", persona.family_name));
        assert!(
            !masked.contains("ACME-REF-1") && !masked.contains(&persona.family_name),
            "{masked}"
        );
        assert!(pack.redactor(&config, true).reveals_personal_data());
    }

    #[test]
    fn problems_name_file_and_line() {
        let text = r#"
[pack]
id = "x"
version = "1"
title = "t"
[provider]
holdername_guid = "not-a-guid"
scheme_name = "S"
administrator_name = "A"
administrator_email = "a@example.com"
administrator_phone = "+44 1632960000"
[[cases]]
id = "C-1"
title = "t"
persona = "P-404"
expect = "match-yes"
"#;
        let err = TestPack::parse(text, Path::new("p.toml")).expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.contains("p.toml:7: provider.holdername_guid"), "{msg}");
        assert!(
            msg.contains("p.toml:15: case C-1 names persona \"P-404\""),
            "{msg}"
        );
        assert!(
            msg.contains("expects a match but lists no pension"),
            "{msg}"
        );
    }

    /// A persona outside the identity service's name form, or without an email, is a pack
    /// error naming the persona and the field.
    #[test]
    fn persona_names_and_email_as_the_identity_service_sends_them() {
        let text = r#"
[pack]
id = "x"
version = "1"
title = "t"
[provider]
holdername_guid = "6f1c0f2e-8c5a-4d0e-9a43-2b7d9e0c1a55"
scheme_name = "S"
administrator_name = "A"
administrator_email = "a@example.com"
administrator_phone = "+44 1632960000"
[[personas]]
id = "P-1"
given_name = "ANNA-LENA"
family_name = "MÜLLER"
previous_family_names = ["O’BRIEN", "ST. JOHN"]
date_of_birth = "1983-08-08"
address = { lines = ["1 HIGH ST"], postcode = "ZZ1 1ZZ" }
[[personas]]
id = "P-2"
given_name = "Jane"
family_name = "O'BRIEN-ST. JOHN"
date_of_birth = "1983-08-08"
email = "jane@example.com"
address = { lines = ["1 HIGH ST"], postcode = "ZZ1 1ZZ" }
[[members]]
id = "M-1"
given_name = "Anna-Lena"
family_name = "Müller"
date_of_birth = "1983-08-08"
address = { lines = ["1 HIGH ST"], postcode = "ZZ1 1ZZ" }
"#;
        let err = TestPack::parse(text, Path::new("p.toml")).expect_err("invalid");
        let msg = err.to_string();
        assert!(
            msg.contains("p.toml:13: persona P-1 family_name \"MÜLLER\" is not in the identity service's form"),
            "{msg}"
        );
        assert!(
            msg.contains("persona P-1 previous_family_names \"O’BRIEN\" is not"),
            "{msg}"
        );
        assert!(msg.contains("persona P-1 has no email"), "{msg}");
        assert!(
            msg.contains("persona P-2 given_name \"Jane\" is not"),
            "{msg}"
        );
        // Punctuation the service keeps is fine, and members (the provider's records) may
        // hold any spelling.
        assert!(!msg.contains("ANNA-LENA"), "{msg}");
        assert!(!msg.contains("ST. JOHN"), "{msg}");
        assert!(!msg.contains("M-1"), "{msg}");
        assert_eq!(
            msg.matches("is not in the identity service's form").count(),
            3,
            "{msg}"
        );
    }

    /// The reference provider's rules and the shipped pack's expectations agree, case by case.
    #[test]
    fn the_shipped_pack_expectations_follow_these_rules() {
        use crate::provider::matching::{MatchOutcome, find_matches};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testpacks/integration/pack.toml");
        let pack = TestPack::load(&path).expect("pack loads");
        for case in &pack.cases {
            let persona = pack.persona(case.persona.get_ref()).expect("persona");
            let found = find_matches(&pack, &FindData::of(persona));
            let mut assets: Vec<String> = found.iter().map(|(a, _)| a.clone()).collect();
            assets.sort();
            let mut expected: Vec<String> = case
                .pensions
                .iter()
                .map(|p| p.get_ref().to_ascii_lowercase())
                .collect();
            expected.sort();
            assert_eq!(assets, expected, "case {}", case.id.get_ref());
            let want = match case.expect {
                ExpectedMatch::MatchYes => Some(MatchOutcome::Yes),
                ExpectedMatch::MatchPossible => Some(MatchOutcome::Possible),
                ExpectedMatch::None => None,
            };
            for (_, outcome) in &found {
                assert_eq!(Some(*outcome), want, "case {}", case.id.get_ref());
            }
        }
    }
}
