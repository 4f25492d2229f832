//! The test pack's consistency checks: each problem named with the file and line, so an
//! organisation editing its own pack is told exactly where it is wrong.

use std::collections::HashSet;

use super::*;

impl TestPack {
    /// Consistency checks, each naming the file and line.
    pub(super) fn problems(&self, text: &str) -> Vec<String> {
        let at = |span: std::ops::Range<usize>| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{}:{line}", self.path.display())
        };
        let mut problems = Vec::new();
        let check_guid = |s: &Spanned<String>, what: &str, problems: &mut Vec<String>| {
            if uuid::Uuid::parse_str(s.get_ref()).is_err() {
                problems.push(format!(
                    "{}: {what} {:?} is not a GUID (expected 8-4-4-4-12 hex digits)",
                    at(s.span()),
                    s.get_ref()
                ));
            }
        };
        check_guid(
            &self.provider.holdername_guid,
            "provider.holdername_guid",
            &mut problems,
        );
        let mut persona_ids = HashSet::new();
        for p in &self.personas {
            if !persona_ids.insert(p.id.get_ref().clone()) {
                problems.push(format!(
                    "{}: persona id {:?} is used twice",
                    at(p.id.span()),
                    p.id.get_ref()
                ));
            }
            // Names as the identity service sends them: both present, upper-case Latin,
            // `^[A-Z0-9 .'-]*$`, transliterated (PDP's special characters guidance).
            let names = [
                ("given_name", &p.given_name),
                ("family_name", &p.family_name),
            ]
            .into_iter()
            .chain(
                p.previous_family_names
                    .iter()
                    .map(|n| ("previous_family_names", n)),
            );
            for (what, v) in names {
                if v.trim().is_empty() {
                    problems.push(format!(
                        "{}: persona {} {what} is empty; the identity service always sends a given name and a surname",
                        at(p.id.span()),
                        p.id.get_ref()
                    ));
                } else if !is_identity_name(v) {
                    problems.push(format!(
                        "{}: persona {} {what} {v:?} is not in the identity service's form: upper-case Latin letters, digits, space, full stop, apostrophe and hyphen only (^[A-Z0-9 .'-]*$), transliterated (Müller is MULLER)",
                        at(p.id.span()),
                        p.id.get_ref()
                    ));
                }
            }
            if p.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
                problems.push(format!(
                    "{}: persona {} has no email; the CDA's find request always includes one",
                    at(p.id.span()),
                    p.id.get_ref()
                ));
            }
            if chrono::NaiveDate::parse_from_str(&p.date_of_birth, "%Y-%m-%d").is_err() {
                problems.push(format!(
                    "{}: persona {} date_of_birth {:?} is not a YYYY-MM-DD date",
                    at(p.id.span()),
                    p.id.get_ref(),
                    p.date_of_birth
                ));
            }
            for a in std::iter::once(&p.address).chain(p.previous_addresses.iter()) {
                if a.lines.is_empty() || a.lines.len() > 5 {
                    problems.push(format!(
                        "{}: persona {} has an address with {} lines (expected 1 to 5)",
                        at(p.id.span()),
                        p.id.get_ref(),
                        a.lines.len()
                    ));
                }
            }
        }
        let mut assets = HashSet::new();
        for p in &self.pensions {
            check_guid(&p.asset_guid, "pensions.asset_guid", &mut problems);
            if !assets.insert(p.asset_guid.get_ref().to_ascii_lowercase()) {
                problems.push(format!(
                    "{}: asset_guid {} is used twice",
                    at(p.asset_guid.span()),
                    p.asset_guid.get_ref()
                ));
            }
            if self.member(p.member.get_ref()).is_none() {
                problems.push(format!(
                    "{}: pension member {:?} is neither a member nor a persona of this pack",
                    at(p.member.span()),
                    p.member.get_ref()
                ));
            }
            // Every date is a date, and the view data the reference provider builds from this
            // pension keeps the data standards rules the run judges it by: a value the pack gets
            // wrong is a test data problem here, not a "system under test" failure later.
            let dates = [
                ("start_date", Some(&p.start_date)),
                ("retirement_date", Some(&p.retirement_date)),
                ("employment_start", Some(&p.employment_start)),
                ("illustration.date", Some(&p.illustration.date)),
            ]
            .into_iter()
            .chain(
                p.illustration
                    .components
                    .iter()
                    .map(|c| ("payable_date", c.payable_date.as_ref())),
            );
            let before = problems.len();
            for (what, value) in dates {
                if let Some(v) = value
                    && chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err()
                {
                    problems.push(format!(
                        "{}: pension {} {what} {v:?} is not a YYYY-MM-DD date",
                        at(p.asset_guid.span()),
                        p.asset_guid.get_ref()
                    ));
                }
            }
            // (A bad date is named once, above, not again as a broken rule.)
            if problems.len() == before && self.member(p.member.get_ref()).is_some() {
                let arrangements = crate::provider::view_data::arrangements(
                    self,
                    p,
                    &crate::provider::Faults::none(),
                );
                let view_data = crate::provider::view_data::view_data(arrangements);
                // The built-in view data schema and the cross-field rules.
                let broken: Vec<String> = match crate::protocol::rules::ViewDataSchema::builtin() {
                    Ok(schema) => schema
                        .check(&view_data)
                        .iter()
                        .chain(crate::protocol::rules::cross_field(&view_data).iter())
                        .map(ToString::to_string)
                        .collect(),
                    Err(e) => vec![e.to_string()],
                };
                for problem in broken {
                    problems.push(format!(
                        "{}: pension {}: its view data would break a data standards rule: {problem}",
                        at(p.asset_guid.span()),
                        p.asset_guid.get_ref()
                    ));
                }
            }
            for c in &p.illustration.components {
                let has_values = c.annual_amount.is_some() && c.monthly_amount.is_some();
                if has_values == c.unavailable_reason.is_some() {
                    problems.push(format!(
                        "{}: pension {} has a {} component with {}; give annual_amount and monthly_amount, or an unavailable_reason",
                        at(p.asset_guid.span()),
                        p.asset_guid.get_ref(),
                        c.illustration_type,
                        if has_values { "both values and an unavailable_reason" } else { "neither values nor an unavailable_reason" }
                    ));
                }
            }
        }
        let mut case_ids = HashSet::new();
        for c in &self.cases {
            if !case_ids.insert(c.id.get_ref().clone()) {
                problems.push(format!(
                    "{}: case id {:?} is used twice",
                    at(c.id.span()),
                    c.id.get_ref()
                ));
            }
            if !persona_ids.contains(c.persona.get_ref()) {
                problems.push(format!(
                    "{}: case {} names persona {:?}, which is not in this pack",
                    at(c.persona.span()),
                    c.id.get_ref(),
                    c.persona.get_ref()
                ));
            }
            match (c.expect, c.pensions.is_empty()) {
                (ExpectedMatch::None, false) => problems.push(format!(
                    "{}: case {} expects no match but lists pensions to be registered",
                    at(c.id.span()),
                    c.id.get_ref()
                )),
                (ExpectedMatch::MatchYes | ExpectedMatch::MatchPossible, true) => {
                    problems.push(format!(
                        "{}: case {} expects a match but lists no pension",
                        at(c.id.span()),
                        c.id.get_ref()
                    ))
                }
                _ => {}
            }
            for a in &c.pensions {
                if self.pension(a.get_ref()).is_none() {
                    problems.push(format!(
                        "{}: case {} expects asset {}, which is not a pension of this pack",
                        at(a.span()),
                        c.id.get_ref(),
                        a.get_ref()
                    ));
                }
            }
            for u in &c.view.unavailable {
                let ok = u
                    .split_once(':')
                    .is_some_and(|(t, code)| matches!(t, "ERI" | "AP") && !code.is_empty());
                if !ok {
                    problems.push(format!(
                        "{}: case {} view.unavailable entry {u:?} is not TYPE:CODE (e.g. ERI:DBC)",
                        at(c.id.span()),
                        c.id.get_ref()
                    ));
                }
            }
        }
        let mut update_ids = HashSet::new();
        for u in &self.updates {
            if !update_ids.insert(u.id.get_ref().clone()) {
                problems.push(format!(
                    "{}: update id {:?} is used twice",
                    at(u.id.span()),
                    u.id.get_ref()
                ));
            }
            let Some(case) = self.case(u.case.get_ref()) else {
                problems.push(format!(
                    "{}: update {} names case {:?}, which is not in this pack",
                    at(u.case.span()),
                    u.id.get_ref(),
                    u.case.get_ref()
                ));
                continue;
            };
            if !case
                .pensions
                .iter()
                .any(|a| a.get_ref().eq_ignore_ascii_case(u.asset.get_ref()))
            {
                problems.push(format!(
                    "{}: update {} names asset {}, which case {} does not register",
                    at(u.asset.span()),
                    u.id.get_ref(),
                    u.asset.get_ref(),
                    case.id.get_ref()
                ));
            }
            let allowed = match u.action {
                UpdateAction::Confirm | UpdateAction::Reject | UpdateAction::Expire => {
                    case.expect == ExpectedMatch::MatchPossible
                }
                UpdateAction::Withdraw => case.expect == ExpectedMatch::MatchYes,
                UpdateAction::Remove => case.expect != ExpectedMatch::None,
            };
            if !allowed {
                problems.push(format!(
                    "{}: update {} would {} a registration that case {} expects as {:?}; the rreguri state rules do not allow it",
                    at(u.id.span()),
                    u.id.get_ref(),
                    u.action.as_str(),
                    case.id.get_ref(),
                    case.expect
                ));
            }
        }
        problems
    }
}
