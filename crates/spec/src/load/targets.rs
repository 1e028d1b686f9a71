//! `targets:`: the accounts (listed or by OU), the role to assume and the regions.

use super::yaml::Node;
use super::Loader;
use crate::model::Targets;
use crate::rules;

impl Loader<'_> {
    /// The `targets` section: accounts (listed, or by OU), the role to assume, regions.
    pub(super) fn targets(&mut self, n: &Node, path: &str) -> Option<Targets> {
        let o = self.obj::<Targets>(n, path)?;
        let mut accounts = Vec::new();
        for (p, at, a) in self.string_list(&o, "accounts") {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                self.error(
                    at,
                    &p,
                    format!("{a:?} is not an AWS account id (12 digits)"),
                    Some("quote it, so YAML keeps its leading zeros: \"012345678901\"".into()),
                );
            } else if accounts.contains(&a) {
                self.error(at, &p, format!("{a} is listed twice"), None);
            }
            accounts.push(a);
        }
        let mut organizational_units = Vec::new();
        for (p, at, u) in self.string_list(&o, "organizational_units") {
            let ok = |prefix: &str, min: usize| {
                u.starts_with(prefix) && u.len() >= min && u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            if !(ok("ou-", 11) || ok("r-", 6)) {
                self.error(
                    at,
                    &p,
                    format!("{u:?} is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"),
                    Some("`aws organizations list-roots` and `list-organizational-units-for-parent` name them".into()),
                );
            }
            organizational_units.push(u);
        }
        if accounts.is_empty() && organizational_units.is_empty() {
            self.error(o.pos, path, "targets name no account", Some("list `accounts`, or `organizational_units` to enumerate".into()));
        }
        let role_name = self.checked(&o, "role_name", true, rules::role_name);
        let external_id = self.opt_string(&o, "external_id");
        if let Some(e) = &external_id {
            let at = self.locs[&o.path("external_id")];
            let ok = (2..=1224).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                self.error(at, &o.path("external_id"), "an external id is 2-1224 characters of letters, digits and +=,.@:/-_", None);
            }
        }
        let mut regions = Vec::new();
        for (p, at, r) in self.string_list(&o, "regions") {
            self.check(at, &p, rules::region(&r));
            if regions.contains(&r) {
                self.error(at, &p, format!("{r} is listed twice"), None);
            }
            regions.push(r);
        }
        Some(Targets { accounts, organizational_units, role_name: role_name?, external_id, regions })
    }
}
