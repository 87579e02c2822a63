"""test_jwt -- sign-in with a JSON Web Token: HS256 with a secret (given as a file), RS256 and
ES256 with keys from a JWKS file (re-read by the workers SIGHUP starts), exp/nbf/iss/aud
checked, the role and the `city` claim mapped to the database role and the RLS claim. Tokens
are made here with Debian's python3-jwt; each bad one is a 401 with a clear JSON error, and
no token ever reaches a log. The instance uses port 18095 (test_security.py's block)."""
import glob
import json
import os
import signal
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import TIMEOUT, assert_error, loads
from test_security import start
from test_tenants import BY_CITY, CITY, ROLE, as_role, norm

ISS = "https://issuer.t2sql.test/"
AUD = "t2sql-api"
SECRET = "jwt-test-secret-0123456789abcdef-hs256"


def jwt_dir():
    d = os.path.join(os.environ["T2SQL_TEST_VAR"], "jwt")
    os.makedirs(d, exist_ok=True)
    return d


def write_jwks(keys):
    """keys: [(kid, public key)]; written atomically."""
    out = []
    for kid, pub in keys:
        alg = RSAAlgorithm if isinstance(pub, rsa.RSAPublicKey) else ECAlgorithm
        j = json.loads(alg.to_jwk(pub))
        j["kid"] = kid
        j["use"] = "sig"
        out.append(j)
    path = os.path.join(jwt_dir(), "jwks.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"keys": out}, f)
    os.replace(path + ".tmp", path)
    return path


@pytest.fixture(scope="session")  # the same keys each time a shuffled order enters the module
def pk():
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "rsa_other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="module")
def inst(instances, pk):
    secret_file = os.path.join(jwt_dir(), "secret")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    path = os.path.join(jwt_dir(), "jwks.json")
    before = open(path).read() if os.path.exists(path) else None
    jwks = write_jwks([("rsa1", pk["rsa"].public_key()), ("ec1", pk["ec"].public_key())])
    # a running instance is reused only if it read these keys (the reload test changes them)
    return start(instances, ("jwt", 18095, {
        "T2SQL_AUTH_REQUIRED": "true", "T2SQL_JWT_SECRET_FILE": secret_file,
        "T2SQL_JWT_JWKS_FILE": jwks, "T2SQL_JWT_ISSUER": ISS, "T2SQL_JWT_AUDIENCE": AUD,
        "T2SQL_JWT_CLAIMS": "city", "T2SQL_JWT_LEEWAY_S": "5", "T2SQL_WORKERS": "2"}),
                 fresh=before != open(jwks).read())


TOKENS = []  # every token made here, for the log scan


def claims(**over):
    now = int(time.time())
    c = {"sub": "user-42", "iss": ISS, "aud": AUD, "exp": now + 600, "nbf": now - 10,
         "role": ROLE["a"], "city": CITY["a"]}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def hs(c=None, key=SECRET, **hdr):
    t = jwt.encode(c or claims(), key, algorithm="HS256", headers=hdr or None)
    TOKENS.append(t)
    return t


def rs(pk, name="rsa", kid="rsa1", c=None):
    t = jwt.encode(c or claims(), pk[name], algorithm="RS256", headers={"kid": kid})
    TOKENS.append(t)
    return t


def es(pk, kid="ec1", c=None):
    t = jwt.encode(c or claims(), pk["ec"], algorithm="ES256", headers={"kid": kid})
    TOKENS.append(t)
    return t


def ask(inst, token, question):
    return requests.post(inst.url + "/query", json={"question": question, "stream": False},
                         headers={"Authorization": "Bearer " + token}, timeout=TIMEOUT)


def test_valid_tokens_run_as_the_role_with_the_claims(inst, pk, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    want = norm(as_role(BY_CITY, ROLE["a"], {"city": CITY["a"]}))
    for t in (hs(), rs(pk), es(pk)):
        r = ask(inst, t, "jwt " + uq)
        assert r.status_code == 200, r.text
        assert norm(loads(r.text)["rows"]) == want
    # another subject with tenant b's role and city sees tenant b's rows
    r = ask(inst, hs(claims(sub="user-7", role=ROLE["b"], city=CITY["b"])), "jwt " + uq)
    assert r.status_code == 200, r.text
    assert norm(loads(r.text)["rows"]) == norm(as_role(BY_CITY, ROLE["b"], {"city": CITY["b"]}))


def none_token():
    head = jwt.utils.base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    t = (head + b"." + body + b".").decode()
    TOKENS.append(t)
    return t


def tampered():
    t = hs()
    h, p, s = t.split(".")
    body = json.loads(jwt.utils.base64url_decode(p))
    body["city"] = CITY["b"]
    p2 = jwt.utils.base64url_encode(json.dumps(body).encode()).decode()
    t2 = ".".join([h, p2, s])
    TOKENS.append(t2)
    return t2


def confused(pk):
    """HS256 signed with the RSA public key's PEM as the secret (algorithm confusion)."""
    pem = pk["rsa"].public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    import hmac
    import hashlib
    h = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "rsa1"}).encode())
    p = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    sig = jwt.utils.base64url_encode(hmac.new(pem, h + b"." + p, hashlib.sha256).digest())
    t = (h + b"." + p + b"." + sig).decode()
    TOKENS.append(t)
    return t


BAD = {
    "expired": (lambda pk: hs(claims(exp=int(time.time()) - 60)), "expired"),
    "not yet valid": (lambda pk: hs(claims(nbf=int(time.time()) + 600)), "not valid yet"),
    "no exp": (lambda pk: hs(claims(exp=None)), "expiry"),
    "wrong audience": (lambda pk: hs(claims(aud="someone-else")), "audience"),
    "wrong issuer": (lambda pk: hs(claims(iss="https://evil.example/")), "issuer"),
    "no subject": (lambda pk: hs(claims(sub=None)), "subject"),
    "wrong secret": (lambda pk: hs(key="not-the-secret-at-all-0123456789"), "signature"),
    "tampered payload": (lambda pk: tampered(), "signature"),
    "wrong rsa key": (lambda pk: rs(pk, name="rsa_other"), "signature"),
    "kid not in jwks": (lambda pk: rs(pk, name="rsa_other", kid="nope"), "JWKS"),
    "alg none": (lambda pk: none_token(), "none"),
    "algorithm confusion": (lambda pk: confused(pk), "signature"),
    "malformed": (lambda pk: "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "malformed"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tokens_are_401_with_a_clear_error(inst, pk, fakellm, uq, case):
    fakellm.sql(uq, BY_CITY)
    make, words = BAD[case]
    t = make(pk)
    TOKENS.append(t)
    r = ask(inst, t, "bad " + uq)
    assert_error(r, 401, "unauthorized")
    assert words in r.json()["detail"], r.json()
    assert t not in r.text
    assert fakellm.count() == 0  # refused before anything ran


def test_leeway_accepts_a_just_expired_token(inst, pk, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    r = ask(inst, hs(claims(exp=int(time.time()) - 2)), "leeway " + uq)
    assert r.status_code == 200, r.text


def test_a_role_not_granted_to_the_service_is_403(inst, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    assert_error(ask(inst, hs(claims(role="postgres")), "r " + uq), 403, "forbidden")


def test_jwks_is_reloaded_on_sighup(inst, pk, fakellm, uq):
    fakellm.sql(uq, BY_CITY)
    t = rs(pk, name="rsa2", kid="rsa2")
    assert_error(ask(inst, t, "reload " + uq), 401, "unauthorized")
    write_jwks([("rsa1", pk["rsa"].public_key()), ("rsa2", pk["rsa2"].public_key())])
    os.kill(inst.pid, signal.SIGHUP)
    end = time.time() + 60
    while time.time() < end:
        r = ask(inst, t, "reload " + uq)
        if r.status_code == 200:
            break
        time.sleep(0.5)
    assert r.status_code == 200, r.text


def test_no_token_is_ever_logged(inst):
    assert TOKENS
    logs = glob.glob(os.path.join(os.environ["T2SQL_TEST_VAR"], "**", "*.log"), recursive=True)
    assert logs
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        for t in TOKENS:
            assert t not in text and t.split(".")[2] not in text or not t.split(".")[2], path
