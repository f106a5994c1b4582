"""DCAT-AP 3 metadata (JSON-LD) built from the same descriptor as datapackage.json: the release as a
dcat:Dataset with its distributions, and a dcat:Catalog of every year and version, so that a
portal harvests one URL. IRIs are made from `base_url` in bureau.yaml, where the outputs folder
is served."""

from __future__ import annotations

import json

from flows.intake.bureau import Bureau

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "spdx": "http://spdx.org/rdf/terms#",
    "adms": "http://www.w3.org/ns/adms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
LANGUAGE_ZH = "http://publications.europa.eu/resource/authority/language/ZHO"
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
DATA_PACKAGE = "https://datapackage.org/profiles/2.0/datapackage.json"


def _zh(text: str) -> dict:
    return {"@value": text, "@language": "zh"}


def _typed(value, datatype: str) -> dict:
    return {"@value": str(value), "@type": f"xsd:{datatype}"}


def dataset_iri(base_url: str, year: int, version: str) -> str:
    return f"{base_url.rstrip('/')}/{year}/{version}/"


def _publisher(name: str, base_url: str) -> dict:
    return {"@id": f"{base_url.rstrip('/')}/#publisher", "@type": "foaf:Agent", "foaf:name": _zh(name)}


def dataset_nodes(descriptor: dict, bureau: Bureau, base_url: str) -> list[dict]:
    """The release as a dcat:Dataset, its publisher and its distributions (the zip, the descriptor
    and every resource), with sizes and SHA-256 checksums."""
    meta = descriptor["nianbao"]
    iri = dataset_iri(base_url, meta["year"], descriptor["version"])
    publisher = _publisher(bureau.name, base_url)
    first_licence: dict = next(iter(descriptor.get("licenses", [])), {})
    licence = first_licence.get("path")
    contact = bureau.metadata.get("publisher", {})

    def distribution(
        path: str, title: str, media_type: str, size: int | None = None, digest: str | None = None
    ) -> dict:
        node = {
            "@id": f"{iri}{path}#distribution",
            "@type": "dcat:Distribution",
            "dct:title": _zh(title),
            "dcat:accessURL": {"@id": iri + path},
            "dcat:downloadURL": {"@id": iri + path},
            "dcat:mediaType": {"@id": MEDIA_TYPES + media_type, "@type": "dct:MediaType"},
        }
        if licence:
            node["dct:license"] = {"@id": licence, "@type": "dct:LicenseDocument"}
        if size is not None:
            node["dcat:byteSize"] = _typed(size, "decimal")  # DCAT-AP 3 ranges byteSize over xsd:decimal
        if digest:
            node["spdx:checksum"] = {
                "@type": "spdx:Checksum",
                "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                "spdx:checksumValue": _typed(digest, "hexBinary"),
            }
        return node

    distributions = [
        {
            **distribution("datapackage.json", "数据包描述（Data Package v2）", "application/json"),
            "dct:conformsTo": {"@id": DATA_PACKAGE, "@type": "dct:Standard"},
        },
    ]
    for resource in descriptor["resources"]:
        algorithm, _, digest = resource["hash"].partition(":")
        distributions.append(
            distribution(
                resource["path"],
                resource["title"],
                resource["mediatype"],
                resource["bytes"],
                digest if algorithm == "sha256" else None,
            )
        )
    dataset = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": descriptor["id"],
        "dct:title": _zh(descriptor["title"]),
        "dct:description": _zh(descriptor["description"]),
        "dct:issued": _typed(descriptor["created"], "dateTime"),
        "dct:publisher": {"@id": publisher["@id"]},
        "dct:language": {"@id": LANGUAGE_ZH, "@type": "dct:LinguisticSystem"},
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _typed(descriptor["temporalCoverage"]["start"], "date"),
            "dcat:endDate": _typed(descriptor["temporalCoverage"]["end"], "date"),
        },
        "dcat:keyword": [_zh(k) for k in descriptor["keywords"]],
        "dcat:version": descriptor["version"],
        "dcat:distribution": [{"@id": d["@id"]} for d in distributions],
    }
    if meta.get("reason"):
        dataset["adms:versionNotes"] = _zh(meta["reason"])
    if contact.get("email"):
        dataset["dcat:contactPoint"] = {
            "@type": ["vcard:Kind", "vcard:Organization"],
            "vcard:fn": _zh(bureau.name),
            "vcard:hasEmail": {"@id": f"mailto:{contact['email']}"},
        }
    return [dataset, publisher, *distributions]


def release_jsonld(descriptor: dict, bureau: Bureau, base_url: str) -> bytes:
    document = {"@context": CONTEXT, "@graph": dataset_nodes(descriptor, bureau, base_url)}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def catalog_jsonld(descriptors: list[dict], bureau: Bureau, base_url: str) -> bytes:
    """A dcat:Catalog of every published version, each a dcat:Dataset with its distributions."""
    nodes = [node for d in descriptors for node in dataset_nodes(d, bureau, base_url)]
    datasets = [n for n in nodes if n["@type"] == "dcat:Dataset"]
    catalog = {
        "@id": f"{base_url.rstrip('/')}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": _zh(f"{bureau.name}政府信息公开工作年度报告统计数据"),
        "dct:description": _zh(f"{bureau.name}各年度政府信息公开工作年度报告统计数据的全部已发布版本"),
        "dct:publisher": {"@id": _publisher(bureau.name, base_url)["@id"]},
        "dcat:dataset": [{"@id": d["@id"]} for d in datasets],
    }
    unique = {n["@id"]: n for n in nodes}  # the publisher recurs in every dataset's nodes
    document = {"@context": CONTEXT, "@graph": [catalog, *unique.values()]}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
