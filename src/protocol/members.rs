//! Synthetic member data as every party describes it: a person (the find data the CDA sends
//! is built from one, a provider's member records are such persons) and the pensions a provider
//! administers. Defined here, below the harness's test pack that reads them from its file and
//! the reference provider that matches and serves them, so neither imports the other.

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub use super::contract::Address;

/// A synthetic person, with names in the identity service's uppercase Latin form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub id: Spanned<String>,
    pub given_name: String,
    pub family_name: String,
    #[serde(default)]
    pub previous_family_names: Vec<String>,
    pub date_of_birth: String,
    pub national_insurance_number: Option<String>,
    pub address: Address,
    #[serde(default)]
    pub previous_addresses: Vec<Address>,
    pub email: Option<String>,
    pub mobile_number: Option<String>,
}

impl Persona {
    /// Every personal value of this persona, for redaction.
    pub fn personal_values(&self) -> Vec<String> {
        let mut v = vec![
            self.given_name.clone(),
            self.family_name.clone(),
            self.date_of_birth.clone(),
        ];
        v.extend(self.previous_family_names.iter().cloned());
        v.extend(self.national_insurance_number.iter().cloned());
        v.extend(self.email.iter().cloned());
        v.extend(self.mobile_number.iter().cloned());
        for a in std::iter::once(&self.address).chain(self.previous_addresses.iter()) {
            v.extend(a.lines.iter().cloned());
            v.push(a.postcode.clone());
        }
        v
    }
}

/// One illustration component (ERI or AP): recurring income payable details, or an
/// unavailable code (e.g. DBC, DCC) when the value cannot be returned yet.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IllustrationComponent {
    /// ERI or AP.
    pub illustration_type: String,
    pub benefit_type: String,
    pub calculation_method: String,
    pub annual_amount: Option<f64>,
    pub monthly_amount: Option<f64>,
    pub payable_date: Option<String>,
    #[serde(default)]
    pub increasing: bool,
    /// Unavailable code returned instead of the values (the component is never omitted).
    pub unavailable_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Illustration {
    pub date: String,
    pub dc_pot: Option<f64>,
    pub components: Vec<IllustrationComponent>,
}

/// A pension the reference provider administers for a member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pension {
    pub asset_guid: Spanned<String>,
    /// Persona id of the member.
    pub member: Spanned<String>,
    pub pension_reference: String,
    pub pension_type: String,
    pub pension_origin: String,
    pub pension_status: String,
    pub start_date: String,
    pub retirement_date: String,
    pub employer_name: String,
    pub employer_status: String,
    pub employment_start: String,
    pub illustration: Illustration,
    /// Split administration: further arrangements returned in the same view response.
    #[serde(default)]
    pub split: Vec<SplitArrangement>,
    /// New member: administrative details are not available yet (data item 2.005).
    #[serde(default)]
    pub new_member: bool,
    /// The provider's systems cannot produce the values now (data item 2.006).
    #[serde(default)]
    pub temporary_error: bool,
    /// Matched, but the member must contact the scheme (data item 2.004, `contactScheme`):
    /// a definite arrangement with the scheme name and administrator only.
    #[serde(default)]
    pub contact_scheme: bool,
}

/// A further arrangement of the same pension, administered separately.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitArrangement {
    pub pension_reference: String,
    pub pension_type: String,
    pub administrator_name: String,
}

/// The provider the pack's pensions live at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInfo {
    pub holdername_guid: Spanned<String>,
    pub scheme_name: String,
    pub administrator_name: String,
    pub administrator_email: String,
    pub administrator_phone: String,
}
