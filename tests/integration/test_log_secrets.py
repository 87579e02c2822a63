"""No log the test run produced may contain a secret. Marked after_all: conftest runs it once
every other test has run and the session's fixtures are torn down, whatever the order.

Greps every file under $T2SQL_TEST_VAR/log/ for the model key, the AWS secret and the
database password of the stack (from $T2SQL_TEST_VAR/service.env), and for every API key the
suite created (test_security.py appends them to $T2SQL_TEST_VAR/created_keys.txt). Any hit
fails, reported as file:line (the secret itself is never printed).
"""

import json
import os
import re

import pytest

from conftest import LLM_KEY, env


def service_env(var):
    out = {}
    path = os.path.join(var, "service.env")
    if os.path.exists(path):
        with open(path) as f:
            for k, v in re.findall(r"([A-Z0-9_]+)=('(?:[^']*)'|\S*)", f.read()):
                out[k] = v.strip("'")
    return out


def secrets_to_find(var):
    """(label, secret) pairs; secrets shorter than 6 bytes are too likely to occur by chance."""
    se = service_env(var)
    found = [("model key", LLM_KEY)]
    aws = se.get("AWS_SECRET_ACCESS_KEY", "")
    # an AWS secret equal to the access key id (the S3 stand-in's default) cannot be told
    # apart from the key id, which presigned URLs and the S3 stand-in's log carry openly
    if aws and aws != se.get("AWS_ACCESS_KEY_ID"):
        found.append(("AWS secret", aws))
    for name in ("DB_PASS", "T2SQL_DB_PASS", "T2SQL_REDIS_PASSWORD"):
        if se.get(name) or os.environ.get(name):
            found.append(("password " + name, se.get(name) or os.environ.get(name)))
    path = os.path.join(var, "created_keys.txt")
    if os.path.exists(path):
        with open(path) as f:
            found += [("API key", k.strip()) for k in f if k.strip()]
    return [(label, s) for label, s in found if len(s) >= 6]


@pytest.mark.after_all
def test_no_secret_in_any_log():
    var = env("T2SQL_TEST_VAR")
    logdir = os.path.join(var, "log")
    assert os.path.isdir(logdir), "no log directory at %s" % logdir
    secrets = secrets_to_find(var)
    needles = [(label, s.encode()) for label, s in secrets]
    hits, scanned, json_lines, broken = [], 0, 0, []
    for dirpath, _, files in os.walk(logdir):
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            try:
                with open(p, "rb") as f:
                    for lineno, line in enumerate(f, 1):
                        for label, s in needles:
                            if s in line:
                                hits.append("%s:%d: %s" % (p, lineno, label))
                        if line.startswith(b'{"time"'):  # log_format = json: still JSON
                            json_lines += 1
                            try:
                                json.loads(line)
                            except ValueError:
                                broken.append("%s:%d" % (p, lineno))
            except OSError:
                continue
            scanned += 1
    assert scanned > 0, "no log files under %s" % logdir
    assert not hits, "secrets in logs:\n" + "\n".join(hits[:50])
    assert not broken, "JSON log lines that do not parse (masking broke them?):\n" + \
        "\n".join(broken[:20])
    # the JSON format is covered when the run had a JSON-logging instance (test_ops.py)
    if os.path.exists(os.path.join(logdir, "jsonlog.log")):
        assert json_lines > 0, "jsonlog.log exists but holds no JSON line"
