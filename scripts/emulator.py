#!/usr/bin/env python3
"""Local AWS emulator for secmon's tests and demo: moto's server, plus a CloudWatch protocol adapter.

The current aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR
(POST /service/GraniteServiceVersion20100801/operation/<Op>); moto serves CloudWatch only over its
Query and JSON protocols and answers 404 to CBOR (moto issue #9195). Rather than pin an old SDK
(the client users run stays current), this WSGI middleware translates CBOR requests into moto's
JSON protocol (X-Amz-Target: GraniteServiceVersion20100801.<Op>) and the JSON answers back to CBOR.
Everything else goes to moto untouched. See docs/emulator.md.

Usage: emulator.py [--host 127.0.0.1] [--port 0] [--port-file FILE]
Port 0 picks a free port; the chosen port is printed and written to --port-file.
"""
import argparse
import base64
import datetime as dt
import io
import json
import random
import re
import sys
import threading
import time

import cbor2
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

PREFIX = "/service/GraniteServiceVersion20100801/operation/"
CONTROL = "/_secmon/unconfirmed-email"
# E-mail endpoints whose subscriptions are shown as unconfirmed: moto confirms e-mail subscriptions
# at once, AWS waits for the recipient's click. Tests say "nobody clicked" with POST CONTROL.
UNCONFIRMED: set = set()
# After an unsubscribe, AWS lists the subscription with the SubscriptionArn `Deleted` for a while;
# moto forgets it. Tests say "the recipient unsubscribed" with POST UNSUBSCRIBE.
UNSUBSCRIBE = "/_secmon/unsubscribed-email"
UNSUBSCRIBED: set = set()
# Faults, as a real network and a busy AWS produce them: POST FAULTS "before=0.2 after=0.1 seed=7"
# answers that share of calls 503 before they reach the emulator (nothing happens), or after
# (the call takes effect and its reply is lost); the SDK sees a bare 503, not the service's
# protocol. "latency=40" delays every call by a seeded random 0-40 ms, as a distant region does.
# "before=0 after=0 latency=0" turns them off. Control paths are never faulted.
FAULTS_PATH = "/_secmon/faults"
FAULTS = {"before": 0.0, "after": 0.0, "latency_ms": 0.0, "delay_ms": 0.0, "rng": random.Random(0)}
# The calls, as a timeline: POST CALLS "on" clears it and starts recording each call's service
# (the signing scope, e.g. s3, sts, kms), start and end (seconds); "off" stops; GET CALLS returns
# the records as JSON lines. With "delay=150" in FAULTS every call takes 150 ms more, so that a
# test can tell which reads waited for which (issue 27, item 1: no read waits for what it does
# not need).
CALLS_PATH = "/_secmon/calls"
CALLS = {"on": False, "records": [], "lock": threading.Lock()}
# One slow account (a throttled or distant one): POST SLOW "ACCOUNT MS" makes every call that acts
# in ACCOUNT MS milliseconds slower; "- 0" turns it off. For the fan-out benchmark.
SLOW_PATH = "/_secmon/slow-account"
SLOW = {"account": None, "ms": 0.0}


def _acting_account(environ):
    """The account a signed request acts in (moto maps access keys, assumed ones included)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return None
    from moto.iam.models import get_account_id_from

    return get_account_id_from(auth.split("Credential=")[1].split("/")[0])


def set_faults(text):
    opts = dict(kv.split("=", 1) for kv in text.split())
    FAULTS["before"] = float(opts.get("before", 0))
    FAULTS["after"] = float(opts.get("after", 0))
    FAULTS["latency_ms"] = float(opts.get("latency", 0))
    FAULTS["delay_ms"] = float(opts.get("delay", 0))
    FAULTS["rng"] = random.Random(int(opts.get("seed", 0)))


def _scope_service(environ):
    """The service a signed request is for: the fourth part of its credential scope."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return "?"
    parts = auth.split("Credential=")[1].split(",")[0].split("/")
    return parts[3] if len(parts) > 3 else "?"


def _recorded(environ, started, chunks):
    """The answer, read whole, with the call's record added to the timeline."""
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    record = {"service": _scope_service(environ), "start": started, "end": time.monotonic()}
    with CALLS["lock"]:
        CALLS["records"].append(record)
    return [body]


def _calls_control(environ, start_response):
    if environ.get("REQUEST_METHOD") == "GET":
        with CALLS["lock"]:
            body = "".join(json.dumps(r) + "\n" for r in CALLS["records"]).encode()
        start_response("200 OK", [("Content-Type", "application/x-ndjson"), ("Content-Length", str(len(body)))])
        return [body]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    on = environ["wsgi.input"].read(length).decode().strip() == "on"
    with CALLS["lock"]:
        CALLS["on"] = on
        if on:
            CALLS["records"] = []
    start_response("204 No Content", [])
    return [b""]


def unavailable(start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]
TARGET = "GraniteServiceVersion20100801"
TIME_KEYS = ("Timestamp", "Time", "Date")


def to_json(v):
    """CBOR-decoded request value -> JSON protocol value."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.timestamp()
    if isinstance(v, cbor2.CBORTag) and v.tag == 1:
        return float(v.value)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def as_time(v):
    if isinstance(v, (int, float)):
        return cbor2.CBORTag(1, float(v))
    if isinstance(v, str):
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return v
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return cbor2.CBORTag(1, t.timestamp())
    return v


def to_cbor(v, key=""):
    """JSON protocol response value -> CBOR value (timestamps become tag 1, epoch seconds)."""
    is_time = key.endswith(TIME_KEYS) or key.endswith("Timestamps")
    if isinstance(v, dict):
        return {k: to_cbor(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [as_time(x) if is_time else to_cbor(x) for x in v]
    if is_time:
        return as_time(v)
    return v


def stricter_than_moto(op, request):
    """AWS rules moto does not enforce, enforced here so that the end-to-end tests meet them:
    (error code, message) when AWS would refuse the call, else None."""
    if op == "PutMetricAlarm":
        for field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            if len(request.get(field) or []) > 5:
                return ("ValidationError", f"The collection {field} must not have more than 5 members")
    if op == "PutInsightRule":
        return _insight_rule_refused(request)
    return None


# ---- Contributor Insights (issue 25, item 1) -----------------------------------------------------
# moto stores any rule name, state and definition. AWS refuses what PutInsightRule's API reference
# and the user guide's "Contributor Insights rule syntax" do not allow: a name outside 1-128
# printable ASCII characters, a state other than ENABLED or DISABLED, a definition over 8,192
# characters or not JSON, a schema other than CloudWatchLogRule v1, no log groups, a log format
# other than JSON or CLF, no key or more than four, more than four filters, a filter without
# `Match` or without exactly one of the eight operators, more than 10 values in In, NotIn or
# StartsWith, an AggregateOn other than Count or Sum, ValueOf without Sum.
_INSIGHT_NAME = re.compile(r"^[\x20-\x7E]{1,128}$")
_INSIGHT_OPERATORS = ("In", "NotIn", "StartsWith", "GreaterThan", "LessThan", "EqualTo", "NotEqualTo", "IsPresent")


def _insight_rule_refused(request):
    bad = lambda m: ("InvalidParameterValue", m)  # noqa: E731
    if not _INSIGHT_NAME.match(request.get("RuleName") or ""):
        return bad("RuleName must be 1-128 printable ASCII characters")
    if request.get("RuleState", "ENABLED") not in ("ENABLED", "DISABLED"):
        return bad("RuleState must be ENABLED or DISABLED")
    text = request.get("RuleDefinition") or ""
    if not 1 <= len(text) <= 8192:
        return bad("RuleDefinition must be 1-8192 characters")
    try:
        d = json.loads(text)
    except ValueError:
        return bad("RuleDefinition is not valid JSON")
    if d.get("Schema") != {"Name": "CloudWatchLogRule", "Version": 1}:
        return bad("Schema must be {\"Name\": \"CloudWatchLogRule\", \"Version\": 1}")
    if not (d.get("LogGroupNames") or d.get("LogGroupARNs")):
        return bad("the rule names no log group")
    if d.get("LogFormat") not in ("JSON", "CLF"):
        return bad("LogFormat must be JSON or CLF")
    c = d.get("Contribution") or {}
    if not 1 <= len(c.get("Keys") or []) <= 4:
        return bad("Contribution.Keys must hold 1 to 4 fields")
    filters = c.get("Filters") or []
    if len(filters) > 4:
        return bad("Contribution.Filters must hold at most 4 filters")
    for f in filters:
        ops = [k for k in f if k in _INSIGHT_OPERATORS]
        if "Match" not in f or len(ops) != 1 or len(f) != 2:
            return bad("each filter needs Match and exactly one operator")
        if ops[0] in ("In", "NotIn", "StartsWith") and not 1 <= len(f[ops[0]]) <= 10:
            return bad(f"{ops[0]} takes 1 to 10 values")
    if d.get("AggregateOn") not in ("Count", "Sum"):
        return bad("AggregateOn must be Count or Sum")
    if "ValueOf" in c and d.get("AggregateOn") != "Sum":
        return bad("ValueOf applies only with AggregateOn Sum")
    return None


def _backend_lookup_memoized():
    """moto finds the backend of every request by walking its list of modules and every
    backend's URL patterns, about 1 ms of the emulator's ~2.7 ms per call (cProfile); the answer
    for a host never changes, so it is remembered. Speed only: every test and benchmark (issue
    27) runs through it, and the emulator is one Python process."""
    original = DomainDispatcherApplication.get_backend_for_host
    known = {}

    def get_backend_for_host(self, host):
        if host not in known:
            known[host] = original(self, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host


def _no_deliveries_over_the_internet():
    """moto delivers a published message to an HTTP(S) subscription with a real POST to its
    endpoint (PagerDuty's, Chatbot's global.sns-api.chatbot.amazonaws.com): from a test machine
    that hangs until a network timeout, or reaches a third party. The emulator keeps such
    deliveries local: they are not made (what a webhook receives is what only a real account
    shows, docs/aws-rules.md)."""
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self, *args, **kwargs):
        if self.protocol in ("http", "https"):
            return None
        return original(self, *args, **kwargs)

    Subscription.publish = publish


def _alarms_start_without_data():
    """"When this operation creates an alarm, the alarm state is immediately set to
    INSUFFICIENT_DATA ... When you update an existing alarm, its state is left unchanged"
    (PutMetricAlarm API reference). moto starts every alarm, and every update of one, in OK: a
    verify on the emulator would then read "state OK" for an alarm that never had data."""
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self, name, *args, **kwargs):
        before = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:
            alarm.state_value, alarm.state_reason = before.state_value, before.state_reason
            alarm.state_updated_timestamp = before.state_updated_timestamp
        return alarm

    CloudWatchBackend.put_metric_alarm = put_metric_alarm


def _insight_rules_can_be_tagged():
    """"Currently, the only CloudWatch resources that can be tagged are alarms and Contributor
    Insights rules" (TagResource API reference); moto's TagResource accepts alarms only."""
    from moto.cloudwatch.exceptions import ResourceNotFoundException
    from moto.cloudwatch.models import CloudWatchBackend

    def tag_resource(self, arn, tags):
        rules = [f"arn:{self.partition}:cloudwatch:{self.region_name}:{self.account_id}:insight-rule/{n}" for n in self.insight_rules]
        if arn not in [a.alarm_arn for a in self.describe_alarms()] + rules:
            raise ResourceNotFoundException
        self.tagger.tag_resource(arn, self.tagger.convert_dict_to_tags_input(tags))

    CloudWatchBackend.tag_resource = tag_resource


class CborAdapter:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == FAULTS_PATH:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            set_faults(environ["wsgi.input"].read(length).decode())
            start_response("204 No Content", [])
            return [b""]
        if path == SLOW_PATH:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            account, ms = environ["wsgi.input"].read(length).decode().split()
            SLOW["account"], SLOW["ms"] = (None if account == "-" else account), float(ms)
            start_response("204 No Content", [])
            return [b""]
        if SLOW["account"] and not path.startswith("/_secmon/") and _acting_account(environ) == SLOW["account"]:
            time.sleep(SLOW["ms"] / 1000)
        if path == CALLS_PATH:
            return _calls_control(environ, start_response)
        if path == CHAT_CLIENTS_PATH:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            clients = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with CHATBOT["lock"]:
                CHATBOT["slack"] = [tuple(c) for c in clients.get("slack", [])]
                CHATBOT["teams"] = [tuple(c) for c in clients.get("teams", [])]
            start_response("204 No Content", [])
            return [b""]
        if path == HEARTBEAT_PATH:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.dumps(_heartbeat(float(environ["wsgi.input"].read(length).decode()))).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        started = time.monotonic()
        if not path.startswith("/_secmon/") and FAULTS["latency_ms"]:
            time.sleep(FAULTS["rng"].random() * FAULTS["latency_ms"] / 1000)
        if not path.startswith("/_secmon/") and FAULTS["delay_ms"]:
            time.sleep(FAULTS["delay_ms"] / 1000)
        if CALLS["on"] and not path.startswith("/_secmon/"):
            return _recorded(environ, started, self._faulted(environ, start_response, path))
        return self._faulted(environ, start_response, path)

    def _faulted(self, environ, start_response, path):
        if not path.startswith("/_secmon/") and (FAULTS["before"] or FAULTS["after"]):
            roll = FAULTS["rng"].random()
            if roll < FAULTS["before"]:
                return unavailable(start_response)
            if roll < FAULTS["before"] + FAULTS["after"]:
                # The call takes effect; its reply is lost on the way back.
                chunks = self.serve(environ, lambda status, headers, exc_info=None: (lambda data: None))
                b"".join(chunks)
                if hasattr(chunks, "close"):
                    chunks.close()
                return unavailable(start_response)
        return self.serve(environ, start_response)

    def serve(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in (CONTROL, UNSUBSCRIBE):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            email = environ["wsgi.input"].read(length).decode().strip().lower()
            (UNCONFIRMED if path == CONTROL else UNSUBSCRIBED).add(email)
            start_response("204 No Content", [])
            return [b""]
        # The behaviours a test turns on and off by posting "on" or "off".
        switch = {EMPTY_PAGE_PATH: _EMPTY, KMS_LAG_PATH: _FRESH, DENY_CALLER_KMS_PATH: DENY_CALLER_KMS}.get(path)
        if switch is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            switch["on"] = environ["wsgi.input"].read(length).decode().strip() == "on"
            start_response("204 No Content", [])
            return [b""]
        if environ.get("REQUEST_METHOD") == "POST" and _scope_service(environ) == "chatbot":
            return _chatbot(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET"):
            refused = self.stricter_json(environ)
            if refused:
                return refused(start_response)
        elif environ.get("REQUEST_METHOD") in ("PUT", "DELETE"):
            late = self.s3_late_delivery(environ, start_response)
            if late:
                return late(start_response)
        if environ.get("HTTP_X_AMZ_TARGET") == "Logs_20140328.PutMetricFilter":
            environ = self.replace_metric_filter(environ)
        if environ.get("HTTP_X_AMZ_TARGET") in ("Logs_20140328.AssociateKmsKey", "Logs_20140328.DisassociateKmsKey"):
            return self.kms_key(environ, start_response)
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("QUERY_STRING", "").split("&")[0] == "versioning":
            return self.versioning(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST" and "sts" in environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1][:80]:
            refused = self.assume_role_refused(environ)
            if refused:
                return refused(start_response)
        if environ.get("REQUEST_METHOD") == "POST" and not path.startswith(PREFIX) and "sns" in environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1][:80]:
            return self.unconfirmed(environ, start_response)
        if os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT") and not path.startswith(PREFIX):
            return _json_auth_error(self, environ, start_response)
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        op = path[len(PREFIX):]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request = to_json(cbor2.loads(raw)) if raw else {}
        if op == "DescribeAlarmHistory":
            encoded = cbor2.dumps(to_cbor(_alarm_history(environ, request)))
            start_response("200 OK", [("Content-Type", "application/cbor"), ("Content-Length", str(len(encoded))), ("smithy-protocol", "rpc-v2-cbor")])
            return [encoded]
        refused = stricter_than_moto(op, request)
        if refused:
            encoded = cbor2.dumps({"__type": "com.amazonaws.cloudwatch#" + refused[0], "message": refused[1]})
            start_response("400 Bad Request", [("Content-Type", "application/cbor"), ("Content-Length", str(len(encoded))), ("smithy-protocol", "rpc-v2-cbor")])
            return [encoded]
        body = json.dumps(request).encode()
        env = dict(environ)
        env["PATH_INFO"] = "/"
        env["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        env["HTTP_X_AMZ_TARGET"] = f"{TARGET}.{op}"
        env["CONTENT_LENGTH"] = str(len(body))
        env["wsgi.input"] = io.BytesIO(body)
        env.pop("HTTP_SMITHY_PROTOCOL", None)
        env["REQUEST_URI"] = env["RAW_URI"] = "/"
        _resign(env, body)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        chunks = self.app(env, capture)
        try:
            out = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        try:
            payload = json.loads(out) if out.strip() else {}
        except ValueError:
            payload = _xml_error_as_json(out) or {"__type": "InternalFailure", "message": out.decode(errors="replace")[:500]}
        if isinstance(payload, dict) and "__type" in payload and "#" not in payload["__type"]:
            payload["__type"] = "com.amazonaws.cloudwatch#" + payload["__type"].split(":")[0]
        if op == "SetAlarmState" and captured["status"].startswith("200"):
            try:
                _alarm_actions_ran(environ, request)
            except RuntimeError as e:
                payload = {"__type": "com.amazonaws.cloudwatch#InternalFailure", "message": f"secmon emulator: {e}"}
        encoded = cbor2.dumps(to_cbor(payload))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-type", "content-length")]
        headers += [
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(encoded))),
            ("smithy-protocol", "rpc-v2-cbor"),
        ]
        start_response(captured["status"], headers)
        return [encoded]


def _xml_error_as_json(body):
    """moto answers an IAM refusal with an XML error whatever the protocol; JSON and CBOR
    clients read an error shape: {"__type": code, "message": text}."""
    import re

    code = re.search(rb"<Code>(.*?)</Code>", body or b"")
    if not code:
        return None
    message = re.search(rb"<Message>(.*?)</Message>", body, re.S)
    name = code.group(1).decode()
    return {"__type": "AccessDeniedException" if name == "AccessDenied" else name, "message": message.group(1).decode() if message else name}


def _json_auth_error(self, environ, start_response):
    """With IAM enforcement on, a JSON-protocol call refused by moto's IAM check gets AWS's JSON
    error shape instead of moto's XML."""
    _resign_query(environ)
    status, headers, out = self.forward(environ)
    if status.startswith("403") and out.lstrip().startswith(b"<") and environ.get("HTTP_X_AMZ_TARGET"):
        converted = _xml_error_as_json(out)
        if converted:
            return _answer(start_response, "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], json.dumps(converted).encode())
    if status.startswith("403") and b"<Errors><Error>" in out and not environ.get("HTTP_X_AMZ_TARGET"):
        # Query protocol (IAM, SNS, STS): AWS's shape is ErrorResponse/Error, not EC2's Errors/Error.
        out = out.replace(b"<Errors><Error>", b"<Error>").replace(b"</Error></Errors>", b"</Error>")
    return _answer(start_response, status, headers, out)


def _authorize_with_iam_prefixes():
    """moto names the action it authorizes by the request's signing name (`monitoring:PutMetricAlarm`,
    `tagging:GetResources`); IAM policies name CloudWatch's actions `cloudwatch:` and the tagging
    API's `tag:` (Service Authorization Reference)."""
    from moto.iam import access_control

    original = access_control.IAMRequestBase.__init__
    prefixes = {"monitoring:": "cloudwatch:", "tagging:": "tag:"}

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        for signing, iam in prefixes.items():
            if self._action.startswith(signing):
                self._action = iam + self._action[len(signing):]

    access_control.IAMRequestBase.__init__ = init


def _iam_role_calls_judged_on_the_role():
    """moto judges every call against `Resource: "*"`, so a policy granting IAM's role actions on
    some roles only (secmon's: `role/secmon/*`) would be refused everything. AWS judges them
    against the role's ARN (Service Authorization Reference, IAM: the `role` resource type): so
    does this, with moto's own statement matching. The role's path is the request's (CreateRole)
    or the existing role's."""
    from moto.iam import access_control

    original = access_control.IAMRequestBase.check_action_permitted

    def role_arn(request):
        if not request._action.startswith("iam:") or request._action == "iam:PassRole":
            return None
        value = lambda k: (lambda v: v[0] if isinstance(v, list) else v)(request._data.get(k))
        name = value("RoleName")
        if not name:
            return None
        path = value("Path") if request._action == "iam:CreateRole" else None
        if path is None:
            try:
                path = request.backend.get_role(name).path
            except Exception:
                path = "/"
        return f"arn:aws:iam::{request.account_id}:role{path or '/'}{name}"

    def check(self, resource):
        arn = role_arn(self) if resource == "*" else None
        if arn is None:
            return original(self, resource)
        permitted = False
        for policy in self._access_key.collect_policies():
            result = access_control.IAMPolicy(policy).is_action_permitted(self._action, arn)
            if result == access_control.PermissionResult.DENIED:
                self._raise_access_denied()
            permitted = permitted or result == access_control.PermissionResult.PERMITTED
        if not permitted:
            self._raise_access_denied()

    access_control.IAMRequestBase.check_action_permitted = check


def _secret_of(key_id):
    from moto.iam.models import get_account_id_from, iam_backends

    for user in iam_backends[get_account_id_from(key_id)]["global"].users.values():
        for k in user.access_keys:
            if k.access_key_id == key_id:
                return k.secret_access_key
    return None


def _resign_query(environ):
    """With IAM enforcement on, moto checks a Query-protocol request's signature over the form it
    parsed and encoded again, not over the bytes sent; the two encodings differ on some
    characters (a JSON policy document), so a correctly signed request fails. The signature is
    checked here over the bytes sent, as AWS does, then signed again the way moto will check it."""
    from collections import OrderedDict
    from urllib.parse import parse_qsl

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth or "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return
    key_id = auth.split("Credential=")[1].split("/")[0]
    secret = _secret_of(key_id)
    if secret is None:
        return
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    scope = auth.split("Credential=")[1].split(",")[0].split("/")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {}
    for name in signed:
        value = environ.get("CONTENT_TYPE" if name == "content-type" else "CONTENT_LENGTH" if name == "content-length" else "HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            headers[name.title()] = value
    credentials = Credentials(key_id, secret, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))

    def signature(data):
        request = AWSRequest(method="POST", url=environ.get("PATH_INFO", "/"), data=data, headers=dict(headers))
        request.context["timestamp"] = headers["X-Amz-Date"]
        a = SigV4Auth(credentials, scope[3], scope[2])
        return a.signature(a.string_to_sign(request, a.canonical_request(request)), request)

    if signature(body) != auth.split("Signature=")[1].strip():
        return  # not AWS's signature either: let moto refuse it
    form = OrderedDict()
    for k, v in parse_qsl(body.decode(), keep_blank_values=True):
        form.setdefault(k, []).append(v)
    environ["HTTP_AUTHORIZATION"] = auth.split("Signature=")[0] + "Signature=" + signature(form)


def _resign(env, body):
    """With IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT, docs/emulator.md), moto checks each
    request's SigV4 signature; the CBOR request was signed as sent, not as translated. Sign the
    translated request again with the same access key (its secret is in moto's IAM model); keys
    moto does not know (the default `testing`) are left as they are."""
    auth = env.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return
    key_id = auth.split("Credential=")[1].split("/")[0]
    secret = _secret_of(key_id)
    if secret is None:
        return
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    scope = auth.split("Credential=")[1].split(",")[0].split("/")
    host = env.get("HTTP_HOST", "localhost")
    request = AWSRequest(method="POST", url=f"http://{host}/", data=body,
                         headers={"Content-Type": env["CONTENT_TYPE"], "X-Amz-Target": env["HTTP_X_AMZ_TARGET"]})
    SigV4Auth(Credentials(key_id, secret, env.get("HTTP_X_AMZ_SECURITY_TOKEN")), scope[3], scope[2]).add_auth(request)
    for name, value in request.headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value


def _replace_metric_filter(self, environ):
    """PutMetricFilter: AWS replaces a filter of the same name; moto adds a second one. So a
    retried put (its first reply lost) would leave a duplicate that AWS never makes: delete the
    same-named filter first, as AWS's replace does. Returns the environ with its body restored."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        request = json.loads(body or b"{}")
        delete = json.dumps({"logGroupName": request["logGroupName"], "filterName": request["filterName"]}).encode()
        env = dict(environ)
        env["HTTP_X_AMZ_TARGET"] = "Logs_20140328.DeleteMetricFilter"
        env["CONTENT_LENGTH"] = str(len(delete))
        env["wsgi.input"] = io.BytesIO(delete)
        chunks = self.app(env, lambda status, headers, exc_info=None: (lambda data: None))
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    except (ValueError, KeyError):
        pass
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    return env


def _kms_key(self, environ, start_response):
    """CloudWatch Logs AssociateKmsKey / DisassociateKmsKey, which moto does not implement: set
    or clear the key of the log group in moto's own model, as AWS does (the key is then what
    DescribeLogGroups answers as kmsKeyId). The key policy and the caller's KMS permissions are
    judged before this runs, as AWS judges them (`_log_group_key_refused`, issue 22)."""
    from moto.logs.models import logs_backends
    from moto.iam.models import get_account_id_from

    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = auth.split("Credential=")[1].split(",")[0].split("/") if "Credential=" in auth else ["", "", "us-east-1"]
    account, region = get_account_id_from(credential[0]), credential[2]
    groups = logs_backends[account][region].groups
    group = groups.get(request.get("logGroupName", ""))
    if group is None:
        body = json.dumps({"__type": "ResourceNotFoundException", "message": "The specified log group does not exist."}).encode()
        return _answer(start_response, "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], body)
    associate = environ["HTTP_X_AMZ_TARGET"].endswith("AssociateKmsKey") and not environ["HTTP_X_AMZ_TARGET"].endswith("DisassociateKmsKey")
    group.kms_key_id = request.get("kmsKeyId") if associate else None
    return _answer(start_response, "200 OK", [("Content-Type", "application/x-amz-json-1.1")], b"{}")


def _assume_role_refused(self, environ):
    """STS AssumeRole of a role that does not exist: AWS refuses (AccessDenied, "not authorized
    to perform sts:AssumeRole"); moto hands out credentials for any role ARN. Returns a
    responder for the refusal, or None to let moto answer. The request body is put back."""
    from urllib.parse import parse_qs

    from moto.iam.models import iam_backends

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode(errors="replace"))
    if form.get("Action") != ["AssumeRole"]:
        return None
    arn = (form.get("RoleArn") or [""])[0]
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    account = parts[4]
    try:
        iam_backends[account]["global"].get_role_by_arn(arn)
        return None
    except Exception:
        pass
    message = f"User is not authorized to perform: sts:AssumeRole on resource: {arn}"
    xml = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>secmon-emulator</RequestId></ErrorResponse>"
    ).encode()
    return lambda start_response: _answer(start_response, "403 Forbidden", [("Content-Type", "text/xml")], xml)


def _forward(self, environ):
    """Serves `environ` with moto and returns (status, headers, body), to be amended."""
    captured = {}

    def capture(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = self.app(environ, capture)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return captured["status"], captured["headers"], body


def _answer(start_response, status, headers, body):
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def _versioning(self, environ, start_response):
    """S3 GetBucketVersioning: AWS's answer is a `VersioningConfiguration` document; moto names
    its root `GetBucketVersioningResponse`, which the AWS SDK for Rust (rightly) does not parse."""
    status, headers, out = self.forward(environ)
    return _answer(start_response, status, headers, out.replace(b"GetBucketVersioningResponse", b"VersioningConfiguration"))


def _subscription_state(protocol, endpoint):
    """`confirmed`, `pending` or `deleted`, as AWS would list the subscription: an e-mail the
    recipient never confirmed (CONTROL) or left (UNSUBSCRIBE), and every HTTP(S) endpoint but
    AWS Chatbot's own, which it confirms itself."""
    who = (endpoint or "").lower()
    if who in UNSUBSCRIBED:
        return "deleted"
    if (protocol in ("http", "https") and endpoint != CHATBOT_ENDPOINT) or who in UNCONFIRMED:
        return "pending"
    return "confirmed"


def _unconfirmed(self, environ, start_response):
    """SNS ListSubscriptions*: show subscriptions of unconfirmed e-mail endpoints as AWS does,
    with the SubscriptionArn `PendingConfirmation`; and every HTTP(S) subscription, which AWS
    keeps pending until the endpoint fetches the SubscribeURL (SNS developer guide, "Fanout to
    HTTP/S endpoints"): moto confirms them at once, and no endpoint here could confirm."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    enforcing = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT")
    if b"Action=ListSubscriptions" not in body:
        return _json_auth_error(self, env, start_response) if enforcing else self.app(env, start_response)
    if enforcing:
        _resign_query(env)
    status, headers, out = self.forward(env)
    if not status.startswith("200"):
        # AWS's query-protocol error shape, as _json_auth_error gives it.
        out = out.replace(b"<Errors><Error>", b"<Error>").replace(b"</Error></Errors>", b"</Error>")
        return _answer(start_response, status, headers, out)
    import re

    def pend(m):
        member = m.group(0)
        field = lambda name: (lambda f: f.group(1).decode() if f else "")(re.search(b"<" + name + rb">(.*?)</" + name + b">", member))
        shown = {"pending": b"PendingConfirmation", "deleted": b"Deleted"}.get(_subscription_state(field(b"Protocol"), field(b"Endpoint")))
        if shown:
            member = re.sub(rb"<SubscriptionArn>.*?</SubscriptionArn>", b"<SubscriptionArn>" + shown + b"</SubscriptionArn>", member)
        return member

    return _answer(start_response, status, headers, re.sub(rb"<member>.*?</member>", pend, out, flags=re.S))


def _topic_subscription_counts():
    """GetTopicAttributes: `SubscriptionsConfirmed` and `SubscriptionsPending` counted as AWS
    counts them, by the states ListSubscriptions shows (moto answers 0 for both, always). A
    topic that posts only to chat has no subscription but the one AWS Chatbot made and confirmed
    itself: verify reads it from this count."""
    from moto.sns import models

    def counted(which):
        def get(topic):
            subs = topic.sns_backend.subscriptions.values()
            return sum(1 for sub in subs if sub.topic.arn == topic.arn and _subscription_state(sub.protocol, sub.endpoint) == which)

        # moto's constructor assigns 0: kept out, the count is always computed.
        return property(get, lambda topic, value: None)

    models.Topic.subscriptions_confimed = counted("confirmed")
    models.Topic.subscriptions_pending = counted("pending")


def _requests_arrive_over_tls():
    """S3 object calls: moto enforces bucket policy statements whose principal is `*` and ignores
    their conditions, so the TLS-only statement every secmon bucket carries (deny when
    `aws:SecureTransport` is false) denies every object call, DeleteObjects included. The AWS
    SDK reaches AWS over TLS only; the emulator is plain HTTP on loopback only because it is local.
    So judge each call as AWS judges a TLS request: without the statements that deny plain HTTP."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def plain_http_only(st):
        condition = st.get("Condition") or {}
        return st.get("Effect") == "Deny" and condition == {"Bool": {"aws:SecureTransport": "false"}}

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        doc["Statement"] = [st for st in statements if not plain_http_only(st)]
        return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


def _tolerate_string_principals():
    """S3 PutBucketLogging: moto reads every statement of the target bucket's policy as if its
    Principal were a mapping, and fails with a 500 on `"Principal": "*"` (any deny-all statement,
    such as the TLS-only one every secmon bucket has); AWS accepts such policies. Let moto's check
    see only the statements whose Principal is a mapping, which are the ones it looks for."""
    from types import SimpleNamespace

    from moto.s3.models import FakeBucket

    original = FakeBucket._log_permissions_enabled_policy

    def check(target_bucket, target_prefix):
        policy = target_bucket.policy
        if policy:
            doc = json.loads(policy.decode() if isinstance(policy, bytes) else policy)
            statements = doc.get("Statement", [])
            statements = statements if isinstance(statements, list) else [statements]
            doc["Statement"] = [st for st in statements if isinstance(st.get("Principal"), dict)]
            policy = json.dumps(doc).encode()
        view = SimpleNamespace(policy=policy, partition=target_bucket.partition, name=target_bucket.name)
        return original(view, target_prefix)

    FakeBucket._log_permissions_enabled_policy = staticmethod(check)



def _tagging_index_lists_rules():
    """The Resource Groups Tagging API lists EventBridge rules (resource type `events:rule`);
    moto's lists only event buses, so a rule secmon owns and no longer wants would never be
    found for deletion. Add the rules, with their tags."""
    from moto.core.resource_tagging import TaggedResource
    from moto.events.models import EventsBackend

    original = EventsBackend.iter_tagged_resources

    def with_rules(self):
        yield from original(self)
        for bus in self.event_buses.values():
            for rule in bus.rules.values():
                yield TaggedResource(arn=rule.arn, tags=self.tagger.get_tag_dict_for_resource(rule.arn), resource_type="events:rule")

    EventsBackend.iter_tagged_resources = with_rules



# ---- What AWS refuses and moto lets through: service-principal policies (issue 22) ----------
# moto evaluates no key policy, no bucket policy for a service principal, no quota on regex
# filters and no KMS eventual consistency. These rules answer as AWS documents it, judging
# policies with the same independent IAM evaluator as the link-contract test
# (scripts/iam-eval, @cloud-copilot/iam-simulate), kept as one process for the emulator's life.
import os
import shutil
import subprocess
import threading

IAM_EVAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iam-eval", "evaluate.mjs")
_EVALUATOR = {"proc": None, "lock": threading.Lock()}


def evaluate(cases):
    """{id: result} for the cases (see scripts/iam-eval/evaluate.mjs); raises when the
    evaluator is missing, so that a rule never passes unevaluated."""
    with _EVALUATOR["lock"]:
        proc = _EVALUATOR["proc"]
        if proc is None or proc.poll() is not None:
            node = shutil.which("node")
            modules = os.path.join(os.path.dirname(IAM_EVAL), "node_modules")
            if not node or not os.path.isdir(modules):
                raise RuntimeError("the IAM evaluator is not installed: run scripts/test once, or npm ci --prefix scripts/iam-eval")
            proc = subprocess.Popen([node, IAM_EVAL, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            _EVALUATOR["proc"] = proc
        proc.stdin.write(json.dumps(cases) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
    results = {r["id"]: r for r in json.loads(line)}
    for r in results.values():
        if r["ignored"] or r["result"].startswith("Error"):
            raise RuntimeError(f"the IAM evaluator could not judge {r['id']}: {r}")
    return {k: r["result"] for k, r in results.items()}


def _account_region(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    from moto.iam.models import get_account_id_from

    if "Credential=" not in auth:
        return "123456789012", "us-east-1"
    credential = auth.split("Credential=")[1].split(",")[0].split("/")
    return get_account_id_from(credential[0]), credential[2]


def _json_error(start_response, code, message, status="400 Bad Request"):
    body = json.dumps({"__type": code, "message": message}).encode()
    return _answer(start_response, status, [("Content-Type", "application/x-amz-json-1.1")], body)


def _key_policy(account, region, key_id):
    """(key ARN, policy document) of a key by id, ARN or alias; None when unknown."""
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:
        return None
    return key.arn, json.loads(key.policy)


def _service_case(cid, principal, action, resource, account, context, policy):
    return {"id": cid, "principal": principal, "action": action, "resource": resource, "resourceAccount": account,
            "context": context, "resourcePolicy": policy}


def _bucket_encryption(bucket):
    """(KMS key id, Bucket Key enabled) of a bucket's default encryption, or (None, False)."""
    rule = (bucket.encryption or {}).get("Rule") or {}
    if isinstance(rule, list):
        rule = rule[0] if rule else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    if default.get("SSEAlgorithm") != "aws:kms":
        return None, False
    return default.get("KMSMasterKeyID"), str(rule.get("BucketKeyEnabled", "false")).lower() == "true"


def _trail_refused(environ, request, op):
    """CreateTrail/UpdateTrail: CloudTrail checks that the bucket policy lets it check the ACL
    and write (InsufficientS3BucketPolicyException) and that the key policies let it use the
    trail's key and the bucket's S3 Bucket Key (InsufficientEncryptionPolicyException; CloudTrail
    user guide, create-kms-key-policy-for-cloudtrail.md: GenerateDataKey and DescribeKey, and
    kms:Decrypt "to create or update a trail with SSE-KMS encryption enabled" into a bucket with
    an S3 Bucket Key). Returns (code, message) or None."""
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.s3.models import s3_backends

    account, region = _account_region(environ)
    name = request.get("Name", "")
    name = name.split("trail/")[-1]
    bucket_name, kms = request.get("S3BucketName"), request.get("KmsKeyId")
    if op == "UpdateTrail":
        existing = cloudtrail_backends[account][region].trails.get(name)
        if existing is not None:
            bucket_name = bucket_name or existing.bucket_name
            kms = kms if "KmsKeyId" in request else existing.kms_key_id
    if request.get("IsOrganizationTrail"):
        refused = _organization_trail_refused(account)
        if refused:
            return refused
    if not bucket_name:
        return None
    try:
        bucket = s3_backends[account]["global"].get_bucket(bucket_name)
    except Exception:
        return None  # moto answers S3BucketDoesNotExistException itself
    trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
    source = {"aws:SourceArn": trail_arn, "aws:SourceAccount": account}
    policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy) if bucket.policy else None
    if policy is None:
        return ("InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket_name}")
    obj = f"arn:aws:s3:::{bucket_name}/AWSLogs/{account}/CloudTrail/{region}/2026/01/01/{account}_CloudTrail_{region}_x.json.gz"
    tls = {"aws:SecureTransport": "true"}
    cases = [
        _service_case("acl", "cloudtrail.amazonaws.com", "s3:GetBucketAcl", f"arn:aws:s3:::{bucket_name}", account, {**source, **tls}, policy),
        _service_case("put", "cloudtrail.amazonaws.com", "s3:PutObject", obj, account,
                      {**source, **tls, "s3:x-amz-acl": "bucket-owner-full-control"}, policy),
    ]
    if any(v != "Allowed" for v in evaluate(cases).values()):
        return ("InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket_name}")
    refusal = ("InsufficientEncryptionPolicyException", f"Insufficient permissions to access S3 bucket {bucket_name} or KMS key {kms or ''}.")
    cases = []
    if kms:
        found = _key_policy(account, region, kms)
        if found is None:
            return ("KmsKeyNotFoundException", f"KMS key {kms} does not exist")
        key_arn, key_policy = found
        cases.append(_service_case("trail-gdk", "cloudtrail.amazonaws.com", "kms:GenerateDataKey", key_arn, account,
                                   {**source, "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}, key_policy))
        cases.append(_service_case("trail-describe", "cloudtrail.amazonaws.com", "kms:DescribeKey", key_arn, account, source, key_policy))
    bucket_key, bucket_key_enabled = _bucket_encryption(bucket)
    if bucket_key:
        found = _key_policy(account, region, bucket_key)
        if found is not None:
            key_arn, key_policy = found
            cases.append(_service_case("bucket-gdk", "cloudtrail.amazonaws.com", "kms:GenerateDataKey", key_arn, account,
                                       {**source, "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket_name}"}, key_policy))
            cases.append(_service_case("bucket-describe", "cloudtrail.amazonaws.com", "kms:DescribeKey", key_arn, account, source, key_policy))
            if bucket_key_enabled and kms:
                cases.append(_service_case("bucket-decrypt", "cloudtrail.amazonaws.com", "kms:Decrypt", key_arn, account, source, key_policy))
    if cases and any(v != "Allowed" for v in evaluate(cases).values()):
        return refusal
    return None


def _organization_trail_refused(account):
    """CreateTrail/UpdateTrail with IsOrganizationTrail: only from the management account
    (NotOrganizationManagementAccountException), with trusted access for CloudTrail enabled
    (CloudTrailAccessNotEnabledException) -- CloudTrail API reference, issue 22 finding 5."""
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[account]["aws"]
    if backend.org is None or backend.org.master_account_id != account:
        return ("NotOrganizationManagementAccountException",
                "This operation can be performed only by the management account of an organization.")
    if not any(s.get("ServicePrincipal") == "cloudtrail.amazonaws.com" for s in backend.services):
        return ("CloudTrailAccessNotEnabledException",
                "This operation is not permitted: trusted access has not been enabled between CloudTrail and Organizations.")
    return None


# CloudWatch Logs checks that the caller itself may use the key (kms:ViaService, 2025): tests
# say "the deploying identity lacks kms:Encrypt" with POST DENY_CALLER_KMS "on" ("off" undoes).
DENY_CALLER_KMS_PATH = "/_secmon/deny-caller-kms"
DENY_CALLER_KMS = {"on": False}


def _log_group_key_refused(environ, request):
    """CreateLogGroup/AssociateKmsKey with a key: the key policy must admit
    logs.<region>.amazonaws.com for this log group's encryption context (CloudWatch Logs user
    guide, encrypt-log-data-kms.md), and the caller must be allowed to use the key."""
    key = request.get("kmsKeyId")
    if not key:
        return None
    account, region = _account_region(environ)
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{request.get('logGroupName', '')}"
    if DENY_CALLER_KMS["on"]:
        return ("AccessDeniedException", f"User: arn:aws:iam::{account}:user/deployer is not authorized to perform: kms:Encrypt on resource: {key} "
                "because no identity-based policy allows the kms:Encrypt action")
    found = _key_policy(account, region, key)
    refusal = ("AccessDeniedException", f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'")
    if found is None:
        return refusal
    key_arn, policy = found
    context = {"kms:EncryptionContext:aws:logs:arn": group_arn}
    principal = f"logs.{region}.amazonaws.com"
    cases = [_service_case(a, principal, a, key_arn, account, context, policy) for a in ("kms:GenerateDataKey", "kms:Decrypt")]
    if any(v != "Allowed" for v in evaluate(cases).values()):
        return refusal
    return None


# KMS eventual consistency ("AWS KMS eventual consistency", KMS developer guide): right after
# CreateKey / CreateAlias, the next call may answer NotFoundException. With POST KMS_LAG_PATH "on"
# ("off" undoes), the first call of each kind on a key or alias younger than FRESH_SECONDS
# answers so (issue 22, findings 3 and 4). Off by default: a test that creates a key by hand and
# plans at once would otherwise see it missing, as AWS may, but not deterministically.
KMS_LAG_PATH = "/_secmon/kms-lag"
FRESH_SECONDS = 2.0
_FRESH = {"on": False, "keys": {}, "aliases": {}, "answered": set(), "lock": threading.Lock()}


def _kms_not_yet(op, request):
    """(code, message) when KMS would not yet know the key or alias of this call, else None."""
    now = time.monotonic()
    with _FRESH["lock"]:
        if not _FRESH["on"]:
            return None
        if op == "EnableKeyRotation":
            key = request.get("KeyId", "").split("key/")[-1]
            born = _FRESH["keys"].get(key)
            mark = ("rotation", key)
        elif op == "DescribeKey" and request.get("KeyId", "").startswith("alias/"):
            alias = request["KeyId"]
            born = _FRESH["aliases"].get(alias)
            mark = ("describe", alias)
        else:
            return None
        if born is None or now - born > FRESH_SECONDS or mark in _FRESH["answered"]:
            return None
        _FRESH["answered"].add(mark)
    return ("NotFoundException", f"{request.get('KeyId')} is not found.")


def _kms_remember(op, request, response_body):
    with _FRESH["lock"]:
        if op == "CreateKey":
            try:
                key = json.loads(response_body)["KeyMetadata"]["KeyId"]
            except (ValueError, KeyError):
                return
            _FRESH["keys"][key] = time.monotonic()
        elif op == "CreateAlias":
            _FRESH["aliases"][request.get("AliasName", "")] = time.monotonic()
            _FRESH["answered"].discard(("describe", request.get("AliasName", "")))


# "This operation can return empty results while there are more log events available through
# the token" (GetLogEvents and FilterLogEvents API references; issue 22, finding 9). With POST
# EMPTY_PAGE_PATH "on", the first call of each of them per log group (and stream) answers no event
# and a token; the call that brings the token back gets moto's answer.
EMPTY_PAGE_PATH = "/_secmon/empty-first-page"
EMPTY_TOKEN = "secmon-empty-page"
_EMPTY = {"on": False, "answered": set(), "lock": threading.Lock()}


def _empty_first_page(self, environ, op, request, body):
    """A responder for an empty first page, or None; a request bringing back our token is
    forwarded without it (the body is put back either way)."""
    token_key = "nextToken"
    if request.get(token_key) == EMPTY_TOKEN:
        request = {k: v for k, v in request.items() if k != token_key}
        new = json.dumps(request).encode()
        environ["wsgi.input"] = io.BytesIO(new)
        environ["CONTENT_LENGTH"] = str(len(new))
        return None
    environ["wsgi.input"] = io.BytesIO(body)
    if not _EMPTY["on"]:
        return None
    mark = (op, request.get("logGroupName"), request.get("logStreamName"), request.get("startFromHead"))
    with _EMPTY["lock"]:
        if mark in _EMPTY["answered"]:
            return None
        _EMPTY["answered"].add(mark)
    if op == "GetLogEvents":
        answer = {"events": [], "nextForwardToken": EMPTY_TOKEN, "nextBackwardToken": EMPTY_TOKEN}
    else:
        answer = {"events": [], "searchedLogStreams": [], "nextToken": EMPTY_TOKEN}
    body = json.dumps(answer).encode()
    return lambda start_response: _answer(start_response, "200 OK", [("Content-Type", "application/x-amz-json-1.1")], body)


# S3 server access logs arrive late: "the log record for a particular request might be delivered
# long after the request was actually processed" (S3 user guide, "Best effort server log
# delivery"), so emptying a bucket that logs refills its access-log bucket, even between that
# bucket's own emptying and its DeleteBucket. The first DeleteBucket of a bucket ever named as a
# logging target is preceded by one late delivery into it (issue 22, finding 12).
_LOG_TARGETS = {"targets": set(), "refilled": set(), "lock": threading.Lock()}


def _logging_target_refused(environ, source, target, prefix):
    """PutBucketLogging: S3 checks that the target bucket's policy lets the logging service
    (`logging.s3.amazonaws.com`) put the source bucket's logs, from that bucket of this account
    (S3 user guide, "Permissions for log delivery"); judged with the IAM evaluator."""
    from moto.s3.models import s3_backends

    account, _ = _account_region(environ)
    try:
        bucket = s3_backends[account]["global"].get_bucket(target)
    except Exception:
        return None  # moto answers the missing bucket itself
    message = "You must give the log-delivery group WRITE and READ_ACP permissions to the target bucket"
    if not bucket.policy:
        return ("InvalidTargetBucketForLogging", message)
    policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
    context = {"aws:SourceArn": f"arn:aws:s3:::{source}", "aws:SourceAccount": account, "aws:SecureTransport": "true"}
    key = f"arn:aws:s3:::{target}/{prefix}2026-01-01-00-00-00-0123456789ABCDEF"
    case = _service_case("put", "logging.s3.amazonaws.com", "s3:PutObject", key, account, context, policy)
    if evaluate([case])["put"] != "Allowed":
        return ("InvalidTargetBucketForLogging", message)
    return None


def _s3_late_delivery(self, environ, start_response):
    """S3 calls by path: remembers logging targets; after the first DeleteObjects on one, puts
    one late log object into it. None lets the call through untouched."""
    import re

    method, path, query = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    bucket = path.strip("/").split("/")[0]
    if not bucket or environ.get("HTTP_X_AMZ_TARGET"):
        return None
    if method == "PUT" and query.split("&")[0].split("=")[0] == "logging":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = re.search(rb"<TargetBucket>(.*?)</TargetBucket>", body)
        if target:
            prefix = re.search(rb"<TargetPrefix>(.*?)</TargetPrefix>", body)
            refused = _logging_target_refused(environ, bucket, target.group(1).decode(), prefix.group(1).decode() if prefix else "")
            if refused:
                xml = (f"<Error><Code>{refused[0]}</Code><Message>{refused[1]}</Message></Error>").encode()
                return lambda start_response: _answer(start_response, "400 Bad Request", [("Content-Type", "application/xml")], xml)
            with _LOG_TARGETS["lock"]:
                _LOG_TARGETS["targets"].add(target.group(1).decode())
        return None
    if method == "DELETE" and not query and "/" not in path.strip("/"):
        with _LOG_TARGETS["lock"]:
            late = bucket in _LOG_TARGETS["targets"] and bucket not in _LOG_TARGETS["refilled"]
            if late:
                _LOG_TARGETS["refilled"].add(bucket)
        if not late:
            return None
        from moto.s3.models import s3_backends

        account, _ = _account_region(environ)
        try:
            s3_backends[account]["global"].put_object(bucket, "late/2026-01-01-00-00-00-LATEDELIVERY", b"late access log record")
        except Exception:
            pass
        return None
    return None


# CloudWatch alarm actions: when an alarm enters ALARM, CloudWatch publishes to each action topic as
# cloudwatch.amazonaws.com, and records the outcome only in the alarm's history ("Successfully
# executed action arn:..." / "Failed to execute action arn:... Received error: ..."; AWS re:Post
# "cloudwatch-receive-sns-for-alarm-trigger"). moto runs no action and has no DescribeAlarmHistory:
# SetAlarmState to ALARM is judged here (topic policy, and the key policy of an encrypted topic,
# with the IAM evaluator) and recorded; DescribeAlarmHistory answers the record (issue 22,
# finding 6).
_ALARM_HISTORY = {"items": [], "lock": threading.Lock()}


def _alarm_actions_ran(environ, request):
    """After a SetAlarmState to ALARM: one Action history item per alarm action topic."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.sns.models import sns_backends

    if request.get("StateValue") != "ALARM":
        return
    account, region = _account_region(environ)
    alarm = cloudwatch_backends[account][region].alarms.get(request.get("AlarmName", ""))
    if alarm is None or not alarm.actions_enabled:
        return
    for action in alarm.alarm_actions or []:
        if ":sns:" not in action:
            continue
        topic = sns_backends[account][region].topics.get(action)
        error = None
        context = {"aws:SourceArn": alarm.alarm_arn, "aws:SourceAccount": account}
        if topic is None:
            error = "Resource not found"
        else:
            publish = _service_case("publish", "cloudwatch.amazonaws.com", "sns:Publish", action, account, context, json.loads(topic.policy))
            if evaluate([publish])["publish"] != "Allowed":
                error = "CloudWatch Alarms is not authorized to perform: SNS:Publish on resource:" + action
            elif topic.kms_master_key_id:
                found = _key_policy(account, region, topic.kms_master_key_id)
                ctx = {**context, "kms:EncryptionContext:aws:sns:topicArn": action}
                cases = [] if found is None else [
                    _service_case(a, "cloudwatch.amazonaws.com", a, found[0], account, ctx, found[1]) for a in ("kms:GenerateDataKey", "kms:Decrypt")
                ]
                if found is None or any(v != "Allowed" for v in evaluate(cases).values()):
                    error = "CloudWatch Alarms does not have authorization to access the SNS topic encryption key."
        summary = f"Successfully executed action {action}" if error is None else f"Failed to execute action {action}. Received error: '{error}'"
        with _ALARM_HISTORY["lock"]:
            _ALARM_HISTORY["items"].append({
                "AlarmName": alarm.name, "AlarmType": "MetricAlarm", "Timestamp": time.time(), "HistoryItemType": "Action",
                "HistorySummary": summary, "HistoryData": json.dumps({"actionState": "Succeeded" if error is None else "Failed"}),
                "_account": account, "_region": region,
            })


def _alarm_history(environ, request):
    """DescribeAlarmHistory from the record above, newest first."""
    account, region = _account_region(environ)
    with _ALARM_HISTORY["lock"]:
        items = [i for i in _ALARM_HISTORY["items"] if i["_account"] == account and i["_region"] == region]
    if request.get("AlarmName"):
        items = [i for i in items if i["AlarmName"] == request["AlarmName"]]
    if request.get("HistoryItemType"):
        items = [i for i in items if i["HistoryItemType"] == request["HistoryItemType"]]
    if request.get("StartDate") is not None:
        items = [i for i in items if i["Timestamp"] >= float(request["StartDate"])]
    items = sorted(items, key=lambda i: i["Timestamp"], reverse=True)
    return {"AlarmHistoryItems": [{k: v for k, v in i.items() if not k.startswith("_")} for i in items]}


# ---- The heartbeat, end to end (issue 24, item 3) ---------------------------------------------
# moto runs no schedule, executes no state machine task, delivers no CloudTrail event to
# CloudWatch Logs and computes no metric. POST HEARTBEAT_PATH with an epoch second plays one beat
# at that time, as AWS would: each enabled schedule rule starting a state machine, through its
# role (trust and permissions judged by the IAM evaluator); the state machine's
# getSecretValue task, through its role; the read recorded by every logging trail of the account
# that records read management events of Secrets Manager and delivers to CloudWatch Logs,
# through the delivery role and, for an encrypted log group, the key policy's CloudWatch Logs
# statement; and the record written into that log group, as CloudTrail writes it. The answer
# says, per beat, where it stopped or which log group it reached. Metric filters and the alarm
# are then secmon's own evaluator's (crates/sim), over these log events.
HEARTBEAT_PATH = "/_secmon/heartbeat"


def _role_allows(account, role_arn, service, source_arn, action, resource):
    """None when `service` may assume the role for `source_arn` and the role may do `action` on
    `resource`; else why not."""
    from moto.iam.models import iam_backends

    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam_backends[account]["aws"].get_role(name)
    except Exception:
        return f"role {name} does not exist"
    from urllib.parse import unquote

    trust = json.loads(unquote(role.assume_role_policy_document))
    context = {"aws:SourceAccount": account}
    if source_arn:
        context["aws:SourceArn"] = source_arn
    inline = [json.loads(unquote(doc)) for doc in role.policies.values()]
    cases = [
        _service_case("assume", service, "sts:AssumeRole", role.arn, account, context, trust),
        {"id": "act", "principal": role.arn, "action": action, "resource": resource, "resourceAccount": account,
         "context": {}, "identityPolicies": inline},
    ]
    results = evaluate(cases)
    if results["assume"] != "Allowed":
        return f"{service} may not assume role {name}"
    if results["act"] != "Allowed":
        return f"role {name} may not {action} on {resource}"
    return None


def _records_secret_reads(trail):
    """Whether the trail records Secrets Manager's read management events (basic selectors, as
    secmon writes them; a trail without selectors records all management events)."""
    if trail.advanced_event_selectors:
        return not any(
            f.get("Field") == "readOnly" and "false" in (f.get("Equals") or [])
            for sel in trail.advanced_event_selectors for f in sel.get("FieldSelectors", [])
        )
    if not trail.event_selectors:
        return True
    for sel in trail.event_selectors:
        if sel.get("IncludeManagementEvents", True) and sel.get("ReadWriteType", "All") in ("All", "ReadOnly") \
                and "secretsmanager.amazonaws.com" not in (sel.get("ExcludeManagementEventSources") or []):
            return True
    return False


def _beat(account, region, rule, target, at):
    """One beat of one schedule rule's state machine target: where it stopped, or where the
    canary's record was written."""
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.logs.models import logs_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.stepfunctions.models import stepfunctions_backends

    machine_arn = target["Arn"]
    why = _role_allows(account, target.get("RoleArn", ""), "events.amazonaws.com", rule.arn, "states:StartExecution", machine_arn)
    if why:
        return {"rule": rule.name, "stopped": f"EventBridge: {why}"}
    try:
        machine = stepfunctions_backends[account][region].describe_state_machine(machine_arn)
    except Exception:
        return {"rule": rule.name, "stopped": "Step Functions: the state machine does not exist"}
    task = next((st for st in json.loads(machine.definition).get("States", {}).values()
                 if st.get("Resource") == "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue"), None)
    if task is None:
        return {"rule": rule.name, "stopped": "Step Functions: no getSecretValue task"}
    secret_id = task.get("Parameters", {}).get("SecretId", "")
    secrets = secretsmanager_backends[account][region]
    if not secrets._is_valid_identifier(secret_id) or secrets.secrets[secret_id].is_deleted():
        return {"rule": rule.name, "stopped": f"Secrets Manager: no secret {secret_id}"}
    secret = secrets.secrets[secret_id]
    why = _role_allows(account, machine.roleArn, "states.amazonaws.com", machine_arn, "secretsmanager:GetSecretValue", secret.arn)
    if why:
        return {"rule": rule.name, "stopped": f"Step Functions: {why}"}
    role_arn = machine.roleArn
    role_name = role_arn.rsplit("/", 1)[-1]
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole", "principalId": f"AROAHEARTBEAT:{rule.name}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/heartbeat", "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAHEARTBEAT", "arn": role_arn,
                                                 "accountId": account, "userName": role_name}},
            "invokedBy": "states.amazonaws.com",
        },
        "eventTime": when, "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
        "awsRegion": region, "sourceIPAddress": "states.amazonaws.com", "userAgent": "states.amazonaws.com",
        "requestParameters": {"secretId": secret_id}, "responseElements": None, "readOnly": True,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management",
    }
    reached, stopped = [], []
    for trail in cloudtrail_backends[account][region].trails.values():
        if trail.region_name != region and not trail.is_multi_region:
            continue
        if not trail.status.is_logging:
            stopped.append(f"CloudTrail: trail {trail.trail_name} is not logging")
            continue
        if not _records_secret_reads(trail):
            stopped.append(f"CloudTrail: trail {trail.trail_name} does not record Secrets Manager's read events")
            continue
        if not trail.cw_log_group_arn:
            stopped.append(f"CloudTrail: trail {trail.trail_name} delivers to no log group")
            continue
        group_name = trail.cw_log_group_arn.split(":log-group:", 1)[-1].rsplit(":", 1)[0]
        stream = f"{account}_CloudTrail_{region}"
        group_arn = f"arn:aws:logs:{trail.region_name}:{account}:log-group:{group_name}"
        why = _role_allows(account, trail.cw_role_arn or "", "cloudtrail.amazonaws.com", None, "logs:PutLogEvents",
                           f"{group_arn}:log-stream:{stream}")
        if why:
            stopped.append(f"CloudTrail → CloudWatch Logs: {why}")
            continue
        group = logs_backends[account][trail.region_name].groups.get(group_name)
        if group is None:
            stopped.append(f"CloudWatch Logs: no log group {group_name}")
            continue
        if group.kms_key_id:
            found = _key_policy(account, trail.region_name, group.kms_key_id)
            context = {"kms:EncryptionContext:aws:logs:arn": group_arn}
            principal = f"logs.{trail.region_name}.amazonaws.com"
            cases = [] if found is None else [
                _service_case(a, principal, a, found[0], account, context, found[1]) for a in ("kms:GenerateDataKey", "kms:Decrypt")
            ]
            if found is None or any(v != "Allowed" for v in evaluate(cases).values()):
                stopped.append(f"CloudWatch Logs: the key of log group {group_name} does not let CloudWatch Logs use it")
                continue
        if stream not in group.streams:
            group.create_log_stream(stream)
        group.streams[stream].put_log_events([{"timestamp": int(at * 1000), "message": json.dumps(record)}])
        reached.append(group_name)
    return {"rule": rule.name, "reached": reached, "stopped": "; ".join(stopped)}


def _heartbeat(at):
    """Every enabled schedule rule of every account and region that starts a state machine
    beats once at `at` (epoch seconds)."""
    from moto.events.models import events_backends

    beats = []
    for account in list(events_backends.keys()):
        for region in list(events_backends[account].keys()):
            backend = events_backends[account][region]
            for bus in backend.event_buses.values():
                for rule in list(bus.rules.values()):
                    if not rule.scheduled_expression or rule.state != "ENABLED":
                        continue
                    for target in rule.targets:
                        if ":states:" in target.get("Arn", ""):
                            beats.append(_beat(account, region, rule, target, at))
    return beats


REGEX_FILTERS_PER_LOG_GROUP = 5


def _regex_filter_quota(environ, request):
    """PutMetricFilter: "there is a quota of two regular expression patterns within a single
    filter pattern. There is also a quota of five regular expression patterns per log group"
    (PutMetricFilter API reference). A filter replacing one of the same name does not count it."""
    from moto.logs.models import logs_backends

    pattern = request.get("filterPattern", "")
    if "%" not in pattern:
        return None
    account, region = _account_region(environ)
    group, name = request.get("logGroupName"), request.get("filterName")
    others = [f for f in logs_backends[account][region].filters.metric_filters
              if f["logGroupName"] == group and f["filterName"] != name and "%" in (f.get("filterPattern") or "")]
    if len(others) >= REGEX_FILTERS_PER_LOG_GROUP:
        return ("LimitExceededException", "The log group has reached the quota of 5 regular expression patterns in its filters")
    return None


# ---- EventBridge (issue 24, item 1) --------------------------------------------------------------
# moto stores any rule state, name, pattern length and input transformer; AWS refuses what its API
# reference does not allow (PutRule, PutTargets, InputTransformer, Target): a state outside the
# three it knows, a name of other characters or longer than 64, a pattern longer than 4,096
# characters, a target id of other characters or longer than 64, more than 100 input paths, a
# path name starting with "AWS.", a template longer than 8,192 characters.
_EVENTS_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
_EVENTS_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


def _events_refused(op, request):
    if op == "PutRule":
        if not _EVENTS_NAME.match(request.get("Name", "")):
            return ("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length less than or equal to 64")
        state = request.get("State")
        if state is not None and state not in _EVENTS_STATES:
            return ("ValidationException", f"1 validation error detected: Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(_EVENTS_STATES)}]")
        if len(request.get("EventPattern") or "") > 4096:
            return ("ValidationException", "1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to 4096")
    if op == "PutTargets":
        for target in request.get("Targets") or []:
            if not _EVENTS_NAME.match(target.get("Id", "")):
                return ("ValidationException", "1 validation error detected: Value at 'targets.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length less than or equal to 64")
            transformer = target.get("InputTransformer") or {}
            paths = transformer.get("InputPathsMap") or {}
            if len(paths) > 100:
                return ("ValidationException", "InputPathsMap has more than 100 entries")
            if any(k.startswith("AWS.") for k in paths):
                return ("ValidationException", "InputPathsMap keys cannot start with AWS.")
            if len(transformer.get("InputTemplate") or "") > 8192:
                return ("ValidationException", "1 validation error detected: Value at 'targets.member.inputTransformer.inputTemplate' failed to satisfy constraint: Member must have length less than or equal to 8192")
    return None


def _stricter_json(self, environ):
    """JSON-protocol calls that AWS refuses where moto does not (the rules above); None lets the
    call through. The request body is put back."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    service, _, op = target.rpartition(".")
    watched = {
        "CreateTrail", "UpdateTrail", "CreateLogGroup", "AssociateKmsKey", "EnableKeyRotation", "DescribeKey",
        "CreateKey", "CreateAlias", "PutMetricFilter", "GetLogEvents", "FilterLogEvents", "PutRule", "PutTargets",
        "CreateStateMachine", "UpdateStateMachine",
    }
    if op not in watched:
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    prefix = {"AWSEvents": "events", "AWSStepFunctions": "states"}.get(service, "cloudtrail" if service.endswith("CloudTrail_20131101") else "")
    try:
        account, _ = _account_region(environ)
        passing = _pass_role_refused(environ, account, prefix, op, request) if prefix else None
        if passing:
            return lambda start_response: _json_error(start_response, "AccessDeniedException", passing)
        if service.endswith("CloudTrail_20131101") and op in ("CreateTrail", "UpdateTrail"):
            refused = _trail_refused(environ, request, op)
        elif service == "Logs_20140328" and op in ("CreateLogGroup", "AssociateKmsKey"):
            refused = _log_group_key_refused(environ, request)
        elif service == "Logs_20140328" and op in ("GetLogEvents", "FilterLogEvents"):
            return _empty_first_page(self, environ, op, request, body)
        elif service == "Logs_20140328" and op == "PutMetricFilter":
            refused = _regex_filter_quota(environ, request)
        elif service == "AWSEvents" and op in ("PutRule", "PutTargets"):
            refused = _events_refused(op, request)
        elif service == "TrentService" and op in ("EnableKeyRotation", "DescribeKey"):
            refused = _kms_not_yet(op, request)
        elif service == "TrentService" and op in ("CreateKey", "CreateAlias"):
            status, headers, out = self.forward(environ)
            if status.startswith("200"):
                _kms_remember(op, request, out)
            return lambda start_response: _answer(start_response, status, headers, out)
        else:
            refused = None
    except RuntimeError as e:
        return lambda start_response: _json_error(start_response, "InternalFailure", f"secmon emulator: {e}", "500 Internal Server Error")
    if refused is None:
        return None
    return lambda start_response: _json_error(start_response, refused[0], refused[1])

_tolerate_string_principals()
_tagging_index_lists_rules()
_insight_rules_can_be_tagged()
_alarms_start_without_data()
_no_deliveries_over_the_internet()
_backend_lookup_memoized()
_requests_arrive_over_tls()
_authorize_with_iam_prefixes()
_iam_role_calls_judged_on_the_role()
_topic_subscription_counts()
CborAdapter.unconfirmed = _unconfirmed
CborAdapter.replace_metric_filter = _replace_metric_filter
CborAdapter.versioning = _versioning
CborAdapter.forward = _forward
CborAdapter.kms_key = _kms_key
CborAdapter.assume_role_refused = _assume_role_refused
CborAdapter.stricter_json = _stricter_json
CborAdapter.s3_late_delivery = _s3_late_delivery


# AWS Chatbot (Amazon Q Developer in chat applications): moto has none of its API. This is the
# part secmon calls, as the API reference describes it (restJson1, POST /<operation-path>), with
# what AWS refuses and moto could not: a workspace or team not authorized in the account (only
# the console's OAuth step does that), a configuration name outside `^[A-Za-z0-9-_]+$` or over
# 128 characters, a name taken, a role or topic that does not exist. Chatbot subscribes each
# topic itself (its service-linked role) to https://global.sns-api.chatbot.amazonaws.com, which
# this does in moto's SNS, confirmed. POST CHAT_CLIENTS with JSON {"slack": [[team id, name]],
# "teams": [[tenant id, team id, name]]} says which workspaces and teams the console authorized.
CHAT_CLIENTS_PATH = "/_secmon/chat-clients"
CHATBOT = {"slack": [], "teams": [], "configs": {}, "lock": threading.Lock()}
CHATBOT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def _caller_refused(environ, account, action, resource="*", context=None):
    """With IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT), why an IAM user's call of an API
    moto does not serve, or what moto does not authorize (`iam:PassRole`), is refused, judged by
    the independent evaluator on the user's inline policies; None when allowed, or when the
    caller is not such a user."""
    if not os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT"):
        return None
    from urllib.parse import unquote
    from moto.iam.models import iam_backends

    key_id = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")[0]
    backend = iam_backends[account]["aws"]
    key = backend.access_keys.get(key_id)
    user_name = getattr(key, "user_name", None)
    if key is None or getattr(key, "role_arn", None) or not user_name:
        return None
    user = backend.get_user(user_name)
    policies = [json.loads(unquote(doc)) for doc in user.policies.values()]
    case = {"id": "call", "principal": user.arn, "action": action, "resource": resource, "resourceAccount": account,
            "context": context or {}, "identityPolicies": policies}
    if evaluate([case])["call"] == "Allowed":
        return None
    return f"User: {user.arn} is not authorized to perform: {action} on resource: {resource}"


# The calls that hand a role to a service, and to which. AWS authorizes the caller's
# `iam:PassRole` on that role with `iam:PassedToService` ("Granting a user permissions to pass a
# role to an AWS service", IAM User Guide); moto authorizes only the call's own action.
def _roles_passed(prefix, op, request):
    if prefix == "cloudtrail" and op in ("CreateTrail", "UpdateTrail"):
        return [(request.get("CloudWatchLogsRoleArn"), "cloudtrail.amazonaws.com")]
    if prefix == "events" and op == "PutTargets":
        return [(t.get("RoleArn"), "events.amazonaws.com") for t in request.get("Targets") or []]
    if prefix == "states" and op in ("CreateStateMachine", "UpdateStateMachine"):
        return [(request.get("roleArn"), "states.amazonaws.com")]
    if prefix == "chatbot" and "ChannelConfiguration" in op and op.startswith(("Create", "Update")):
        return [(request.get("IamRoleArn"), "chatbot.amazonaws.com")]
    return []


def _pass_role_refused(environ, account, prefix, op, request):
    """Why the caller may not pass the roles its call hands a service; None when it may, or when
    it may not make the call at all (moto's own authorization answers that first, as AWS does)."""
    passed = [(role, service) for role, service in _roles_passed(prefix, op, request) if role]
    if not passed or _caller_refused(environ, account, f"{prefix}:{op}"):
        return None
    for role, service in passed:
        refused = _caller_refused(environ, account, "iam:PassRole", role, {"iam:PassedToService": service})
        if refused:
            return refused
    return None


def _chatbot_error(start_response, code, message, status):
    body = json.dumps({"message": message}).encode()
    return _answer(start_response, status, [("Content-Type", "application/json"), ("x-amzn-errortype", code)], body)


def _chatbot_topics(arns):
    """Subscribes Chatbot to each topic of `arns`, confirmed, as its service-linked role does;
    the first topic that does not exist instead, subscribing none."""
    from moto.sns.models import sns_backends

    for arn in arns:
        parts = arn.split(":")
        if len(parts) < 6 or arn not in sns_backends[parts[4]][parts[3]].topics:
            return arn
    for arn in arns:
        parts = arn.split(":")
        sns_backends[parts[4]][parts[3]].subscribe(arn, CHATBOT_ENDPOINT, "https")
    return None


def _chatbot_unsubscribe(arns):
    from moto.sns.models import sns_backends

    for arn in arns:
        parts = arn.split(":")
        backend = sns_backends[parts[4]][parts[3]]
        for sub in list(backend.subscriptions.values()):
            if sub.topic.arn == arn and sub.endpoint == CHATBOT_ENDPOINT:
                backend.unsubscribe(sub.arn)


def _chatbot(environ, start_response):
    from moto.iam.models import iam_backends

    path = environ.get("PATH_INFO", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    account, _ = _account_region(environ)
    action = "chatbot:" + "".join(w.capitalize() for w in path.strip("/").split("-")).replace("Ms", "Microsoft", 1)
    refused = _caller_refused(environ, account, action) or _pass_role_refused(environ, account, "chatbot", action.split(":")[1], request)
    if refused:
        return _chatbot_error(start_response, "AccessDeniedException", refused, "403 Forbidden")
    ok = lambda body: _answer(start_response, "200 OK", [("Content-Type", "application/json")], json.dumps(body).encode())
    configs = CHATBOT["configs"]
    mine = lambda: [c for c in configs.values() if c["_account"] == account]
    shown = lambda c: {k: v for k, v in c.items() if not k.startswith("_")}
    with CHATBOT["lock"]:
        if path == "/describe-slack-workspaces":
            return ok({"SlackWorkspaces": [{"SlackTeamId": t, "SlackTeamName": n, "State": "ENABLED"} for t, n in CHATBOT["slack"]]})
        if path == "/list-ms-teams-configured-teams":
            return ok({"ConfiguredTeams": [{"TenantId": tn, "TeamId": t, "TeamName": n, "State": "ENABLED"} for tn, t, n in CHATBOT["teams"]]})
        if path in ("/describe-slack-channel-configurations", "/list-ms-teams-channel-configurations"):
            platform = "slack" if "slack" in path else "teams"
            wanted = request.get("ChatConfigurationArn")
            found = [shown(c) for c in mine() if c["_platform"] == platform and wanted in (None, c["ChatConfigurationArn"])]
            return ok({"SlackChannelConfigurations" if platform == "slack" else "TeamChannelConfigurations": found})
        if path in ("/create-slack-channel-configuration", "/create-ms-teams-channel-configuration"):
            platform = "slack" if "slack" in path else "teams"
            name = request.get("ConfigurationName", "")
            if not re.fullmatch(r"[A-Za-z0-9\-_]{1,128}", name):
                return _chatbot_error(start_response, "InvalidParameterException", f"ConfigurationName {name!r} must match ^[A-Za-z0-9-_]+$ and be 1-128 characters", "400 Bad Request")
            if platform == "slack" and request.get("SlackTeamId") not in [t for t, _ in CHATBOT["slack"]]:
                return _chatbot_error(start_response, "InvalidRequestException", f"Slack workspace {request.get('SlackTeamId')} is not authorized for this account", "400 Bad Request")
            if platform == "teams" and (request.get("TenantId"), request.get("TeamId")) not in [(tn, t) for tn, t, _ in CHATBOT["teams"]]:
                return _chatbot_error(start_response, "InvalidRequestException", f"Microsoft Teams team {request.get('TeamId')} is not configured for this account", "400 Bad Request")
            kind = "slack-channel" if platform == "slack" else "microsoft-teams-channel"
            arn = f"arn:aws:chatbot::{account}:chat-configuration/{kind}/{name}"
            if arn in configs:
                return _chatbot_error(start_response, "ConflictException", f"A configuration named {name} already exists", "409 Conflict")
            role = request.get("IamRoleArn", "")
            try:
                iam_backends[account]["aws"].get_role(role.rsplit("/", 1)[-1])
            except Exception:
                return _chatbot_error(start_response, "InvalidParameterException", f"IAM role {role} does not exist", "400 Bad Request")
            missing = _chatbot_topics(request.get("SnsTopicArns") or [])
            if missing:
                return _chatbot_error(start_response, "InvalidParameterException", f"SNS topic {missing} does not exist", "400 Bad Request")
            config = {
                "ChatConfigurationArn": arn, "ConfigurationName": name, "IamRoleArn": role,
                "SnsTopicArns": request.get("SnsTopicArns") or [],
                "LoggingLevel": request.get("LoggingLevel") or "NONE",
                # "The AWS managed AdministratorAccess policy is applied by default if this is not set."
                "GuardrailPolicyArns": request.get("GuardrailPolicyArns") or [ADMINISTRATOR_ACCESS],
                "UserAuthorizationRequired": bool(request.get("UserAuthorizationRequired", False)),
                "Tags": request.get("Tags") or [], "State": "ENABLED",
                "_account": account, "_platform": platform,
            }
            if platform == "slack":
                team_name = dict(CHATBOT["slack"]).get(request["SlackTeamId"], "")
                config.update({"SlackTeamId": request["SlackTeamId"], "SlackTeamName": team_name,
                               "SlackChannelId": request.get("SlackChannelId", ""), "SlackChannelName": request.get("SlackChannelName") or request.get("SlackChannelId", "")})
            else:
                config.update({"TenantId": request["TenantId"], "TeamId": request["TeamId"], "ChannelId": request.get("ChannelId", ""),
                               "ChannelName": request.get("ChannelName"), "TeamName": request.get("TeamName")})
            configs[arn] = config
            return ok({"ChannelConfiguration": shown(config)})
        arn = request.get("ChatConfigurationArn") or request.get("ResourceARN")
        config = configs.get(arn)
        if config is None or config["_account"] != account:
            return _chatbot_error(start_response, "ResourceNotFoundException", f"{arn} was not found", "404 Not Found")
        if path in ("/update-slack-channel-configuration", "/update-ms-teams-channel-configuration"):
            if "SnsTopicArns" in request:
                missing = _chatbot_topics(request["SnsTopicArns"] or [])
                if missing:
                    return _chatbot_error(start_response, "InvalidParameterException", f"SNS topic {missing} does not exist", "400 Bad Request")
                _chatbot_unsubscribe([a for a in config["SnsTopicArns"] if a not in (request["SnsTopicArns"] or [])])
            for key in ("SnsTopicArns", "IamRoleArn", "LoggingLevel", "GuardrailPolicyArns", "UserAuthorizationRequired", "SlackChannelId", "ChannelId"):
                if key in request and (key != "SlackChannelId" or config["_platform"] == "slack") and (key != "ChannelId" or config["_platform"] == "teams"):
                    config[key] = request[key]
            return ok({"ChannelConfiguration": shown(config)})
        if path in ("/delete-slack-channel-configuration", "/delete-ms-teams-channel-configuration"):
            _chatbot_unsubscribe(config["SnsTopicArns"])
            del configs[arn]
            return ok({})
        if path == "/get-ms-teams-channel-configuration":
            return ok({"ChannelConfiguration": shown(config)})
        if path == "/tag-resource":
            tags = {t["TagKey"]: t["TagValue"] for t in config["Tags"]}
            tags.update({t["TagKey"]: t["TagValue"] for t in request.get("Tags") or []})
            config["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
            return ok({})
        if path == "/untag-resource":
            config["Tags"] = [t for t in config["Tags"] if t["TagKey"] not in (request.get("TagKeys") or [])]
            return ok({})
        if path == "/list-tags-for-resource":
            return ok({"Tags": config["Tags"]})
    return _chatbot_error(start_response, "InvalidRequestException", f"secmon emulator: {path} is not emulated", "400 Bad Request")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    app = CborAdapter(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os

        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"secmon emulator (moto + CloudWatch CBOR adapter) on http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
