"""test_sigv4_botocore -- core/sigv4.c and botocore sign the same random requests identically.

No server needed: a few hundred random S3 requests (Authorization header, signed and unsigned
payloads, session tokens, odd keys and query strings) and presigned URLs are signed by both
at a fixed clock (see tests/fixtures/sigv4_botocore.py)."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))

import sigv4_botocore  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def tool():
    if not os.access(sigv4_botocore.TOOL, os.X_OK):
        subprocess.run(["make", "-C", ROOT, "bin/t2sql-sigv4"], check=True,
                       stdout=subprocess.DEVNULL)


@pytest.mark.parametrize("seed", [20130524, 1, 2])
def test_random_requests_match_botocore(seed):
    cases, bad = sigv4_botocore.compare(300, seed)
    assert len(cases) == 300
    presigned = sum(1 for c in cases if c["mode"] == "presign")
    assert 50 < presigned < 250
    assert not bad, f"{len(bad)} of {len(cases)} differ; first: {bad[0][1:]!r}"
