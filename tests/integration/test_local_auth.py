"""test_local_auth -- the stack's PostgreSQL trusts no local user (scripts/stack.sh, the same
code for the demo, test and bench clusters): TCP needs the password (scram-sha-256), the unix
socket checks the connecting OS user (peer). A local user who is not `postgres` -- here
`nobody` -- gets in as no role without the password: not the superuser, not the service's
login, not the reader role. The superuser's password is generated, kept 0600 in
var/<mode>/pg.pass, and reaches the tests through T2SQL_TEST_PG (and a pgpass file for
psql)."""
import os
import re
import stat
import subprocess

import pytest

from conftest import PG, env

ROLES = ("postgres", "t2sql_service", "t2sql_reader")


@pytest.fixture
def pg():
    """A connection of this module's own (the session's may predate a database restart)."""
    p = PG()
    yield p
    p.close()


def pg_port():
    return re.search(r"\bport=(\d+)", env("T2SQL_TEST_PG")).group(1)


def pg_password():
    m = re.search(r"\bpassword=(\S+)", env("T2SQL_TEST_PG"))
    assert m, "T2SQL_TEST_PG carries no password"
    return m.group(1)


def as_nobody_psql(host, role, password=None):
    """psql as the OS user nobody, never prompting; returns the CompletedProcess."""
    e = ["env", "-i", "PATH=/usr/bin:/bin"]
    if password is not None:
        e.append("PGPASSWORD=" + password)
    cmd = ["runuser", "-u", "nobody", "--"] + e + [
        "psql", "-X", "-w", "-At", "-h", host, "-p", pg_port(), "-U", role, "-d", "t2sql",
        "-c", "SELECT 'in as ' || current_user"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd="/")


def socket_dir():
    return os.path.join(env("T2SQL_TEST_SHARED_VAR"), "run")


@pytest.mark.parametrize("role", ROLES)
def test_nobody_without_password_is_refused_over_tcp(role):
    p = as_nobody_psql("127.0.0.1", role)
    assert p.returncode != 0 and "in as" not in p.stdout, (role, p.stdout, p.stderr)
    assert "password" in p.stderr, p.stderr  # asked for one, not refused for another reason


@pytest.mark.parametrize("role", ROLES)
def test_nobody_with_a_wrong_password_is_refused(role):
    p = as_nobody_psql("127.0.0.1", role, password="not-the-password")
    assert p.returncode != 0 and "in as" not in p.stdout, (role, p.stdout, p.stderr)
    assert "password authentication failed" in p.stderr, p.stderr


@pytest.mark.parametrize("role", ROLES)
def test_nobody_on_the_unix_socket_is_refused(role):
    assert os.path.exists(os.path.join(socket_dir(), ".s.PGSQL." + pg_port()))
    p = as_nobody_psql(socket_dir(), role, password=pg_password())
    assert p.returncode != 0 and "in as" not in p.stdout, (role, p.stdout, p.stderr)
    assert "Peer authentication failed" in p.stderr, p.stderr


def test_the_password_is_what_lets_one_in():
    """The control: the same command as nobody with the superuser's password connects, so the
    refusals above are the authentication's doing."""
    p = as_nobody_psql("127.0.0.1", "postgres", password=pg_password())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "in as postgres"


def test_the_service_login_needs_its_own_password(pg):
    """The service's password (var/test/service.pass) opens t2sql_service; the reader role
    cannot log in at all."""
    with open(os.path.join(env("T2SQL_TEST_VAR"), "service.pass")) as f:
        service_pass = f.read().strip()
    p = as_nobody_psql("127.0.0.1", "t2sql_service", password=service_pass)
    assert p.returncode == 0 and p.stdout.strip() == "in as t2sql_service", p.stderr
    p = as_nobody_psql("127.0.0.1", "t2sql_reader", password=service_pass)
    assert p.returncode != 0 and "in as" not in p.stdout


def test_no_rule_trusts_anyone(pg):
    rules = pg.run("SELECT type, auth_method, error FROM pg_hba_file_rules")[2]
    assert rules, "pg_hba.conf has no rules"
    assert all(err is None for _, _, err in rules), rules
    methods = {(t, m) for t, m, _ in rules}
    assert methods == {("local", "peer"), ("host", "scram-sha-256")}, methods
    assert pg.scalar("SHOW password_encryption") == "scram-sha-256"
    for role in ("postgres", "t2sql_service"):
        stored = pg.scalar("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        assert stored and stored.startswith("SCRAM-SHA-256$"), role


def test_password_files_are_private():
    var = env("T2SQL_TEST_VAR")
    for name in ("pg.pass", "service.pass", "pgpass", "env.sh", "service.env"):
        mode = stat.S_IMODE(os.stat(os.path.join(var, name)).st_mode)
        assert mode & 0o077 == 0, "%s is mode %o" % (name, mode)
    with open(os.path.join(var, "pg.pass")) as f:
        assert f.read().strip() == pg_password()
