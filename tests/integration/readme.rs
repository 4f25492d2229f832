//! README.md cannot drift from the code: its step catalogue lists exactly the step definitions
//! in `src/runner/steps/`, and every path its design section names exists (and every module
//! under `src/` is named there).

use std::collections::BTreeSet;

use crate::common;

/// One step definition as written in the source: its keyword and its text in catalogue form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Step {
    keyword: &'static str,
    text: String,
}

impl Step {
    fn row(&self) -> String {
        format!("`{} {}`", self.keyword, self.text)
    }
}

/// The step definitions of every file under `src/runner/steps/`, read from their attributes
/// (`#[given("…")]`, `#[when(expr = "…")]`, `#[then(regex = r#"…"#)]`).
fn defined_steps() -> Vec<Step> {
    let dir = common::root().join("src/runner/steps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/runner/steps")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut steps = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("step source");
        let mut rest = source.as_str();
        while let Some(at) = ["#[given(", "#[when(", "#[then("]
            .iter()
            .filter_map(|open| rest.find(open).map(|i| (i, *open)))
            .min()
        {
            let (start, open) = at;
            let keyword = match open {
                "#[given(" => "Given",
                "#[when(" => "When",
                _ => "Then",
            };
            let body = &rest[start + open.len()..];
            let end = body
                .find(")]\n")
                .unwrap_or_else(|| panic!("{}: unterminated step attribute", file.display()));
            steps.push(Step {
                keyword,
                text: catalogue_form(body[..end].trim(), &file),
            });
            rest = &body[end..];
        }
    }
    steps
}

/// The attribute's argument as the catalogue shows it: a plain string or cucumber expression
/// verbatim; a regex made readable (`"([^"]+)"` is `{string}`, `(\d+)` is `{int}`, a group of
/// alternatives `(a|b)` is `<a | b>`).
fn catalogue_form(argument: &str, file: &std::path::Path) -> String {
    let argument = argument.trim_end_matches(',').trim();
    if let Some(regex) = argument.strip_prefix("regex = ") {
        let inner = regex
            .trim()
            .strip_prefix("r#\"")
            .and_then(|r| r.strip_suffix("\"#"))
            .unwrap_or_else(|| panic!("{}: regex step not written r#\"…\"#", file.display()));
        let inner = inner.trim_start_matches('^').trim_end_matches('$');
        let inner = inner
            .replace(r#""([^"]+)""#, "{string}")
            .replace(r#""([^"]*)""#, "{string}")
            .replace(r"(\d+)", "{int}");
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '(' {
                let group: String = chars.by_ref().take_while(|&c| c != ')').collect();
                out.push('<');
                out.push_str(&group.replace('|', " | "));
                out.push('>');
            } else if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    let quoted = argument.strip_prefix("expr = ").unwrap_or(argument).trim();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_else(|| {
            panic!(
                "{}: step attribute {quoted} is not a string",
                file.display()
            )
        })
        .replace("\\\"", "\"")
}

fn readme() -> String {
    std::fs::read_to_string(common::root().join("README.md")).expect("README.md")
}

/// The text of the README section under `heading`, up to the next heading of any level.
fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let body = &readme[start + heading.len() + 2..];
    let mut end = body.len();
    let mut fenced = false;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            end = offset;
            break;
        }
        offset += line.len();
    }
    &body[..end]
}

#[test]
fn the_step_catalogue_lists_exactly_the_defined_steps() {
    let defined: BTreeSet<String> = defined_steps().iter().map(Step::row).collect();
    assert!(
        defined.len() >= 40,
        "the source scan found only {} steps: the scanner is broken",
        defined.len()
    );
    let readme = readme();
    let catalogue = section(&readme, "### Step catalogue");
    let listed: BTreeSet<String> = catalogue
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split(" | ").next())
        // A `|` inside a table cell is written `\|` in Markdown.
        .map(|cell| cell.trim_start_matches("| ").trim().replace("\\|", "|"))
        .collect();
    let missing: Vec<_> = defined.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&defined).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README.md's step catalogue has drifted from src/runner/steps/.\n\
         Add a row for each of these (first column exactly as shown):\n{}\n\
         Remove or correct these rows, which no step definition has:\n{}",
        missing
            .iter()
            .map(|r| format!("  | {} | … |", r.replace('|', "\\|")))
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|r| format!("  {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_design_section_names_every_module_and_only_paths_that_exist() {
    let readme = readme();
    let design = section(&readme, "## Design in a few lines");
    let tree = design
        .split("```")
        .nth(1)
        .expect("the design section opens with a code block of the source tree");
    // Every name in the first column (and the names beside it on the same line, as in
    // `pki.rs tls.rs jwt.rs`) is a path under src/ that exists.
    let mut named = BTreeSet::new();
    for line in tree
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
    {
        for word in line.split_whitespace() {
            if word.ends_with(".rs") || word.ends_with('/') {
                named.insert(word.trim_end_matches('/').to_owned());
            } else {
                break;
            }
        }
    }
    let src = common::root().join("src");
    let absent: Vec<_> = named.iter().filter(|n| !src.join(n).exists()).collect();
    assert!(
        absent.is_empty(),
        "README.md's design section names paths that do not exist under src/: {absent:?}"
    );
    // Generated or data files are not modules a newcomer has to find.
    let mut unnamed: Vec<String> = std::fs::read_dir(&src)
        .expect("src")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs") || !n.contains('.'))
        .filter(|n| !["lib.rs", "bundled.rs"].contains(&n.as_str()))
        .filter(|n| !named.contains(n))
        .collect();
    unnamed.sort();
    assert!(
        unnamed.is_empty(),
        "README.md's design section does not name these modules under src/: {unnamed:?}"
    );
}
