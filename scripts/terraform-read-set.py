"""The Terraform AWS provider's refresh of secmon's hardened pipeline, replayed call for call.

A no-change `terraform plan` refreshes every resource in its state: each resource's Read function
makes its calls one after another (the provider's Go code is sequential within a resource), and
Terraform walks the resource graph in dependency order, at most 10 resources at once (its default
-parallelism). This file replays that read set with boto3 against an endpoint, so that secmon's
no-change plan can be timed against it through the same latency (scripts/bench-vs-terraform).

The resources are those a Terraform configuration of the same pipeline declares (the seeds'
tutorials, hardened as secmon deploys it: KMS key and alias, the trail bucket and the access-log
bucket with their sub-resources, the log group, the delivery role and its inline policy, the topic,
its policy and subscription, the trail, and each monitor's metric filter and alarm). Each
resource's calls, from terraform-provider-aws (internal/service/...):

- aws_secretsmanager_secret (secretsmanager/secret.go): DescribeSecret, GetResourcePolicy
- aws_secretsmanager_secret_version (secret_version.go): GetSecretValue
- aws_kms_key (kms/key.go, findKeyInfo): DescribeKey, GetKeyPolicy, GetKeyRotationStatus,
  ListResourceTags
- aws_kms_alias (kms/alias.go, FindAliasByName): ListAliases
- aws_s3_bucket (s3/bucket.go, resourceBucketRead), 15 calls in this order: HeadBucket,
  GetBucketPolicy, GetBucketAcl, GetBucketCors, GetBucketWebsite, GetBucketVersioning,
  GetBucketAccelerateConfiguration, GetBucketRequestPayment, GetBucketLogging,
  GetBucketLifecycleConfiguration, GetBucketReplication, GetBucketEncryption,
  GetObjectLockConfiguration, the bucket's region (a HEAD), GetBucketTagging
- aws_s3_bucket_policy, _public_access_block, _server_side_encryption_configuration,
  _versioning, _lifecycle_configuration, _ownership_controls, _logging (s3/bucket_*.go): one Get
  each
- aws_cloudwatch_log_group (logs/group.go): DescribeLogGroups, ListTagsForResource
- aws_iam_role (iam/role.go): GetRole; aws_iam_role_policy (iam/role_policy.go): GetRolePolicy
- aws_sns_topic (sns/topic.go): GetTopicAttributes, ListTagsForResource; aws_sns_topic_policy:
  GetTopicAttributes; aws_sns_topic_subscription: GetSubscriptionAttributes
- aws_cloudtrail (cloudtrail/trail.go): DescribeTrails, GetTrailStatus, GetEventSelectors,
  GetInsightSelectors, ListTags
- aws_cloudwatch_log_metric_filter (logs/metric_filter.go): DescribeMetricFilters
- aws_cloudwatch_metric_alarm (cloudwatch/metric_alarm.go): DescribeAlarms, ListTagsForResource

67 calls for the seed, and 3 more per monitor. An answer that is an error (a configuration the
bucket does not have) counts as the call it is: the provider makes it and waits for it.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"
REGION = "us-east-1"
SPEC = "secrets-monitoring"
TRAIL = "secrets-manager-trail"
TRAIL_BUCKET = f"secmon-{TRAIL}-{ACCOUNT}"
LOG_BUCKET = f"{TRAIL_BUCKET}-access-logs"
LOG_GROUP = "secmon-secretsmanager-loggroup"
ROLE = "CloudTrailRoleForCloudWatchLogs_secrets-manager-trail"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:SecurityAlarms"
SECRET = "TopSecretInfo"
PARALLELISM = 10


def clients(endpoint):
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=PARALLELISM * 2)
    make = lambda s: boto3.client(s, endpoint_url=endpoint, region_name=REGION, config=config)
    return {s: make(s) for s in ["secretsmanager", "kms", "s3", "logs", "iam", "sns", "cloudtrail", "cloudwatch"]}


def call(fn, **kw):
    try:
        fn(**kw)
    except Exception:  # noqa: BLE001 - an error answer is still a call the provider waits for
        pass


def bucket_reads(s3, b):
    ops = [
        s3.head_bucket, s3.get_bucket_policy, s3.get_bucket_acl, s3.get_bucket_cors, s3.get_bucket_website,
        s3.get_bucket_versioning, s3.get_bucket_accelerate_configuration, s3.get_bucket_request_payment,
        s3.get_bucket_logging, s3.get_bucket_lifecycle_configuration, s3.get_bucket_replication,
        s3.get_bucket_encryption, s3.get_object_lock_configuration, s3.head_bucket, s3.get_bucket_tagging,
    ]
    return [lambda op=op: call(op, Bucket=b) for op in ops]


def sub_resources(s3, b, prefix, deps):
    ops = {
        "policy": s3.get_bucket_policy, "public_access_block": s3.get_public_access_block,
        "sse": s3.get_bucket_encryption, "versioning": s3.get_bucket_versioning,
        "lifecycle": s3.get_bucket_lifecycle_configuration, "ownership": s3.get_bucket_ownership_controls,
    }
    return {f"{prefix}_{k}": (deps + (["alias"] if k == "sse" and prefix == "trail_bucket" else []), [lambda op=op: call(op, Bucket=b)])
            for k, op in ops.items()}


def read_set(c):
    """Resource -> (dependencies, its calls in order), as Terraform would refresh them."""
    kms, s3, logs, sns, cw = c["kms"], c["s3"], c["logs"], c["sns"], c["cloudwatch"]
    key_id = kms.describe_key(KeyId=f"alias/secmon/{SPEC}")["KeyMetadata"]["KeyId"]
    role_policy = c["iam"].list_role_policies(RoleName=ROLE)["PolicyNames"][0]
    subscription = sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"][0]["SubscriptionArn"]
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
    sm = c["secretsmanager"]
    r = {
        "secret": ([], [lambda: call(sm.describe_secret, SecretId=SECRET), lambda: call(sm.get_resource_policy, SecretId=SECRET)]),
        "secret_version": (["secret"], [lambda: call(sm.get_secret_value, SecretId=SECRET)]),
        "key": ([], [lambda: call(kms.describe_key, KeyId=key_id), lambda: call(kms.get_key_policy, KeyId=key_id, PolicyName="default"),
                     lambda: call(kms.get_key_rotation_status, KeyId=key_id), lambda: call(kms.list_resource_tags, KeyId=key_id)]),
        "alias": (["key"], [lambda: call(kms.list_aliases)]),
        "log_bucket": ([], bucket_reads(s3, LOG_BUCKET)),
        "trail_bucket": ([], bucket_reads(s3, TRAIL_BUCKET)),
        "trail_bucket_logging": (["trail_bucket", "log_bucket"], [lambda: call(s3.get_bucket_logging, Bucket=TRAIL_BUCKET)]),
        "log_group": (["alias"], [lambda: call(logs.describe_log_groups, logGroupNamePrefix=LOG_GROUP),
                                  lambda: call(logs.list_tags_for_resource, resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}")]),
        "role": ([], [lambda: call(c["iam"].get_role, RoleName=ROLE)]),
        "role_policy": (["role", "log_group"], [lambda: call(c["iam"].get_role_policy, RoleName=ROLE, PolicyName=role_policy)]),
        "topic": (["alias"], [lambda: call(sns.get_topic_attributes, TopicArn=TOPIC_ARN), lambda: call(sns.list_tags_for_resource, ResourceArn=TOPIC_ARN)]),
        "topic_policy": (["topic"], [lambda: call(sns.get_topic_attributes, TopicArn=TOPIC_ARN)]),
        "subscription": (["topic"], [lambda: call(sns.get_subscription_attributes, SubscriptionArn=subscription)]),
        "trail": (["trail_bucket_policy", "log_group", "role_policy", "alias"], [
            lambda: call(c["cloudtrail"].describe_trails, trailNameList=[TRAIL]), lambda: call(c["cloudtrail"].get_trail_status, Name=TRAIL),
            lambda: call(c["cloudtrail"].get_event_selectors, TrailName=TRAIL), lambda: call(c["cloudtrail"].get_insight_selectors, TrailName=TRAIL),
            lambda: call(c["cloudtrail"].list_tags, ResourceIdList=[trail_arn])]),
    }
    r.update(sub_resources(s3, LOG_BUCKET, "log_bucket", ["log_bucket"]))
    r.update(sub_resources(s3, TRAIL_BUCKET, "trail_bucket", ["trail_bucket"]))
    filters = logs.describe_metric_filters(logGroupName=LOG_GROUP)["metricFilters"]
    for f in filters:
        name = f["filterName"]
        r[f"filter:{name}"] = (["log_group"], [lambda name=name: call(logs.describe_metric_filters, logGroupName=LOG_GROUP, filterNamePrefix=name)])
    alarms = cw.describe_alarms(MaxRecords=100)
    names = [a["AlarmName"] for a in alarms["MetricAlarms"]]
    while alarms.get("NextToken"):
        alarms = cw.describe_alarms(MaxRecords=100, NextToken=alarms["NextToken"])
        names += [a["AlarmName"] for a in alarms["MetricAlarms"]]
    for a in names:
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a}"
        # An alarm names its topic's ARN (alarm_actions); its metric is named by value, not by a
        # reference to the filter, so the topic is its one dependency.
        r[f"alarm:{a}"] = (["topic"], [lambda a=a: call(cw.describe_alarms, AlarmNames=[a]), lambda arn=arn: call(cw.list_tags_for_resource, ResourceARN=arn)])
    return r


def refresh(resources):
    """Every resource's calls, in dependency order, at most PARALLELISM resources at once."""
    done, running, left = set(), {}, dict(resources)
    run = lambda calls: [c() for c in calls]
    with ThreadPoolExecutor(PARALLELISM) as pool:
        while left or running:
            ready = [n for n, (deps, _) in left.items() if all(d in done for d in deps)]
            for n in ready[: PARALLELISM - len(running)]:
                running[pool.submit(run, left.pop(n)[1])] = n
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for f in finished:
                f.result()
                done.add(running.pop(f))


def control(endpoint, path, text=None):
    req = urllib.request.Request(endpoint + path, data=None if text is None else text.encode(), method="GET" if text is None else "POST")
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def timeline(endpoint, work):
    """Runs `work` with the emulator recording calls: (calls, round trips on the critical path)."""
    control(endpoint, "/_secmon/calls", "on")
    work()
    records = [json.loads(line) for line in control(endpoint, "/_secmon/calls").splitlines() if line]
    control(endpoint, "/_secmon/calls", "off")
    records.sort(key=lambda r: r["start"])
    depth = []
    for i, r in enumerate(records):
        # A call waited for another when it started after that one ended (1 ms for the clocks).
        before = [depth[j] for j in range(i) if records[j]["end"] <= r["start"] + 0.001]
        depth.append(1 + max(before, default=0))
    return len(records), max(depth, default=0)


def timed(work, runs):
    times = []
    for _ in range(runs):
        start = time.monotonic()
        work()
        times.append(time.monotonic() - start)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", action="store_true")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--secmon", required=True)
    p.add_argument("--delay", type=int, default=50)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--spec", action="append", required=True)
    a = p.parse_args()
    print(f"no-change plan, every AWS call {a.delay} ms slower (the emulator's delay), {a.runs} runs each, median wall time;")
    print("at 0 ms: the same without the delay (the emulator's own handling, one Python process, and the client's start);")
    print("added: what the delay adds, the part a distant region costs")
    print()
    print("| spec | secmon calls | round trips | secmon | at 0 ms | added | peer calls | round trips | peer | at 0 ms | added | peer / secmon | added, peer / secmon |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in a.spec:
        subprocess.run([a.secmon, "apply", "-f", spec, "--auto-approve", "-q"], check=True, stdout=subprocess.DEVNULL)
        plan = lambda: subprocess.run([a.secmon, "plan", "-f", spec, "--detailed-exitcode", "-q"], check=True, stdout=subprocess.DEVNULL)
        c = clients(a.endpoint)
        resources = read_set(c)
        ours0 = statistics.median(timed(plan, a.runs))
        peer0 = statistics.median(timed(lambda: refresh(resources), a.runs))
        control(a.endpoint, "/_secmon/faults", f"delay={a.delay}")
        ours_calls, ours_trips = timeline(a.endpoint, plan)
        peer_calls, peer_trips = timeline(a.endpoint, lambda: refresh(resources))
        ours = statistics.median(timed(plan, a.runs))
        peer = statistics.median(timed(lambda: refresh(resources), a.runs))
        control(a.endpoint, "/_secmon/faults", "delay=0")
        name = spec.rsplit("/", 1)[-1]
        added = (peer - peer0) / max(ours - ours0, 1e-9)
        print(
            f"| {name} | {ours_calls} | {ours_trips} | {ours:.2f} s | {ours0:.2f} s | {ours - ours0:.2f} s | {peer_calls} | {peer_trips} | "
            f"{peer:.2f} s | {peer0:.2f} s | {peer - peer0:.2f} s | {peer / ours:.1f}× | {added:.1f}× |"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
