"""A CKAN stand-in on 127.0.0.1 that refuses what CKAN refuses: the action API calls nianbao makes,
recorded for tests, with CKAN's own rules and answers.

Each rule is CKAN's, read from its source (github.com/ckan/ckan, master at 2dbe2c18, 2026-08; the
same since 2.9), and written here independently of nianbao's schemas/ckan.yaml so that a mistake
there shows here:

- who is calling: an API key the portal does not know is no error, the call is anonymous
  (ckan/config/middleware/flask_app.py _get_user_for_apitoken returns None; ckan/lib/api_token.py
  get_user_from_token). An anonymous user reads public datasets but creates nothing: 403
  Authorization Error "Access denied: User  not authorized to create packages"
  (ckan/logic/auth/create.py package_create); editing needs editor rights in the dataset's
  organisation (ckan/logic/auth/update.py package_update, create.py resource_create);
- a dataset needs an organisation unless ckan.auth.create_unowned_dataset (default false,
  ckan/config/config_declaration.yaml): "An organization must be provided"; an unknown one is
  "Organization does not exist" (ckan/logic/validators.py owner_org_validator), after the
  authorization check refused it if the user cannot create datasets there (auth/create.py);
- its name: 2 to 100 characters, lowercase ASCII letters, digits, - and _, not new/edit/search,
  not taken (validators.py name_validator, package_name_validator; ckan/model/package.py);
- each tag: 2 to 100 characters (validators.py tag_length_validator; ckan/model/tag.py), matching
  re.compile(r'[\\w \\-.]*$', re.UNICODE) from its start (tag_name_validator): a Chinese character
  is a word character, full-width brackets are not;
- maintainer_email and author_email: validators.py email_pattern (ASCII only);
- an extra's key: not empty, not a field of the dataset's schema, not twice
  (extra_key_not_in_root_schema, duplicate_extras_key);
- keys outside the dataset's schema are dropped (ckan/logic/schema/__init__.py
  default_create_package_schema: '__extras': [ignore]); a resource keeps them (keep_extras);
- an upload over ckan.max_resource_size MiB (default 10) is refused: 409 {"upload": ["File upload
  too large"]} (ckan/lib/uploader.py _copy_file); an uploaded resource's url becomes its file name
  with url_type "upload", shown as the portal's download URL (ckan/lib/dictization);
- resource_update replaces the resource with what was sent (ckan/logic/action/update.py: "Update
  methods may delete parameters not explicitly provided"); resource_patch and package_patch
  merge what was sent into what is there (ckan/logic/action/patch.py);
- every refusal is CKAN's envelope (ckan/views/api.py action): {"success": false, "error":
  {"__type": "Validation Error", field: [messages]}} with 409, a list field's errors one dict per
  item; "Authorization Error" with 403; "Not Found Error" with 404.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import threading
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

MB = 1024 * 1024
NAME = re.compile(r"[a-z0-9_\-]*$")  # validators.py name_match
TAG = re.compile(r"[\w \-.]*$", re.UNICODE)  # validators.py tag_name_validator
EMAIL = re.compile(  # validators.py email_pattern
    r"^(?!\.)(?!.*\.$)(?!.*?\.\.)"
    r"[a-zA-Z0-9.!#$%&'*+\/=?^_`{|}~-]+@[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
# The fields of default_create_package_schema (ckan/logic/schema/__init__.py): anything else sent
# at the top level is dropped, and no extra may be called one of these.
PACKAGE_FIELDS = {
    "id", "name", "title", "author", "author_email", "maintainer", "maintainer_email", "license_id",
    "notes", "url", "version", "state", "type", "owner_org", "private", "resources", "tags",
    "tag_string", "plugin_data", "extras", "save", "return_to", "relationships_as_object",
    "relationships_as_subject", "groups", "metadata_modified",
}  # fmt: skip
# CKAN's default licence register (ckan/model/license.py LicenseRegister): id → (title, url).
LICENCES = {
    "notspecified": ("License not specified", ""),
    "odc-pddl": ("Open Data Commons Public Domain Dedication and License (PDDL)", "http://www.opendefinition.org/licenses/odc-pddl"),
    "odc-odbl": ("Open Data Commons Open Database License (ODbL)", "http://www.opendefinition.org/licenses/odc-odbl"),
    "odc-by": ("Open Data Commons Attribution License", "http://www.opendefinition.org/licenses/odc-by"),
    "cc-zero": ("Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero"),
    "cc-by": ("Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by"),
    "cc-by-sa": ("Creative Commons Attribution Share-Alike", "http://www.opendefinition.org/licenses/cc-by-sa"),
    "gfdl": ("GNU Free Documentation License", "http://www.opendefinition.org/licenses/gfdl"),
    "other-open": ("Other (Open)", ""),
    "other-pd": ("Other (Public Domain)", ""),
    "other-at": ("Other (Attribution)", ""),
    "uk-ogl": ("UK Open Government Licence (OGL)", "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"),
    "cc-nc": ("Creative Commons Non-Commercial (Any)", "http://creativecommons.org/licenses/by-nc/2.0/"),
    "other-nc": ("Other (Non-Commercial)", ""),
    "other-closed": ("Other (Not Open)", ""),
}  # fmt: skip
OPEN = {
    "odc-pddl",
    "odc-odbl",
    "odc-by",
    "cc-zero",
    "cc-by",
    "cc-by-sa",
    "gfdl",
    "other-open",
    "other-pd",
    "other-at",
    "uk-ogl",
}


class Upload(NamedTuple):
    filename: str
    sha256: str
    size: int


class Refused(Exception):
    def __init__(self, status: int, error: dict):
        self.status, self.error = status, error


def _invalid(errors: dict) -> Refused:
    return Refused(409, {"__type": "Validation Error", **errors})


def _denied(message: str) -> Refused:
    return Refused(403, {"__type": "Authorization Error", "message": f"Access denied: {message}"})


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat()


class StandIn:
    """A portal with one organisation (`org`), whose editor is the user of `apikey`.
    `max_resource_size` is ckan.max_resource_size in MiB (a fraction too, for small test files);
    `create_unowned_dataset` is ckan.auth.create_unowned_dataset."""

    def __init__(
        self,
        apikey: str = "secret",
        org: str = "yuanjiang-psb",
        max_resource_size: float = 10,
        create_unowned_dataset: bool = False,
    ):
        self.users = {apikey: "nianbao-bot"}
        self.organizations = {org: {"id": str(uuid.uuid4()), "name": org, "title": org, "editors": {"nianbao-bot"}}}
        self.max_resource_size = max_resource_size
        self.create_unowned_dataset = create_unowned_dataset
        self.calls: list[tuple[str, dict]] = []  # (action, fields as sent), an upload as an Upload
        self.packages: dict[str, dict] = {}  # by id, as stored (resource urls of uploads: the file name)
        self._lock = threading.Lock()
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
                user = standin.users.get(self.headers.get("Authorization", ""), "")  # unknown key: anonymous
                try:
                    with standin._lock:
                        result = standin.act(action, dict(fields), user)
                except Refused as refusal:
                    return self._answer(refusal.status, {"success": False, "error": refusal.error})
                self._answer(200, {"success": True, "result": result})

            def _answer(self, status, document):
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    # The portal's view of things -----------------------------------------------------------------

    def show(self, id_or_name: str) -> dict:
        """The dataset as package_show answers: organisation, licence title and link, and the
        download URL of each uploaded resource."""
        stored = self._find(id_or_name)
        package = json.loads(json.dumps(stored))
        org = next((o for o in self.organizations.values() if o["id"] == package.get("owner_org")), None)
        package["organization"] = org and {k: org[k] for k in ("id", "name", "title")}
        licence = package.get("license_id")
        if licence in LICENCES:
            package["license_title"], url = LICENCES[licence]
            if url:
                package["license_url"] = url
        elif licence:
            package["license_title"] = licence
        package["isopen"] = licence in OPEN
        for resource in package["resources"]:
            if resource.get("url_type") == "upload":
                resource["url"] = (
                    f"{self.url}/dataset/{package['id']}/resource/{resource['id']}/download/{resource['url']}"
                )
        package["num_resources"], package["num_tags"] = len(package["resources"]), len(package["tags"])
        return package

    def _find(self, id_or_name: str) -> dict:
        package = self.packages.get(id_or_name) or next(
            (p for p in self.packages.values() if p["name"] == id_or_name), None
        )
        if not package:
            raise Refused(404, {"__type": "Not Found Error", "message": "Not found"})
        return package

    def _org(self, id_or_name: str) -> dict | None:
        return next((o for o in self.organizations.values() if id_or_name in (o["id"], o["name"])), None)

    def _may_edit(self, user: str, package: dict) -> bool:
        org = self._org(package.get("owner_org") or "")
        return bool(user) and org is not None and user in org["editors"]

    # Actions -------------------------------------------------------------------------------------

    def act(self, action: str, fields: dict, user: str):
        if action == "license_list":
            return [{"id": i, "title": t, "url": u} for i, (t, u) in LICENCES.items()]
        if action == "package_show":
            return self.show(fields.get("id", ""))
        if action == "package_create":
            return self._package_create(fields, user)
        if action in ("package_patch", "package_update"):
            current = self._find(fields.get("id", ""))
            if not self._may_edit(user, current):
                raise _denied(f"User {user} not authorized to edit package {current['id']}")
            base = self.show(current["id"]) if action == "package_patch" else {"resources": current["resources"]}
            return self._package_save({**base, **fields, "id": current["id"]}, current)
        if action in ("resource_create", "resource_update", "resource_patch"):
            return self._resource(action, fields, user)
        raise Refused(400, {"__type": "Bad request", "message": f"Action name not known: {action}"})

    def _package_create(self, fields: dict, user: str) -> dict:
        # ckan/logic/auth/create.py package_create, before any validation
        may_create = any(user in o["editors"] for o in self.organizations.values())
        if not user or not (may_create or self.create_unowned_dataset):
            raise _denied(f"User {user} not authorized to create packages")
        org = self._org(fields.get("owner_org") or "")
        if fields.get("owner_org") and (org is None or user not in org["editors"]):
            raise _denied(f"User {user} not authorized to add dataset to this organization")
        return self._package_save({**fields, "resources": []}, None)

    def _package_save(self, data: dict, current: dict | None) -> dict:
        errors: dict = {}
        name = data.get("name") if current is None or "name" in data else current["name"]
        name_errors = _name_problems(name, data.get("id"), self.packages)
        if name_errors:
            errors["name"] = name_errors
        for key in ("maintainer_email", "author_email"):
            value = (data.get(key) or "").strip()
            if value and not EMAIL.match(value):
                errors[key] = [f"Email {value} is not a valid format"]
        if len(data.get("version") or "") > 100:
            errors["version"] = ["Version must be a maximum of 100 characters long"]
        owner = data.get("owner_org")
        if owner in (None, ""):
            if not self.create_unowned_dataset:
                errors["owner_org"] = ["An organization must be provided"]
        elif self._org(owner) is None:
            errors["owner_org"] = ["Organization does not exist"]
        tag_errors = [_tag_problems(t) for t in data.get("tags") or []]
        if any(tag_errors):
            errors["tags"] = tag_errors
        keys = [e.get("key") for e in data.get("extras") or []]
        extra_errors = [
            {"key": ["Missing value"]} if not k else {"key": ["There is a schema field with the same name"]}
            if k in PACKAGE_FIELDS else {}
            for k in keys
        ]  # fmt: skip
        if any(extra_errors):
            errors["extras"] = extra_errors
        if len(set(keys)) < len(keys):
            errors["extras_validation"] = [f'Duplicate key "{next(k for k in keys if keys.count(k) > 1)}"']
        if errors:
            raise _invalid(errors)
        package = {k: v for k, v in data.items() if k in PACKAGE_FIELDS}
        org = self._org(owner) if owner else None
        package.update(
            id=data.get("id") or str(uuid.uuid4()),
            name=name,
            title=data.get("title") or name,
            owner_org=org["id"] if org else None,
            tags=[{"name": t["name"], "display_name": t["name"]} for t in data.get("tags") or []],
            extras=[{"key": e["key"], "value": e["value"]} for e in data.get("extras") or []],
            resources=[self._stored(r) for r in data.get("resources") or []],
            metadata_created=current["metadata_created"] if current else _now(),
            metadata_modified=_now(),
            state="active",
            private=False,
        )
        self.packages[package["id"]] = package
        return self.show(package["id"])

    def _stored(self, resource: dict) -> dict:
        """A resource as stored: an upload's url is its file name again (model_save strips it)."""
        resource = dict(resource)
        if resource.get("url_type") == "upload":
            resource["url"] = resource.get("url", "").rsplit("/", 1)[-1]
        return resource

    def _resource(self, action: str, fields: dict, user: str) -> dict:
        if action == "resource_create":
            package = self._find(fields.get("package_id", ""))
            if not self._may_edit(user, package):
                raise _denied(f"User {user} not authorized to create resources on dataset {package['id']}")
            position, resource = len(package["resources"]), {**fields, "id": str(uuid.uuid4())}
        else:
            rid = fields.get("id", "")
            package = next((p for p in self.packages.values() if any(r["id"] == rid for r in p["resources"])), None)
            if package is None:
                raise Refused(404, {"__type": "Not Found Error", "message": "Not found: Resource was not found."})
            if not self._may_edit(user, package):
                raise _denied(f"User {user} not authorized to edit resource {rid}")
            position = next(i for i, r in enumerate(package["resources"]) if r["id"] == rid)
            if action == "resource_patch":  # what package_show shows, with what was sent over it
                fields = {**self.show(package["id"])["resources"][position], **fields}
            resource = fields  # resource_update: what was not sent is gone
        resource.pop("package_id", None)
        resource.setdefault("url", "")
        upload = resource.pop("upload", None)
        if isinstance(upload, Upload):
            if upload.size > self.max_resource_size * MB:
                raise _invalid({"upload": ["File upload too large"]})
            resource.update(url=upload.filename, url_type="upload", last_modified=_now())
        resource = self._stored(resource)
        resource.update(package_id=package["id"], position=position)
        resources = list(package["resources"])
        resources[position : position + 1] = [resource]
        package.update(resources=resources, metadata_modified=_now())
        return self.show(package["id"])["resources"][position]


def _name_problems(name, own_id, packages: dict) -> list[str]:
    if not isinstance(name, str) or not name:
        return ["Missing value"]
    if name in ("new", "edit", "search"):
        return ["That name cannot be used"]
    if len(name) < 2:
        return ["Must be at least 2 characters long"]
    if len(name) > 100:
        return ["Name must be a maximum of 100 characters long"]
    if not NAME.match(name):
        return ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"]
    if any(p["name"] == name and p["id"] != own_id for p in packages.values()):
        return ["That URL is already in use."]
    return []


def _tag_problems(tag: dict) -> dict:
    name = tag.get("name") if isinstance(tag, dict) else None
    if not name:
        return {"name": ["Missing value"]}
    if len(name) < 2:
        return {"name": [f'Tag "{name}" length is less than minimum 2']}
    if len(name) > 100:
        return {"name": [f'Tag "{name}" length is more than maximum 100']}
    if not TAG.match(name):
        return {
            "name": [
                (
                    f'Tag "{name}" can only contain alphanumeric characters, spaces (" "), hyphens ("-"), '
                    'underscores ("_") or dots (".")'
                )
            ]
        }
    return {}


def _fields(content_type: str, body: bytes) -> dict:
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields: dict = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.get_filename():
                fields[name] = Upload(part.get_filename(), hashlib.sha256(payload).hexdigest(), len(payload))
            else:
                fields[name] = payload.decode("utf-8")
        return fields
    return json.loads(body or b"{}")
