"""Pushing a release to a CKAN portal through its action API (ckanapi): the dataset is created or
updated under the release's stable name, and each pushed file is uploaded as a resource, replacing
the resource of the same name, so that re-pushing never duplicates anything."""

from __future__ import annotations

import json
from pathlib import Path

from ckanapi import CKANAPIError, NotFound, RemoteCKAN

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


class PortalError(Exception):
    """The portal refused or could not be reached; the message says which and why."""


def _package(descriptor: dict, owner_org: str | None) -> dict:
    meta = descriptor["nianbao"]
    licence: dict = next(iter(descriptor.get("licenses", [])), {})
    package = {
        "name": descriptor["name"],
        "title": descriptor["title"],
        "notes": descriptor["description"],
        "version": descriptor["version"],
        "license_id": licence.get("name", "notspecified"),
        "tags": [{"name": k} for k in descriptor["keywords"]],
        "extras": [
            {"key": "temporal_start", "value": descriptor["temporalCoverage"]["start"]},
            {"key": "temporal_end", "value": descriptor["temporalCoverage"]["end"]},
            {"key": "format_edition", "value": meta["edition"]},
            {"key": "identifier", "value": descriptor["id"]},
        ],
    }
    if owner_org:
        package["owner_org"] = owner_org
    return package


def push_release(release: Path, url: str, apikey: str | None = None, owner_org: str | None = None) -> dict:
    """Create or update the release's dataset on the portal at `url`; returns the portal's dataset."""
    release = Path(release)
    descriptor = json.loads((release / "datapackage.json").read_text("utf-8"))
    titles = {r["path"]: r.get("title", r["path"]) for r in descriptor["resources"]}
    portal = RemoteCKAN(url, apikey=apikey, user_agent="nianbao")
    package = _package(descriptor, owner_org)
    try:
        try:
            existing = portal.action.package_show(id=package["name"])
            dataset = portal.action.package_patch(id=existing["id"], **package)
        except NotFound:
            dataset = portal.action.package_create(**package)
        resources = {r["name"]: r["id"] for r in dataset.get("resources", [])}
        archive = release.parent / f"{release.name}.zip"
        files = [(archive.name, archive, "ZIP", "整个发布包（zip）")] + [
            (Path(p).name, release / p, Path(p).suffix.lstrip(".").upper(), titles.get(p, p)) for p in PUSHED
        ]
        for name, path, fmt, description in files:
            fields = {"package_id": dataset["id"], "name": name, "format": fmt, "description": description}
            with open(path, "rb") as upload:
                if name in resources:
                    portal.action.resource_update(id=resources[name], upload=upload, **fields)
                else:
                    portal.action.resource_create(upload=upload, **fields)
        return portal.action.package_show(id=dataset["id"])
    except CKANAPIError as error:
        raise PortalError(f"门户 {url} 拒绝了请求：{error}") from None
    except OSError as error:  # connection refused, DNS, timeouts (requests' errors are OSErrors)
        raise PortalError(f"无法连接门户 {url}：{error}") from None
