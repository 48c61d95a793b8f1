"""The Alloy configuration ships every container's logs with Compose labels to Loki.

Alloy cannot run here: alloy_text reads the file's structure (balanced brackets, strings,
blocks, attributes, component references), which is not a real Alloy parse. Argument names
and types are checked only against what this project relies on.
"""

from __future__ import annotations

import pytest
import yaml
from alloy_text import AlloySyntaxError, Block, parse, references, tokenize

from helpers import ALLOY, ROOT, SIDECARS

AGENTS = ROOT / "compose" / "stacks" / "agents.yml"
PROXY = "tcp://socket-proxy:2375"
COMPOSE_LABELS = {
    "__meta_docker_container_label_com_docker_compose_project": "compose_project",
    "__meta_docker_container_label_com_docker_compose_service": "compose_service",
}
SIDECAR_FIELDS = {"ts", "level", "service", "event", "run_id", "deploy_id"}


@pytest.fixture(scope="module")
def root() -> Block:
    return parse(ALLOY.read_text(encoding="utf-8"))


def one(root: Block, name: str) -> Block:
    found = root.children(name)
    assert len(found) == 1, f"expected one {name} block, found {len(found)}"
    return found[0]


def test_docker_is_reached_only_through_the_socket_proxy(root: Block) -> None:
    text = ALLOY.read_text(encoding="utf-8")
    assert "docker.sock" not in text and "unix://" not in text
    for name in ("discovery.docker", "loki.source.docker"):
        assert one(root, name).strings("host") == [PROXY], name


def test_compose_project_and_service_become_labels(root: Block) -> None:
    rules = one(root, "discovery.relabel").children("rule")
    mapped = {tuple(r.strings("source_labels")): r.strings("target_label") for r in rules}
    for source, target in COMPOSE_LABELS.items():
        assert mapped.get((source,)) == [target], source
    logs = one(root, "loki.source.docker")
    assert [t.text for t in logs.attributes["relabel_rules"]] == [
        "discovery.relabel.containers.rules"
    ]
    assert [t.text for t in logs.attributes["targets"]] == ["discovery.docker.containers.targets"]


def test_sidecar_json_fields_are_parsed_and_level_event_promoted(root: Block) -> None:
    process = one(root, "loki.process")
    match = one(process, "stage.match")
    selector = match.strings("selector")[0]
    for sidecar in SIDECARS:
        assert sidecar in selector
    json_stage = one(match, "stage.json")
    assert set(json_stage.keys("expressions")) == SIDECAR_FIELDS
    assert set(json_stage.strings("expressions")) == SIDECAR_FIELDS  # field names in the line
    assert set(one(match, "stage.labels").keys("values")) == {"level", "event"}
    assert one(match, "stage.timestamp").strings("source") == ["ts"]
    metadata = set(one(match, "stage.structured_metadata").keys("values"))
    assert {"run_id", "deploy_id"} <= metadata, "ids are searchable but not labels"


def test_logs_are_pushed_to_the_loki_the_environment_names(root: Block) -> None:
    """The URL is LOKI_PUSH_URL, which the agents stack sets to Loki in its own network unless
    the host's run names another (the QNAP's; test_cross_host_reachability checks each host)."""
    write = one(root, "loki.write")
    url = one(write, "endpoint").attributes["url"]
    assert [t.text for t in url] == ["sys.env", "(", '"LOKI_PUSH_URL"', ")"]
    assert "host" in write.keys("external_labels")
    agents = yaml.safe_load(AGENTS.read_text(encoding="utf-8"))
    pushed = agents["services"]["alloy"]["environment"]["LOKI_PUSH_URL"]
    assert pushed == "${LOKI_PUSH_URL:-http://loki:3100/loki/api/v1/push}"


def test_every_component_reference_resolves(root: Block) -> None:
    defined = {(b.name, b.label) for b in root.blocks}
    refs = references(root)
    assert refs, "components must be wired together"
    for ref in refs:
        *component, label, _export = ref.text.split(".")
        assert (".".join(component), label) in defined, f"line {ref.line}: {ref.text}"


@pytest.mark.parametrize(
    "bad",
    [
        'a "x" {\n  b = "}"\n',  # the only closing brace is inside a string
        'a "x" {\n  b = [1, 2\n}\n',
        'a "x" {\n  b = "unterminated\n}\n',
        'a "x" {\n  b = 1\n  b = 2\n}\n',
    ],
)
def test_the_reader_rejects_broken_structure(bad: str) -> None:
    with pytest.raises(AlloySyntaxError):
        parse(bad)


def test_braces_in_strings_and_comments_do_not_count() -> None:
    tokens = tokenize('// } {\na "x" {\n  /* { */ s = "{{}" // }\n}\n')
    assert [t.text for t in tokens if t.text in "{}"] == ["{", "}"]
