"""Pushing a release to a CKAN portal through its action API (ckanapi): the dataset is created or
updated under the release's stable name, and each pushed file becomes a resource, patching the
resource of the same name, so that re-pushing never duplicates anything and keeps what the portal's
editors added. What CKAN accepts (tags, e-mail addresses, licence ids, the upload limit) is data:
schemas/ckan.yaml. A file larger than the portal accepts is linked where base_url serves it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from ckanapi import CKANAPIError, NotFound, RemoteCKAN, ServerIncompatibleError, ValidationError

from flows.format.edition import SCHEMAS

# What a portal user downloads: the whole release, its metadata, and the tables as CSV.
PUSHED = (
    "datapackage.json",
    "dcat.jsonld",
    "data/proactive_disclosure.csv",
    "data/applications.csv",
    "data/review_litigation.csv",
    "data/cells.csv",
    "data/findings.csv",
)
MB = 1024 * 1024  # CKAN counts ckan.max_resource_size in MiB (ckan/lib/uploader.py)
SHA256 = "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"  # what ckanext-dcat writes as spdx:algorithm
MEDIA_TYPES = {"json": "application/json", "jsonld": "application/ld+json", "csv": "text/csv", "zip": "application/zip"}


class PortalError(Exception):
    """The portal refused or could not be reached, or the release cannot be pushed as it is; the
    message says which and why."""


@cache
def ckan_rules() -> dict:
    return yaml.safe_load((SCHEMAS / "ckan.yaml").read_text("utf-8"))


@dataclass(frozen=True)
class Pushed:
    """One file of the release as a resource: uploaded, or linked at `link` when the portal would
    refuse an upload that large."""

    name: str
    path: Path
    format: str
    description: str
    size: int
    sha256: str
    link: str | None = None

    def fields(self) -> dict:
        fields = {
            "name": self.name,
            "format": self.format,
            "mimetype": MEDIA_TYPES.get(self.format.lower(), "application/octet-stream"),
            "description": self.description,
            "size": self.size,
            "hash": self.sha256,
            "hash_algorithm": SHA256,
        }
        if self.link:  # an empty url_type says "a link": it also ends an upload the resource held before
            fields.update(url=self.link, url_type="")
        return fields


def tags(keywords: list[str]) -> list[dict]:
    """The keywords as CKAN accepts tags: a run of characters CKAN refuses (（）、，…) becomes a space,
    so 沅江市公安局（示例） is the tag 沅江市公安局 示例; one still too short or too long is left out
    (the title names the bureau in full)."""
    rules = ckan_rules()
    allowed = re.compile(rules["tag_pattern"])
    result: list[dict] = []
    for keyword in keywords:
        tag = " ".join("".join(c if allowed.match(c) else " " for c in keyword).split())
        fits = rules["tag_min_length"] <= len(tag) <= rules["tag_max_length"] and allowed.match(tag)
        if fits and tag not in [t["name"] for t in result]:
            result.append({"name": tag})
    return result


def licence_id(descriptor: dict, known: set[str]) -> str:
    """The portal's id for the release's first licence: its own name if the portal's register has
    it (a register of Open Definition ids), else CKAN's id for it (the default register), else the
    name as it is (CKAN stores it, shown without a link)."""
    first: dict = next(iter(descriptor.get("licenses", [])), {})
    name = first.get("name")
    if not name:
        return "notspecified"
    mapped = ckan_rules()["licences"].get(name)
    if name not in known and mapped and (mapped in known or not known):
        return mapped
    return name


def served_at(release: Path, descriptor: dict) -> str | None:
    """The URL of the release's folder where base_url serves it (its dataset's IRI in its
    dcat.jsonld, <base_url>/<year>/<version>/), or None when the release was built without
    base_url (its IRIs are URNs)."""
    suffix = f"/{descriptor['nianbao']['year']}/{descriptor['version']}/"
    try:
        graph = json.loads((release / "dcat.jsonld").read_text("utf-8")).get("@graph", [])
    except (OSError, ValueError, AttributeError):
        return None
    iris = (node.get("@id") for node in graph if isinstance(node, dict))
    return next((i for i in iris if isinstance(i, str) and re.match(r"https?://", i) and i.endswith(suffix)), None)


def plan(release: Path, max_upload_mb: float) -> list[Pushed]:
    """Every file pushed, each uploaded or, over `max_upload_mb`, linked: the release's zip (beside
    its folder: <year>/<version>.zip) and PUSHED. Refuses before anything is sent when a file is
    too large to upload and the release says nowhere where it is served."""
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    titles = {r["path"]: r.get("title", r["path"]) for r in descriptor["resources"]}
    folder = served_at(release, descriptor)
    archive = release.parent / f"{release.name}.zip"
    files = [(archive, archive.name, "整个发布包（zip）", folder and f"{folder.rstrip('/')}.zip")]
    files += [(release / p, p, titles.get(p, p), folder and folder + p) for p in PUSHED]
    pushed = []
    for path, label, description, url in files:
        size = path.stat().st_size
        link = None
        if size > max_upload_mb * MB:
            if not url:
                raise PortalError(
                    f"{label} 有 {size / MB:.1f} MB，超过门户的上传上限 {max_upload_mb:g} MB，"
                    "而 bureau.yaml 没有 base_url，无法改为链接：请设置 base_url 后重新发布，或以 --max-upload-mb 提高上限"
                )
            link = url
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(MB), b""):
                digest.update(block)
        fmt = path.suffix.lstrip(".").upper()
        pushed.append(Pushed(path.name, path, fmt, description, size, digest.hexdigest(), link))
    return pushed


def _package(descriptor: dict, owner_org: str, licence: str) -> dict:
    meta = descriptor["nianbao"]
    publisher: dict = next((c for c in descriptor.get("contributors", []) if "publisher" in c.get("roles", [])), {})
    package = {
        "name": descriptor["name"].lower(),  # CKAN takes lowercase names only; a bureau id may have capitals
        "title": descriptor["title"],
        "notes": descriptor["description"],
        "version": descriptor["version"],
        "license_id": licence,
        "tags": tags(descriptor["keywords"]),
        "owner_org": owner_org,
        "extras": [
            # the keys ckanext-dcat reads as dct:temporal and dct:identifier
            {"key": "temporal_start", "value": descriptor["temporalCoverage"]["start"]},
            {"key": "temporal_end", "value": descriptor["temporalCoverage"]["end"]},
            {"key": "format_edition", "value": meta["edition"]},
            {"key": "identifier", "value": descriptor["id"]},
        ],
    }
    if publisher.get("title"):
        package["maintainer"] = publisher.get("organization") or publisher["title"]
    # CKAN refuses the whole dataset for an address its pattern rejects (any non-ASCII one): the
    # contact is worth less than the push, so such an address is left out.
    if re.match(ckan_rules()["email_pattern"], publisher.get("email", "")):
        package["maintainer_email"] = publisher["email"]
    if publisher.get("path"):
        package["url"] = publisher["path"]  # "Source" on the dataset's page; dcat:landingPage for ckanext-dcat
    return package


def _keeping_theirs(package: dict, existing: dict) -> dict:
    """`package` for package_patch, which replaces lists whole: the extras and tags that the portal's
    editors added are sent back with ours."""
    ours = {e["key"] for e in package["extras"]}
    extras = package["extras"] + [
        {"key": e["key"], "value": e["value"]} for e in existing.get("extras", []) if e.get("key") not in ours
    ]
    names = {t["name"] for t in package["tags"]}
    tags_ = package["tags"] + [{"name": t["name"]} for t in existing.get("tags", []) if t.get("name") not in names]
    return {**package, "extras": extras, "tags": tags_}


def _reason(error: Exception) -> str:
    """What the portal said, in one line: a validation error's fields and messages, an
    authorization error's message."""
    if isinstance(error, ValidationError):
        details = getattr(error, "error_dict", {})
        lines = []
        for field, problems in details.items():
            if field == "__type":
                continue
            for problem in problems if isinstance(problems, list) else [problems]:
                if isinstance(problem, dict):  # a list field (tags, resources): one dict per item
                    lines += [f"{field}.{k}：{'；'.join(map(str, v))}" for k, v in problem.items() if v]
                else:
                    lines.append(f"{field}：{problem}")
        return "校验未通过（" + "；".join(lines) + "）" if lines else str(error)
    message = getattr(error, "extra_msg", None)
    if isinstance(message, dict) and message.get("message"):
        return str(message["message"])
    return str(error)


def push_release(
    release: Path, url: str, apikey: str | None, owner_org: str, max_upload_mb: float | None = None
) -> dict:
    """Create or update the release's dataset on the portal at `url`, owned by the organisation
    `owner_org`; returns the portal's dataset. Files over `max_upload_mb` (default: CKAN's
    ckan.max_resource_size, schemas/ckan.yaml) are linked where base_url serves them."""
    release = Path(release)
    limit = ckan_rules()["max_upload_mb"] if max_upload_mb is None else max_upload_mb
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    files = plan(release, limit)
    portal = RemoteCKAN(url, apikey=apikey, user_agent="nianbao")
    try:
        known = {licence["id"] for licence in portal.action.license_list()}
        package = _package(descriptor, owner_org, licence_id(descriptor, known))
        try:
            existing = portal.action.package_show(id=package["name"])
            dataset = portal.action.package_patch(id=existing["id"], **_keeping_theirs(package, existing))
        except NotFound:
            dataset = portal.action.package_create(**package)
        resources = {r["name"]: r["id"] for r in dataset.get("resources", [])}
        for file in files:
            fields = file.fields()
            if file.name in resources:  # patch, not update: update drops every field not sent
                fields["id"] = resources[file.name]
                action = portal.action.resource_patch
            else:
                fields["package_id"] = dataset["id"]
                action = portal.action.resource_create
            if file.link:
                action(**fields)
            else:
                with open(file.path, "rb") as upload:
                    action(upload=upload, **fields)
        return portal.action.package_show(id=dataset["id"])
    except (CKANAPIError, ServerIncompatibleError) as error:
        raise PortalError(f"门户 {url} 拒绝了请求：{_reason(error)}") from None
    except OSError as error:  # connection refused, DNS, timeouts (requests' errors are OSErrors)
        raise PortalError(f"无法连接门户 {url}：{error}") from None
