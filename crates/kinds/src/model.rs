//! The data every kind shares: a [`Resource`] (desired or live), what was found live
//! ([`LiveResource`], [`LiveState`]) and where the pipeline lives ([`Target`]).
//!
//! A resource's attributes are kept as a JSON map because the plan is data (saved, diffed,
//! rendered generically, like Terraform's plan JSON). They are written and read only through the
//! typed `Attrs` struct of the resource's kind ([`Resource::new`], [`Resource::attrs`]), so each
//! attribute name is spelled once, as a struct field, with one default.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Kind;

/// Path under which secmon creates IAM roles.
pub const ROLE_PATH: &str = "/secmon/";
/// Every role under [`ROLE_PATH`], in any account: what `secmon permissions` lets the deployer
/// write and pass.
pub const ROLE_ARNS: &str = "arn:aws:iam::*:role/secmon/*";
/// Tag key marking ownership; its value is the spec name.
pub const OWNER_TAG: &str = "secmon:spec";
/// Tag key holding the secret value's version (the value itself is never read back).
pub const VALUE_VERSION_TAG: &str = "secmon:value-version";
/// Tag key holding the digest of the attributes the last apply wrote ([`Resource::digest`]):
/// live ≠ that means drift, spec ≠ that means an edit.
pub const APPLIED_TAG: &str = "secmon:applied";

/// Where the pipeline lives: the ARNs of its parts follow from these.
#[derive(Debug, Clone)]
pub struct Target {
    /// The account id.
    pub account_id: String,
    /// The region.
    pub region: String,
}

impl Target {
    /// `arn:aws:<service>:<region>:<account>:<rest>`: the ARN form of every regional kind.
    pub fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{rest}", self.region, self.account_id)
    }
    /// A trail's ARN.
    pub fn trail_arn(&self, name: &str) -> String {
        self.arn("cloudtrail", &format!("trail/{name}"))
    }
    /// A log group's ARN (without the `:*` CloudTrail wants).
    pub fn log_group_arn(&self, name: &str) -> String {
        self.arn("logs", &format!("log-group:{name}"))
    }
    /// A role's ARN, under secmon's path.
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role{ROLE_PATH}{name}", self.account_id)
    }
    /// A topic's ARN.
    pub fn topic_arn(&self, name: &str) -> String {
        self.arn("sns", name)
    }
    /// An alarm's ARN.
    pub fn alarm_arn(&self, name: &str) -> String {
        self.arn("cloudwatch", &format!("alarm:{name}"))
    }
}

/// One AWS resource as secmon models it, live or desired. `attrs` are the compared attributes;
/// `name` and `arn` identify it and are not compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Its kind.
    pub kind: Kind,
    /// Its name, unique within its kind.
    pub name: String,
    /// Its ARN, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The compared attributes: the kind's `Attrs`, serialized.
    pub attrs: BTreeMap<String, Value>,
    /// What apply needs but comparison ignores (where a secret's value comes from).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, Value>,
}

impl Resource {
    /// A short, stable digest of the attributes (FNV-1a, 64 bits, of their canonical JSON): what
    /// the `secmon:applied` tag remembers of the last apply.
    pub fn digest(&self) -> String {
        let text = serde_json::to_string(&self.attrs).expect("attributes serialise");
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

/// The host (with its port, if any) of a URL: no scheme, user info, path, query or fragment.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default()
}

/// The first `bytes` bytes of `text`'s SHA-256, in hex: a short stable name for what may not
/// be shown (a webhook's URL) or may not be used in a name (a Teams channel id).
pub(crate) fn sha256_hex(text: &str, bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().take(bytes).map(|b| format!("{b:02x}")).collect()
}

/// Serialises a typed value into a JSON map (attributes and meta are maps in the plan).
pub(crate) fn to_map<T: Serialize>(v: &T) -> BTreeMap<String, Value> {
    match serde_json::to_value(v).expect("attributes serialise") {
        Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    }
}

/// The typed form of a JSON map; a value of the wrong type (a bug in a reader or a hand-edited
/// plan file) falls back to the defaults rather than panicking in the middle of an apply.
fn from_map<T: DeserializeOwned + Default>(map: &BTreeMap<String, Value>) -> T {
    let map: serde_json::Map<String, Value> = map.clone().into_iter().collect();
    serde_json::from_value(Value::Object(map)).unwrap_or_default()
}

impl Resource {
    /// A resource of `kind` with the kind's typed attributes.
    pub fn new<A: Serialize>(kind: Kind, name: &str, arn: Option<String>, attrs: &A) -> Resource {
        Resource { kind, name: name.to_string(), arn, attrs: to_map(attrs), meta: BTreeMap::new() }
    }

    /// A resource known only by its identity (an owned ARN not read in detail).
    pub fn bare(kind: Kind, name: &str, arn: Option<String>) -> Resource {
        Resource { kind, name: name.to_string(), arn, attrs: BTreeMap::new(), meta: BTreeMap::new() }
    }

    /// `kind.name`: how plans, targets and errors name it.
    pub fn address(&self) -> Address {
        Address::new(self.kind, &self.name)
    }

    /// The typed attributes. Missing keys take the struct's defaults (one default per
    /// attribute); a value of the wrong type is a bug in a reader or a hand-edited plan file,
    /// and also falls back to the defaults rather than panicking in the middle of an apply.
    pub fn attrs<A: DeserializeOwned + Default>(&self) -> A {
        from_map(&self.attrs)
    }

    /// Typed meta (what apply needs but comparison ignores).
    pub fn meta<M: DeserializeOwned + Default>(&self) -> M {
        from_map(&self.meta)
    }

    /// With what apply needs besides the compared attributes (the kind's `Meta`).
    pub fn with_meta<M: Serialize>(mut self, meta: &M) -> Resource {
        self.meta = to_map(meta);
        self
    }
}

/// A resource found in AWS, in the same model as the desired ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    /// The resource as read.
    pub resource: Resource,
    /// Tagged `secmon:spec=<this spec>` (or, for untaggable kinds, inside an owned resource).
    pub owned: bool,
    /// A subscription waiting for its e-mail confirmation.
    #[serde(default)]
    pub pending: bool,
    /// A bucket that holds objects (log files).
    #[serde(default)]
    pub holds_data: bool,
    /// What the read saw besides compared attributes, for verify only (delivery status, alarm
    /// state): volatile, so it never enters a plan. Typed by the kind's `Observed` struct.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed: BTreeMap<String, Value>,
    /// Another spec that owns it (its `secmon:spec` tag), when it is not this spec's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The digest of what the last apply wrote (its `secmon:applied` tag), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

impl LiveResource {
    /// A resource found, owned or not, with nothing else known.
    pub fn new(resource: Resource, owned: bool) -> LiveResource {
        LiveResource { resource, owned, pending: false, holds_data: false, observed: BTreeMap::new(), owner: None, applied: None }
    }

    /// A resource read with its own tags (`tag` looks one up): owned when `secmon:spec` names
    /// `spec`, another spec's otherwise; with the digest of its last apply.
    pub fn tagged<'t>(resource: Resource, spec: &str, tag: impl Fn(&str) -> Option<&'t str>) -> LiveResource {
        let owner_tag = tag(OWNER_TAG);
        let mut l = LiveResource::new(resource, owner_tag == Some(spec));
        l.owner = owner_tag.filter(|o| *o != spec).map(str::to_string);
        l.applied = tag(APPLIED_TAG).map(str::to_string);
        l
    }

    /// Typed observations ([`LiveResource::observed`]).
    pub fn observed<O: DeserializeOwned + Default>(&self) -> O {
        from_map(&self.observed)
    }

    /// With what verify observed ([`LiveResource::observed`]).
    pub fn with_observed<O: Serialize>(mut self, observed: &O) -> LiveResource {
        self.observed = to_map(observed);
        self
    }
}

/// A resource's address, `kind.name` (`bucket.my-trail-logs`): how plans, targets, errors and
/// references between resources name it. Typed, so that the graph can ask a reference's kind
/// ([`crate::graph`]) and nothing parses the text; it borrows as its text (`map.get("topic.T")`),
/// is ordered as its text, and is written and read as its text, so that plan files and
/// `--target` keep it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// `kind.name`, of a known kind ([`Address::new`], [`str::parse`]); the kind's name ends at
    /// the first `.` (no kind's name holds one). Only the text is kept, so that an address is
    /// no larger than a string, and every error that carries one stays small.
    text: String,
}

impl Address {
    /// The address of the resource of `kind` named `name`.
    pub fn new(kind: Kind, name: &str) -> Address {
        Address { text: format!("{}.{name}", kind.as_str()) }
    }
    /// The resource's kind.
    pub fn kind(&self) -> Kind {
        let prefix = self.text.split_once('.').map_or("", |(k, _)| k);
        Kind::ALL.iter().copied().find(|k| k.as_str() == prefix).expect("an address is made of a known kind")
    }
    /// The resource's name within its kind.
    pub fn name(&self) -> &str {
        self.text.split_once('.').map_or("", |(_, n)| n)
    }
    /// `kind.name`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Ordered, compared and hashed as its text (the kind follows from it), so maps keyed by
/// address answer to the text.
impl std::borrow::Borrow<str> for Address {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Text that is no address: no known kind before the first `.`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a resource address (KIND.NAME, where KIND is one of {kinds})", kinds = Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))]
pub struct NotAnAddress(pub String);

impl std::str::FromStr for Address {
    type Err = NotAnAddress;
    fn from_str(s: &str) -> Result<Address, NotAnAddress> {
        let (kind, name) = s.split_once('.').ok_or_else(|| NotAnAddress(s.to_string()))?;
        let kind = Kind::ALL.iter().copied().find(|k| k.as_str() == kind).ok_or_else(|| NotAnAddress(s.to_string()))?;
        Ok(Address::new(kind, name))
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for Address {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl PartialEq<Address> for String {
    fn eq(&self, other: &Address) -> bool {
        *self == other.text
    }
}

impl PartialEq<Address> for &str {
    fn eq(&self, other: &Address) -> bool {
        *self == other.text
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything secmon found in AWS that matters to this spec, keyed by address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// The account read.
    pub account_id: String,
    /// The region read.
    pub region: String,
    /// What was found, by address.
    pub resources: BTreeMap<Address, LiveResource>,
}

impl LiveState {
    /// Adds a resource under its address.
    pub fn insert(&mut self, r: LiveResource) {
        self.resources.insert(r.resource.address(), r);
    }
}

/// One form for ARNs that AWS writes in two: `log-group:NAME:*` and `log-group:NAME`.
pub fn normalize_arn(arn: &str) -> String {
    arn.strip_suffix(":*").unwrap_or(arn).to_string()
}

/// The resource part of an ARN of `service` (`arn:aws:sns:r:a:Topic` → `Topic`).
pub fn arn_resource<'a>(arn: &'a str, service: &str) -> Option<&'a str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn" && parts[2] == service).then(|| parts[5])
}

/// The name in an ARN of `service` whose resource part is `prefix` followed by the name.
pub fn arn_name(arn: &str, service: &str, prefix: &str) -> Option<String> {
    arn_resource(arn, service)?.strip_prefix(prefix).map(str::to_string)
}

/// A string attribute whose AWS default (when the field is absent) is `$default`: one default,
/// for reading and writing alike, so that an absent field never diffs against its default.
#[macro_export]
macro_rules! string_with_default {
    ($(#[$doc:meta])* $name:ident = $default:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl Default for $name {
            fn default() -> Self {
                $name($default.into())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_role_arn_pattern_is_the_role_path() {
        assert_eq!(ROLE_ARNS, format!("arn:aws:iam::*:role{ROLE_PATH}*"));
    }

    #[test]
    fn an_address_is_its_text_typed() {
        let a: Address = "log_group.secmon/trail.logs".parse().unwrap();
        assert_eq!((a.kind(), a.name()), (Kind::LogGroup, "secmon/trail.logs"), "the name may hold dots");
        assert_eq!(a.to_string(), "log_group.secmon/trail.logs");
        assert_eq!(a, Address::new(Kind::LogGroup, "secmon/trail.logs"));
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!("log_group.secmon/trail.logs"));
        assert_eq!(serde_json::from_value::<Address>(serde_json::json!("log_group.secmon/trail.logs")).unwrap(), a);
    }

    #[test]
    fn text_that_names_no_kind_is_no_address() {
        for bad in ["bucket", "buckets.x", ".x", "access_log_bucket.x"] {
            let e = bad.parse::<Address>().unwrap_err();
            assert!(e.to_string().contains("KIND.NAME") && e.to_string().contains("bucket"), "{e}");
        }
        assert!(serde_json::from_value::<Address>(serde_json::json!("nope.x")).is_err(), "a plan file with a bad address is refused");
    }

    #[test]
    fn addresses_order_and_look_up_as_their_text() {
        let names = ["topic.T", "alarm.b", "log_group.a", "bucket.x-access-logs", "bucket.x", "key.k", "metric_filter.m"];
        let typed: BTreeSet<Address> = names.iter().map(|n| n.parse().unwrap()).collect();
        let text: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(typed.iter().map(Address::as_str).collect::<Vec<_>>(), text.into_iter().collect::<Vec<_>>());
        assert!(typed.contains("bucket.x"), "a map keyed by address answers to the text");
    }
}
