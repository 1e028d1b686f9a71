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
import sys
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
FAULTS = {"before": 0.0, "after": 0.0, "latency_ms": 0.0, "rng": random.Random(0)}
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
    FAULTS["rng"] = random.Random(int(opts.get("seed", 0)))


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
    return None


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
        if not path.startswith("/_secmon/") and FAULTS["latency_ms"]:
            time.sleep(FAULTS["rng"].random() * FAULTS["latency_ms"] / 1000)
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
        if (UNCONFIRMED or UNSUBSCRIBED) and environ.get("REQUEST_METHOD") == "POST" and not path.startswith(PREFIX):
            return self.unconfirmed(environ, start_response)
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        op = path[len(PREFIX):]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request = to_json(cbor2.loads(raw)) if raw else {}
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
            payload = {"__type": "InternalFailure", "message": out.decode(errors="replace")[:500]}
        if isinstance(payload, dict) and "__type" in payload and "#" not in payload["__type"]:
            payload["__type"] = "com.amazonaws.cloudwatch#" + payload["__type"].split(":")[0]
        encoded = cbor2.dumps(to_cbor(payload))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-type", "content-length")]
        headers += [
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(encoded))),
            ("smithy-protocol", "rpc-v2-cbor"),
        ]
        start_response(captured["status"], headers)
        return [encoded]


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
    DescribeLogGroups answers as kmsKeyId). AWS also checks that the key policy admits
    logs.<region>.amazonaws.com; moto models no key policy evaluation, and neither does this."""
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


def _unconfirmed(self, environ, start_response):
    """SNS ListSubscriptions*: show subscriptions of unconfirmed e-mail endpoints as AWS does,
    with the SubscriptionArn `PendingConfirmation`."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    if b"Action=ListSubscriptions" not in body:
        return self.app(env, start_response)
    status, headers, out = self.forward(env)
    import re

    def pend(m):
        member = m.group(0)
        endpoint = re.search(rb"<Endpoint>(.*?)</Endpoint>", member)
        who = endpoint.group(1).decode().lower() if endpoint else None
        if who in UNCONFIRMED or who in UNSUBSCRIBED:
            shown = b"PendingConfirmation" if who in UNCONFIRMED else b"Deleted"
            member = re.sub(rb"<SubscriptionArn>.*?</SubscriptionArn>", b"<SubscriptionArn>" + shown + b"</SubscriptionArn>", member)
        return member

    return _answer(start_response, status, headers, re.sub(rb"<member>.*?</member>", pend, out, flags=re.S))


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


_tolerate_string_principals()
_requests_arrive_over_tls()
CborAdapter.unconfirmed = _unconfirmed
CborAdapter.replace_metric_filter = _replace_metric_filter
CborAdapter.versioning = _versioning
CborAdapter.forward = _forward
CborAdapter.kms_key = _kms_key
CborAdapter.assume_role_refused = _assume_role_refused



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
