#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_sigv4 (see fuzz_sigv4.c for the input
format) into the folder given as argument: requests signed with the
target's key at its clock, by this independent SigV4 signer (AWS's
documented algorithm), the AWS documentation's IAM example, and broken
variants of them."""
import hashlib
import hmac
import os
import sys
import urllib.parse

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20150830T123600Z"


def sign(method, host, path, query, headers, body, region, service, date_header=None):
    """The Authorization value for a request whose path needs no normalising."""
    hdrs = dict((k.lower(), " ".join(v.split())) for k, v in headers.items())
    hdrs["host"] = host
    if date_header:
        hdrs["date"] = date_header
    else:
        hdrs["x-amz-date"] = AMZ_DATE
    names = sorted(hdrs)
    pairs = sorted((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                    urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~"))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canonical = "\n".join([
        method,
        urllib.parse.quote(path, safe="/-_.~"),
        "&".join("%s=%s" % kv for kv in pairs),
        "".join("%s:%s\n" % (n, hdrs[n]) for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (AMZ_DATE[:8], region, service)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (AMZ_DATE, scope, hashlib.sha256(canonical.encode()).hexdigest())
    key = ("AWS4" + SECRET).encode()
    for part in (AMZ_DATE[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (AKID, scope, ";".join(names), sig)


def verify_seed(mode, auth, date, host, path, query, ctype, target, body):
    fields = [auth, date, host, path, query, ctype, target]
    return bytes([mode]) + "\n".join(fields).encode() + b"\n" + body


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {}
    # the AWS documentation's example (GET, IAM, no body)
    doc = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
           "SignedHeaders=content-type;host;x-amz-date, "
           "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    ctype_form = "application/x-www-form-urlencoded; charset=utf-8"
    seeds["verify-aws-doc"] = verify_seed(2, doc, AMZ_DATE, "iam.amazonaws.com", "/",
                                          "Action=ListUsers&Version=2010-05-08", ctype_form, "", b"")
    # a POST to ECS as the AWS CLI makes it
    ctype = "application/x-amz-json-1.1"
    target = "AmazonEC2ContainerServiceV20141113.ListClusters"
    body = b'{"maxResults": 10}'
    auth = sign("POST", "127.0.0.1:8088", "/", "", {"content-type": ctype, "x-amz-target": target}, body,
                "local", "ecs")
    seeds["verify-ecs-post"] = verify_seed(4, auth, AMZ_DATE, "127.0.0.1:8088", "/", "", ctype, target, body)
    # a query to sort, signed with the Date header instead of X-Amz-Date
    rfc1123 = "Sun, 30 Aug 2015 12:36:00 GMT"
    auth = sign("POST", "127.0.0.1:8088", "/a/b", "z=1&a=%41&a=0&flag", {"content-type": ctype}, b"{}",
                "eu-west-1", "events", date_header=rfc1123)
    seeds["verify-date-header"] = verify_seed(0, auth, rfc1123, "127.0.0.1:8088", "/a/b", "z=1&a=%41&a=0&flag",
                                              ctype, "", b"{}")
    # broken ones: wrong signature, unknown key, the failing lookup, no scope terminator, none at all
    good = seeds["verify-ecs-post"]
    at = good.index(b"Signature=") + len(b"Signature=")
    seeds["verify-bad-signature"] = good[:at] + (b"1" if good[at:at + 1] == b"0" else b"0") + good[at + 1:]
    seeds["verify-unknown-key"] = good.replace(b"AKIDEXAMPLE", b"AKIDNOBODY1")
    seeds["verify-broken-lookup"] = good.replace(b"AKIDEXAMPLE", b"AKIDBROKEN1"[:10])
    seeds["verify-no-terminator"] = good.replace(b"/aws4_request", b"/aws4_requesx")
    seeds["verify-skewed"] = good.replace(b"20150830T123600Z", b"20150830T130100Z")
    seeds["verify-no-auth"] = verify_seed(4, "", AMZ_DATE, "127.0.0.1:8088", "/", "", ctype, target, b"{}")
    # round trips: path, query, Content-Type, X-Amz-Target, region, token, body
    seeds["sign-simple"] = b"\x01" + b"\n".join([b"/", b"", ctype.encode(), target.encode(), b"local", b"",
                                                 b'{"cluster":"default"}'])
    seeds["sign-odd-path"] = b"\x03" + b"\n".join([b"/a b/../c//%2F/./d~", b"b=2&a=1&a=0&c&=x&%zz=%41",
                                                   b"  text/plain ;  x=1  ", b"", b"us-east-1", b"tok/en+=",
                                                   b"\x00\xff binary"])
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
