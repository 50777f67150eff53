"""The tool registry over HTTP, and how task requests are validated against it."""

from __future__ import annotations

from transformers.registry import TOOLS


def test_tools_list_every_registered_tool_with_agents_in_order(tenant):
    r = tenant.client.get("/v1/tools")
    assert r.status_code == 200
    tools = {t["tool_id"]: t for t in r.json()}
    assert set(tools) == set(TOOLS)
    for tool_id, spec in TOOLS.items():
        out = tools[tool_id]
        assert [a["agent_id"] for a in out["agents"]] == spec.agent_ids
        assert [a["position"] for a in out["agents"]] == list(range(len(spec.agents)))
        assert [f["role"] for f in out["file_roles"]] == [r.name for r in spec.file_roles]


def test_one_tool_has_prices_parameter_schemas_with_defaults_roles_formats_and_limits(tenant):
    r = tenant.client.get("/v1/tools/profile-my-data")
    assert r.status_code == 200
    tool = r.json()
    profiler = tool["agents"][0]
    assert profiler["agent_id"] == "unified-profiler" and profiler["price"] == 10
    props = profiler["parameters"]["properties"]
    assert "default" in props["top_n_values"]
    drift = next(a for a in tool["agents"] if a["agent_id"] == "drift-detector")
    assert drift["requires_roles"] == ["baseline"]
    roles = {f["role"]: f for f in tool["file_roles"]}
    assert roles["primary"]["required"] is True and roles["baseline"]["required"] is False
    assert "csv" in roles["primary"]["formats"] and "parquet" in roles["primary"]["formats"]
    assert tool["limits"]["max_file_bytes"] == 2 * 1024 * 1024 * 1024  # the pro plan
    master = tenant.client.get("/v1/tools/master-my-data").json()
    contract = next(f for f in master["file_roles"] if f["role"] == "contract")
    assert contract["formats"] == ["json", "yaml"]


def test_unknown_tool_is_422(tenant):
    r = tenant.client.get("/v1/tools/bake-my-cake")
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_TOOL"


def test_an_unknown_agent_is_422_naming_it(tenant):
    r = tenant.client.post(
        "/v1/tasks", json={"tool_id": "profile-my-data", "agents": ["unified-profiler", "oracle"]}
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "UNKNOWN_AGENT" and err["details"]["agent_id"] == "oracle"
    assert "oracle" in err["message"]


def test_an_agent_of_another_tool_is_unknown_here(tenant):
    r = tenant.client.post(
        "/v1/tasks", json={"tool_id": "profile-my-data", "agents": ["type-fixer"]}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_AGENT"


def test_duplicate_agents_are_422(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={"tool_id": "profile-my-data", "agents": ["score-risk", "score-risk"]},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["agent_id"] == "score-risk"


def test_agents_are_put_in_the_tools_canonical_order(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={"tool_id": "profile-my-data", "agents": ["readiness-rater", "unified-profiler"]},
    )
    assert r.status_code == 201
    assert r.json()["agents"] == ["unified-profiler", "readiness-rater"]


def test_a_bad_parameter_is_422_with_its_path(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={
            "tool_id": "profile-my-data",
            "parameters": {"unified-profiler": {"top_n_values": "many"}},
        },
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "INVALID_PARAMETERS"
    assert err["details"]["path"] == "parameters.unified-profiler.top_n_values"


def test_an_unknown_null_strategy_is_refused_before_anything_is_queued(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={
            "tool_id": "clean-my-data",
            "parameters": {"null-handler": {"strategies": {"email": "guess"}}},
        },
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "INVALID_PARAMETERS"
    assert err["details"]["path"] == "parameters.null-handler.strategies.email"


def test_an_unknown_parameter_is_422_with_its_path(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={"tool_id": "profile-my-data", "parameters": {"unified-profiler": {"colour": 1}}},
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["path"] == "parameters.unified-profiler.colour"


def test_valid_parameters_are_stored_and_the_task_created(tenant):
    r = tenant.client.post(
        "/v1/tasks",
        json={
            "tool_id": "profile-my-data",
            "parameters": {"unified-profiler": {"top_n_values": 3}},
        },
    )
    assert r.status_code == 201, r.text
