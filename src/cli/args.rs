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

/// `--pack`: the library's [`Pack`], as the command line names and explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackArg {
    /// One find, one registration, one view (tag @connection-proving).
    ConnectionProving,
    /// Cases that need no intervention and set up matches (tag @stage1).
    Stage1,
    /// Checks after the match updates were applied (tag @stage2).
    Stage2,
    /// Reporting data to the six reporting endpoints (tag @reporting).
    Reporting,
    /// Retry, backoff and recovery under injected C&A faults (tag @resilience; not in "all").
    Resilience,
    /// The error catalogue: every C&A error the MaPS stub seeds and every bad view request,
    /// each a case the provider must survive or refuse (tags @errors and @reporting-errors;
    /// not in "all").
    Errors,
    /// The reporting scripts alone: every `INVALID_*` code of the reporting yaml and the
    /// transport errors, refused by the harness's validator and by the reporting API (tag
    /// @reporting-errors; also in "errors"; not in "all").
    ReportingErrors,
    /// What the reporting simulator of `pdp-harness serve` received from the organisation's own
    /// reporting client this UTC day, judged as PDP's pipeline does (tag @reporting-received;
    /// not in "all").
    ReportingReceived,
    /// Every pack, in order.
    All,
}

impl From<PackArg> for Pack {
    fn from(arg: PackArg) -> Pack {
        match arg {
            PackArg::ConnectionProving => Pack::ConnectionProving,
            PackArg::Stage1 => Pack::Stage1,
            PackArg::Stage2 => Pack::Stage2,
            PackArg::Reporting => Pack::Reporting,
            PackArg::Resilience => Pack::Resilience,
            PackArg::Errors => Pack::Errors,
            PackArg::ReportingErrors => Pack::ReportingErrors,
            PackArg::ReportingReceived => Pack::ReportingReceived,
            PackArg::All => Pack::All,
        }
    }
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
    use clap::ValueEnum as _;

    use super::*;

    /// The command line's pack names are the names the library records (and `rerun` reads
    /// back from a run log).
    #[test]
    fn every_pack_argument_is_the_library_pack_of_that_name() {
        for arg in PackArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(Pack::from(*arg).name()));
        }
        assert_eq!(PackArg::value_variants().len(), 9);
    }
}
