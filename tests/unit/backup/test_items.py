"""Declarations: labels and configuration become items; every problem is reported."""

from __future__ import annotations

import pytest

from napops.backup.items import PlanError, from_labels, plan


def test_labels_declare_an_item_with_typed_options() -> None:
    item, problems = from_labels(
        "lcbp3-db-mariadb-1",
        {
            "napops.backup.strategy": "mariadb",
            "com.docker.compose.service": "mariadb",
            "napops.backup.databases": "lcbp3, gitea",
            "napops.backup.newest": "lcbp3.documents.updated_at",
            "napops.backup.stop": "true",
            "napops.backup.password-env": "DB_ROOT",
        },
    )
    assert problems == []
    assert item is not None
    assert (item.service, item.kind, item.group, item.source) == (
        "mariadb",
        "mariadb",
        "databases",
        "label",
    )
    assert item.options == {
        "databases": ["lcbp3", "gitea"],
        "newest": {"lcbp3.documents": "updated_at"},
        "stop": True,
        "password_env": "DB_ROOT",
    }


def test_a_container_without_the_strategy_label_is_no_item() -> None:
    assert from_labels("x", {"napops.backup.service": "x"}) == (None, [])


def test_every_problem_is_reported_with_where_it_is() -> None:
    with pytest.raises(PlanError) as err:
        plan(
            [{"service": "db", "strategy": "oracle", "container": "c1"}],
            [
                ("c2", {"napops.backup.strategy": "tape"}),
                ("c3", {"napops.backup.strategy": "files", "napops.backup.group": "weekly"}),
            ],
        )
    assert err.value.problems == [
        "At 'backup.items[0].strategy': unknown strategy 'oracle' (known: mariadb, postgres, "
        "mongodb, redis, elasticsearch, gitea, files, command)",
        "At 'container c2 label napops.backup.strategy': unknown strategy 'tape' (known: "
        "mariadb, postgres, mongodb, redis, elasticsearch, gitea, files, command)",
        "At 'container c3 label napops.backup.group': 'weekly' is not one of databases, redis, "
        "files, config",
    ]


def test_configuration_wins_and_databases_come_first() -> None:
    items = plan(
        [
            {
                "service": "uploads",
                "strategy": "files",
                "container": "backend",
                "options": {"paths": ["/u"]},
            },
            {"service": "cache", "strategy": "redis", "container": "cache-1"},
        ],
        [
            (
                "mariadb-1",
                {"napops.backup.strategy": "mariadb", "napops.backup.service": "mariadb"},
            ),
            ("other", {"napops.backup.strategy": "redis", "napops.backup.service": "cache"}),
        ],
    )
    assert [(i.key, i.container) for i in items] == [
        ("mariadb/mariadb", "mariadb-1"),
        ("cache/redis", "cache-1"),
        ("uploads/files", "backend"),
    ]


def test_labels_can_be_ignored() -> None:
    assert plan([], [("m", {"napops.backup.strategy": "mariadb"})], use_labels=False) == []


def test_compose_project_setting_is_a_list_of_globs() -> None:
    from napops.backup.items import project_matches, projects

    prod = projects("napops-prod-*")
    assert project_matches("napops-prod-data", prod) and project_matches("napops-prod-chat", prod)
    assert not project_matches("napops-staging-data", prod)
    dev = projects(" napops-dev , napops-dev-* ,")
    assert dev == ["napops-dev", "napops-dev-*"]
    assert project_matches("napops-dev", dev) and project_matches("napops-dev-apps", dev)
    assert not project_matches("wiring-dev", dev)
    assert project_matches("anything", projects(""))  # empty: any project
