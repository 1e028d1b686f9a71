//! [`Exercise`]: what `verify --trigger` and `--notify-test` ask of AWS, behind the seam (issue
//! 23, item 2), so that their stages are unit-tested against [`FakeCloud`](crate::FakeCloud).
//! These calls act: one reads a secret (its value is dropped unread), one publishes, one sets an
//! alarm's state. The others look for what the pipeline did after them.

use crate::Fut;

/// The active steps of verify, one AWS call (or paged read) each.
pub trait Exercise: Send + Sync {
    /// Reads `secret_id` once with `GetSecretValue`; the value is discarded, never returned.
    fn read_secret_once<'a>(&'a self, secret_id: &'a str) -> Fut<'a, ()>;

    /// Whether CloudTrail's event history holds an event named `event_name` since `since_ms`.
    fn trail_recorded<'a>(&'a self, event_name: &'a str, since_ms: i64) -> Fut<'a, bool>;

    /// Whether `log_group` holds an event matching `pattern` since `since_ms` (every page).
    fn log_group_received<'a>(&'a self, log_group: &'a str, pattern: &'a str, since_ms: i64) -> Fut<'a, bool>;

    /// Whether the metric has a datapoint with a positive sum since `since_ms`.
    fn metric_counted<'a>(&'a self, namespace: &'a str, name: &'a str, since_ms: i64) -> Fut<'a, bool>;

    /// Whether any of `alarms` (at most 100) is in ALARM.
    fn any_in_alarm<'a>(&'a self, alarms: &'a [String]) -> Fut<'a, bool>;

    /// The summaries of `alarm`'s Action history items since `since_ms`.
    fn alarm_actions<'a>(&'a self, alarm: &'a str, since_ms: i64) -> Fut<'a, Vec<String>>;

    /// Publishes a message to `topic_arn`; its message id.
    fn publish<'a>(&'a self, topic_arn: &'a str, subject: &'a str, message: &'a str) -> Fut<'a, String>;

    /// Sets `alarm` to ALARM (`alarm` true) or OK, with `reason`.
    fn set_alarm_state<'a>(&'a self, alarm: &'a str, alarm_state: bool, reason: &'a str) -> Fut<'a, ()>;
}

mod sdk {
    use super::Exercise;
    use crate::sdk::{fail, send};
    use crate::{Fut, SdkCloud};
    use secmon_aws::DateTime;

    impl Exercise for SdkCloud {
        fn read_secret_once<'a>(&'a self, secret_id: &'a str) -> Fut<'a, ()> {
            // `send` drops the reply: secmon never prints or keeps a secret value.
            Box::pin(send("GetSecretValue", self.aws.secretsmanager.get_secret_value().secret_id(secret_id).send()))
        }

        fn trail_recorded<'a>(&'a self, event_name: &'a str, since_ms: i64) -> Fut<'a, bool> {
            Box::pin(async move {
                use secmon_aws::cloudtrail::types::{LookupAttribute, LookupAttributeKey};
                let by_name = LookupAttribute::builder().attribute_key(LookupAttributeKey::EventName).attribute_value(event_name);
                let request = self.aws.cloudtrail.lookup_events().lookup_attributes(by_name.build().expect("attribute"));
                let found = request.start_time(DateTime::from_millis(since_ms)).send().await.map_err(fail("LookupEvents"))?;
                Ok(!found.events().is_empty())
            })
        }

        /// "This operation can return empty results while there are more log events available
        /// through the token" (FilterLogEvents API reference): a busy log group (an organization
        /// trail's) rarely has the event on the first page, so every page is read until one holds
        /// it (issue 22, finding 9).
        fn log_group_received<'a>(&'a self, log_group: &'a str, pattern: &'a str, since_ms: i64) -> Fut<'a, bool> {
            Box::pin(async move {
                let request = self.aws.logs.filter_log_events().log_group_name(log_group).filter_pattern(pattern).start_time(since_ms);
                let mut pages = request.into_paginator().send();
                while let Some(page) = pages.next().await {
                    if !page.map_err(fail("FilterLogEvents"))?.events().is_empty() {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
        }

        fn metric_counted<'a>(&'a self, namespace: &'a str, name: &'a str, since_ms: i64) -> Fut<'a, bool> {
            Box::pin(async move {
                let metric = self.aws.cloudwatch.get_metric_statistics().namespace(namespace).metric_name(name);
                let window = metric.start_time(DateTime::from_millis(since_ms)).end_time(DateTime::from(std::time::SystemTime::now()));
                let request = window.period(60).statistics(secmon_aws::cloudwatch::types::Statistic::Sum);
                let r = request.send().await.map_err(fail("GetMetricStatistics"))?;
                Ok(r.datapoints().iter().any(|d| d.sum().unwrap_or(0.0) > 0.0))
            })
        }

        fn any_in_alarm<'a>(&'a self, alarms: &'a [String]) -> Fut<'a, bool> {
            Box::pin(async move {
                let request = self.aws.cloudwatch.describe_alarms().set_alarm_names(Some(alarms.to_vec()));
                let r =
                    request.state_value(secmon_aws::cloudwatch::types::StateValue::Alarm).send().await.map_err(fail("DescribeAlarms"))?;
                Ok(!r.metric_alarms().is_empty())
            })
        }

        fn alarm_actions<'a>(&'a self, alarm: &'a str, since_ms: i64) -> Fut<'a, Vec<String>> {
            Box::pin(async move {
                use secmon_aws::cloudwatch::types::HistoryItemType;
                let request = self.aws.cloudwatch.describe_alarm_history().alarm_name(alarm).history_item_type(HistoryItemType::Action);
                let history = request.start_date(DateTime::from_millis(since_ms)).send().await.map_err(fail("DescribeAlarmHistory"))?;
                Ok(history.alarm_history_items().iter().filter_map(|i| i.history_summary().map(str::to_string)).collect())
            })
        }

        fn publish<'a>(&'a self, topic_arn: &'a str, subject: &'a str, message: &'a str) -> Fut<'a, String> {
            Box::pin(async move {
                let sent =
                    self.aws.sns.publish().topic_arn(topic_arn).subject(subject).message(message).send().await.map_err(fail("Publish"))?;
                Ok(sent.message_id().unwrap_or("?").to_string())
            })
        }

        fn set_alarm_state<'a>(&'a self, alarm: &'a str, alarm_state: bool, reason: &'a str) -> Fut<'a, ()> {
            use secmon_aws::cloudwatch::types::StateValue;
            let value = if alarm_state { StateValue::Alarm } else { StateValue::Ok };
            let request = self.aws.cloudwatch.set_alarm_state().alarm_name(alarm).state_value(value).state_reason(reason);
            Box::pin(send("SetAlarmState", request.send()))
        }
    }
}
