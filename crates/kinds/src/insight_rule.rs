//! CloudWatch Contributor Insights rule on the trail's log group (issue 25, item 1): counts the
//! events of a `contributors:` entry per contributor (a principal, a principal and a secret), so
//! that an alarm on `INSIGHT_RULE_METRIC` pages when one principal sweeps many secrets without a
//! metric per principal. The definition is `secmon_sim::contributors`'s, which proves it selects
//! exactly what the pattern matches.
//!
//! PutInsightRule creates and replaces in one call, with tags only at creation ("If you are
//! using this operation to update an existing Contributor Insights rule, any tags you specify
//! in this parameter are ignored", PutInsightRule API reference); DescribeInsightRules lists the
//! region's rules (500 a page) without their ARNs, which are computed
//! (`arn:aws:cloudwatch:REGION:ACCOUNT:insight-rule/NAME`, CloudWatch's resource types in the
//! Service Authorization Reference); DeleteInsightRules answers a failure list instead of an
//! error.

use secmon_aws::cloudwatch::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, send};
use crate::{
    Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

/// The rule, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The definition, as JSON (compared as data: AWS may answer it reformatted).
    pub definition: Value,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::TaggingApi,
    refers_to: &[Kind::LogGroup],
    step: 4,
    iam: crate::Iam {
        read: &["cloudwatch:DescribeInsightRules", "cloudwatch:ListTagsForResource"],
        write: &["cloudwatch:PutInsightRule", "cloudwatch:DeleteInsightRules", "cloudwatch:TagResource"],
        writes_on: None,
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

/// A rule's ARN in target `t`.
fn rule_arn(t: &Target, name: &str) -> String {
    t.arn("cloudwatch", &format!("insight-rule/{name}"))
}

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(log_group) = state.log_group() else { return Vec::new() };
        state
            .contributors
            .iter()
            .filter_map(|c| {
                // The loader refuses a pattern with no definition (`secmon_sim::contributors::check`).
                let pattern = secmon_sim::Pattern::parse(&c.pattern).ok()?;
                let definition = secmon_sim::contributors::definition(log_group, &c.keys, &pattern).ok()?;
                let attrs = Attrs { definition, state: "ENABLED".into() };
                Some(Resource::new(Kind::InsightRule, &c.name, Some(rule_arn(t, &c.name)), &attrs))
            })
            .collect()
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let a: Attrs = r.attrs();
        a.definition["LogGroupNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|g| crate::Address::new(Kind::LogGroup, g))
            .collect()
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "cloudwatch", "insight-rule/")
    }

    /// The ARN is computed from the account id: DescribeInsightRules does not answer it.
    fn needs_account(&self) -> bool {
        true
    }

    fn plan_notes(&self, _r: &Resource) -> Vec<String> {
        // CloudWatch pricing, "Contributor Insights for CloudWatch Logs" (us-east-1 list prices);
        // the free tier's one rule and first million events are left out: a user may have used them.
        vec!["cost: $0.50 a month for the rule, plus $0.02 per million log events it matches (us-east-1 list prices)".into()]
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let desired = ctx.desired_of(Kind::InsightRule);
            if desired.is_empty() {
                // Owned rules the spec no longer names come from the tagging index.
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            let mut pages = aws.cloudwatch.describe_insight_rules().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::call("DescribeInsightRules", e))?;
                for rule in page.insight_rules() {
                    let (name, text) = (rule.name().unwrap_or_default(), rule.definition().unwrap_or_default());
                    let Some(want) = desired.iter().find(|d| d.name == name) else { continue };
                    let definition = serde_json::from_str(text).unwrap_or(Value::String(text.to_string()));
                    let attrs = Attrs { definition, state: rule.state().unwrap_or_default().to_string() };
                    out.push(LiveResource::new(Resource::new(Kind::InsightRule, name, want.arn.clone(), &attrs), false));
                }
            }
            Ok(out)
        })
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(crate::sdk::cloudwatch_owner(aws, r.arn.as_deref().unwrap_or_default()))
    }

    /// The rule exists, is enabled and counts what the spec says, on the log group.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("contributor rule {}", desired.name);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing("insight_rule.exists", &subject, "the Contributor Insights rule does not exist: its alarm has no data");
        };
        let (want, got): (Attrs, Attrs) = (desired.attrs(), live.resource.attrs());
        let state = if got.state == "ENABLED" {
            Check::ok("insight_rule.state", &subject, "ENABLED")
        } else {
            Check::failed("insight_rule.state", &subject, format!("the rule is {}: it counts nothing", got.state)).fix("run `secmon apply`")
        };
        let definition = if got.definition == want.definition {
            let groups = got.definition["LogGroupNames"].to_string();
            Check::ok("insight_rule.definition", &subject, format!("counts per {} on {groups}", got.definition["Contribution"]["Keys"]))
        } else {
            Check::failed("insight_rule.definition", &subject, "the rule's definition differs from the spec's").fix("run `secmon apply`")
        };
        vec![state, definition]
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let a: Attrs = r.attrs();
        let request = aws
            .cloudwatch
            .put_insight_rule()
            .rule_name(&r.name)
            .rule_state(&a.state)
            .rule_definition(a.definition.to_string())
            .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build());
        Box::pin(send("PutInsightRule", request.send()))
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let out = aws.cloudwatch.delete_insight_rules().rule_names(&r.name).send().await.map_err(fail("DeleteInsightRules"))?;
            // A rule already gone is what a delete wants; any other failure is one.
            match out.failures().iter().find(|f| !f.exception_type().is_some_and(crate::not_found)) {
                None => Ok(()),
                Some(f) => Err(KindError::Aws(AwsError::Call {
                    operation: "DeleteInsightRules".into(),
                    code: f.exception_type().map(str::to_string),
                    message: f.failure_description().unwrap_or("the rule was not deleted").to_string(),
                })),
            }
        })
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        Box::pin(crate::sdk::cloudwatch_tag(aws, r.arn.as_deref().unwrap_or_default(), tags))
    }
}
