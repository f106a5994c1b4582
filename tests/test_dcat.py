"""DCAT-AP 3 metadata, validated the way a portal does: pyshacl against the four official SHACL
files of DCAT-AP 3.0.0 (tests/data/dcat-ap-3.0.0/), with the release's and the catalog's links
between years, versions and the series."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDF, XSD

from flows.run import run_year
from tests.conftest import SOURCES
from tests.test_release import bump_figure

SHAPES = Path(__file__).resolve().parent / "data" / "dcat-ap-3.0.0"
SH, DCAT = Namespace("http://www.w3.org/ns/shacl#"), Namespace("http://www.w3.org/ns/dcat#")
BASE = "https://example.org/gongkai/nianbao"
# The full file asks `sh:class rdfs:Resource` of every IRI a distribution links to (accessURL,
# downloadURL, …): true of any IRI by RDFS entailment, but only stated with it. The three others
# ask nothing that needs inference; with it they conform the same.
INFERENCE = {"dcat-ap-SHACL.ttl": "rdfs", "shapes.ttl": "none", "shapes_recommended.ttl": "none", "range.ttl": "none"}


def without_byte_size_decimal(graph: Graph) -> Graph:
    """shapes.ttl without its `dcat:byteSize` `sh:datatype xsd:decimal`. nianbao types byteSize
    xsd:nonNegativeInteger, as W3C DCAT 3, DCAT-AP 3.0.0's own text and its full
    dcat-ap-SHACL.ttl say; shapes.ttl's xsd:decimal is left from DCAT-AP 2 (DCAT 2's range), a
    known erratum of these files (SEMICeu/DCAT-AP#399, fixed in 3.0.1). One literal cannot satisfy
    both files: the newer, stricter range is the one a harvester validating DCAT 3 expects."""
    (shape,) = [s for s in graph.subjects(SH.path, DCAT.byteSize) if (s, SH.datatype, XSD.decimal) in graph]
    graph.remove((shape, SH.datatype, XSD.decimal))
    return graph


@pytest.fixture(scope="module")
def shapes() -> dict[str, Graph]:
    graphs = {name: Graph().parse(SHAPES / name, format="turtle") for name in INFERENCE}
    without_byte_size_decimal(graphs["shapes.ttl"])
    return graphs


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """2020 and 2021 published, then 2021 corrected: 2021 has versions 1.0.0 and 1.1.0."""
    sources = tmp_path_factory.mktemp("sources")
    shutil.copytree(SOURCES, sources, dirs_exist_ok=True)
    outputs = tmp_path_factory.mktemp("outputs")
    for year in (2020, 2021):
        run_year(year, sources, outputs)
    bump_figure(sources)
    assert run_year(2021, sources, outputs, reason="户政管理大队更正依申请公开数").publication.version == "1.1.0"
    return outputs


def conforms(document: dict, shapes: dict[str, Graph]) -> tuple[bool, str]:
    """Whether the document conforms to all four files (warnings allowed, as portals publish with
    them), and the reports of those it fails."""
    data = Graph().parse(data=json.dumps(document), format="json-ld")
    failed = []
    for name, graph in shapes.items():
        ok, _, text = validate(data, shacl_graph=graph, inference=INFERENCE[name], allow_warnings=True)
        if not ok:
            failed.append(f"{name}:\n{text}")
    return not failed, "\n".join(failed)


def graph_of(path: Path) -> dict[str, dict]:
    return {n["@id"]: n for n in json.loads(path.read_text())["@graph"]}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_release_dcat_conforms_to_dcat_ap_3(outputs, shapes, version):
    document = json.loads((outputs / "2021" / version / "dcat.jsonld").read_text())
    ok, text = conforms(document, shapes)
    assert ok, text
    dataset = document["@graph"][0]  # first, where `nianbao push` reads where the release is served
    assert dataset["@type"] == "dcat:Dataset" and dataset["@id"] == f"{BASE}/2021/{version}/"
    assert dataset["dct:temporal"]["dcat:startDate"]["@value"] == "2021-01-01"
    descriptor = json.loads((outputs / "2021" / version / "datapackage.json").read_text())
    checksums = {
        n["dcat:accessURL"]["@id"].split(f"/{version}/")[1]: n["spdx:checksum"]["spdx:checksumValue"]["@value"]
        for n in document["@graph"]
        if "spdx:checksum" in n
    }
    assert checksums == {r["path"]: r["hash"].split(":")[1] for r in descriptor["resources"]}
    sizes = [n["dcat:byteSize"]["@type"] for n in document["@graph"] if "dcat:byteSize" in n]
    assert sizes and set(sizes) == {"xsd:nonNegativeInteger"}
    assert f"{BASE}/2021/{version}.zip" in {n["@id"].split("#")[0] for n in document["@graph"]}


def test_a_version_says_what_it_is_and_what_it_follows_and_never_changes(outputs):
    first, second = (graph_of(outputs / "2021" / v / "dcat.jsonld") for v in ("1.0.0", "1.1.0"))
    old, new = first[f"{BASE}/2021/1.0.0/"], second[f"{BASE}/2021/1.1.0/"]
    assert (old["dcat:version"], new["dcat:version"]) == ("1.0.0", "1.1.0")
    assert old["dct:title"]["@value"] != new["dct:title"]["@value"]
    assert "dcat:previousVersion" not in old and new["dcat:previousVersion"] == {"@id": f"{BASE}/2021/1.0.0/"}
    assert "户政管理大队更正依申请公开数" in new["adms:versionNotes"]["@value"]
    assert old["dct:isVersionOf"] == new["dct:isVersionOf"] == {"@id": f"{BASE}/2021/"}
    # What changes when a version is superseded is the catalog's: the published release keeps its bytes.
    assert "dct:isReplacedBy" not in old
    for node in (old, new):
        assert node["dct:accrualPeriodicity"]["@id"].endswith("/frequency/ANNUAL")
        assert node["dcat:theme"]["@id"].endswith("/data-theme/GOVE")
        assert [s["@id"] for s in node["dct:spatial"]] == [
            "http://publications.europa.eu/resource/authority/country/CHN",
            "https://hub.toolforge.org/P442:430981?site=wikidata",
        ]


def test_catalog_has_the_series_of_years_and_their_versions_and_conforms(outputs, shapes):
    catalog = json.loads((outputs / "catalog.json").read_text())
    assert [(r["year"], r["version"], r["latest"]) for r in catalog["releases"]] == [
        (2020, "1.0.0", True),
        (2021, "1.0.0", False),
        (2021, "1.1.0", True),
    ]
    assert all((outputs / r["path"]).is_file() and (outputs / r["zip"]).is_file() for r in catalog["releases"])
    document = json.loads((outputs / "catalog.jsonld").read_text())
    ok, text = conforms(document, shapes)
    assert ok, text
    nodes = {n["@id"]: n for n in document["@graph"]}
    (node,) = [n for n in document["@graph"] if n["@type"] == "dcat:Catalog"]
    series = nodes[f"{BASE}/series"]
    assert node["dcat:dataset"] == [{"@id": f"{BASE}/series"}, {"@id": f"{BASE}/2020/"}, {"@id": f"{BASE}/2021/"}]
    assert "dcat:DatasetSeries" in series["@type"] and series["dct:accrualPeriodicity"]["@id"].endswith("ANNUAL")
    year = nodes[f"{BASE}/2021/"]
    assert year["dcat:inSeries"] == {"@id": f"{BASE}/series"}
    assert year["dcat:hasVersion"] == [{"@id": f"{BASE}/2021/1.0.0/"}, {"@id": f"{BASE}/2021/1.1.0/"}]
    assert year["dcat:hasCurrentVersion"] == {"@id": f"{BASE}/2021/1.1.0/"}
    assert year["dcat:distribution"] == nodes[f"{BASE}/2021/1.1.0/"]["dcat:distribution"]
    assert nodes[f"{BASE}/2021/1.0.0/"]["dct:isReplacedBy"] == {"@id": f"{BASE}/2021/1.1.0/"}
    assert "dct:isReplacedBy" not in nodes[f"{BASE}/2021/1.1.0/"]


def test_the_shapes_catch_a_dataset_without_title(outputs, shapes):
    document = json.loads((outputs / "2021" / "latest" / "dcat.jsonld").read_text())
    del document["@graph"][0]["dct:title"]
    ok, text = conforms(document, shapes)
    assert not ok and "Result Path: dct:title" in text


def test_the_byte_size_decision_is_the_one_erratum_set_aside(shapes):
    """Of the shapes' constraints, only shapes.ttl's xsd:decimal for byteSize is set aside, and a
    byteSize typed xsd:decimal fails the full file: the two cannot both hold."""
    original = Graph().parse(SHAPES / "shapes.ttl", format="turtle")
    assert len(original) - len(without_byte_size_decimal(Graph().parse(SHAPES / "shapes.ttl"))) == 1
    distribution = Graph()
    node = DCAT["example"]
    distribution.add((node, RDF.type, DCAT.Distribution))
    distribution.add((node, DCAT.byteSize, Literal("12", datatype=XSD.decimal)))
    distribution.add((node, DCAT.accessURL, DCAT["file"]))
    ok, _, text = validate(distribution, shacl_graph=shapes["dcat-ap-SHACL.ttl"], inference="rdfs")
    assert not ok and "byteSize" in text
