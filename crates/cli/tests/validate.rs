//! A user validates specs and gets the JSON Schema for their editor.

use std::process::Command;

use crate::common::{root, secmon_offline as secmon};

#[test]
fn the_seed_spec_validates() {
    let out = secmon(&["validate", "-f", "specs/seed.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("specs/seed.yaml is valid"));
}

#[test]
fn an_invalid_spec_exits_1_naming_file_line_and_field() {
    let out = secmon(&["validate", "-f", "tests/invalid/002-unknown-alarm-key.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tests/invalid/002-unknown-alarm-key.yaml:18:7"), "{err}");
    assert!(err.contains("monitors[0].alarm.evaluation_period"), "{err}");
    assert!(err.contains("did you mean `evaluation_periods`?"), "{err}");
    assert!(!err.contains('\x1b'), "NO_COLOR is respected");
}

/// Issue 26, findings 23 and 31: a missing file is named without a `:0:0` locator, with the
/// default said; a region typo and an unquoted account id get the fix.
#[test]
fn findings_23_and_31_missing_files_region_typos_and_unquoted_ids_say_the_fix() {
    let out = secmon(&["validate", "-f", "no/such/spec.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/spec.yaml: error: cannot read spec") && !err.contains(":0:0"), "{err}");
    assert!(err.contains("the default is secmon.yaml"), "{err}");
    let scratch = tempfile::tempdir().unwrap();
    let spec = scratch.path().join("typo.yaml");
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    std::fs::write(&spec, format!("{seed}\ntargets:\n  accounts: [111122223333]\n  role_name: R\n  regions: [us-esat-1]\n")).unwrap();
    let out = secmon(&["validate", "-f", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean us-east-1?"), "{err}");
    assert!(err.contains("quote it, so YAML reads it as text (and keeps leading zeros): \"111122223333\""), "{err}");
}

#[test]
fn validate_speaks_json_for_machines() {
    let out = secmon(&["validate", "-f", "tests/invalid/050-alarm-period.yaml", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1, "issue 26, finding 17");
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["field"], "monitors[0].alarm.period");
    assert_eq!(v["errors"][0]["line"], 18);
    let out = secmon(&["validate", "-f", "specs/seed.yaml", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn a_missing_file_is_an_error_not_a_crash() {
    let out = secmon(&["validate", "-f", "no/such/spec.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/spec.yaml"));
}

/// The schema must accept the seed spec and reject a typo, checked by an independent validator
/// (Python's `jsonschema`, installed with the emulator by scripts/test).
#[test]
fn the_schema_validates_the_seed_spec_and_rejects_typos() {
    let out = secmon(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let scratch = tempfile::Builder::new().prefix("secmon-schema-").tempdir().unwrap();
    let dir = scratch.path();
    let schema = dir.join("schema.json");
    std::fs::write(&schema, &out.stdout).unwrap();
    let python = std::env::var("SECMON_EMULATOR_PYTHON").unwrap_or_else(|_| root().join(".venv/bin/python").display().to_string());
    if !std::path::Path::new(&python).exists() {
        // scripts/test always installs it (jsonschema sits in the emulator's venv).
        eprintln!("skipped: the schema check needs the project's .venv (jsonschema); run scripts/test");
        return;
    }
    let check = |spec: &str| {
        Command::new(&python)
            .args([
                "-c",
                "import sys, json, yaml, jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
            ])
            .arg(&schema)
            .arg(root().join(spec))
            .output()
            .expect("python with jsonschema: run the tests with scripts/test")
    };
    for spec in ["specs/seed.yaml", "specs/all-packs.yaml", "examples/app-team.yaml"] {
        let ok = check(spec);
        assert!(ok.status.success(), "{spec}: {}", String::from_utf8_lossy(&ok.stderr));
    }
    let bad = check("tests/invalid/002-unknown-alarm-key.yaml");
    assert!(!bad.status.success(), "the schema must reject unknown fields");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("evaluation_period"));
    // A trail is another tool's (`external`, examples/control-tower.yaml) or has a name and a
    // bucket: the schema says so, as the loader does.
    assert!(check("examples/control-tower.yaml").status.success());
    let nameless = dir.join("nameless.yaml");
    std::fs::write(&nameless, "version: 1\nname: t\ntrail:\n  bucket: { name: bucket-x }\n").unwrap();
    let out = check(nameless.to_str().unwrap());
    assert!(!out.status.success(), "a trail with neither `external` nor a name is refused");
}

#[test]
fn without_credentials_plan_says_how_to_configure_them_and_changes_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(["plan", "-f", "specs/seed.yaml"])
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hint: configure AWS credentials"), "{err}");
    assert!(!err.contains("DispatchFailure {"), "no debug dump: {err}");
}

#[test]
fn every_example_and_spec_shipped_validates() {
    let mut files = Vec::new();
    for dir in ["specs", "examples"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    // Strict: a shipped spec lints clean, so a pack rule naming an event lint does not know
    // (GUARD-LOGS's CreateExportTask once) fails here, not in a user's pull request.
    for f in files {
        let out = secmon(&["validate", "-f", f.to_str().unwrap(), "--strict"]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
    }
}

/// Issue 13, item 10: the habits of the field: completions, --color.
#[test]
fn completions_and_colour_choice() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = secmon(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("secmon") && script.contains("test-pattern") && script.len() > 1000, "{shell}");
    }
    let painted = secmon(&["validate", "-f", "tests/invalid/002-unknown-alarm-key.yaml", "--color", "always"]);
    assert!(String::from_utf8_lossy(&painted.stderr).contains('\x1b'), "--color always paints even without a terminal");
    let plain = secmon(&["validate", "-f", "tests/invalid/002-unknown-alarm-key.yaml", "--color", "never"]);
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\x1b'));
}

#[test]
fn strict_validate_fails_on_warnings() {
    let out = secmon(&["validate", "-f", "tests/fixtures/lint-everything.yaml"]);
    assert_eq!(out.status.code(), Some(0), "warnings alone: valid");
    let out = secmon(&["validate", "-f", "tests/fixtures/lint-everything.yaml", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Issue 13, item 6: validate reports the errors of every stage in one run: an unknown field,
/// a dangling reference and a filter-pattern syntax error together, in line order.
#[test]
fn validate_reports_every_error_in_one_run() {
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let broken = seed
        .replace("evaluation_periods: 1", "evaluation_period: 1")
        .replace("notify: [SecurityAlarms]", "notify: [NoSuchTopic]")
        .replace("'{ ($.eventSource = \"", "'{ ($.eventSource = = \"");
    assert_ne!(broken, seed);
    let scratch = tempfile::Builder::new().prefix("secmon-every-error-").tempdir().unwrap();
    let dir = scratch.path();
    let file = dir.join("broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let out = secmon(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let at = |needle: &str| err.find(needle).unwrap_or_else(|| panic!("missing {needle:?} in:\n{err}"));
    let (pattern, field, reference) =
        (at("monitors[0].pattern: filter pattern syntax error"), at("monitors[0].alarm.evaluation_period:"), at("monitors[0].notify[0]:"));
    assert!(pattern < field && field < reference, "in line order:\n{err}");
    assert!(err.contains("has 3 error(s)"), "{err}");
}

/// Linting the part of an invalid spec that could be read never crashes: every invalid fixture
/// exits 1 with its diagnostics.
#[test]
fn validate_exits_1_on_every_invalid_fixture() {
    let mut files: Vec<_> = std::fs::read_dir(root().join("tests/invalid")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        let out = secmon(&["validate", "-f", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
    }
}

/// Issue 26, item 4: a duplicate key, which YAML resolves to the last while a reviewer reads the
/// first, is an error located at the second, naming the first.
#[test]
fn a_duplicate_key_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("dup.yaml");
    let seed = std::fs::read_to_string(crate::common::root().join("specs/seed.yaml")).unwrap();
    std::fs::write(&spec, seed.replace("      threshold: 1\n", "      threshold: 1\n      threshold: 1000000\n")).unwrap();
    let out = crate::common::secmon_offline(&["validate", "-f", spec.to_str().unwrap()]);
    let err = format!("{}{}", crate::common::text(&out.stdout), crate::common::text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("dup.yaml:") && err.contains("duplicate key `threshold`") && err.contains("first at line"), "{err}");
}

/// Issue 25, item 5: detection as code. A monitor carries `tests` (events files, relative to the
/// spec, that its pattern must match or must not); `validate` runs them, and a failing one, or
/// one whose file is missing, is an error at the test's entry with the command that explains
/// each event. The example spec's tests pass on the Stratus Red Team records.
#[test]
fn issue_25_a_monitors_tests_are_run_by_validate_and_fail_it_when_they_fail() {
    let out = secmon(&["validate", "-f", "examples/app-team.yaml", "--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let scratch = tempfile::Builder::new().prefix("secmon-monitor-tests-").tempdir().unwrap();
    let dir = scratch.path();
    std::fs::copy(
        root().join("tests/fixtures/stratus-red-team/aws.credential-access.secretsmanager-retrieve-secrets.json"),
        dir.join("reads.json"),
    )
    .unwrap();
    std::fs::copy(root().join("tests/fixtures/stratus-red-team/aws.persistence.iam-create-admin-user.json"), dir.join("iam.json")).unwrap();
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let with_tests = |tests: &str| {
        let file = dir.join("spec.yaml");
        std::fs::write(&file, format!("{seed}    tests:\n{tests}")).unwrap();
        let out = secmon(&["validate", "-f", file.to_str().unwrap()]);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = with_tests("      - { events: reads.json, expect: match }\n      - { events: iam.json, expect: no-match }\n");
    assert_eq!(code, Some(0), "{err}");

    let (code, err) = with_tests("      - { events: iam.json, expect: match }\n      - { events: reads.json, expect: no-match }\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("monitors[0].tests[0]: expected a match in iam.json, and none of its 3 event(s) matches"), "{err}");
    assert!(err.contains("monitors[0].tests[1]: expected no match in reads.json, and "), "{err}");
    assert!(err.contains("secmon test-pattern -f") && err.contains("--monitor 'Secret is accessed'"), "the way to see why: {err}");
    assert!(err.contains("spec.yaml:50:11: error: monitors[0].tests[0]"), "at the test's entry: {err}");

    let (code, err) = with_tests("      - { events: missing.json, expect: match }\n      - { events: reads.json, expect: maybe }\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("monitors[0].tests[0]: test events missing.json:"), "{err}");
    assert!(err.contains("monitors[0].tests[1].expect: unknown expect \"maybe\""), "{err}");
}
