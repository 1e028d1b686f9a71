//! The heartbeat's carrier (issue 24, item 3): an Express Step Functions state machine with one
//! task, the AWS SDK integration `secretsmanager:getSecretValue` on the canary secret.
//!
//! Why a state machine: the read must be a real `GetSecretValue`, as an attacker's would be, so
//! that the canary takes the same way through CloudTrail, the log group and the filter as the
//! reads it vouches for. EventBridge Scheduler's universal targets refuse read-only actions
//! (`get*`, `describe*`, `list*`: EventBridge Scheduler user guide, "Using universal targets"),
//! and a function would be code to package, patch and secure. A state machine with an SDK task
//! is configuration only (Step Functions developer guide, "Integrating services with AWS SDK
//! integrations"); Express, because its price is per request and duration (a standard
//! workflow's is per state transition, and it keeps 90 days of execution history).
//!
//! The canary's value stays out of every log that matters: the task's `ResultSelector` keeps
//! only the version id, so the value never leaves the task; logging is `OFF`, so no execution
//! data reaches CloudWatch Logs; and an Express workflow keeps no execution history. The
//! canary holds a fixed text that is not a secret anyway.

use secmon_aws::sfn::types::{LogLevel, LoggingConfiguration, StateMachineType, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, read_fail, send};
use crate::{Aws, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_spec::DesiredState;

/// The state machine, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// Its Amazon States Language definition, as JSON.
    pub definition: Value,
    /// The role it runs with (the heartbeat's reader role).
    pub role_arn: String,
    /// `EXPRESS`.
    pub machine_type: String,
    /// `OFF`: no execution data is logged.
    pub logging_level: String,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts { ownership: Ownership::TaggingApi, refers_to: &[Kind::Role], step: 6, iam: IAM };

/// Its calls' actions (CreateStateMachine passes the reader role).
const IAM: crate::Iam = crate::Iam {
    read: &["states:DescribeStateMachine", "states:ListTagsForResource"],
    write: &["states:CreateStateMachine", "states:UpdateStateMachine", "states:DeleteStateMachine", "states:TagResource"],
    writes_on: None,
};

/// The state machine's definition: read the canary, keep its version id only.
pub fn definition(secret: &str) -> Value {
    json!({
        "Comment": "secmon heartbeat: reads the canary secret once; only its version id leaves the task",
        "StartAt": "ReadCanary",
        "States": {
            "ReadCanary": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
                "Parameters": {"SecretId": secret},
                "ResultSelector": {"VersionId.$": "$.VersionId"},
                "End": true
            }
        }
    })
}

/// The heartbeat's monthly cost at one read every `minutes`, item by item, in US dollars at
/// us-east-1 list prices (each page's figure as of 2026-12; docs/alerts.md cites them):
/// - the canary secret, $0.40 a month, and its reads, $0.05 per 10,000 API calls (AWS Secrets
///   Manager pricing);
/// - the canary metric, $0.30 a month (custom metric), and its alarm, $0.10 a month (standard
///   resolution) (Amazon CloudWatch pricing);
/// - the Express executions, $1.00 per million requests plus $0.00001667 per GB-second, each
///   billed as at least 100 ms and 64 MB (AWS Step Functions pricing);
/// - the read's CloudTrail record in the log group, about 1.5 KB at $0.50 per GB ingested
///   (CloudWatch Logs; the management event itself is CloudTrail's free first copy);
/// - the schedule rule: EventBridge charges nothing for events of AWS services, scheduled ones
///   included.
pub fn monthly_cost(minutes: u32) -> Vec<(&'static str, f64)> {
    let reads = 30.0 * 24.0 * 60.0 / f64::from(minutes.max(1));
    vec![
        ("canary secret", 0.40),
        ("canary metric", 0.30),
        ("canary alarm", 0.10),
        ("Secrets Manager reads", reads * 0.05 / 10_000.0),
        ("Step Functions", reads * (1.0 / 1_000_000.0 + 0.1 * 0.0625 * 0.000_016_67)),
        ("CloudWatch Logs ingestion", reads * 1.5e-6 * 0.50),
    ]
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// CreateStateMachine and UpdateStateMachine hand Step Functions the reader role.
    fn passes_role_to(&self, _r: &Resource) -> Option<&'static str> {
        Some("states.amazonaws.com")
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(n) = state.heartbeat_names().filter(|_| state.watched_from.is_none()) else { return Vec::new() };
        let attrs = Attrs {
            definition: definition(&n.secret),
            role_arn: t.role_arn(&n.reader_role),
            machine_type: "EXPRESS".into(),
            logging_level: "OFF".into(),
        };
        vec![Resource::new(
            Kind::StateMachine,
            &n.state_machine,
            Some(t.arn("states", &format!("stateMachine:{}", n.state_machine))),
            &attrs,
        )]
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let role = r.attrs::<Attrs>().role_arn;
        role.rsplit_once('/').map(|(_, name)| crate::Address::new(Kind::Role, name)).into_iter().collect()
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "states", "stateMachine:")
    }

    /// The heartbeat's price, item by item, computed from its schedule.
    fn spec_notes(&self, state: &DesiredState) -> Vec<String> {
        let Some(hb) = state.heartbeat.as_ref().filter(|_| state.watched_from.is_none()) else { return Vec::new() };
        let minutes = hb.minutes().unwrap_or(5);
        let items = monthly_cost(minutes);
        let total: f64 = items.iter().map(|(_, c)| c).sum();
        let parts: Vec<String> = items.iter().map(|(what, c)| format!("{what} ${c:.2}")).collect();
        vec![format!(
            "heartbeat: {} canary reads a month cost about ${total:.2} a month ({}; us-east-1 list prices, docs/alerts.md)",
            (30 * 24 * 60) / minutes,
            parts.join(", ")
        )]
    }

    /// A role IAM has just created is not yet assumable by Step Functions: CreateStateMachine
    /// answers AccessDeniedException "Neither the global service principal states.amazonaws.com,
    /// nor the regional one is authorized to assume the provided role" for seconds (as the
    /// Terraform AWS provider retries it, `resource_state_machine.go`).
    fn patience(&self, e: &KindError) -> crate::Patience {
        match e.code() {
            Some("AccessDeniedException") if e.message().contains("authorized to assume the provided role") => crate::Patience::Propagation,
            _ => crate::Patience::None,
        }
    }

    /// A state machine's type is fixed at creation (UpdateStateMachine has no `type`): a
    /// standard one of the heartbeat's name (made by hand, then imported) is replaced.
    fn forces_replacement(&self, before: &Resource, after: &Resource) -> Option<&'static str> {
        (before.attrs::<Attrs>().machine_type != after.attrs::<Attrs>().machine_type).then_some("machine_type")
    }

    /// DescribeStateMachine takes the state machine's ARN, which holds the account id (read in
    /// the first wave, with a provisional account, a state machine made by hand was missed and
    /// planned as new).
    fn needs_account(&self) -> bool {
        true
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let reads = ctx.desired_of(Kind::StateMachine).into_iter().map(|d| read_one(aws, d));
            let found = futures::future::try_join_all(reads).await?;
            Ok(found.into_iter().flatten().collect())
        })
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let request = aws.sfn.list_tags_for_resource().resource_arn(r.arn.clone().unwrap_or_default());
            let tags = request.send().await.map_err(fail("ListTagsForResource"))?;
            Ok(tags.tags().iter().find_map(|t| (t.key() == Some(OWNER_TAG)).then(|| t.value().unwrap_or_default().to_string())))
        })
    }

    /// It exists, is an Express workflow logging nothing, and reads the canary with the reader
    /// role.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("state machine {}", desired.name);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing(
                "state_machine.exists",
                &subject,
                "the heartbeat's state machine does not exist: the canary is never read, and the heartbeat pages",
            );
        };
        let (want, got): (Attrs, Attrs) = (desired.attrs(), live.resource.attrs());
        const APPLY: &str = "run `secmon apply`";
        vec![
            Check::holds(
                got.definition == want.definition && got.role_arn == want.role_arn,
                "state_machine.reads_canary",
                &subject,
                "reads the canary with the reader role, keeping only its version id",
                |id, s| Check::failed(id, s, "its definition or role is not secmon's: the canary may not be read").fix(APPLY),
            ),
            Check::holds(
                got.logging_level == "OFF" || got.logging_level.is_empty(),
                "state_machine.logging",
                &subject,
                "logs no execution data",
                |id, s| {
                    let level = &got.logging_level;
                    Check::warning(
                        id,
                        s,
                        format!("logging level {level}: execution data (the canary's version id) reaches CloudWatch Logs"),
                    )
                    .fix(APPLY)
                },
            ),
        ]
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let owner = Tag::builder().key(OWNER_TAG).value(&ctx.spec).build();
            let request = aws
                .sfn
                .create_state_machine()
                .name(&r.name)
                .definition(a.definition.to_string())
                .role_arn(&a.role_arn)
                .r#type(StateMachineType::from(a.machine_type.as_str()))
                .logging_configuration(logging(&a))
                .tags(owner);
            send("CreateStateMachine", request.send()).await
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, _before: &'a Resource, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let request = aws
                .sfn
                .update_state_machine()
                .state_machine_arn(r.arn.clone().unwrap_or_default())
                .definition(a.definition.to_string())
                .role_arn(&a.role_arn)
                .logging_configuration(logging(&a));
            send("UpdateStateMachine", request.send()).await
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let request = aws.sfn.delete_state_machine().state_machine_arn(r.arn.clone().unwrap_or_default());
        Box::pin(send("DeleteStateMachine", request.send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let request = aws.sfn.tag_resource().resource_arn(r.arn.clone().unwrap_or_default()).set_tags(Some(tags));
        Box::pin(send("TagResource", request.send()))
    }
}

fn logging(a: &Attrs) -> LoggingConfiguration {
    LoggingConfiguration::builder().level(LogLevel::from(a.logging_level.as_str())).include_execution_data(false).build()
}

/// The state machine at `d`'s ARN (computed from the spec, never looked up), or none.
async fn read_one(aws: &Aws, d: &Resource) -> Result<Option<LiveResource>, KindError> {
    let arn = d.arn.clone().unwrap_or_default();
    let described = match aws.sfn.describe_state_machine().state_machine_arn(&arn).send().await {
        Ok(x) => x,
        Err(e) if secmon_aws::error_code(&e).is_some_and(|c| c == "StateMachineDoesNotExist" || crate::not_found(c)) => return Ok(None),
        Err(e) => return Err(read_fail(d.address(), "DescribeStateMachine")(e)),
    };
    let attrs = Attrs {
        definition: serde_json::from_str(described.definition()).unwrap_or(Value::Null),
        role_arn: described.role_arn().to_string(),
        machine_type: described.r#type().as_str().to_string(),
        logging_level: described
            .logging_configuration()
            .and_then(|l| l.level())
            .map(|l| l.as_str().to_string())
            .unwrap_or_else(|| "OFF".into()),
    };
    Ok(Some(LiveResource::new(Resource::new(Kind::StateMachine, &d.name, Some(described.state_machine_arn().to_string()), &attrs), false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_costs_under_a_dollar_a_month_at_five_minutes_mostly_fixed() {
        let total: f64 = monthly_cost(5).iter().map(|(_, c)| c).sum();
        assert!((0.85..0.87).contains(&total), "{total}");
        let every_minute: f64 = monthly_cost(1).iter().map(|(_, c)| c).sum();
        assert!((1.0..1.1).contains(&every_minute), "{every_minute}");
    }

    #[test]
    fn the_definition_keeps_only_the_version_id_of_what_it_reads() {
        let d = definition("secmon/s/heartbeat-canary");
        let task = &d["States"]["ReadCanary"];
        assert_eq!(task["Resource"], "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue");
        assert_eq!(task["Parameters"]["SecretId"], "secmon/s/heartbeat-canary");
        assert_eq!(task["ResultSelector"], json!({"VersionId.$": "$.VersionId"}), "the value never leaves the task");
    }
}
