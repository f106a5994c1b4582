"""DCAT-AP 3 metadata, validated the way a portal does: pyshacl against the official shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph

from flows.run import run_year
from tests.conftest import SOURCES

SHAPES = Path(__file__).resolve().parent / "data" / "dcat-ap-3.0.0"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    graph = Graph()
    for name in ("shapes.ttl", "range.ttl"):
        graph.parse(SHAPES / name, format="turtle")
    return graph


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    outputs = tmp_path_factory.mktemp("outputs")
    for year in (2020, 2021):
        run_year(year, SOURCES, outputs)
    return outputs


def conforms(document: dict, shapes: Graph) -> tuple[bool, str]:
    data = Graph().parse(data=json.dumps(document), format="json-ld")
    ok, _, text = validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    return ok, text


def test_release_dcat_conforms_to_dcat_ap_3(outputs, shapes):
    document = json.loads((outputs / "2020" / "latest" / "dcat.jsonld").read_text())
    ok, text = conforms(document, shapes)
    assert ok, text
    dataset = next(n for n in document["@graph"] if n["@type"] == "dcat:Dataset")
    assert dataset["@id"] == "https://example.org/gongkai/nianbao/2020/1.0.0/"
    assert dataset["dct:temporal"]["dcat:startDate"]["@value"] == "2020-01-01"
    descriptor = json.loads((outputs / "2020" / "latest" / "datapackage.json").read_text())
    checksums = {
        n["dcat:accessURL"]["@id"].split("/1.0.0/")[1]: n["spdx:checksum"]["spdx:checksumValue"]["@value"]
        for n in document["@graph"]
        if "spdx:checksum" in n
    }
    assert checksums == {r["path"]: r["hash"].split(":")[1] for r in descriptor["resources"]}


def test_catalog_lists_every_year_and_conforms(outputs, shapes):
    catalog = json.loads((outputs / "catalog.json").read_text())
    assert [(r["year"], r["version"], r["latest"]) for r in catalog["releases"]] == [
        (2020, "1.0.0", True),
        (2021, "1.0.0", True),
    ]
    assert all((outputs / r["path"]).is_file() and (outputs / r["zip"]).is_file() for r in catalog["releases"])
    document = json.loads((outputs / "catalog.jsonld").read_text())
    ok, text = conforms(document, shapes)
    assert ok, text
    (node,) = [n for n in document["@graph"] if n["@type"] == "dcat:Catalog"]
    assert len(node["dcat:dataset"]) == 2


def test_the_shapes_catch_a_dataset_without_title(outputs, shapes):
    document = json.loads((outputs / "2021" / "latest" / "dcat.jsonld").read_text())
    dataset = next(n for n in document["@graph"] if n["@type"] == "dcat:Dataset")
    del dataset["dct:title"]
    ok, text = conforms(document, shapes)
    assert not ok and "Result Path: dct:title" in text and "Results (1)" in text
