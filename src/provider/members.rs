//! What the reference provider reads of its member data, as an interface: the harness's test
//! pack implements it, so the provider depends on the data's types (in `protocol`) and not on
//! the pack, its cases or its expectations.

pub use crate::protocol::members::{
    Address, Illustration, IllustrationComponent, Pension, Persona, ProviderInfo, SplitArrangement,
};

/// What the reference provider reads of its member data. The test pack implements it; the
/// provider never sees the rest of the pack (cases, expectations, planned updates).
pub trait MemberRecords: std::fmt::Debug + Send + Sync {
    /// The provider the pensions live at.
    fn provider(&self) -> &ProviderInfo;
    /// Its holdername GUID, as PeIs carry it.
    fn holdername_guid(&self) -> &str;
    /// Every pension it administers.
    fn pensions(&self) -> &[Pension];
    /// The pension with this asset GUID (either case).
    fn pension(&self, asset_guid: &str) -> Option<&Pension>;
    /// The member record of this id.
    fn member(&self, id: &str) -> Option<&Persona>;
    /// Visit each member record with its pensions, in member id order: matching walks this
    /// for every find.
    fn each_member(&self, visit: &mut dyn FnMut(&Persona, &mut dyn Iterator<Item = &Pension>));
}

/// Shared member data is member data (the provider and the harness share one pack).
impl<T: MemberRecords + ?Sized> MemberRecords for std::sync::Arc<T> {
    fn provider(&self) -> &ProviderInfo {
        (**self).provider()
    }

    fn holdername_guid(&self) -> &str {
        (**self).holdername_guid()
    }

    fn pensions(&self) -> &[Pension] {
        (**self).pensions()
    }

    fn pension(&self, asset_guid: &str) -> Option<&Pension> {
        (**self).pension(asset_guid)
    }

    fn member(&self, id: &str) -> Option<&Persona> {
        (**self).member(id)
    }

    fn each_member(&self, visit: &mut dyn FnMut(&Persona, &mut dyn Iterator<Item = &Pension>)) {
        (**self).each_member(visit)
    }
}
