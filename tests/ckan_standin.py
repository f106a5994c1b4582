"""A small CKAN stand-in on 127.0.0.1: the action API calls nianbao makes, recorded for tests."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    def __init__(self, apikey: str = "secret"):
        self.apikey = apikey
        self.calls: list[tuple[str, dict]] = []  # (action, fields), uploads as {"upload": (filename, sha256)}
        self.packages: dict[str, dict] = {}
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def _handler(standin):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                action = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields = _fields(self.headers.get("Content-Type", ""), body)
                standin.calls.append((action, fields))
                if self.headers.get("Authorization") != standin.apikey:
                    return self._answer(
                        403, {"success": False, "error": {"__type": "Authorization Error", "message": "Access denied"}}
                    )
                status, result = standin.act(action, fields)
                self._answer(
                    status,
                    {"success": True, "result": result}
                    if status == 200
                    else {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}},
                )

            def _answer(self, status, document):
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def act(self, action: str, fields: dict):
        packages = self.packages
        by_id = {p["id"]: p for p in packages.values()}
        if action == "package_show":
            package = packages.get(fields["id"]) or by_id.get(fields["id"])
            return (200, package) if package else (404, None)
        if action == "package_create":
            package = {**fields, "id": str(uuid.uuid4()), "resources": []}
            packages[fields["name"]] = package
            return 200, package
        if action == "package_patch":
            package = by_id[fields.pop("id")]
            package.update(fields)
            return 200, package
        if action in ("resource_create", "resource_update"):
            if action == "resource_update":
                package = next(p for p in packages.values() if any(r["id"] == fields["id"] for r in p["resources"]))
                resource = next(r for r in package["resources"] if r["id"] == fields["id"])
                resource.update(fields)
            else:
                package = by_id[fields["package_id"]]
                resource = {**fields, "id": str(uuid.uuid4())}
                package["resources"].append(resource)
            return 200, resource
        return 404, None


def _fields(content_type: str, body: bytes) -> dict:
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.get_filename():
                fields[name] = (part.get_filename(), hashlib.sha256(payload).hexdigest())
            else:
                fields[name] = payload.decode("utf-8")
        return fields
    return json.loads(body or b"{}")
