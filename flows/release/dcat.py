"""DCAT-AP 3 metadata (JSON-LD) built from the same descriptor as datapackage.json: the release as a
dcat:Dataset with its distributions, and a dcat:Catalog of every year and version, so that a
portal harvests one URL. IRIs are made from `base_url` in bureau.yaml, where the outputs folder
is served."""

from __future__ import annotations

import json
from itertools import pairwise

from flows.intake.bureau import Bureau

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "spdx": "http://spdx.org/rdf/terms#",
    "adms": "http://www.w3.org/ns/adms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}
LANGUAGE_ZH = "http://publications.europa.eu/resource/authority/language/ZHO"
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
DATA_PACKAGE = "https://datapackage.org/profiles/2.0/datapackage.json"
EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"
# Published once a year, for the year before (the annual report's deadline is 31 January).
ANNUAL = {"@id": EU_AUTHORITY + "frequency/ANNUAL", "@type": "dct:Frequency"}
# The EU's data themes, and the one these figures are about: the disclosure of a government
# body's work. Labelled as the EU's list labels them (DCAT-AP asks a theme's label and its list's title).
THEMES = {
    "@id": EU_AUTHORITY + "data-theme",
    "@type": "skos:ConceptScheme",
    "dct:title": {"@value": "Data theme", "@language": "en"},
}
THEME = {
    "@id": EU_AUTHORITY + "data-theme/GOVE",
    "@type": "skos:Concept",
    "skos:prefLabel": {"@value": "Government and public sector", "@language": "en"},
    "skos:inScheme": {"@id": THEMES["@id"]},
}
# DCAT-AP: the EU Countries list for a country; below it, the administrative division by its
# GB/T 2260 code through Wikidata's property P442 (docs/release-format.md says why).
CHINA = {"@id": EU_AUTHORITY + "country/CHN", "@type": "dct:Location"}
DIVISION = "https://hub.toolforge.org/P442:{code}?site=wikidata"


def _zh(text: str) -> dict:
    return {"@value": text, "@language": "zh"}


def _typed(value, datatype: str) -> dict:
    return {"@value": str(value), "@type": f"xsd:{datatype}"}


def dataset_iri(base_url: str, year: int, version: str | None = None) -> str:
    """A version's IRI (where its folder is served), or without a version the year's: the dataset
    of which each version is one (dcat:hasVersion), a member of the series."""
    return f"{base_url.rstrip('/')}/{year}/" + (f"{version}/" if version else "")


def series_iri(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/series"


def spatial(bureau: Bureau) -> list[dict]:
    """Where the figures are from: China, and the bureau's division when bureau.yaml gives its code
    (a 12-digit statistical code lies within the county of its first six)."""
    code = str(bureau.metadata.get("division_code") or "")
    if not code:
        return [CHINA]
    division = {"@id": DIVISION.format(code=code[:6]), "@type": "dct:Location", "dct:identifier": code}
    return [CHINA, division]


def _coverage(bureau: Bureau) -> dict:
    """What a dataset of any year, and the series, say of their frequency, place and theme."""
    return {
        "dct:accrualPeriodicity": ANNUAL,
        "dct:spatial": spatial(bureau),
        "dcat:theme": THEME,
    }


def _publisher(name: str, base_url: str) -> dict:
    return {"@id": f"{base_url.rstrip('/')}/#publisher", "@type": "foaf:Agent", "foaf:name": _zh(name)}


def dataset_nodes(descriptor: dict, bureau: Bureau, base_url: str) -> list[dict]:
    """The release as a dcat:Dataset, its publisher and its distributions (the zip, the descriptor
    and every resource), with sizes and SHA-256 checksums."""
    meta = descriptor["nianbao"]
    year, version = meta["year"], descriptor["version"]
    iri = dataset_iri(base_url, year, version)
    publisher = _publisher(bureau.name, base_url)
    first_licence: dict = next(iter(descriptor.get("licenses", [])), {})
    licence = first_licence.get("path")
    contact = bureau.metadata.get("publisher", {})

    def distribution(url: str, title: str, media_type: str, size: int | None = None, digest: str | None = None) -> dict:
        node = {
            "@id": f"{url}#distribution",
            "@type": "dcat:Distribution",
            "dct:title": _zh(title),
            "dcat:accessURL": {"@id": url},
            "dcat:downloadURL": {"@id": url},
            "dcat:mediaType": {"@id": MEDIA_TYPES + media_type, "@type": "dct:MediaType"},
        }
        if licence:
            node["dct:license"] = {"@id": licence, "@type": "dct:LicenseDocument"}
        if size is not None:
            # DCAT 3 and DCAT-AP 3's text and full SHACL file; its shapes.ttl's xsd:decimal is an
            # erratum (SEMICeu/DCAT-AP#399, fixed in 3.0.1).
            node["dcat:byteSize"] = _typed(size, "nonNegativeInteger")
        if digest:
            node["spdx:checksum"] = {
                "@type": "spdx:Checksum",
                "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256", "@type": "spdx:ChecksumAlgorithm"},
                "spdx:checksumValue": _typed(digest, "hexBinary"),
            }
        return node

    package = {"dct:conformsTo": {"@id": DATA_PACKAGE, "@type": "dct:Standard"}}
    # The zip is the package (datapackage.json at its root); its hash cannot be in a file it holds.
    whole = distribution(iri.rstrip("/") + ".zip", "整个数据包（zip，根目录含 datapackage.json）", "application/zip")
    distributions = [
        {**whole, **package},
        {**distribution(iri + "datapackage.json", "数据包描述（Data Package v2）", "application/json"), **package},
    ]
    for resource in descriptor["resources"]:
        algorithm, _, digest = resource["hash"].partition(":")
        distributions.append(
            distribution(
                iri + resource["path"],
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
        "dct:title": _zh(f"{descriptor['title']}（版本 {version}）"),
        "dct:description": _zh(descriptor["description"]),
        "dct:issued": _typed(descriptor["created"], "dateTime"),
        "dct:modified": _typed(descriptor["created"], "dateTime"),
        "dct:publisher": {"@id": publisher["@id"]},
        "dct:language": {"@id": LANGUAGE_ZH, "@type": "dct:LinguisticSystem"},
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _typed(descriptor["temporalCoverage"]["start"], "date"),
            "dcat:endDate": _typed(descriptor["temporalCoverage"]["end"], "date"),
        },
        "dcat:keyword": [_zh(k) for k in descriptor["keywords"]],
        **_coverage(bureau),
        "dcat:version": version,
        # The links that never change; those that do (dct:isReplacedBy, the year's versions) are
        # the catalog's, rewritten at each publication: a published version is never rewritten.
        "dct:isVersionOf": {"@id": dataset_iri(base_url, year)},
        "adms:versionNotes": _zh(_version_notes(meta, version)),
        "dcat:distribution": [{"@id": d["@id"]} for d in distributions],
    }
    if meta.get("previous_version"):
        dataset["dcat:previousVersion"] = {"@id": dataset_iri(base_url, year, meta["previous_version"])}
    if contact.get("email"):
        dataset["dcat:contactPoint"] = {
            "@type": ["vcard:Kind", "vcard:Organization"],
            "vcard:fn": _zh(bureau.name),
            "vcard:hasEmail": {"@id": f"mailto:{contact['email']}"},
        }
    return [dataset, publisher, *distributions]


def _version_notes(meta: dict, version: str) -> str:
    previous = meta.get("previous_version")
    if not previous:
        return f"版本 {version}：首次发布"
    return f"版本 {version}：更正版本 {previous}，原因：{meta.get('reason') or '未说明'}（变化见 data/changes.csv）"


def release_jsonld(descriptor: dict, bureau: Bureau, base_url: str) -> bytes:
    document = {"@context": CONTEXT, "@graph": dataset_nodes(descriptor, bureau, base_url)}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def catalog_jsonld(descriptors: list[dict], bureau: Bureau, base_url: str, live: dict[int, str]) -> bytes:
    """A dcat:Catalog of every published version (`descriptors`, oldest first in each year; `live`:
    each year's live version): the series of the years, each year a dataset whose versions are
    the versions published (the live one current), each version superseded by the next."""
    nodes = {n["@id"]: n for d in descriptors for n in dataset_nodes(d, bureau, base_url)}
    versions: dict[int, list[dict]] = {}
    for descriptor in descriptors:
        versions.setdefault(descriptor["nianbao"]["year"], []).append(descriptor)
    years = [_year_node(versions[y], live.get(y), nodes, bureau, base_url) for y in sorted(versions)]
    for year, published in versions.items():
        for older, newer in pairwise(published):
            iri = dataset_iri(base_url, year, newer["version"])
            nodes[dataset_iri(base_url, year, older["version"])]["dct:isReplacedBy"] = {"@id": iri}
    series = _series(descriptors, years, bureau, base_url)
    catalog = {
        "@id": f"{base_url.rstrip('/')}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": _zh(f"{bureau.name}政府信息公开工作年度报告统计数据"),
        "dct:description": _zh(f"{bureau.name}各年度政府信息公开工作年度报告统计数据的全部已发布版本"),
        "dct:publisher": {"@id": _publisher(bureau.name, base_url)["@id"]},
        "dct:spatial": spatial(bureau),
        "dcat:themeTaxonomy": THEMES,
        "dcat:dataset": [{"@id": series["@id"]}] + [{"@id": y["@id"]} for y in years],
    }
    if descriptors:
        catalog["dct:modified"] = series["dct:modified"]
    document = {"@context": CONTEXT, "@graph": [catalog, series, *years, *nodes.values()]}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _year_node(published: list[dict], live: str | None, nodes: dict, bureau: Bureau, base_url: str) -> dict:
    """The year's dataset: what the live version (else the newest) says, with its distributions, as
    of the year's figures whatever their version; a member of the series."""
    current = next((d for d in published if d["version"] == live), published[-1])
    year = current["nianbao"]["year"]
    iri = dataset_iri(base_url, year, current["version"])
    return {
        "@id": dataset_iri(base_url, year),
        "@type": "dcat:Dataset",
        "dct:title": _zh(current["title"]),
        "dct:description": _zh(current["description"]),
        "dct:issued": _typed(published[0]["created"], "dateTime"),
        "dct:modified": _typed(current["created"], "dateTime"),
        "dct:publisher": nodes[iri]["dct:publisher"],
        "dct:language": nodes[iri]["dct:language"],
        "dct:temporal": nodes[iri]["dct:temporal"],
        "dcat:keyword": nodes[iri]["dcat:keyword"],
        **({"dcat:contactPoint": nodes[iri]["dcat:contactPoint"]} if "dcat:contactPoint" in nodes[iri] else {}),
        **_coverage(bureau),
        "dcat:inSeries": {"@id": series_iri(base_url)},
        "dcat:hasVersion": [{"@id": dataset_iri(base_url, year, d["version"])} for d in published],
        "dcat:hasCurrentVersion": {"@id": iri},
        "dcat:distribution": nodes[iri]["dcat:distribution"],
    }


def _series(descriptors: list[dict], years: list[dict], bureau: Bureau, base_url: str) -> dict:
    """The yearly datasets as one dcat:DatasetSeries (typed dcat:Dataset too, as DCAT 3 makes it,
    for a harvester that reads the catalog's datasets without inference)."""
    series = {
        "@id": series_iri(base_url),
        "@type": ["dcat:DatasetSeries", "dcat:Dataset"],
        "dct:title": _zh(f"{bureau.name}政府信息公开工作年度报告统计数据（年度系列）"),
        "dct:description": _zh(
            f"{bureau.name}每年发布的政府信息公开工作年度报告统计数据：每年一个数据集，其各版本为该年度的更正版本"
        ),
        "dct:publisher": {"@id": _publisher(bureau.name, base_url)["@id"]},
        **_coverage(bureau),
    }
    if descriptors:
        created = sorted(d["created"] for d in descriptors)
        series |= {"dct:issued": _typed(created[0], "dateTime"), "dct:modified": _typed(created[-1], "dateTime")}
    if years:
        series |= {"dcat:first": {"@id": years[0]["@id"]}, "dcat:last": {"@id": years[-1]["@id"]}}
    return series
