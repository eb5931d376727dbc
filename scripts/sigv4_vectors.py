#!/usr/bin/env python3
"""SigV4 signatures of S3 requests computed by botocore, for sigv4_test.cc.

Prints one line per case, tab-separated, every string hex-encoded (UTF-8):
  name method host path query headers payload_sha256 token timestamp authorization
where query is "hexkey:hexvalue" pairs joined by ",", headers likewise. The cases are the
requests the S3 backend sends, plus odd keys and query strings.
"""
import hashlib
import sys

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TIMESTAMP = "20240102T030405Z"

CASES = [
    # name, method, host, path, query, headers, body, token
    ("put_blob", "PUT", "127.0.0.1:4568", "/bucket/job/task/store/20240102T030405Z-ab12-000012.sst",
     [], [("Content-Length", "5"), ("x-amz-tagging", "blobstate-ttl=1704164645000")], b"hello", ""),
    ("get_range", "GET", "bucket.s3.eu-west-1.amazonaws.com", "/prefix/blob", [],
     [("Range", "bytes=0-1048575")], b"", ""),
    ("delete", "DELETE", "s3.amazonaws.com", "/bucket/a b/c+d/e=f&g", [], [], b"", ""),
    ("odd_key", "HEAD", "localhost:9000", "/bucket/ünïcödé/~tilde/*star/(paren)/!bang/'q'", [], [],
     b"", ""),
    ("uploads", "POST", "127.0.0.1:4568", "/bucket/big", [("uploads", "")], [], b"", ""),
    ("upload_part", "PUT", "127.0.0.1:4568", "/bucket/big",
     [("partNumber", "7"), ("uploadId", "a/b+c=d e")], [], b"x" * 1000, ""),
    ("list", "GET", "127.0.0.1:4568", "/bucket",
     [("list-type", "2"), ("prefix", "job/task a&b=c/"), ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
      ("max-keys", "1000")], [], b"", ""),
    ("tagging_delete", "DELETE", "127.0.0.1:4568", "/bucket/blob", [("tagging", "")], [], b"", ""),
    ("session_token", "GET", "bucket.s3.amazonaws.com", "/k", [],
     [("X-Custom", "  spaced   value  ")], b"", "FQoGZXIvYXdzEJr//////////wEaDOtoken+/="),
    ("root", "GET", "127.0.0.1:4568", "/", [], [], b"", ""),
]


def hexs(s):
    return (s if isinstance(s, bytes) else s.encode("utf-8")).hex()


def pairs(items):
    return ",".join(hexs(k) + ":" + hexs(v) for k, v in items)


def sign(method, host, path, query, headers, body, token):
    from urllib.parse import quote
    url = "http://" + host + quote(path, safe="/~")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers),
                         params=dict(query))
    auth = S3SigV4Auth(Credentials(AK, SK, token or None), "s3", "us-east-1")
    request.context["timestamp"] = TIMESTAMP
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    return request.headers["Authorization"], request.headers["X-Amz-Content-SHA256"]


def main():
    for name, method, host, path, query, headers, body, token in CASES:
        authorization, payload = sign(method, host, path, query, headers, body, token)
        assert payload == hashlib.sha256(body).hexdigest(), payload
        print("\t".join([name, method, hexs(host), hexs(path), pairs(query), pairs(headers),
                         payload, hexs(token), TIMESTAMP, hexs(authorization)]))


if __name__ == "__main__":
    sys.exit(main())
