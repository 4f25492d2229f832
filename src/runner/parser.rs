//! Cucumber's parser over a list of feature files, in the order given: so two files of a
//! stage can run as one cucumber run ([`super::overlap`]) and cucumber's normalised output
//! still writes them one after the other. Each file is read by cucumber's own parser
//! (outlines expanded, paths as it names them).

use std::path::PathBuf;

use cucumber::gherkin;
use cucumber::parser::{self, Parser};
use futures::StreamExt as _;
use futures::stream::{self, LocalBoxStream};

#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureFiles;

impl Parser<Vec<PathBuf>> for FeatureFiles {
    type Cli = parser::basic::Cli;
    type Output = LocalBoxStream<'static, parser::Result<gherkin::Feature>>;

    fn parse(self, input: Vec<PathBuf>, cli: Self::Cli) -> Self::Output {
        stream::iter(input)
            .flat_map(move |path| parser::Basic::new().parse(path, cli.clone()))
            .boxed_local()
    }
}
