//! Arguments several subcommands share: reaching a reference provider, the inputs of a run, and
//! the test manager's sign-off.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use pdp_harness::evidence::{self, Format};
use pdp_harness::record::run::SignOff;
use pdp_harness::runner::Pack;

/// How to reach a reference provider over mutual TLS.
#[derive(Debug, Args)]
pub struct ProviderAccess {
    /// Base URL of the reference provider, e.g. https://localhost:8443
    #[arg(long, value_name = "URL")]
    pub provider: String,
    /// Client certificate (PEM) the provider trusts
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Private key of the client certificate (PEM)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// CA certificate(s) (PEM) that issued the provider's server certificate
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
}

impl ProviderAccess {
    /// The mTLS client the files give.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let read = |p: &Path, what: &str| {
            std::fs::read(p).with_context(|| format!("could not read the {what} {}", p.display()))
        };
        let mut identity = read(&self.cert, "client certificate")?;
        identity.extend(read(&self.key, "client key")?);
        let ca = String::from_utf8(read(&self.ca, "CA bundle")?)
            .with_context(|| format!("{} is not PEM text", self.ca.display()))?;
        Ok(pdp_harness::net::tls::client_from_pem(
            Some(&identity),
            &[ca],
            std::time::Duration::from_secs(60),
        )?)
    }
}

/// What `run` and `rerun` share: where the scenarios and test data are, and redaction.
#[derive(Debug, Args)]
pub struct RunInputs {
    /// Where the .feature files are (default: the ones built into pdp-harness; `features
    /// export DIR` writes them out for editing)
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    pub testpacks: Option<PathBuf>,
    /// Keep personas' personal data in the evidence (local debugging only; recorded on the cover)
    #[arg(long)]
    pub reveal_personal_data: bool,
    /// How many scenarios of a feature run at once; 1 runs them one after another. Scenarios
    /// that change what others see (clear-downs, C&A faults, stage 2, reporting) always run alone
    #[arg(long, value_name = "N", default_value_t = pdp_harness::runner::DEFAULT_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    #[command(flatten)]
    pub sign_off: SignOffArgs,
}

/// The test manager's sign-off details, printed in the evidence's sign-off and sealed with it.
#[derive(Debug, Args)]
pub struct SignOffArgs {
    /// The organisation's ticket or change reference for this test
    #[arg(long, value_name = "REF")]
    ticket: Option<String>,
    /// Who reviews the evidence (printed under "Reviewed by")
    #[arg(long, value_name = "NAME")]
    reviewer: Option<String>,
    /// Who approves it (printed under "Approved by")
    #[arg(long, value_name = "NAME")]
    approver: Option<String>,
    /// A text file of notes and deviations to print in the sign-off
    #[arg(long, value_name = "FILE")]
    notes: Option<PathBuf>,
}

impl SignOffArgs {
    /// The details given, the notes file read (at most 64 KiB of UTF-8 text).
    pub fn read(&self) -> anyhow::Result<SignOff> {
        let notes = match &self.notes {
            None => None,
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("could not read the notes file {}", path.display()))?;
                if bytes.len() > evidence::NOTES_LIMIT {
                    anyhow::bail!(
                        "the notes file {} is {} bytes; at most {} are taken (notes, not attachments)",
                        path.display(),
                        bytes.len(),
                        evidence::NOTES_LIMIT
                    );
                }
                let text = String::from_utf8(bytes).with_context(|| {
                    format!("the notes file {} is not UTF-8 text", path.display())
                })?;
                Some(text.trim_end().to_owned())
            }
        };
        let given = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        Ok(SignOff {
            ticket: given(&self.ticket),
            reviewer: given(&self.reviewer),
            approver: given(&self.approver),
            notes,
        })
    }
}

/// `--pack`: the library's [`Pack`], named and explained as the library names them.
pub fn pack_parser() -> impl clap::builder::TypedValueParser<Value = Pack> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(Pack::ALL.map(|p| PossibleValue::new(p.name()).help(p.summary())))
        .try_map(|name| Pack::from_name(&name).ok_or("not a pack"))
}

/// `report --format`: the library's [`Format`], as the command line names and explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Pdf,
    Junit,
    Json,
    /// Cucumber JSON (`cucumber.json`)
    Cucumber,
    /// One self-contained page (`report.html`)
    Html,
    All,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Format {
        match arg {
            FormatArg::Pdf => Format::Pdf,
            FormatArg::Junit => Format::Junit,
            FormatArg::Json => Format::Json,
            FormatArg::Cucumber => Format::Cucumber,
            FormatArg::Html => Format::Html,
            FormatArg::All => Format::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// The command line takes every pack by the name the library records (and `rerun` reads
    /// back from a run log), and no other.
    #[test]
    fn every_pack_argument_is_the_library_pack_of_that_name() {
        #[derive(clap::Parser)]
        struct Cli {
            #[arg(long, value_parser = pack_parser())]
            pack: Pack,
        }
        for pack in Pack::ALL {
            let cli = Cli::try_parse_from(["x", "--pack", pack.name()]).expect("parses");
            assert_eq!(cli.pack, pack);
        }
        assert!(Cli::try_parse_from(["x", "--pack", "stage3"]).is_err());
    }
}
