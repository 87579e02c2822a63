"""test_awscred -- the AWS credential chain (core/awscred.c) as `bin/t2sql-fcgi -t` reports it.

With every source present, the SDKs' order decides: configuration/environment keys, then the
shared files (AWS_PROFILE, credentials before config), web identity (STS), ECS, IMDSv2;
taking one away at a time shows the next. The stand-ins (tests/fixtures/awsmeta.py) hand out
fresh credentials; -t names the source and never prints a key, secret or token. The exports
signed with each source, and the refresh of short-lived ones, are in test_export.py."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import awsmeta  # noqa: E402

FCGI = os.path.join(ROOT, "bin", "t2sql-fcgi")


@pytest.fixture
def meta():
    issued = []
    m = awsmeta.AwsMeta(lambda *c: issued.append(c))
    m.handed_out = issued
    yield m
    m.close()


def run_t(env, conf):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(env)
    p = subprocess.run([FCGI, "-t", "-c", conf], env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("# aws credentials:")]
    assert len(line) == 1, p.stdout[-500:]
    return line[0][len("# aws credentials: "):], p.stdout


def test_chain_order_and_sources(meta, tmp_path):
    conf = tmp_path / "t2sql.conf"
    conf.write_text("log_level = warn\n")
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIADEFAULTFILE\naws_secret_access_key = "
                     "defaultSecret1\n\n[analytics]\naws_access_key_id = AKIAPROFILEFILE\n"
                     "aws_secret_access_key = profileSecret2\naws_session_token = profTok3\n")
    config = tmp_path / "config"
    config.write_text("[profile cfgonly]\naws_access_key_id = AKIACONFIGFILE\n"
                      "aws_secret_access_key = configSecret4\n")
    token = tmp_path / "web-token"
    token.write_text(meta.web_token + "\n")
    ecs_tok = tmp_path / "ecs-token"
    ecs_tok.write_text(meta.ecs_token + "\n")
    env = {
        "HOME": str(tmp_path / "nohome"),
        "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "envSecret0",
        "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config),
        "AWS_PROFILE": "analytics",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/t2sql",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ENDPOINT_URL_STS": meta.url + "/sts",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": meta.url + "/ecs/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(ecs_tok),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": meta.url,
    }
    secrets_seen = ["envSecret0", "profileSecret2", "profTok3", "configSecret4",
                    meta.web_token, meta.ecs_token]
    out, full = run_t(env, str(conf))
    assert out == "configuration (aws_access_key_id)"
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    out, full = run_t(env, str(conf))
    assert out == "profile analytics"
    env["AWS_PROFILE"] = "cfgonly"  # only in the config file, as [profile cfgonly]
    assert run_t(env, str(conf))[0] == "profile cfgonly"
    env.pop("AWS_PROFILE")
    assert run_t(env, str(conf))[0] == "profile default"  # [default] of the credentials file
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    assert meta.issued == {}
    out, full = run_t(env, str(conf))
    assert out == "web-identity (temporary)" and meta.issued == {"sts": 1}
    for ak, sk, tok, _ in meta.handed_out:
        secrets_seen += [sk, tok]
    env.pop("AWS_ROLE_ARN")
    out, full = run_t(env, str(conf))
    assert out == "ecs (temporary)" and meta.issued.get("ecs") == 1
    env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    out, full = run_t(env, str(conf))
    assert out == "imds (temporary)" and meta.issued.get("imds") == 1
    for ak, sk, tok, _ in meta.handed_out:
        secrets_seen += [sk, tok]
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    out, full = run_t(env, str(conf))
    assert out.startswith("none (no AWS credentials")
    assert not any(s in full for s in secrets_seen)


def test_a_failing_source_is_the_answer(meta, tmp_path):
    """The first source that applies decides: a failing STS is reported, not skipped."""
    conf = tmp_path / "t2sql.conf"
    conf.write_text("")
    token = tmp_path / "web-token"
    token.write_text("not-the-token")
    env = {"HOME": str(tmp_path), "AWS_ROLE_ARN": "arn:aws:iam::1:role/x",
           "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ENDPOINT_URL_STS": meta.url + "/sts",
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": meta.url}
    out, _ = run_t(env, str(conf))
    assert out == "none (web identity: STS AssumeRoleWithWebIdentity answered 400)"
    token.write_text(meta.web_token)
    meta.fail.add("sts")
    assert run_t(env, str(conf))[0].endswith("answered 500)")
    meta.fail.clear()
    assert run_t(env, str(conf))[0] == "web-identity (temporary)"
    env.pop("AWS_ROLE_ARN")
    meta.fail.add("imds")
    assert run_t(env, str(conf))[0] == "none (IMDSv2: no session token (500))"
