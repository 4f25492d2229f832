//! A feature file's selected scenarios of one stage, as the runner schedules them: alone, with
//! a shared clear-down, or beside the file before it ([`super::overlap`]); and the members and
//! pensions its scenarios use in the test pack, which decide what may overlap.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Pack;
use crate::record::run::ScenarioKey;

/// One feature file's selected scenarios of one stage: how they are scheduled.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) stage: Pack,
    pub(super) path: PathBuf,
    /// Any of them runs alone ([`super::runs_alone`]): the whole file runs one scenario at a time.
    pub(super) alone: bool,
    /// The file's scenarios start from test data cleared down once ([`super::CLEARED_DOWN_ONCE`]):
    /// the first selected scenario clears it down and the others wait for that.
    pub(super) clears_down: Option<ScenarioKey>,
    /// Each selected scenario's case id and the test cases its steps name (`test case "X"`),
    /// whose members must differ for a shared clear-down ([`Segment::shared_members`]).
    pub(super) cases: Vec<(String, Vec<String>)>,
}

impl Segment {
    /// Each selected scenario (case id, else name) with the members and pensions the test
    /// cases its steps name use in `pack`.
    fn uses<'a>(
        &'a self,
        pack: &crate::harness::testpack::TestPack,
    ) -> Vec<(&'a str, BTreeSet<String>)> {
        self.cases
            .iter()
            .map(|(scenario, cases)| {
                let mut mine = BTreeSet::new();
                for case in cases.iter().filter_map(|c| pack.case(c)) {
                    mine.insert(format!("member {}", case.persona.get_ref()));
                    mine.extend(
                        case.pensions
                            .iter()
                            .map(|p| format!("pension {}", p.get_ref())),
                    );
                }
                (scenario.as_str(), mine)
            })
            .collect()
    }

    /// Where two of a shared clear-down's scenarios would use one member or pension in
    /// `pack`, what they share: then each must clear down and run alone, or one's
    /// registration could hide another's (a provider need not register a PeI twice).
    pub(super) fn shared_members(
        &self,
        pack: &crate::harness::testpack::TestPack,
    ) -> Option<String> {
        let mut owner: std::collections::HashMap<String, &str> = Default::default();
        for (scenario, mine) in self.uses(pack) {
            for thing in mine {
                match owner.get(&thing) {
                    Some(other) if *other != scenario => {
                        return Some(format!("{other} and {scenario} both use {thing}"));
                    }
                    _ => {
                        owner.insert(thing, scenario);
                    }
                }
            }
        }
        None
    }

    /// Whether `next` (the stage's following file) may start beside this one
    /// ([`super::overlap`]): this one's scenarios share a clear-down and neither runs alone.
    pub(super) fn may_run_beside(&self, next: &Segment) -> bool {
        self.stage == next.stage
            && self.clears_down.is_some()
            && !self.alone
            && !next.alone
            && next.clears_down.is_none()
    }

    /// This file's scenarios that use, in `pack`, a member or pension one of `earlier`'s
    /// scenarios uses: beside `earlier` they must wait for it to finish.
    pub(super) fn sharing_with(
        &self,
        earlier: &Segment,
        pack: &crate::harness::testpack::TestPack,
    ) -> BTreeSet<String> {
        let theirs: BTreeSet<String> = earlier
            .uses(pack)
            .into_iter()
            .flat_map(|(_, things)| things)
            .collect();
        self.uses(pack)
            .into_iter()
            .filter(|(_, mine)| !mine.is_disjoint(&theirs))
            .map(|(scenario, _)| scenario.to_owned())
            .collect()
    }
}

/// The test cases a step names: `... test case "S1-01" ...`, or
/// `... test cases "CP-03" and "CP-03B" ...` (a list joined by commas and "and").
pub(super) fn cases_named(step: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in step.match_indices("test case") {
        let rest = &step[at + "test case".len()..];
        let (several, mut rest) = match rest.strip_prefix('s') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        while let Some((name, after)) = rest
            .strip_prefix(" \"")
            .and_then(|quoted| quoted.split_once('"'))
        {
            named.push(name.to_owned());
            match after
                .strip_prefix(',')
                .or_else(|| after.strip_prefix(" and"))
            {
                Some(next) if several => rest = next,
                _ => break,
            }
        }
    }
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_cases_a_step_names_are_found_alone_and_in_lists() {
        let of = |step: &str| cases_named(step);
        assert_eq!(
            of(r#"the member of test case "S1-01" has a registered PeI"#),
            ["S1-01"]
        );
        assert_eq!(
            of(r#"the members of test cases "CP-03" and "CP-03B" have registered PeIs"#),
            ["CP-03", "CP-03B"]
        );
        assert_eq!(
            of(r#"the members of test cases "A", "B" and "C" have registered PeIs"#),
            ["A", "B", "C"]
        );
        assert_eq!(
            of(r#"for test case "A" and then something "quoted""#),
            ["A"]
        );
        assert!(of("the dashboard requests the view data").is_empty());
    }
}
