//! The reference provider's matching rules: how find data is matched to its members.
//!
//! PDP leaves matching criteria to each provider. These rules are deliberately simple and
//! documented so a test manager can predict every outcome:
//! - date of birth, given name and surname (current or previous, either side) must agree,
//!   compared as the identity service writes names: upper case, single spaces, full stops,
//!   hyphens and apostrophes kept (`ST. JOHN` is not `ST JOHN`), and the provider's own records
//!   transliterated the least-letter way (its `MÜLLER` is the CDA's `MULLER`);
//! - then a National Insurance number that agrees, or a postcode that agrees (current or
//!   previous address, either side), makes it `match-yes`;
//! - with neither to confirm it, it is `match-possible`;
//! - a National Insurance number that disagrees is no match.

use super::members::{MemberRecords, Persona};
use crate::protocol::contract::FindData;
use crate::protocol::match_status::MatchStatus;

/// The outcome for one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOutcome {
    Yes,
    Possible,
}

impl MatchOutcome {
    /// The match status this outcome registers.
    pub fn status(self) -> MatchStatus {
        match self {
            MatchOutcome::Yes => MatchStatus::Yes,
            MatchOutcome::Possible => MatchStatus::Possible,
        }
    }

    /// [`MatchOutcome::status`] as the wire spells it.
    pub fn match_status(self) -> &'static str {
        self.status().wire()
    }
}

fn norm(s: &str) -> String {
    let upper = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    let mut out = String::with_capacity(upper.len());
    for c in upper.chars() {
        match transliterate(c) {
            Some(latin) => out.push_str(latin),
            None => out.push(c),
        }
    }
    out
}

/// The least-letter Latin form of an upper-case letter with a diacritic (PDP's special
/// characters guidance: `Müller Gößmann` is sent as `MULLER GOSSMANN`; `ß` upper-cases to `SS`
/// already). `None` for a character that stays as it is.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'Æ' => "AE",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'Ď' | 'Đ' | 'Ð' => "D",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'Ĥ' | 'Ħ' => "H",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'Ĳ' => "IJ",
        'Ĵ' => "J",
        'Ķ' => "K",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'Œ' => "OE",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ẞ' => "SS",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'Þ' => "TH",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'Ŵ' => "W",
        'Ý' | 'Ÿ' | 'Ŷ' => "Y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

fn norm_compact(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase()
}

/// Match `find` against one member.
pub fn match_member(member: &Persona, find: &FindData) -> Option<MatchOutcome> {
    let dob = find.date_of_birth.as_deref()?;
    if dob.trim() != member.date_of_birth {
        return None;
    }
    let given = find.given_name.as_deref().map(norm)?;
    if given != norm(&member.given_name) {
        return None;
    }
    let member_surnames: Vec<String> = std::iter::once(&member.family_name)
        .chain(member.previous_family_names.iter())
        .map(|s| norm(s))
        .collect();
    let find_surnames: Vec<String> = find
        .family_name
        .iter()
        .chain(find.previous_family_names.iter())
        .map(|s| norm(s))
        .collect();
    if !find_surnames.iter().any(|s| member_surnames.contains(s)) {
        return None;
    }
    let nino_agrees = match (
        &find.national_insurance_number,
        &member.national_insurance_number,
    ) {
        (Some(a), Some(b)) if norm_compact(a) == norm_compact(b) => true,
        (Some(_), Some(_)) => return None,
        _ => false,
    };
    let member_postcodes: Vec<String> = std::iter::once(&member.address)
        .chain(member.previous_addresses.iter())
        .map(|a| norm_compact(&a.postcode))
        .collect();
    let postcode_agrees = find
        .address
        .iter()
        .chain(find.previous_addresses.iter())
        .any(|a| member_postcodes.contains(&norm_compact(&a.postcode)));
    Some(if nino_agrees || postcode_agrees {
        MatchOutcome::Yes
    } else {
        MatchOutcome::Possible
    })
}

/// Every (asset GUID, outcome) the find data matches in the pack.
pub fn find_matches(pack: &dyn MemberRecords, find: &FindData) -> Vec<(String, MatchOutcome)> {
    let mut out = Vec::new();
    pack.each_member(&mut |member, pensions| {
        if let Some(outcome) = match_member(member, find) {
            for pension in pensions {
                out.push((pension.asset_guid.get_ref().to_ascii_lowercase(), outcome));
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::members::Address;

    fn member() -> Persona {
        let text = r#"
id = "P"
given_name = "ELEANOR"
family_name = "MARCHBANKS"
previous_family_names = ["HOLLOWAY"]
date_of_birth = "1971-03-14"
national_insurance_number = "QQ123456C"
address = { lines = ["14 ORCHARD ROW"], postcode = "ZZ1 4QT" }
"#;
        toml::from_str(text).expect("persona parses")
    }

    fn find() -> FindData {
        FindData {
            given_name: Some("Eleanor".into()),
            family_name: Some("Marchbanks".into()),
            date_of_birth: Some("1971-03-14".into()),
            national_insurance_number: Some("QQ 12 34 56 C".into()),
            address: Some(Address {
                lines: vec!["14 Orchard Row".into()],
                postcode: "zz14qt".into(),
            }),
            ..FindData::default()
        }
    }

    #[test]
    fn rules() {
        let m = member();
        assert_eq!(match_member(&m, &find()), Some(MatchOutcome::Yes));
        let mut f = find();
        f.national_insurance_number = None;
        f.address = Some(Address {
            lines: vec![],
            postcode: "AA1 1AA".into(),
        });
        assert_eq!(match_member(&m, &f), Some(MatchOutcome::Possible));
        let mut f = find();
        f.family_name = Some("HOLLOWAY".into());
        assert_eq!(match_member(&m, &f), Some(MatchOutcome::Yes));
        let mut f = find();
        f.national_insurance_number = Some("QQ654321C".into());
        assert_eq!(match_member(&m, &f), None);
        let mut f = find();
        f.date_of_birth = Some("1971-03-15".into());
        assert_eq!(match_member(&m, &f), None);
    }

    /// The provider's record `Müller-Gößmann` is the CDA's `MULLER-GOSSMANN`; punctuation is
    /// part of the name (`ST. JOHN` is not `ST JOHN`).
    #[test]
    fn names_are_transliterated_on_the_record_side_and_keep_their_punctuation() {
        let mut m = member();
        m.family_name = "Müller-Gößmann".into();
        let mut f = find();
        f.family_name = Some("MULLER-GOSSMANN".into());
        assert_eq!(match_member(&m, &f), Some(MatchOutcome::Yes));
        f.family_name = Some("MULLER GOSSMANN".into());
        assert_eq!(match_member(&m, &f), None);
        m.family_name = "ST. JOHN".into();
        f.family_name = Some("ST. JOHN".into());
        assert_eq!(match_member(&m, &f), Some(MatchOutcome::Yes));
        f.family_name = Some("ST JOHN".into());
        assert_eq!(match_member(&m, &f), None);
    }
}
