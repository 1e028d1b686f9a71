//! One schema for the spec (issue 23, item 4): the loader, which walks the YAML by hand to report
//! every error with its line, and the serde model, which `secmon schema` and the docs come from,
//! read every spec the same way, defaults included. A default changed in one place and not the
//! other, or a field the loader reads that the model lacks, fails here.

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use secmon_spec::{DesiredState, Metric, Spec};
use serde_json::Value;

/// The YAML document as JSON, the form serde reads the model from.
fn json(n: &MarkedYamlOwned) -> Value {
    match &n.data {
        YamlDataOwned::Value(ScalarOwned::Null) => Value::Null,
        YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Value::Bool(*b),
        YamlDataOwned::Value(ScalarOwned::Integer(i)) => Value::from(*i),
        YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => Value::from(f.into_inner()),
        YamlDataOwned::Value(ScalarOwned::String(s)) | YamlDataOwned::Representation(s, ..) => Value::String(s.clone()),
        YamlDataOwned::Sequence(items) => Value::Array(items.iter().map(json).collect()),
        YamlDataOwned::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match json(k) {
                    Value::String(k) => (k, json(v)),
                    other => panic!("mapping key {other}"),
                })
                .collect(),
        ),
        YamlDataOwned::Tagged(_, inner) => json(inner),
        other => panic!("no JSON for {other:?}"),
    }
}

/// What the loader's state and serde's share: the hand-written spec, packs not expanded (the
/// loader appends each pack's monitors; serde only reads the `packs:` entries).
fn written(mut s: DesiredState) -> DesiredState {
    s.monitors.retain(|m| m.rule.is_none());
    s.contributors.retain(|c| c.rule.is_none());
    // `trail.external` is set apart the same way (the loader has done it).
    s.normalize_trail();
    // Routing is one function both readings share (idempotent: the loader has applied it).
    s.route();
    for m in &mut s.monitors {
        // A valid spec never sets `default` beside dimensions (the loader refuses it), so
        // serde's per-field default stands for "absent" there.
        if !m.metric.dimensions.is_empty() {
            m.metric.default = Metric::default_when_absent(&m.metric.dimensions);
        }
    }
    s.packs.clear();
    s
}

fn both_read_the_same(text: &str, file: &str) {
    let loaded = Spec::parse(text, file).unwrap_or_else(|e| panic!("{file}: {e}")).state;
    let doc = MarkedYamlOwned::load_from_str(text).unwrap();
    let deserialized: DesiredState =
        serde_json::from_value(json(&doc[0])).unwrap_or_else(|e| panic!("{file}: the serde model refuses what the loader accepts: {e}"));
    assert_eq!(written(loaded), written(deserialized), "{file}: the loader and the model read it differently");
}

fn specs_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect();
    out.sort();
    out
}

#[test]
fn every_shipped_spec_reads_the_same_through_the_loader_and_the_model() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files: Vec<PathBuf> = [root.join("specs"), root.join("examples")].iter().flat_map(|d| specs_in(d)).collect();
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        both_read_the_same(&std::fs::read_to_string(&f).unwrap(), &f.display().to_string());
    }
}

#[test]
fn a_minimal_spec_gets_the_same_defaults_from_the_loader_and_the_model() {
    // Every optional field left out: each default is decided in one place.
    let text = "version: 1\nname: d\nsecrets:\n  - name: s\n    value: { generate: { } }\ntrail:\n  name: trail-d\n  bucket: { name: bucket-d }\n  cloudwatch_logs: { log_group: lg }\ntopics: [{ name: T }]\nmonitors:\n  - name: M\n    pattern: GetSecretValue\n    metric: { name: M }\n    notify: [T]\n";
    both_read_the_same(text, "minimal.yaml");
    let text = "version: 1\nname: d\ntrail:\n  name: trail-d\n  bucket: { name: bucket-d }\n  management_events: { }\nmonitors: []\n";
    both_read_the_same(text, "empty-sections.yaml");
}

#[test]
fn a_spec_that_sets_every_field_reads_the_same_through_the_loader_and_the_model() {
    let text = r#"version: 1
name: every-field
region: eu-west-1
alert_context: true
secrets:
  - name: app/db
    description: the database password
    kms_key_id: alias/app
    tags: { team: payments }
    value: { from_env: DB_PASSWORD, version: 3 }
  - name: app/token
    value: { generate: { length: 64, exclude_punctuation: true } }
trail:
  name: org-trail
  multi_region: true
  organization: false
  log_file_validation: false
  bucket:
    name: logs-${account_id}
    expire_logs_after_days: null
    versioning: false
    disable_acls: false
    access_logging: true
    access_log_bucket: access-${account_id}
  management_events: { read_write: WriteOnly, exclude_sources: [kms.amazonaws.com] }
  s3_data_events: All
  cloudwatch_logs: { log_group: trail-logs, retention_days: null, role_name: trail-role }
  notify_topic: Deliveries
topics:
  - { name: Alerts, email: [a@example.com, b@example.com] }
  - { name: Deliveries }
monitors:
  - name: reads
    description: every read
    pattern: '{ $.eventName = "GetSecretValue" }'
    filter_name: reads-filter
    metric: { namespace: Team, name: Reads, value: "$.requestParameters.count", default: null, dimensions: { Who: $.userIdentity.arn } }
    alarm:
      name: reads-alarm
      statistic: Maximum
      period: 300
      evaluation_periods: 3
      datapoints_to_alarm: 2
      threshold: 4.5
      comparison: GreaterThanThreshold
      treat_missing_data: breaching
      ok_actions: true
      dimensions: { Who: arn:aws:iam::123456789012:user/x }
    notify: [Alerts]
    severity: high
    alert_context: false
routes: { high: [Deliveries] }
encryption: { key: none, trail: false, bucket: false, log_group: false, topics: false }
targets:
  accounts: ["111122223333"]
  role_name: secmon
  external_id: ext-123
  regions: [eu-west-1, us-east-1]
"#;
    both_read_the_same(text, "every-field.yaml");
}
