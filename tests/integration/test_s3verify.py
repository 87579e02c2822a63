"""test_s3verify -- the test stack's verifying S3 proxy (tests/fixtures/s3verify.py).

Requests signed by botocore and by core/sigv4 (bin/t2sql-sigv4) pass: header-signed and
presigned, with and without a session token, path-style and virtual-hosted, keys with spaces,
unicode and reserved characters. Anything else is refused as S3 refuses it: a wrong secret
(SignatureDoesNotMatch), an unknown key, a missing or wrong token, a changed header, method,
path or body after signing, an unsigned request, a presigned URL past its expiry. And what
s3rver lacks: AbortMultipartUpload removes the parts, ListMultipartUploads / ListParts; and
CompleteMultipartUpload as S3 does it (scripts/s3rver.js): the part list checked, S3's
multipart ETag, ranges across parts, the parts gone with the object."""
import hashlib
import http.client
import json
import os
import subprocess
import time
import uuid
from urllib.parse import quote, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import env, s3_add_key, s3_client, s3_uploads, url_host_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGV4 = os.path.join(ROOT, "bin", "t2sql-sigv4")
BUCKET = "t2sql-verify-" + uuid.uuid4().hex[:10]
AK, SK = "T2SQLVERIFYKEY", "verify/Secret+Key=0123456789abcdefABCDEF"
TAK, TSK, TOKEN = "ASIAT2SQLVERIFY", "tempSecret/0123456789", "FwoGZXIvYXdzE//token+/=abc"
KEYS = ["plain.txt", "with space/and more.csv", "caf\u00e9 \u20ac \u4e2d/\U0001f600.csv",
        "reserved !'()*+,;=&$@:[]~-_.txt", "dots/./x/../y.csv"]


def code_of(exc):
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def s3(stack_env):
    s3_add_key(AK, SK)
    s3_add_key(TAK, TSK, TOKEN)
    c = s3_client(AK, SK)
    c.create_bucket(Bucket=BUCKET)
    try:
        yield c
    finally:
        for key, uid in s3_uploads(c, BUCKET):
            c.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
        for o in c.list_objects(Bucket=BUCKET).get("Contents", []):
            c.delete_object(Bucket=BUCKET, Key=o["Key"])
        c.delete_bucket(Bucket=BUCKET)


def c_sign(case):
    """core/sigv4's Authorization header (or presigned path?query) for one request."""
    out = subprocess.run([SIGV4], input=(json.dumps(case) + "\n").encode(),
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
    return out.strip()


def send(method, path, headers, body=b""):
    host, port = url_host_port(env("T2SQL_TEST_S3"))
    c = http.client.HTTPConnection(host, port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def c_request(method, host, key, body=b"", access=AK, secret=SK, token=None, query=(),
              extra=(), vhost=False, tamper=None):
    """Signs with core/sigv4, sends to the proxy with the given Host header."""
    path = ("/" if vhost else f"/{BUCKET}/") + key
    now = int(time.time())
    sha = hashlib.sha256(body).hexdigest()
    case = {"mode": "header", "method": method, "host": host, "path": path,
            "query": [list(q) for q in query], "headers": [list(h) for h in extra],
            "payload": sha, "access_key": access, "secret_key": secret, "token": token,
            "region": "us-east-1", "time": now}
    auth = c_sign(case)
    hdrs = {"Host": host, "Authorization": auth, "x-amz-content-sha256": sha,
            "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)), **dict(extra)}
    if token:
        hdrs["x-amz-security-token"] = token
    raw = quote(path, safe="/~") + ("?" + "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query) if query else "")
    if tamper:
        method, raw, hdrs, body = tamper(method, raw, hdrs, body)
    return send(method, raw, hdrs, body)


def get_url(url):
    """GET a URL as it is (requests would remove the dot segments of a key)."""
    u = urlsplit(url)
    return send("GET", u.path + ("?" + u.query if u.query else ""), {"Host": u.netloc})


def s3_host():
    return "127.0.0.1:%d" % url_host_port(env("T2SQL_TEST_S3"))[1]


@pytest.mark.parametrize("key", KEYS)
def test_botocore_round_trip_path_style(s3, key):
    body = ("body of " + key).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key},
                                    ExpiresIn=300)
    assert get_url(url) == (200, body)


def test_session_token(s3):
    t = s3_client(TAK, TSK, TOKEN)
    t.put_object(Bucket=BUCKET, Key="token.txt", Body=b"t")
    assert t.get_object(Bucket=BUCKET, Key="token.txt")["Body"].read() == b"t"
    url = t.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "token.txt"})
    assert "X-Amz-Security-Token=" in url and requests.get(url, timeout=30).status_code == 200
    with pytest.raises(ClientError) as e:
        s3_client(TAK, TSK).get_object(Bucket=BUCKET, Key="token.txt")  # token left out
    assert code_of(e) == "InvalidToken"
    with pytest.raises(ClientError) as e:
        s3_client(TAK, TSK, TOKEN + "x").get_object(Bucket=BUCKET, Key="token.txt")
    assert code_of(e) == "InvalidToken"
    r = requests.get(url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x"), timeout=30)
    assert r.status_code == 403 and b"<Code>InvalidToken</Code>" in r.content


def test_wrong_secret_and_unknown_key_refused(s3):
    s3.put_object(Bucket=BUCKET, Key="secret.txt", Body=b"s")
    for op in ("get_object", "head_object", "delete_object"):
        with pytest.raises(ClientError) as e:
            getattr(s3_client(AK, SK + "x"), op)(Bucket=BUCKET, Key="secret.txt")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        if op != "head_object":  # HEAD answers carry no body
            assert code_of(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        s3_client("AKIANOBODYKNOWS", SK).get_object(Bucket=BUCKET, Key="secret.txt")
    assert code_of(e) == "InvalidAccessKeyId"
    url = s3_client(AK, SK + "x").generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "secret.txt"})
    r = requests.get(url, timeout=30)
    assert r.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.content
    assert s3.get_object(Bucket=BUCKET, Key="secret.txt")["Body"].read() == b"s"  # still there


def test_unsigned_request_refused(s3):
    s3.put_object(Bucket=BUCKET, Key="anon.txt", Body=b"a")
    r = requests.get(f"{env('T2SQL_TEST_S3')}/{BUCKET}/anon.txt", timeout=30)
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content


@pytest.mark.parametrize("key", KEYS)
def test_core_sigv4_path_and_virtual_hosted(s3, key):
    body = b"from core/sigv4: " + key.encode()
    st, out = c_request("PUT", s3_host(), key, body, extra=[("Content-Type", "text/csv")])
    assert st == 200, out
    st, out = c_request("GET", s3_host(), key)
    assert (st, out) == (200, body)
    vhost = f"{BUCKET}.s3.us-east-1.amazonaws.com"
    st, out = c_request("GET", vhost, key, vhost=True)
    assert (st, out) == (200, body)
    st, out = c_request("GET", vhost, key, vhost=True, token=TOKEN, access=TAK, secret=TSK)
    assert (st, out) == (200, body)
    st, out = c_request("GET", vhost, key, vhost=True, secret=SK + "x")
    assert st == 403 and b"SignatureDoesNotMatch" in out


def test_changes_after_signing_refused(s3):
    st, _ = c_request("PUT", s3_host(), "t.csv", b"abc", extra=[("Content-Type", "text/csv")])
    assert st == 200
    cases = {
        "method": lambda m, p, h, b: ("DELETE", p, h, b),
        "path": lambda m, p, h, b: (m, p.replace("t.csv", "u.csv"), h, b),
        "header": lambda m, p, h, b: (m, p, {**h, "Content-Type": "text/html"}, b),
        "host": lambda m, p, h, b: (m, p, {**h, "Host": "127.0.0.2:1"}, b),
        "date": lambda m, p, h, b: (m, p, {**h, "x-amz-date": time.strftime(
            "%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 60))}, b),
    }
    for what, tamper in cases.items():
        st, out = c_request("PUT", s3_host(), "t.csv", b"abc", tamper=tamper,
                            extra=[("Content-Type", "text/csv")])
        assert st == 403 and b"<Code>SignatureDoesNotMatch</Code>" in out, what
    st, out = c_request("PUT", s3_host(), "t.csv", b"abc",
                        tamper=lambda m, p, h, b: (m, p, h, b"abd"))
    assert st == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in out
    st, out = c_request("GET", s3_host(), "t.csv")
    assert (st, out) == (200, b"abc")  # none of them got through


def test_presigned_by_core_near_expiry(s3):
    key = "exp \u00e9/near expiry.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"soon gone")
    now = int(time.time())
    case = {"mode": "presign", "method": "GET", "host": s3_host(), "path": f"/{BUCKET}/{key}",
            "query": [], "headers": [], "access_key": AK, "secret_key": SK, "token": None,
            "region": "us-east-1", "time": now, "expires": 4}
    url = env("T2SQL_TEST_S3") + c_sign(case)
    r = requests.get(url, timeout=30)
    assert (r.status_code, r.content) == (200, b"soon gone")
    time.sleep(max(0.0, now + 5.2 - time.time()))
    r = requests.get(url, timeout=30)
    assert r.status_code == 403 and b"Request has expired" in r.content
    case["token"], case["access_key"], case["secret_key"] = TOKEN, TAK, TSK
    case["time"], case["expires"] = int(time.time()), 60
    r = requests.get(env("T2SQL_TEST_S3") + c_sign(case), timeout=30)
    assert (r.status_code, r.content) == (200, b"soon gone")


def test_abort_removes_parts(s3):
    key = "mp/parts \u00e9.csv"
    uid = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    for n in (1, 2):
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n, Body=b"p" * 1000)
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 1000), (2, 1000)]
    assert (key, uid) in s3_uploads(s3, BUCKET, "mp/")
    updir = os.path.join(env("T2SQL_TEST_S3_DATA"), BUCKET, "._S3rver_uploads", uid)
    assert os.path.isdir(updir)  # s3rver's own files for the parts
    with pytest.raises(ClientError) as e:
        s3_client(AK, SK + "x").abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
    assert code_of(e) == "SignatureDoesNotMatch" and os.path.isdir(updir)
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
    assert not os.path.exists(updir) and s3_uploads(s3, BUCKET, "mp/") == []
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
    assert code_of(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}]})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
    assert "Contents" not in s3.list_objects(Bucket=BUCKET, Prefix="mp/")


def test_complete_checks_parts_as_s3(s3):
    key = "mp/checked.csv"
    uid = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    a, b, c = os.urandom(5 << 20), b"tiny", os.urandom(3000)
    etags = [s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n,
                            Body=d)["ETag"] for n, d in ((1, a), (2, b), (3, c))]

    def complete(*parts):
        return s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid,
                                            MultipartUpload={"Parts": [
                                                {"PartNumber": n, "ETag": e} for n, e in parts]})

    for parts, want in (([(2, etags[1]), (1, etags[0])], "InvalidPartOrder"),
                        ([(1, etags[1])], "InvalidPart"),          # another part's ETag
                        ([(1, etags[0]), (4, etags[2])], "InvalidPart"),  # never uploaded
                        ([(2, etags[1]), (3, etags[2])], "EntityTooSmall")):  # 4 bytes, not last
        with pytest.raises(ClientError) as e:
            complete(*parts)
        assert code_of(e) == want and s3_uploads(s3, BUCKET, key) == [(key, uid)]
    complete((1, etags[0]), (3, etags[2]))  # part 2 left out: dropped, as S3 does
    md5s = hashlib.md5(a).digest() + hashlib.md5(c).digest()
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"] == '"%s-2"' % hashlib.md5(md5s).hexdigest()
    assert head["ContentLength"] == len(a + c)
    lo, hi = len(a) - 10, len(a) + 9  # across the two parts
    r = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=%d-%d" % (lo, hi))
    assert r["Body"].read() == (a + c)[lo:hi + 1]
    assert r["ContentRange"] == "bytes %d-%d/%d" % (lo, hi, len(a + c))
    with pytest.raises(ClientError) as e:
        complete((1, etags[0]))
    assert code_of(e) == "NoSuchUpload"
    parts_dir = os.path.join(env("T2SQL_TEST_S3_DATA"), BUCKET, "mp", "checked.csv._S3rver_parts")
    assert sorted(os.listdir(parts_dir)) == ["1", "3", "manifest.json"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"replaced")  # a plain object over it
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"replaced"
    assert not os.path.exists(parts_dir)
    complete_again = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    e1 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=complete_again, PartNumber=1,
                        Body=b"x" * 10)["ETag"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=complete_again,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"x" * 10
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert not os.path.exists(parts_dir)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key=key)


def test_complete_after_verified_parts(s3):
    key = "mp/done.csv"
    uid = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    a, b = os.urandom(5 << 20), os.urandom(1000)
    etags = [s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n,
                            Body=d)["ETag"] for n, d in ((1, a), (2, b))]
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, etags[0]), (2, etags[1]))]})
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == a + b
    assert s3_uploads(s3, BUCKET, "mp/done") == []
