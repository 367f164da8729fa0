"""The course's second app: a tiny JSON API that calls AWS with plain boto3.

It never holds a key: boto3 finds credentials the usual way (in an ECS task, the
task role's, from ``AWS_CONTAINER_CREDENTIALS_*``). Routes:

- ``/health``: for health checks;
- ``/whoami``: STS ``GetCallerIdentity`` (who the task is to AWS) and where boto3
  found the credentials (``container-role`` for a task role);
- ``/s3/BUCKET``: the keys in a bucket (``ListObjectsV2``);
- ``/s3/BUCKET/KEY``: an object's size and the start of its SHA-256 (GET), or
  write the request body there (PUT);
- ``/secret/NAME``: whether environment variable NAME is set, its length and the
  start of its SHA-256: never the value itself.

AWS errors come back as JSON with AWS's code and message and the HTTP status AWS
gave; no credentials at all is a 500 naming ``NoCredentialsError``.
Built by notebook 07 from ``ecslab/aws_app/Dockerfile``.
"""

import hashlib
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3
import botocore.exceptions

SESSION = boto3.session.Session()


def whoami():
    identity = SESSION.client("sts").get_caller_identity()
    credentials = SESSION.get_credentials()
    return 200, {
        "Arn": identity["Arn"],
        "Account": identity["Account"],
        "UserId": identity["UserId"],
        "credential_source": credentials.method if credentials else None,
    }


def list_bucket(bucket):
    pages = SESSION.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return 200, {"bucket": bucket, "keys": keys, "count": len(keys)}


def read_object(bucket, key):
    data = SESSION.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return 200, {"bucket": bucket, "key": key, "size": len(data), "sha256_prefix": hashlib.sha256(data).hexdigest()[:12]}


def write_object(bucket, key, data):
    SESSION.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return 200, {"bucket": bucket, "key": key, "size": len(data), "written": True}


def secret(name):
    value = os.environ.get(name)
    if value is None:
        return 200, {"name": name, "set": False}
    digest = hashlib.sha256(value.encode()).hexdigest()
    return 200, {"name": name, "set": True, "length": len(value), "sha256_prefix": digest[:12]}


def aws_call(work, *args):
    """Run one AWS call; AWS's refusal comes back with AWS's code, message and status."""
    try:
        return work(*args)
    except botocore.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        return status, {"error": details.get("Code"), "message": details.get("Message")}
    except botocore.exceptions.NoCredentialsError as error:
        return 500, {"error": "NoCredentialsError", "message": str(error)}
    except botocore.exceptions.BotoCoreError as error:
        return 500, {"error": type(error).__name__, "message": str(error)}


class Handler(BaseHTTPRequestHandler):
    server_version = "ecslab-aws-app"

    def _send(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = [unquote(part) for part in self.path.split("?")[0].strip("/").split("/", 2)]
        if parts == ["health"]:
            self._send(200, {"status": "ok"})
        elif parts == ["whoami"]:
            self._send(*aws_call(whoami))
        elif len(parts) == 2 and parts[0] == "s3":
            self._send(*aws_call(list_bucket, parts[1]))
        elif len(parts) == 3 and parts[0] == "s3":
            self._send(*aws_call(read_object, parts[1], parts[2]))
        elif len(parts) == 2 and parts[0] == "secret":
            self._send(*secret(parts[1]))
        else:
            self._send(404, {"error": "not found", "path": self.path})

    def do_PUT(self):
        parts = [unquote(part) for part in self.path.split("?")[0].strip("/").split("/", 2)]
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if len(parts) == 3 and parts[0] == "s3":
            self._send(*aws_call(write_object, parts[1], parts[2], data))
        else:
            self._send(404, {"error": "not found", "path": self.path})

    def log_message(self, format, *args):
        sys.stdout.write("%s %s\n" % (self.log_date_time_string(), format % args))
        sys.stdout.flush()


def stop(signum, frame):
    raise SystemExit(0)


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, stop)
    print(f"AWS app listening on port {port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
